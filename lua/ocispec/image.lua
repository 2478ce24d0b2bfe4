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

-- Media types (image-spec media-types.md), plus Docker v2 schema 2 and
-- the generic application/octet-stream and application/json: the
-- declarations of values.def, from the core (`MediaType.ImageManifest`).
local values = core.values
local media = {}
for name, value in pairs(values.media_types) do media[name] = value end
local media_info = values.media_type_info

--- The Docker v2 schema 2 media type of an OCI one, or nil, message, err
-- (code "unsupported").
function media.to_docker_v2s2(mt)
  assert(type(mt) == "string", "bad argument #1 to 'to_docker_v2s2' (string expected)")
  local info = media_info[mt]
  local d = info and info.docker
  if d then return d end
  return util.fail("unsupported", ("%s has no Docker v2 schema 2 equivalent"):format(mt))
end

--- The OCI media type of a Docker v2 schema 2 one, or nil, message, err
-- (code "unsupported").
function media.from_docker_v2s2(mt)
  assert(type(mt) == "string", "bad argument #1 to 'from_docker_v2s2' (string expected)")
  local info = media_info[mt]
  local o = info and info.oci
  if o then return o end
  return util.fail("unsupported", ("%s is not a Docker v2 schema 2 media type with an OCI equivalent"):format(mt))
end

--- What values.def declares about a media type: a table with `name`
-- (its MediaType key), `value`, `kind` ("manifest", "index", "config",
-- "layer" or "other"), `compression` ("none", "gzip" or "zstd"), `family`
-- ("oci", "docker" or "generic"), `distributable`, and `docker` / `oci`
-- (its equivalent, if any); nil for an undeclared media type.
function media.info(mt)
  assert(type(mt) == "string", "bad argument #1 to 'info' (string expected)")
  local info = media_info[mt]
  if not info then return nil end
  local copy = {}
  for k, v in pairs(info) do copy[k] = v end
  return copy
end

--- Whether mt is a declared media type of that kind (OCI or Docker).
function media.is_manifest(mt) local i = media_info[mt]; return i ~= nil and i.kind == "manifest" end
function media.is_index(mt) local i = media_info[mt]; return i ~= nil and i.kind == "index" end
function media.is_config(mt) local i = media_info[mt]; return i ~= nil and i.kind == "config" end
function media.is_layer(mt) local i = media_info[mt]; return i ~= nil and i.kind == "layer" end

M.MediaType = util.constants("MediaType", media)

-- Architectures and operating systems with Go's GOARCH / GOOS spellings
-- (oci-spec-rs `Arch` and `Os`: `Arch.Amd64 == "amd64"`, `Os.Linux`), from
-- values.def; `default()` gives the machine's own.
local function with_default(name, host)
  local t = {}
  for k, v in pairs(values.enums.image[name]) do t[k] = v end
  t.default = function() return host end
  return util.constants(name, t)
end
M.Arch = with_default("Arch", core.host_arch)
M.Os = with_default("Os", core.host_os)

-- The 14 pre-defined annotation keys (image-spec annotations.md), from
-- values.def: `image.ANNOTATION_CREATED` ... and `image.annotations`.
local annotations = values.enums.image.annotations
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
