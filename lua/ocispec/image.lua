--- image-spec types, constants and helpers (oci-spec-rs `oci_spec::image`).
--
-- Classes: Descriptor, Platform, ImageManifest, ImageIndex,
-- ImageConfiguration, Config, HealthConfig, RootFs, History, OciLayout,
-- ArtifactManifest; each with `<Name>Builder()`.
-- @module ocispec.image
local core = require "ocispec.core"
local util = require "ocispec.util"

local M = {}
util.export_classes(M, "image")

--- The schemaVersion of manifests and indexes.
M.SCHEMA_VERSION = 2
--- image-spec version these types follow.
M.VERSION = "1.1.1"
M.VERSION_MAJOR, M.VERSION_MINOR, M.VERSION_PATCH = 1, 1, 1
--- Label consulted by ImageConfiguration:version() after the annotation.
M.LABEL_VERSION = "version"

--- Media types (image-spec media-types.md), plus Docker v2 schema 2.
local media = {
  Descriptor = "application/vnd.oci.descriptor.v1+json",
  LayoutHeader = "application/vnd.oci.layout.header.v1+json",
  ImageIndex = "application/vnd.oci.image.index.v1+json",
  ImageManifest = "application/vnd.oci.image.manifest.v1+json",
  ImageConfig = "application/vnd.oci.image.config.v1+json",
  ImageLayer = "application/vnd.oci.image.layer.v1.tar",
  ImageLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip",
  ImageLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd",
  ImageLayerNonDistributable = "application/vnd.oci.image.layer.nondistributable.v1.tar",
  ImageLayerNonDistributableGzip = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  ImageLayerNonDistributableZstd = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
  EmptyJSON = "application/vnd.oci.empty.v1+json",
  ArtifactManifest = "application/vnd.oci.artifact.manifest.v1+json",
  DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json",
  DockerManifest = "application/vnd.docker.distribution.manifest.v2+json",
  DockerContainerConfig = "application/vnd.docker.container.image.v1+json",
  DockerLayer = "application/vnd.docker.image.rootfs.diff.tar",
  DockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip",
  DockerLayerZstd = "application/vnd.docker.image.rootfs.diff.tar.zstd",
  DockerForeignLayerGzip = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
}

-- OCI <-> Docker v2 schema 2 (oci-spec-rs ToDockerV2S2, and its reverse).
local to_docker = {
  [media.ImageIndex] = media.DockerManifestList,
  [media.ImageManifest] = media.DockerManifest,
  [media.ImageConfig] = media.DockerContainerConfig,
  [media.ImageLayer] = media.DockerLayer,
  [media.ImageLayerGzip] = media.DockerLayerGzip,
  [media.ImageLayerZstd] = media.DockerLayerZstd,
  [media.ImageLayerNonDistributableGzip] = media.DockerForeignLayerGzip,
}
local to_oci = {}
for oci, docker in pairs(to_docker) do to_oci[docker] = oci end

--- The Docker v2 schema 2 media type of an OCI one, or nil, message, err
-- (code "unsupported").
function media.to_docker_v2s2(mt)
  assert(type(mt) == "string", "bad argument #1 to 'to_docker_v2s2' (string expected)")
  local d = to_docker[mt]
  if d then return d end
  return util.fail("unsupported", ("%s has no Docker v2 schema 2 equivalent"):format(mt))
end

--- The OCI media type of a Docker v2 schema 2 one, or nil, message, err
-- (code "unsupported").
function media.from_docker_v2s2(mt)
  assert(type(mt) == "string", "bad argument #1 to 'from_docker_v2s2' (string expected)")
  local o = to_oci[mt]
  if o then return o end
  return util.fail("unsupported", ("%s is not a Docker v2 schema 2 media type with an OCI equivalent"):format(mt))
end

M.MediaType = util.constants("MediaType", media)

--- Architectures with Go's GOARCH spellings (oci-spec-rs `Arch`).
M.Arch = util.constants("Arch", {
  i386 = "386", Amd64 = "amd64", Amd64p32 = "amd64p32", ARM = "arm",
  ARMbe = "armbe", ARM64 = "arm64", ARM64be = "arm64be", LoongArch64 = "loong64",
  Mips = "mips", Mipsle = "mipsle", Mips64 = "mips64", Mips64le = "mips64le",
  Mips64p32 = "mips64p32", Mips64p32le = "mips64p32le", PowerPC = "ppc",
  PowerPC64 = "ppc64", PowerPC64le = "ppc64le", RISCV = "riscv",
  RISCV64 = "riscv64", s390 = "s390", s390x = "s390x", SPARC = "sparc",
  SPARC64 = "sparc64", Wasm = "wasm",
  --- The GOARCH of the machine running this code.
  default = function() return core.host_arch end,
})

