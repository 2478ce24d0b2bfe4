-- lua_components: what the Lua layer gives in this build, component by
-- component (build options OCISPEC_WITH_IMAGE, OCISPEC_WITH_REGISTRY).
--
--   lua5.4 tests/components/smoke.lua IMAGE REGISTRY SOURCE_DIR
--
-- IMAGE and REGISTRY are what CMake was configured with (ON/OFF, 1/0...):
-- the module must report the same. The core (parse, build, validate,
-- digest strings, references) always works; `require "ocispec"` always
-- loads; a missing component raises "not available (built without ...)"
-- where it is used, and the CLI says so with status 2.
local want_image = ({ ON = true, ["1"] = true, TRUE = true, YES = true })[(arg[1] or ""):upper()] or false
local want_registry = ({ ON = true, ["1"] = true, TRUE = true, YES = true })[(arg[2] or ""):upper()] or false
local src = assert(arg[3], "usage: smoke.lua IMAGE REGISTRY SOURCE_DIR")

local oci = require "ocispec"
local core = require "ocispec.core"
local image = oci.image

local checks = 0
local function ok(cond, what)
  if not cond then error("FAILED: " .. what, 2) end
  checks = checks + 1
end

-- the build's own account of itself
ok(oci.features.image == want_image, ("features.image is %s, CMake says %s"):format(
  tostring(oci.features.image), tostring(want_image)))
ok(oci.features.registry == want_registry, ("features.registry is %s, CMake says %s"):format(
  tostring(oci.features.registry), tostring(want_registry)))
ok(type(oci._VERSION) == "string" and oci._VERSION == core.VERSION, "_VERSION is core.VERSION")

-- the core: parse, validate (I-DESC-10 digests embedded data with the
-- libcrypto, with or without the image component), serialize, digest strings
local data = "aGVsbG8=" -- "hello"
local hello256 = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
local function manifest(layer_digest)
  return ('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
    .. '"config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":2,'
    .. '"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},'
    .. '"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","size":5,'
    .. '"digest":"%s","data":"%s"}]}'):format(layer_digest, data)
end
local m = assert(image.ImageManifest.from_json(manifest(hello256)))
ok(m:validate() == true, "a manifest whose layer data matches its digest validates")
ok(m:layers()[1]:digest() == hello256, "getters")
ok(image.ImageManifest.from_json(m:to_json()) == m, "round trip")
local bad = assert(image.ImageManifest.from_json(manifest("sha256:" .. ("0"):rep(64))))
local valid, msg = bad:validate()
ok(valid == nil and type(msg) == "string" and msg:find("data does not match digest", 1, true)
  and msg:find("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", 1, true),
  "embedded data of another digest is I-DESC-10: " .. tostring(msg))
ok(oci.digest.parse(hello256).algorithm == "sha256", "digest.parse")
ok(oci.registry.parse_reference("docker.io/library/busybox:1").repository == "library/busybox",
  "registry.parse_reference")
ok(oci.registry.AuthConfig ~= nil, "registry classes")

-- what raises when a component is missing
local function unavailable(f, what, option)
  local good, err = pcall(f)
  local want = ("%s: not available (built without %s)"):format(what, option)
  ok(not good and tostring(err):find(want, 1, true), ("%s raises %q, got %s"):format(
    what, want, tostring(err)))
end

-- the CLI: status and stderr of `ocispec ARGS`
local lua = assert(os.getenv("OCISPEC_LUA_EXE") or "lua5.4")
local function cli(args)
  local tmp = os.tmpname()
  local p = assert(io.popen(("%s %s/bin/ocispec %s 2>%s"):format(lua, src, args, tmp)))
  local out = p:read("a")
  local _, _, status = p:close()
  local f = assert(io.open(tmp))
  local err = f:read("a")
  f:close()
  os.remove(tmp)
  return status, out, err
end
-- the version has one source (project(VERSION) -> ocispec/version.h ->
-- core.VERSION): the rockspec names no other
local rockspec = assert(io.open(src .. "/rockspec/ocispec-scm-1.rockspec")):read("a")
local rock_version = rockspec:match('\nversion = "([^"]+)"')
ok(rock_version and (rock_version:match("^scm%-%d+$") or rock_version:find(oci._VERSION .. "-", 1, true) == 1),
  ("the rockspec's version %s is scm-N or %s-N"):format(tostring(rock_version), oci._VERSION))
local status, out = cli("--version")
ok(status == 0 and out == ("ocispec %s\n"):format(oci._VERSION), "ocispec --version: " .. out)

if want_image then
  ok(oci.digest.sha256("hello") == hello256, "digest.sha256")
  ok(type(oci.layout.open) == "function" and type(oci.layer.build) == "function"
    and type(oci.unpack.image) == "function" and type(oci.build.Image) == "table", "image modules")
else
  unavailable(function() return oci.layout.open end, "ocispec.layout.open", "OCISPEC_WITH_IMAGE")
  unavailable(function() return oci.layer.build end, "ocispec.layer.build", "OCISPEC_WITH_IMAGE")
  unavailable(function() return oci.unpack.image end, "ocispec.unpack.image", "OCISPEC_WITH_IMAGE")
  unavailable(function() return oci.build.Image end, "ocispec.build.Image", "OCISPEC_WITH_IMAGE")
  unavailable(function() return oci.digest.sha256("hello") end, "ocispec.digest.sha256",
    "OCISPEC_WITH_IMAGE")
  unavailable(function() return oci.digest.hasher() end, "ocispec.digest.hasher", "OCISPEC_WITH_IMAGE")
  -- conversion.md (csrc/image/conversion.c: its user lookup reads the rootfs)
  local cfg = assert(image.ImageConfiguration.from_json(
    '{"architecture":"amd64","os":"linux","config":{"User":"daemon"},'
    .. '"rootfs":{"type":"layers","diff_ids":[]}}'))
  unavailable(function() return oci.runtime.Spec.from_image_config(cfg, { rootfs = "/" }) end,
    "ocispec.runtime.Spec.from_image_config", "OCISPEC_WITH_IMAGE")
  local st, _, err = cli("layout ls /nonexistent")
  ok(st == 2 and err == "ocispec layout: ocispec.layout.open: not available (built without "
    .. "OCISPEC_WITH_IMAGE)\n", "CLI layout without the image component: " .. tostring(st) .. " " .. err)
end

if want_registry then
  ok(type(oci.registry.connect) == "function" and oci.registry.MANIFEST_MAX == 4 << 20,
    "registry client")
else
  unavailable(function() return oci.registry.connect("127.0.0.1:1") end, "ocispec.registry.connect",
    "OCISPEC_WITH_REGISTRY")
  unavailable(function() return oci.registry.MANIFEST_MAX end, "ocispec.registry.MANIFEST_MAX",
    "OCISPEC_WITH_REGISTRY")
  local st, _, err = cli("tags 127.0.0.1:1/x")
  ok(st == 2 and err:find("not available (built without OCISPEC_WITH_", 1, true),
    "CLI tags without the registry component: " .. tostring(st) .. " " .. err)
end

print(("lua_components: %d checks passed (image %s, registry %s, version %s)"):format(
  checks, tostring(want_image), tostring(want_registry), oci._VERSION))
