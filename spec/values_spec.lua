-- Values declared once (csrc/include/ocispec/values.def): the Lua tables
-- the core exports (core.values) and the namespaces that wrap them agree
-- with each other, and with the specs' own documents as the oracle: the
-- runtime-spec JSON schemas' enums, image-spec's media-types.md list (as
-- RULES.md quotes it), the image-spec examples' descriptors,
-- distribution-spec's error codes, the reference validator's kinds, and
-- the kernel's headers for capabilities and rlimits. Where an oracle file
-- is absent the test is pending with the reason.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local oci = require("ocispec")
local core = require("ocispec.core")

local values = core.values
local MT = oci.image.MediaType

local function sorted(list)
  local t = {}
  for _, v in ipairs(list) do t[#t + 1] = v end
  table.sort(t)
  return t
end

local function keys_sorted(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out)
  return out
end

local function decode_file(path)
  local text = support.read(path)
  if not text then return nil end
  return assert(oci.json.decode(text))
end

describe("values.def", function()
  describe("media types", function()
    it("core.values, image.MediaType and MediaType.info agree", function()
      local n = 0
      for name, value in pairs(values.media_types) do
        n = n + 1
        assert.are.equal(value, MT[name], name)
        local info = assert(MT.info(value), value)
        assert.are.same(values.media_type_info[value], info)
        assert.are.equal(name, info.name)
        assert.are.equal(info.kind == "manifest", MT.is_manifest(value), value)
        assert.are.equal(info.kind == "index", MT.is_index(value), value)
        assert.are.equal(info.kind == "config", MT.is_config(value), value)
        assert.are.equal(info.kind == "layer", MT.is_layer(value), value)
        if info.docker then
          assert.are.equal(info.docker, MT.to_docker_v2s2(value))
          assert.are.equal(value, MT.from_docker_v2s2(info.docker))
          assert.are.equal("oci", info.family)
          assert.are.equal("docker", values.media_type_info[info.docker].family)
          assert.are.equal(info.kind, values.media_type_info[info.docker].kind)
          assert.are.equal(info.compression, values.media_type_info[info.docker].compression)
        end
      end
      assert.are.equal(22, n)
      assert.is_nil(MT.info("application/vnd.example+type"))
      assert.is_false(MT.is_manifest("application/vnd.example+type"))
      local info = MT.info(MT.ImageLayerGzip)
      info.kind = "changed" -- a copy: the declaration stays
      assert.are.equal("layer", MT.info(MT.ImageLayerGzip).kind)
      assert.has_error(function() MT.info(nil) end, "bad argument #1 to 'info' (string expected)")
    end)

    it("the layer compressions and the Accept header come from the same table", function()
      local layer = core.layer.media_types
      assert.are.equal(MT.ImageLayerGzip, layer.gzip)
      assert.are.equal("gzip", MT.info(layer.gzip).compression)
      assert.are.equal("zstd", MT.info(layer.zstd).compression)
      assert.are.equal("none", MT.info(layer.none).compression)
      local accept = {}
      for mt in oci.registry.ACCEPT_MANIFESTS:gmatch("[^, ]+") do accept[#accept + 1] = mt end
      local want = {}
      for value, i in pairs(values.media_type_info) do
        if i.kind == "manifest" or i.kind == "index" then want[#want + 1] = value end
      end
      assert.are.same(sorted(want), sorted(accept))
      assert.are.equal(4, #accept)
    end)

    it("declares every media type of image-spec media-types.md (RULES.md 1.8)", function()
      local dir = support.conformance()
      if not dir then return pending("conformance folder absent: RULES.md is the media-types.md oracle") end
      local rules = assert(support.read(dir .. "/RULES.md"))
      local section = assert(rules:match("### 1%.8 Media types defined[^\n]*\n(.-)\n%-%-%-"),
        "RULES.md has no section 1.8")
      local listed, deprecated = {}, {}
      local before_deprecated = section:match("^(.-)deprecated:") or section
      for quoted in section:gmatch("`([^`]+)`") do
        -- RULES.md abbreviates: "...layer.v1.tar+gzip" and "x[+gzip|+zstd]"
        local full = quoted:gsub("^%.%.%.", "application/vnd.oci.image.")
        local base, alts = full:match("^(.-)%[(.-)%]$")
        local names = {}
        if base then
          names[#names + 1] = base
          for alt in alts:gmatch("[^|]+") do names[#names + 1] = base .. alt end
        else
          names[1] = full
        end
        for _, name in ipairs(names) do
          listed[#listed + 1] = name
          if not before_deprecated:find(quoted, 1, true) then deprecated[name] = true end
        end
      end
      assert.are.equal(12, #listed, "media types parsed from RULES.md 1.8")
      for _, mt in ipairs(listed) do
        local info = MT.info(mt)
        assert.is_not_nil(info, mt .. " is not declared in values.def")
        assert.are.equal("oci", info.family, mt)
        assert.are.equal(not deprecated[mt], info.distributable, mt)
        local kind = mt:find("layer%.") and "layer" or mt:find("manifest") and "manifest"
          or mt:find("index") and "index" or mt:find("config") and "config" or "other"
        assert.are.equal(kind, info.kind, mt)
        local comp = mt:match("%+(%a+)$")
        if info.kind == "layer" then
          assert.are.equal(comp or "none", info.compression, mt)
        end
      end
    end)

    it("classifies the descriptors of image-spec's examples by where they stand", function()
      local dir = support.conformance()
      if not dir then return pending("conformance folder absent: image/examples is the oracle") end
      local p = io.popen("ls '" .. dir .. "/image/examples'")
      local checked = 0
      local function expect(mt, kinds, where)
        local info = MT.info(mt)
        if not info then return end -- vendor types (application/vnd.example+type)
        checked = checked + 1
        assert.is_true(kinds[info.kind] ~= nil, ("%s: %s is a %s"):format(where, mt, info.kind))
      end
      for name in p:lines() do
        if name:match("%.json$") then
          local doc = decode_file(dir .. "/image/examples/" .. name)
          if type(doc) == "table" then
            if doc.config and doc.layers then
              expect(doc.mediaType or MT.ImageManifest, { manifest = true }, name)
              expect(doc.config.mediaType, { config = true, other = true }, name .. " config")
              for i, l in ipairs(doc.layers) do
                -- manifest.md: an artifact's layer may be the empty descriptor
                if l.mediaType ~= MT.EmptyJSON then expect(l.mediaType, { layer = true }, name .. " layer " .. i) end
              end
            elseif doc.manifests then
              expect(doc.mediaType or MT.ImageIndex, { index = true }, name)
              for i, m in ipairs(doc.manifests) do
                expect(m.mediaType, { manifest = true, index = true }, name .. " manifest " .. i)
              end
            end
          end
        end
      end
      p:close()
      assert.is_true(checked >= 10, "descriptors checked: " .. checked)
    end)
  end)

  describe("runtime enumerations", function()
    -- each enum of the runtime-spec schemas -> its values.def id
    local SCHEMA_ENUMS = {
      ["config-schema.json /properties/process/properties/ioPriority/properties/class"] = "IO_PRIORITY_CLASS",
      ["defs-freebsd.json /definitions/SharingMode"] = "FREEBSD_SHARING",
      ["defs-freebsd.json /definitions/SharingModeNoDisable"] = "FREEBSD_SHARING_NO_DISABLE",
      ["defs-linux.json /definitions/PersonalityDomain"] = "PERSONALITY_DOMAIN",
      ["defs-linux.json /definitions/RootfsPropagation"] = "MOUNT_PROPAGATION",
      ["defs-linux.json /definitions/SeccompArch"] = "SECCOMP_ARCH",
      ["defs-linux.json /definitions/SeccompAction"] = "SECCOMP_ACTION",
      ["defs-linux.json /definitions/SeccompFlag"] = "SECCOMP_FILTER_FLAG",
      ["defs-linux.json /definitions/SeccompOperators"] = "SECCOMP_OPERATOR",
      ["defs-linux.json /definitions/MemoryPolicyMode"] = "MEMORY_POLICY_MODE",
      ["defs-linux.json /definitions/MemoryPolicyFlag"] = "MEMORY_POLICY_FLAG",
      ["defs-linux.json /definitions/NamespaceType"] = "LINUX_NAMESPACE_TYPE",
      ["defs-linux.json /definitions/SchedulerPolicy"] = "SCHEDULER_POLICY",
      ["defs-linux.json /definitions/SchedulerFlag"] = "SCHEDULER_FLAG",
      ["defs-vm.json /definitions/RootImageFormat"] = "VM_IMAGE_FORMAT",
      ["defs-windows.json /definitions/Device/properties/idType"] = "WINDOWS_DEVICE_ID_TYPE",
      ["defs-zos.json /definitions/NamespaceType"] = "ZOS_NAMESPACE_TYPE",
      ["state-schema.json /properties/status"] = "CONTAINER_STATE",
    }
    -- what values.def adds to a schema enum, and why
    local EXTRA = {
      SECCOMP_ARCH = { SCMP_ARCH_NATIVE = "libseccomp's native architecture; oci-spec-rs has it too" },
    }

    it("equal the enums of runtime-spec's JSON schemas, and none is left out", function()
      local dir = support.conformance()
      if not dir then return pending("conformance folder absent: runtime/schema is the oracle") end
      local found = {}
      local function walk(o, path, file)
        if type(o) ~= "table" then return end
        if type(o.enum) == "table" then found[file .. " " .. path] = o.enum end
        for k, v in pairs(o) do walk(v, path .. "/" .. tostring(k), file) end
      end
      local p = io.popen("ls '" .. dir .. "/runtime/schema'")
      for file in p:lines() do
        if file:match("%.json$") then walk(decode_file(dir .. "/runtime/schema/" .. file), "", file) end
      end
      p:close()
      assert.are.same(keys_sorted(SCHEMA_ENUMS), keys_sorted(found))
      for where, id in pairs(SCHEMA_ENUMS) do
        local ours = assert(values.enum_lists[id], id)
        local want = {}
        for _, v in ipairs(found[where]) do want[#want + 1] = v end
        for v in pairs(EXTRA[id] or {}) do want[#want + 1] = v end
        assert.are.same(sorted(want), sorted(ours), where .. " vs " .. id)
      end
    end)

    it("capabilities equal the kernel's (linux/capability.h), and match features.json's pattern", function()
      local text = support.read("/usr/include/linux/capability.h")
      if not text then return pending("/usr/include/linux/capability.h absent (linux-libc-dev)") end
      local kernel = {}
      for name in text:gmatch("\n#define (CAP_[A-Z_]+)%s+%d+") do
        if name ~= "CAP_LAST_CAP" then kernel[#kernel + 1] = name end
      end
      assert.are.same(sorted(kernel), sorted(values.enum_lists.CAPABILITY))
      for _, c in ipairs(values.enum_lists.CAPABILITY) do
        assert.is_truthy(c:match("^CAP_[A-Z_]+$"), c)
      end
    end)

    it("rlimit types equal the kernel's (asm-generic/resource.h)", function()
      local text = support.read("/usr/include/asm-generic/resource.h")
      if not text then return pending("/usr/include/asm-generic/resource.h absent (linux-libc-dev)") end
      local kernel = {}
      for name in text:gmatch("#%s*define%s+(RLIMIT_[A-Z]+)%s+%d+") do kernel[#kernel + 1] = name end
      assert.are.same(sorted(kernel), sorted(values.enum_lists.POSIX_RLIMIT_TYPE))
    end)

    it("runtime.<Name> wraps core.values.enums.runtime, read-only", function()
      local n = 0
      for name, tbl in pairs(values.enums.runtime) do
        n = n + 1
        local wrapped = oci.runtime[name]
        for k, v in pairs(tbl) do assert.are.equal(v, wrapped[k], name .. "." .. k) end
      end
      assert.are.equal(22, n) -- 23 enums; the two device types share one table
      assert.are.equal("CAP_SYS_ADMIN", oci.runtime.Capability.SysAdmin)
      -- LinuxDeviceType is the union of the device and device cgroup types
      assert.are.same({ "a", "b", "c", "p", "u" }, (function()
        local t = {}
        for _, v in pairs(oci.runtime.LinuxDeviceType) do t[#t + 1] = v end
        table.sort(t)
        return t
      end)())
      assert.has_error(function() return oci.runtime.Capability.SysAdmn end,
        "Capability has no member 'SysAdmn'")
    end)

    it("the validator uses the same lists (one value in, one out, per enum)", function()
      local spec = oci.runtime.Spec.default()
      local ok = assert(spec:validate())
      assert.is_true(ok)
      local t = spec:to_table()
      t.linux.rootfsPropagation = oci.runtime.MountPropagation.Unbindable
      t.linux.seccomp = { defaultAction = oci.runtime.LinuxSeccompAction.ScmpActNotify,
        architectures = { oci.runtime.Arch.ScmpArchRiscv64 } }
      assert.is_true(assert(oci.runtime.Spec.from_table(t)):validate())
      t.linux.seccomp.architectures = { "SCMP_ARCH_Z80" }
      local okv, msg = oci.runtime.Spec.from_table(t):validate()
      assert.is_nil(okv)
      assert.matches('"SCMP_ARCH_Z80" is not a known seccomp architecture', msg, 1, true)
    end)

    it("messages list the declared values (device types, VM image formats)", function()
      local t = oci.runtime.Spec.default():to_table()
      t.linux.devices = { { path = "/dev/x", type = "x", major = 1, minor = 2 } }
      t.linux.resources.devices = { { allow = true, type = "u" } }
      local ok, msg = oci.runtime.Spec.from_table(t):validate()
      assert.is_nil(ok)
      assert.matches('/linux/devices/0/type: device type MUST be c, b, u or p; got "x" (R-LNX-6)', msg, 1, true)
      assert.matches('/linux/resources/devices/0/type: device cgroup type MUST be a, c or b; got "u" (R-LNX-10)',
        msg, 1, true)
      local vm = assert(oci.runtime.Spec.from_table({ ociVersion = "1.2.0", root = { path = "r" },
        process = { cwd = "/", args = { "a" }, user = { uid = 0, gid = 0 } },
        vm = { hypervisor = { path = "/h" }, kernel = { path = "/k" }, image = { path = "/i", format = "iso" } } }))
      local valid, warnings = vm:validate()
      assert.is_true(valid)
      local text = {}
      for _, w in ipairs(warnings) do text[#text + 1] = tostring(w.message) end
      assert.matches('"iso" is not one of the commonly supported formats raw, qcow2, vdi, vmdk or vhd',
        table.concat(text, "\n"), 1, true)
    end)
  end)

  describe("image platforms", function()
    it("image.Arch and image.Os wrap core.values.enums.image, with the host's as default()", function()
      for _, name in ipairs({ "Arch", "Os" }) do
        local n = 0
        for k, v in pairs(values.enums.image[name]) do
          n = n + 1
          assert.are.equal(v, oci.image[name][k], name .. "." .. k)
        end
        assert.is_true(n > 15, name)
      end
      assert.are.equal("386", oci.image.Arch.i386)
      assert.are.equal(core.host_arch, oci.image.Arch.default())
      assert.are.equal(core.host_os, oci.image.Os.default())
      local known = {}
      for _, v in ipairs(values.enum_lists.GO_ARCH) do known[v] = true end
      assert.is_true(known[core.host_arch] or core.host_arch == "unknown", core.host_arch)
    end)
  end)

  describe("annotation keys", function()
    it("image.annotations and image.ANNOTATION_* wrap the declaration; the validators use it", function()
      local n = 0
      for k, v in pairs(values.enums.image.annotations) do
        n = n + 1
        assert.are.equal(v, oci.image[k], k)
        assert.are.equal(v, oci.image.annotations[k], k)
        assert.is_truthy(v:match("^org%.opencontainers%.image%.[a-z.]+$"), v)
      end
      assert.are.equal(14, n)
      local d = oci.image.Descriptor.new(MT.ImageConfig, 2,
        "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")
      local ann = {}
      for _, v in pairs(values.enums.image.annotations) do ann[v] = "x" end
      ann[oci.image.ANNOTATION_CREATED] = "2024-01-02T03:04:05Z"
      ann[oci.image.ANNOTATION_REF_NAME] = "v1"
      d:set_annotations(ann)
      local ok, warnings = d:validate()
      assert.is_true(ok)
      assert.are.equal(0, #(warnings or {}))
      ann["org.opencontainers.image.colour"] = "x"
      d:set_annotations(ann)
      ok, warnings = d:validate()
      assert.is_true(ok)
      assert.are.equal(1, #warnings)
      assert.matches('"org.opencontainers.image.colour" is not a key defined by image-spec annotations.md',
        warnings[1].message, 1, true)
      -- a runtime config: config.md's keys and annotations.md's are known
      local spec = oci.runtime.Spec.default()
      local rann = { [oci.runtime.ConfigAnnotation.StopSignal] = "SIGTERM",
        [oci.image.ANNOTATION_AUTHORS] = "me" }
      spec:set_annotations(rann)
      ok, warnings = spec:validate()
      assert.is_true(ok)
      assert.are.equal(0, #(warnings or {}))
      rann["org.opencontainers.image.colour"] = "x"
      spec:set_annotations(rann)
      ok, warnings = spec:validate()
      assert.is_true(ok)
      assert.matches("R-CFG-27", tostring(warnings[1].rule), 1, true)
    end)
  end)

  describe("distribution", function()
    it("ErrorCode is distribution-spec's 14 codes in spec order (grammar.json)", function()
      local order = values.enum_lists.ERROR_CODE
      assert.are.same(core.check.error_codes, order)
      for k, v in pairs(values.enums.distribution.ErrorCode) do
        assert.are.equal(v, oci.distribution.ErrorCode[k])
      end
      assert.are.equal("TAG_INVALID", oci.distribution.LegacyErrorCode.TagInvalid)
      local dir = support.conformance()
      if not dir then return pending("conformance folder absent: distribution/grammar.json is the oracle") end
      local grammar = assert(decode_file(dir .. "/distribution/grammar.json"))
      local spec = {}
      for _, c in ipairs(grammar.error_codes.codes) do spec[#spec + 1] = c.code end
      assert.are.same(spec, order)
    end)
  end)

  describe("document kinds", function()
    it("name their classes; the CLI takes exactly these", function()
      local cli = require("ocispec.cli")
      assert.are.same(sorted(values.kind_names), keys_sorted(cli.KINDS))
      assert.are.equal(oci.image.ImageManifest, values.kinds["image-manifest"])
      assert.are.equal(oci.distribution.RepositoryList, values.kinds["distribution-catalog"])
      for id, name in pairs(values.kind_ids) do
        assert.are.equal(values.kinds[name], cli.KINDS[name], id)
        assert.is_not_nil(values.kinds[name], name)
      end
    end)

    it("include every kind of the reference validator (validate.py)", function()
      local dir = support.conformance()
      if not dir then return pending("conformance folder absent: validate.py is the oracle") end
      local p = io.popen("python3 '" .. dir .. "/validate.py' --list-kinds 2>/dev/null")
      local kinds = {}
      for line in p:lines() do
        local k = line:match("^([%w-]+)%s+%S+%.json$")
        if k then kinds[#kinds + 1] = k end
      end
      p:close()
      if #kinds == 0 then return pending("validate.py --list-kinds gave nothing (python3-jsonschema?)") end
      assert.are.equal(8, #kinds)
      for _, k in ipairs(kinds) do assert.is_not_nil(values.kinds[k], k) end
    end)
  end)

  describe("hosts", function()
    it("Docker Hub's three names, and the registry client maps two of them", function()
      assert.are.same({ docker_hub = "docker.io", docker_hub_api = "registry-1.docker.io",
        docker_hub_index = "index.docker.io" }, values.hosts)
      assert.are.equal(values.hosts.docker_hub_api, oci.registry.host_of(values.hosts.docker_hub))
      assert.are.equal(values.hosts.docker_hub_api, oci.registry.host_of(values.hosts.docker_hub_index))
      assert.are.equal("ghcr.io", oci.registry.host_of("ghcr.io"))
    end)
  end)
end)