--- Operating systems with Go's GOOS spellings (oci-spec-rs `Os`).
M.Os = util.constants("Os", {
  AIX = "aix", Android = "android", Darwin = "darwin", DragonFlyBSD = "dragonfly",
  FreeBSD = "freebsd", Hurd = "hurd", Illumos = "illumos", iOS = "ios",
  Js = "js", Linux = "linux", Nacl = "nacl", NetBSD = "netbsd",
  OpenBSD = "openbsd", Plan9 = "plan9", Solaris = "solaris",
  Windows = "windows", zOS = "zos",
  --- The GOOS of the machine running this code.
  default = function() return core.host_os end,
})

--- The 14 pre-defined annotation keys (image-spec annotations.md).
local annotations = {
  ANNOTATION_CREATED = "org.opencontainers.image.created",
  ANNOTATION_AUTHORS = "org.opencontainers.image.authors",
  ANNOTATION_URL = "org.opencontainers.image.url",
  ANNOTATION_DOCUMENTATION = "org.opencontainers.image.documentation",
  ANNOTATION_SOURCE = "org.opencontainers.image.source",
  ANNOTATION_VERSION = "org.opencontainers.image.version",
  ANNOTATION_REVISION = "org.opencontainers.image.revision",
  ANNOTATION_VENDOR = "org.opencontainers.image.vendor",
  ANNOTATION_LICENSES = "org.opencontainers.image.licenses",
  ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name",
  ANNOTATION_TITLE = "org.opencontainers.image.title",
  ANNOTATION_DESCRIPTION = "org.opencontainers.image.description",
  ANNOTATION_BASE_IMAGE_DIGEST = "org.opencontainers.image.base.digest",
  ANNOTATION_BASE_IMAGE_NAME = "org.opencontainers.image.base.name",
}
for k, v in pairs(annotations) do M[k] = v end
M.annotations = util.constants("annotations", annotations)

--- The empty JSON blob `{}` of manifest.md's "Guidance for an Empty
-- Descriptor".
M.EMPTY_JSON = { data = "{}", size = 2,
  digest = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a" }

-- ---- helpers mirroring oci-spec-rs -----------------------------------------

local Descriptor, ImageConfiguration = M.Descriptor, M.ImageConfiguration

--- `Descriptor.new(media_type, size, digest)`: oci-spec-rs' constructor
-- (note its argument order). Returns the descriptor or nil, message, err.
function Descriptor.new(media_type, size, digest)
  return M.DescriptorBuilder():media_type(media_type):size(size):digest(digest):build()
end

--- The hex part of a sha256 digest, or nil for another algorithm (or no
-- digest).
function Descriptor.methods.as_digest_sha256(self)
  local digest = self:digest()
  return digest and digest:match("^sha256:(%x+)$") or nil
end

--- The empty descriptor (`{}` with its digest and data).
function Descriptor.empty()
  return Descriptor.new(media.EmptyJSON, M.EMPTY_JSON.size, M.EMPTY_JSON.digest)
    :set_data("e30=")
end

--- Labels of the config, or nil.
function ImageConfiguration.methods.labels_of_config(self)
  local c = self:config()
  return c and c:labels()
end

--- A label of the config, or nil.
function ImageConfiguration.methods.get_config_annotation(self, key)
  local labels = self:labels_of_config()
  return labels and labels[key]
end

--- The image version: the `org.opencontainers.image.version` label, else
-- the `version` label (oci-spec-rs `ImageConfiguration::version`).
function ImageConfiguration.methods.version(self)
  return self:get_config_annotation(annotations.ANNOTATION_VERSION)
      or self:get_config_annotation(M.LABEL_VERSION)
end

-- Builders with struct-level defaults in oci-spec-rs start from them here.
local rootfs_builder = M.RootFs.builder
function M.RootFsBuilder()
  return rootfs_builder():typ("layers"):diff_ids({})
end

local config_builder = ImageConfiguration.builder
function M.ImageConfigurationBuilder()
  return config_builder()
    :architecture(core.host_arch)
    :os(core.host_os)
    :rootfs({ type = "layers", diff_ids = {} })
end

local artifact_builder = M.ArtifactManifest.builder
--- oci-spec-rs fixes mediaType and starts blobs empty; artifact_type is the
-- one field to give.
function M.ArtifactManifestBuilder()
  return artifact_builder():media_type(media.ArtifactManifest)
    :blobs({})
end

local platform_new = M.Platform.new
--- The platform of the running machine (oci-spec-rs `Platform::default`).
function M.Platform.default()
  return platform_new():set_architecture(core.host_arch):set_os(core.host_os)
end

--- An empty index (oci-spec-rs `ImageIndex::default`).
function M.ImageIndex.default()
  return M.ImageIndex.from_table({ schemaVersion = 2, manifests = {} })
end

return M
