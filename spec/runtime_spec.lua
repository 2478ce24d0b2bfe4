-- runtime-spec (config.json, state.json, features.json): defaults against
-- `runc spec`, constants, uint64 values, the rules of csrc/rules/rules_runtime.c
-- (rule id and JSON Pointer), key spellings, features.json nulls and the
-- conformance cases of $OCISPEC_CONFORMANCE/runtime.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local oci = require("ocispec")
local rt = oci.runtime

local RUNC = "/usr/sbin/runc"
local U64_MAX = "18446744073709551615"

local function file_exists(path)
  local f = io.open(path, "r")
  if f then f:close() end
  return f ~= nil
end

local function command_output(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  return (out:gsub("%s+$", ""))
end

--- Run `runc spec <flags>` in a fresh folder and parse what it wrote.
local function runc_spec(flags)
  local dir = support.tmpdir()
  local ok = os.execute(('cd "%s" && "%s" spec %s >/dev/null 2>&1'):format(dir, RUNC, flags))
  local spec, err = rt.Spec.from_file(dir .. "/config.json")
  support.rmdir(dir)
  assert(ok, "runc spec " .. flags .. " failed")
  return assert(spec, err)
end

local function count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

local function values(t)
  local list = {}
  for _, v in pairs(t) do list[#list + 1] = v end
  table.sort(list)
  return list
end

--- runc's default config as a table, edited by `edit`, as a Spec.
local function config(edit)
  local t = rt.Spec.default():to_table()
  if edit then edit(t) end
  return assert(rt.Spec.from_table(t))
end

local GUID_ROOT = "\\\\?\\Volume{ec84d99e-3f02-11e7-ac6c-00155d7682cf}\\"

--- A Windows Server container config, edited by `edit`, as a Spec.
local function windows_config(edit)
  local t = {
    ociVersion = "1.3.0",
    root = { path = GUID_ROOT },
    process = { cwd = "C:\\", args = { "cmd.exe" } },
    mounts = { { destination = "C:\\data", source = "C:\\host\\data" } },
    windows = { layerFolders = { "C:\\layers\\1", "C:\\layers\\2" } },
  }
  if edit then edit(t) end
  return assert(rt.Spec.from_table(t))
end

local function state(edit)
  local t = { ociVersion = "1.3.0", id = "c1", status = "running", pid = 42, bundle = "/b" }
  if edit then edit(t) end
  return assert(rt.State.from_table(t))
end

local function features(edit)
  local t = { ociVersionMin = "1.0.0", ociVersionMax = "1.3.0" }
  if edit then edit(t) end
  return assert(rt.Features.from_table(t))
end

describe("runtime", function()
  describe("defaults", function()
    it("Spec.default() validates and is what runc spec writes", function()
      local spec = rt.Spec.default()
      support.assert_valid(spec)
      assert.are.equal("Spec", spec:type_name())
      assert.are.same({ "sh" }, spec:process():args())
      assert.are.equal("rootfs", spec:root():path())
      assert.is_true(spec:root():readonly())
      if not file_exists(RUNC) then
        pending(RUNC .. " is not installed")
        return
      end
      local runc = runc_spec("")
      assert.is_true(spec == runc, spec:to_json() .. "\n~=\n" .. runc:to_json())
    end)

    it("Spec.rootless(uid, gid) validates and is what runc spec --rootless writes", function()
      local uid = math.tointeger(tonumber(command_output("id -u")))
      local gid = math.tointeger(tonumber(command_output("id -g")))
      local spec = rt.Spec.rootless(uid, gid)
      support.assert_valid(spec)
      local maps = spec:linux():uid_mappings()
      assert.are.equal(uid, maps[1]:host_id())
      assert.are.equal(gid, spec:linux():gid_mappings()[1]:host_id())
      assert.has_error(function() rt.Spec.rootless("0", 0) end,
        "bad argument to 'rootless' (integer uid and gid expected)")
      if not file_exists(RUNC) then
        pending(RUNC .. " is not installed")
        return
      end
      local runc = runc_spec("--rootless")
      assert.is_true(spec == runc, spec:to_json() .. "\n~=\n" .. runc:to_json())
    end)

    it("get_default_* helpers return parts of Spec.default()", function()
      local spec = rt.Spec.default()
      assert.are.equal(#spec:mounts(), #rt.get_default_mounts())
      assert.are.equal(spec:mounts()[1]:to_json(), rt.get_default_mounts()[1]:to_json())
      local ns = {}
      for _, n in ipairs(rt.get_default_namespaces()) do ns[#ns + 1] = n:typ() end
      table.sort(ns)
      assert.are.same({ "ipc", "mount", "network", "pid", "uts" }, ns)
      assert.are.same(spec:linux():masked_paths(), rt.get_default_maskedpaths())
      assert.are.same(spec:linux():readonly_paths(), rt.get_default_readonly_paths())
      assert.is_true(#rt.get_rootless_mounts() > 0)
    end)
  end)

  describe("constants", function()
    it("has the 41 capabilities of runtime-spec", function()
      assert.are.equal(41, count(rt.Capability))
      assert.are.equal("CAP_SYS_ADMIN", rt.Capability.SysAdmin)
      assert.are.equal("CAP_CHECKPOINT_RESTORE", rt.Capability.CheckpointRestore)
      assert.are.equal("CAP_WAKE_ALARM", rt.Capability.WakeAlarm)
      for _, c in pairs(rt.Capability) do assert.truthy(c:match("^CAP_[A-Z_]+$"), c) end
      assert.has_error(function() return rt.Capability.NoSuchCapability end,
        "Capability has no member 'NoSuchCapability'")
    end)

    it("has the namespace types", function()
      assert.are.same({ "cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts" },
        values(rt.LinuxNamespaceType))
      assert.are.same({ "ipc", "mount", "pid", "uts" }, values(rt.ZOSNamespaceType))
    end)

    it("spells the scheduler flags as runtime-spec does", function()
      assert.are.equal("SCHED_FLAG_RESET_ON_FORK", rt.LinuxSchedulerFlag.SchedResetOnFork)
      assert.are.equal("SCHED_FLAG_DL_OVERRUN", rt.LinuxSchedulerFlag.SchedFlagDLOverrun)
      assert.are.equal(7, count(rt.LinuxSchedulerFlag))
      assert.are.equal(7, count(rt.LinuxSchedulerPolicy))
      assert.are.equal("SCHED_DEADLINE", rt.LinuxSchedulerPolicy.SchedDeadline)
    end)

    it("has the seccomp actions, operators, architectures and flags", function()
      assert.are.equal(9, count(rt.LinuxSeccompAction))
      assert.are.equal("SCMP_ACT_KILL_PROCESS", rt.LinuxSeccompAction.ScmpActKillProcess)
      assert.are.equal(7, count(rt.LinuxSeccompOperator))
      assert.are.equal("SCMP_CMP_MASKED_EQ", rt.LinuxSeccompOperator.ScmpCmpMaskedEq)
      assert.are.equal("SCMP_ARCH_X86_64", rt.Arch.ScmpArchX86_64)
      assert.are.equal("SCMP_ARCH_LOONGARCH64", rt.Arch.ScmpArchLoongarch64)
      assert.are.equal(4, count(rt.LinuxSeccompFilterFlag))
      assert.are.equal("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        rt.LinuxSeccompFilterFlag.SeccompFilterFlagWaitKillableRecv)
    end)

    it("every seccomp action, operator and architecture constant validates", function()
      for _, a in pairs(rt.LinuxSeccompAction) do
        support.assert_valid(assert(rt.LinuxSeccomp.from_table({ defaultAction = a })))
        assert.are.equal("integer", math.type(rt.seccomp_action_value(a)))
      end
      for _, op in pairs(rt.LinuxSeccompOperator) do
        support.assert_valid(assert(rt.LinuxSeccompArg.from_table({ index = 0, value = 1, op = op })))
      end
      for _, f in pairs(rt.LinuxSeccompFilterFlag) do
        support.assert_valid(assert(rt.LinuxSeccomp.from_table({ defaultAction = "SCMP_ACT_LOG", flags = { f } })))
      end
      for _, arch in pairs(rt.Arch) do
        support.assert_valid(assert(rt.LinuxSeccomp.from_table({
          defaultAction = "SCMP_ACT_LOG", architectures = { arch } })))
      end
    end)

    it("seccomp_action_value gives libseccomp's values", function()
      assert.are.equal(0x7fff0000, rt.seccomp_action_value("SCMP_ACT_ALLOW"))
      assert.are.equal(0x00050001, rt.seccomp_action_value("SCMP_ACT_ERRNO"))
      assert.are.equal(0x00050026, rt.seccomp_action_value("SCMP_ACT_ERRNO", 38))
      assert.are.equal(0x80000000, rt.seccomp_action_value("SCMP_ACT_KILL_PROCESS"))
      local v, msg = rt.seccomp_action_value("SCMP_ACT_NOPE")
      assert.is_nil(v)
      assert.truthy(msg:find("SCMP_ACT_NOPE", 1, true))
    end)

    it("has the rlimit types, I/O classes, memory policies and container states", function()
      assert.are.equal(16, count(rt.PosixRlimitType))
      assert.are.equal("RLIMIT_NOFILE", rt.PosixRlimitType.RlimitNofile)
      assert.are.equal(3, count(rt.IOPriorityClass))
      assert.are.equal(7, count(rt.MemoryPolicyModeType))
      assert.are.equal(3, count(rt.MemoryPolicyFlagType))
      assert.are.same({ "created", "creating", "running", "stopped" }, values(rt.ContainerState))
      assert.are.equal("1.3.0", rt.VERSION)
      assert.are.equal("seccompFd", rt.SECCOMP_FD_NAME)
      for _, r in pairs(rt.PosixRlimitType) do
        support.assert_valid(assert(rt.PosixRlimit.from_table({ type = r, hard = 1, soft = 1 })))
      end
      for _, s in pairs(rt.ContainerState) do
        support.assert_valid(state(function(t) t.status = s end))
      end
    end)
  end)

  describe("uint64", function()
    local JSON = '{"index":0,"value":' .. U64_MAX .. ',"op":"SCMP_CMP_EQ"}'

    it("values above math.maxinteger are decimal strings", function()
      local a = assert(rt.LinuxSeccompArg.from_json(JSON))
      assert.are.equal(U64_MAX, a:value())
      assert.are.equal(JSON, a:to_json())
      assert.are.equal(U64_MAX, a:to_table().value)
      assert.is_true(assert(rt.LinuxSeccompArg.from_table(a:to_table())) == a)
      a:set_value(math.maxinteger)
      assert.are.equal(math.maxinteger, a:value())
      assert.are.equal("integer", math.type(a:value()))
    end)

    it("setters accept the string and refuse what is out of range", function()
      local a = assert(rt.LinuxSeccompArg.from_table({ index = 0, value = 1, op = "SCMP_CMP_EQ" }))
      a:set_value(U64_MAX)
      assert.are.equal(JSON, a:to_json())
      a:set_value_two("9223372036854775808")
      assert.are.equal("9223372036854775808", a:value_two())
      local before = a:to_json()
      assert.has_error(function() a:set_value("18446744073709551616") end,
        "bad argument #1 to 'set_value' (value: value is out of range for uint64 (0..18446744073709551615))")
      assert.has_error(function() a:set_value(-1) end,
        "bad argument #1 to 'set_value' (value: -1 is out of range for uint64 (0..18446744073709551615))")
      assert.are.equal(before, a:to_json())
    end)

    it("from_json and from_table refuse 2^64 and -1", function()
      for _, v in ipairs({ "18446744073709551616", "-1" }) do
        support.assert_fails({ "/value", "out of range" }, { pointer = "/value" },
          rt.LinuxSeccompArg.from_json('{"index":0,"value":' .. v .. ',"op":"SCMP_CMP_EQ"}'))
      end
      support.assert_fails({ "/value" }, { pointer = "/value" },
        rt.LinuxSeccompArg.from_table({ index = 0, value = "18446744073709551616", op = "SCMP_CMP_EQ" }))
      support.assert_fails({ "/value" }, { pointer = "/value" },
        rt.LinuxSeccompArg.from_table({ index = 0, value = -1, op = "SCMP_CMP_EQ" }))
    end)
  end)

  describe("capabilities", function()
    it("an unknown capability parses and only warns (R-CAP-UNKNOWN)", function()
      local spec = config(function(t)
        local b = t.process.capabilities.bounding
        b[#b + 1] = "CAP_FOO"
      end)
      local n = #spec:process():capabilities():bounding()
      local ok, warnings = spec:validate()
      assert.is_true(ok)
      local found
      for _, w in ipairs(warnings) do
        if w.rule == "R-CAP-UNKNOWN" then found = w end
      end
      assert.is_table(found, "no R-CAP-UNKNOWN warning")
      assert.are.equal("/process/capabilities/bounding/" .. (n - 1), found.pointer)
      assert.are.equal("warning", found.severity)
      assert.truthy(found.message:find("CAP_FOO", 1, true))
    end)

    it("a name that is no capability is an error (R-FT-6)", function()
      support.assert_rule(config(function(t) t.process.capabilities.ambient = { "cap_chown" } end),
        "R-FT-6", "/process/capabilities/ambient/0")
    end)
  end)

  describe("rules", function()
    -- { name, make(), rule, pointer [, validate options] }
    local cases = {
      { "R-CFG-5 Windows root path not a volume GUID path", function()
          return windows_config(function(t) t.root.path = "C:\\rootfs" end)
        end, "R-CFG-5", "/root/path" },
      { "R-CFG-5 volume GUID path with a bad GUID", function()
          return windows_config(function(t) t.root.path = GUID_ROOT:gsub("ec84", "xx84") end)
        end, "R-CFG-5", "/root/path" },
      { "R-CFG-14 relative cwd on Windows", function()
          return windows_config(function(t) t.process.cwd = "data" end)
        end, "R-CFG-14", "/process/cwd" },
      { "R-CFG-14 a Windows cwd on Linux", function()
          return config(function(t) t.process.cwd = "C:\\" end)
        end, "R-CFG-14", "/process/cwd" },
      { "R-CFG-6 Windows root readonly", function()
          return windows_config(function(t) t.root.readonly = true end)
        end, "R-CFG-6", "/root/readonly" },
      { "R-CFG-8 Windows relative mount destination", function()
          return windows_config(function(t) t.mounts[1].destination = "data" end)
        end, "R-CFG-8", "/mounts/0/destination" },
      { "R-CFG-8 Solaris relative mount destination", function()
          return config(function(t)
            t.linux, t.solaris = nil, { milestone = "svc:/milestone/container:default" }
            t.mounts[2].destination = "dev"
          end)
        end, "R-CFG-8", "/mounts/1/destination" },
      { "R-CFG-8 relative destination for an explicit freebsd target", function()
          return config(function(t) t.mounts[1].destination = "proc" end)
        end, "R-CFG-8", "/mounts/0/destination", { platform = "freebsd" } },
      { "R-CFG-9 nested Windows mounts", function()
          return windows_config(function(t)
            t.mounts[2] = { destination = "c:/Data/logs", source = "C:\\host\\logs" }
          end)
        end, "R-CFG-9", "/mounts/1/destination" },
      { "R-CFG-11 no process when the config is to be started", function()
          return config(function(t) t.process = nil end)
        end, "R-CFG-11", "/process", { for_start = true } },
      { "R-CFG-25 Windows target without a windows object", function()
          return windows_config(function(t) t.windows = nil end)
        end, "R-CFG-25", "/windows", { platform = "windows" } },
      { "R-CFG-27 created annotation not RFC 3339", function()
          return config(function(t)
            t.annotations = { ["org.opencontainers.image.created"] = "yesterday" }
          end)
        end, "R-CFG-27", "/annotations/org.opencontainers.image.created" },
      { "R-CFG-2 ociVersion not SemVer", function() return config(function(t) t.ociVersion = "1.0" end) end,
        "R-CFG-2", "/ociVersion" },
      { "R-CFG-3 root missing", function() return config(function(t) t.root = nil end) end,
        "R-CFG-3", "/root" },
      { "R-CFG-10 uidMappings without gidMappings", function()
          return config(function(t)
            t.mounts[1].uidMappings = { { containerID = 0, hostID = 1000, size = 1 } }
          end)
        end, "R-CFG-10", "/mounts/0/gidMappings" },
      { "R-CFG-10 gidMappings without uidMappings", function()
          return config(function(t)
            t.mounts[2].gidMappings = { { containerID = 0, hostID = 1000, size = 1 } }
          end)
        end, "R-CFG-10", "/mounts/1/uidMappings" },
      { "R-CFG-14 relative cwd", function() return config(function(t) t.process.cwd = "home" end) end,
        "R-CFG-14", "/process/cwd" },
      { "R-CFG-15 no args", function() return config(function(t) t.process.args = nil end) end,
        "R-CFG-15", "/process/args" },
      { "R-CFG-15 empty args", function() return config(function(t) t.process.args = oci.json.decode("[]") end) end,
        "R-CFG-15", "/process/args" },
      { "R-CFG-16 unknown rlimit", function()
          return config(function(t) t.process.rlimits = { { type = "RLIMIT_FOO", hard = 1, soft = 1 } } end)
        end, "R-CFG-16", "/process/rlimits/0/type" },
      { "R-CFG-17 duplicate rlimits", function()
          return config(function(t)
            t.process.rlimits = { { type = "RLIMIT_NOFILE", hard = 1, soft = 1 },
              { type = "RLIMIT_CORE", hard = 1, soft = 1 }, { type = "RLIMIT_NOFILE", hard = 2, soft = 2 } }
          end)
        end, "R-CFG-17", "/process/rlimits/2" },
      { "R-CFG-18 scheduler policy", function()
          return config(function(t) t.process.scheduler = { policy = "SCHED_FOO" } end)
        end, "R-CFG-18", "/process/scheduler/policy" },
      { "R-CFG-18 scheduler flag (oci-spec-rs spelling)", function()
          return config(function(t)
            t.process.scheduler = { policy = "SCHED_DEADLINE", flags = { "SCHED_FLAG_RECLAIM", "SCHED_RESET_ON_FORK" } }
          end)
        end, "R-CFG-18", "/process/scheduler/flags/1" },
      { "R-CFG-19 ioPriority class", function()
          return config(function(t) t.process.ioPriority = { class = "IOPRIO_CLASS_FOO", priority = 1 } end)
        end, "R-CFG-19", "/process/ioPriority/class" },
      { "R-CFG-19 ioPriority without priority", function()
          return config(function(t) t.process.ioPriority = { class = "IOPRIO_CLASS_BE" } end)
        end, "R-CFG-19", "/process/ioPriority" },
      { "R-CFG-20 user without gid", function() return config(function(t) t.process.user.gid = nil end) end,
        "R-CFG-20", "/process/user" },
      { "R-CFG-20 user without uid", function() return config(function(t) t.process.user.uid = nil end) end,
        "R-CFG-20", "/process/user" },
      { "R-CFG-21 execCPUAffinity", function()
          return config(function(t) t.process.execCPUAffinity = { initial = "3-1" } end)
        end, "R-CFG-21", "/process/execCPUAffinity/initial" },
      { "R-CFG-23 relative hook path", function()
          return config(function(t) t.hooks = { prestart = { { path = "fix-mounts" } } } end)
        end, "R-CFG-23", "/hooks/prestart/0/path" },
      { "R-CFG-24 hook timeout 0", function()
          return config(function(t)
            t.hooks = { poststop = { { path = "/bin/true" }, { path = "/bin/true", timeout = 0 } } }
          end)
        end, "R-CFG-24", "/hooks/poststop/1/timeout" },
      { "R-CFG-24 negative hook timeout", function()
          return config(function(t) t.hooks = { createRuntime = { { path = "/bin/true", timeout = -5 } } } end)
        end, "R-CFG-24", "/hooks/createRuntime/0/timeout" },
      { "R-CFG-ENV env entry without =", function()
          return config(function(t) t.process.env[#t.process.env + 1] = "NOEQUALS" end)
        end, "R-CFG-ENV", "/process/env/2" },
      { "R-CFG-26 empty annotation key", function()
          return config(function(t) t.annotations = { [""] = "v" } end)
        end, "R-CFG-26", "/annotations/" }, -- the pointer to the key ""
      { "R-LNX-1 namespace type", function()
          return config(function(t) t.linux.namespaces[1].type = "net" end)
        end, "R-LNX-1", "/linux/namespaces/0/type" },
      { "R-LNX-2 relative namespace path", function()
          return config(function(t) t.linux.namespaces[2].path = "proc/1/ns/net" end)
        end, "R-LNX-2", "/linux/namespaces/1/path" },
      { "R-LNX-3 duplicate namespaces", function()
          return config(function(t) t.linux.namespaces[#t.linux.namespaces + 1] = { type = "pid" } end)
        end, "R-LNX-3", "/linux/namespaces/5" },
      { "R-LNX-6 device type", function()
          return config(function(t) t.linux.devices = { { path = "/dev/x", type = "x", major = 1, minor = 1 } } end)
        end, "R-LNX-6", "/linux/devices/0/type" },
      { "R-LNX-7 device without major", function()
          return config(function(t) t.linux.devices = { { path = "/dev/null", type = "c", minor = 3 } } end)
        end, "R-LNX-7", "/linux/devices/0" },
      { "R-LNX-10 device cgroup type", function()
          return config(function(t) t.linux.resources = { devices = { { allow = true, type = "p" } } } end)
        end, "R-LNX-10", "/linux/resources/devices/0/type" },
      { "R-LNX-10 device cgroup access", function()
          return config(function(t) t.linux.resources = { devices = { { allow = true, access = "rwx" } } } end)
        end, "R-LNX-10", "/linux/resources/devices/0/access" },
      { "R-LNX-11 burst above quota", function()
          return config(function(t) t.linux.resources = { cpu = { quota = 1000, burst = 2000 } } end)
        end, "R-LNX-11", "/linux/resources/cpu/burst" },
      { "R-LNX-12 weight device with neither weight", function()
          return config(function(t)
            t.linux.resources = { blockIO = { weightDevice = { { major = 8, minor = 0 } } } }
          end)
        end, "R-LNX-12", "/linux/resources/blockIO/weightDevice/0" },
      { "R-LNX-13 throttle device without rate", function()
          return config(function(t)
            t.linux.resources = { blockIO = { throttleWriteIOPSDevice = { { major = 8, minor = 0 } } } }
          end)
        end, "R-LNX-13", "/linux/resources/blockIO/throttleWriteIOPSDevice/0/rate" },
      { "R-LNX-14 pageSize", function()
          return config(function(t) t.linux.resources = { hugepageLimits = { { pageSize = "2mb", limit = 1 } } } end)
        end, "R-LNX-14", "/linux/resources/hugepageLimits/0/pageSize" },
      { "R-LNX-17 rdma with neither limit", function()
          return config(function(t) t.linux.resources = { rdma = { mlx5_1 = {} } } end)
        end, "R-LNX-17", "/linux/resources/rdma/mlx5_1" },
      { "R-LNX-18 memBwSchema", function()
          return config(function(t) t.linux.intelRdt = { memBwSchema = "L3:0=20" } end)
        end, "R-LNX-18", "/linux/intelRdt/memBwSchema" },
      { "R-LNX-19 schemata newline", function()
          return config(function(t) t.linux.intelRdt = { schemata = { "L3:0=f", "MB:0=1\nL3:1=f" } } end)
        end, "R-LNX-19", "/linux/intelRdt/schemata/1" },
      { "R-LNX-20 memory policy mode", function()
          return config(function(t) t.linux.memoryPolicy = { mode = "MPOL_FOO" } end)
        end, "R-LNX-20", "/linux/memoryPolicy/mode" },
      { "R-LNX-20 memory policy flag", function()
          return config(function(t) t.linux.memoryPolicy = { mode = "MPOL_BIND", flags = { "MPOL_F_FOO" } } end)
        end, "R-LNX-20", "/linux/memoryPolicy/flags/0" },
      { "R-LNX-21 seccomp action", function()
          return config(function(t) t.linux.seccomp = { defaultAction = "SCMP_ACT_FOO" } end)
        end, "R-LNX-21", "/linux/seccomp/defaultAction" },
      { "R-LNX-21 syscall action", function()
          return config(function(t)
            t.linux.seccomp = { defaultAction = "SCMP_ACT_ERRNO",
              syscalls = { { names = { "read" }, action = "ALLOW" } } }
          end)
        end, "R-LNX-21", "/linux/seccomp/syscalls/0/action" },
      { "R-LNX-21 seccomp architecture", function()
          return config(function(t)
            t.linux.seccomp = { defaultAction = "SCMP_ACT_ALLOW", architectures = { "x86_64" } }
          end)
        end, "R-LNX-21", "/linux/seccomp/architectures/0" },
      { "R-LNX-21 seccomp flag", function()
          return config(function(t) t.linux.seccomp = { defaultAction = "SCMP_ACT_ALLOW", flags = { "TSYNC" } } end)
        end, "R-LNX-21", "/linux/seccomp/flags/0" },
      { "R-LNX-22 listenerMetadata without listenerPath", function()
          return config(function(t) t.linux.seccomp = { defaultAction = "SCMP_ACT_ALLOW", listenerMetadata = "m" } end)
        end, "R-LNX-22", "/linux/seccomp/listenerMetadata" },
      { "R-LNX-23 syscall without names", function()
          return config(function(t)
            t.linux.seccomp = { defaultAction = "SCMP_ACT_ALLOW",
              syscalls = { { names = oci.json.decode("[]"), action = "SCMP_ACT_ERRNO" } } }
          end)
        end, "R-LNX-23", "/linux/seccomp/syscalls/0/names" },
      { "R-LNX-24 seccomp operator", function()
          return config(function(t)
            t.linux.seccomp = { defaultAction = "SCMP_ACT_ALLOW", syscalls = { { names = { "read" },
              action = "SCMP_ACT_ERRNO", args = { { index = 0, value = 1, op = "EQ" } } } } }
          end)
        end, "R-LNX-24", "/linux/seccomp/syscalls/0/args/0/op" },
      { "R-LNX-25 rootfsPropagation", function()
          return config(function(t) t.linux.rootfsPropagation = "rprivate" end)
        end, "R-LNX-25", "/linux/rootfsPropagation" },
      { "R-LNX-26 relative masked path", function()
          return config(function(t) t.linux.maskedPaths[3] = "proc/kcore" end)
        end, "R-LNX-26", "/linux/maskedPaths/2" },
      { "R-LNX-26 relative read-only path", function()
          return config(function(t) t.linux.readonlyPaths[1] = "proc/bus" end)
        end, "R-LNX-26", "/linux/readonlyPaths/0" },
      { "R-LNX-27 personality domain", function()
          return config(function(t) t.linux.personality = { domain = "LINUX64" } end)
        end, "R-LNX-27", "/linux/personality/domain" },
      { "R-WIN-1 empty layerFolders", function()
          return config(function(t) t.windows = { layerFolders = oci.json.decode("[]") } end)
        end, "R-WIN-1", "/windows/layerFolders" },
      { "R-WIN-2 idType", function()
          return config(function(t)
            t.windows = { layerFolders = { "C:\\l" }, devices = { { id = "x", idType = "vpci" } } }
          end)
        end, "R-WIN-2", "/windows/devices/0/idType" },
      { "R-WIN-3 root with Hyper-V", function()
          return config(function(t)
            t.windows = { layerFolders = { "C:\\l" }, hyperv = { utilityVMPath = "C:\\vm" } }
          end)
        end, "R-WIN-3", "/root" },
      { "R-VM-2 relative kernel path", function()
          return config(function(t) t.vm = { kernel = { path = "vmlinuz" } } end)
        end, "R-VM-2", "/vm/kernel/path" },
      { "R-ZOS-1 namespace type", function()
          return config(function(t) t.zos = { namespaces = { { type = "network" } } } end)
        end, "R-ZOS-1", "/zos/namespaces/0/type" },
      { "R-ZOS-1 duplicate namespaces", function()
          return config(function(t) t.zos = { namespaces = { { type = "pid" }, { type = "pid" } } } end)
        end, "R-ZOS-1", "/zos/namespaces" },
      { "R-BSD-1 vnet disable", function()
          return config(function(t) t.freebsd = { jail = { vnet = "disable" } } end)
        end, "R-BSD-1", "/freebsd/jail/vnet" },
      { "R-BSD-1 sysvshm mode", function()
          return config(function(t) t.freebsd = { jail = { sysvshm = "share" } } end)
        end, "R-BSD-1", "/freebsd/jail/sysvshm" },
      { "R-BSD-1 enforceStatfs", function()
          return config(function(t) t.freebsd = { jail = { enforceStatfs = 3 } } end)
        end, "R-BSD-1", "/freebsd/jail/enforceStatfs" },
      { "R-ST-2 status outside the enum", function()
          return state(function(t) t.status = "paused" end)
        end, "R-ST-2", "/status" },
      { "R-ST-3 running without pid", function()
          return state(function(t) t.pid = nil end)
        end, "R-ST-3", "/pid" },
      { "R-ST-3 negative pid", function()
          return state(function(t) t.pid = -1 end)
        end, "R-ST-3", "/pid" },
      { "R-ST-4 relative bundle", function()
          return state(function(t) t.bundle = "containers/redis" end)
        end, "R-ST-4", "/bundle" },
      { "R-CFG-2 state ociVersion", function()
          return state(function(t) t.ociVersion = "v1.0.0" end)
        end, "R-CFG-2", "/ociVersion" },
      { "R-FT-2 ociVersionMax below ociVersionMin", function()
          return features(function(t) t.ociVersionMin, t.ociVersionMax = "1.1.0", "1.0.2" end)
        end, "R-FT-2", "/ociVersionMax" },
      { "R-FT-3 unknown features.json property", function()
          return features(function(t) t.extraProperty = true end)
        end, "R-FT-3", "/extraProperty" },
      { "R-FT-6 features namespace", function()
          return features(function(t) t.linux = { namespaces = { "mount", "net" } } end)
        end, "R-FT-6", "/linux/namespaces/1" },
      { "R-FT-6 features seccomp action", function()
          return features(function(t) t.linux = { seccomp = { actions = { "SCMP_ACT_FOO" } } } end)
        end, "R-FT-6", "/linux/seccomp/actions/0" },
      { "R-FT-6 features seccomp operator", function()
          return features(function(t) t.linux = { seccomp = { operators = { "SCMP_CMP_FOO" } } } end)
        end, "R-FT-6", "/linux/seccomp/operators/0" },
      { "R-FT-6 features capability", function()
          return features(function(t) t.linux = { capabilities = { "CAP_chown" } } end)
        end, "R-FT-6", "/linux/capabilities/0" },
    }

    for _, c in ipairs(cases) do
      local name, make, rule, pointer, opts = c[1], c[2], c[3], c[4], c[5]
      it(name, function()
        support.assert_rule(make(), rule, pointer, nil, opts)
      end)
    end

    it("the base documents of these cases validate", function()
      support.assert_valid(config())
      support.assert_valid(config(), { for_start = true, platform = "linux" })
      support.assert_valid(windows_config())
      support.assert_valid(windows_config(), { platform = "windows" })
      -- sibling (not nested) Windows mounts, drive paths either way
      support.assert_valid(windows_config(function(t)
        t.mounts[2] = { destination = "C:/database", source = "C:\\host\\db" }
      end))
      -- without for_start, a config may leave process out (config.md:240)
      support.assert_valid(config(function(t) t.process = nil end))
      -- org.opencontainers keys config.md, conversion.md and annotations.md define
      support.assert_valid(config(function(t)
        t.annotations = {
          ["org.opencontainers.image.created"] = "2026-01-02T03:04:05Z",
          ["org.opencontainers.image.stopSignal"] = "SIGTERM",
          ["org.opencontainers.image.exposedPorts"] = "80/tcp",
          ["org.opencontainers.image.source"] = "https://example.com/src",
        }
      end))
      support.assert_valid(state())
      support.assert_valid(features())
      support.assert_valid(state(function(t)
        t.status, t.pid = "stopped", nil
      end))
    end)

    -- prose-based decisions (docs/validation.md): warnings, not errors
    local warnings = {
      { "R-CFG-20 process without user", function()
          return config(function(t) t.process.user = nil end)
        end, "R-CFG-20", "/process" },
      { "R-LNX-8 fileMode beyond 0777", function()
          return config(function(t)
            t.linux.devices = { { path = "/dev/null", type = "c", major = 1, minor = 3, fileMode = 4095 } }
          end)
        end, "R-LNX-8", "/linux/devices/0/fileMode" },
      { "R-CFG-8 relative mount destination on Linux (deprecated)", function()
          return config(function(t) t.mounts[1].destination = "proc" end)
        end, "R-CFG-8", "/mounts/0/destination" },
      { "R-CFG-27 org.opencontainers key no spec defines", function()
          return config(function(t) t.annotations = { ["org.opencontainers.foo"] = "x" } end)
        end, "R-CFG-27", "/annotations/org.opencontainers.foo" },
      { "R-VM-3 image format outside the common list", function()
          return config(function(t)
            t.vm = { kernel = { path = "/vmlinuz" }, image = { path = "/img", format = "iso" } }
          end)
        end, "R-VM-3", "/vm/image/format" },
    }
    for _, c in ipairs(warnings) do
      local name, make, rule, pointer = c[1], c[2], c[3], c[4]
      it(name .. " is a warning", function()
        local ok, list = make():validate()
        assert.is_true(ok)
        local found
        for _, w in ipairs(list) do
          if w.rule == rule and w.pointer == pointer and w.severity == "warning" then found = w end
        end
        assert.is_table(found, "no warning " .. rule .. " at " .. pointer)
      end)
    end

    it("pids without limit is valid (the prose makes it optional)", function()
      support.assert_valid(config(function(t) t.linux.resources = { pids = {} } end))
    end)
  end)

  describe("JSON keys", function()
    it("spells utilityVMPath, enableCMT and enableMBM as the spec does", function()
      local h = assert(rt.WindowsHyperV.from_json('{"utilityVMPath":"C:\\\\vm"}'))
      assert.are.equal("C:\\vm", h:utility_vm_path())
      assert.are.equal('{"utilityVMPath":"C:\\\\vm"}', h:to_json())
      local json = '{"closID":"g","enableMonitoring":true,"enableCMT":true,"enableMBM":false}'
      local r = assert(rt.LinuxIntelRdt.from_json(json))
      assert.is_true(r:enable_cmt())
      assert.is_false(r:enable_mbm())
      assert.are.equal(json, r:to_json())
      assert.are.same({}, r:unknown_fields())
      -- oci-spec-rs' spelling is not ours: kept as an unknown field
      local rs = assert(rt.LinuxIntelRdt.from_json('{"enableCmt":true}'))
      assert.is_nil(rs:enable_cmt())
      assert.are.same({ enableCmt = true }, rs:unknown_fields())
    end)

    it("getters drop a trailing underscore (linux, class)", function()
      local spec = rt.Spec.default()
      assert.are.equal("Linux", spec:linux():type_name())
      local p = assert(rt.LinuxIOPriority.from_table({ class = "IOPRIO_CLASS_RT", priority = 1 }))
      assert.are.equal("IOPRIO_CLASS_RT", p:class())
    end)
  end)

  describe("features.json", function()
    it("null stays null and differs from absent", function()
      local json = '{"ociVersionMin":"1.0.0","ociVersionMax":"1.1.0","hooks":null,' ..
        '"linux":{"namespaces":null,"seccomp":{"enabled":true,"actions":null}}}'
      local f = assert(rt.Features.from_json(json))
      assert.are.equal(json, f:to_json())
      assert.is_true(f:has("hooks"))
      assert.is_true(f:is_null("hooks"))
      assert.is_nil(f:hooks())
      assert.is_false(f:has("mount_options"))
      assert.is_true(f:linux():is_null("namespaces"))
      assert.is_true(f:linux():seccomp():is_null("actions"))
      assert.are.equal(oci.null, f:to_table().hooks)
      support.assert_valid(f)
      local absent = assert(rt.Features.from_json('{"ociVersionMin":"1.0.0","ociVersionMax":"1.1.0",' ..
        '"linux":{"namespaces":null,"seccomp":{"enabled":true,"actions":null}}}'))
      assert.is_false(absent == f)
      absent:set_hooks(oci.null)
      assert.are.equal(json:gsub('"hooks":null,', ""), absent:to_json():gsub('"hooks":null,', ""))
    end)
  end)

  describe("LinuxDeviceCgroup helpers", function()
    it("to_string and from_device", function()
      local dev = assert(rt.LinuxDevice.from_table({ path = "/dev/null", type = "c", major = 1, minor = 3 }))
      local cg = rt.LinuxDeviceCgroup.from_device(dev)
      assert.are.equal("c 1:3 rwm", cg:to_string())
      assert.is_true(cg:allow())
      local any = assert(rt.LinuxDeviceCgroup.from_table({ allow = false, access = "rwm" }))
      assert.are.equal("a *:* rwm", any:to_string())
    end)
  end)

  describe("runtime-spec page examples", function()
    local root = support.conformance()
    local types = {
      config = rt.Spec, state = rt.State, features = rt.Features,
      ["container-process-state"] = rt.ContainerProcessState,
    }
    if not root then
      it("needs $OCISPEC_CONFORMANCE", function() pending("conformance folder not found") end)
      return
    end
    local dir = root .. "/runtime/examples/"
    local rows = support.tsv(dir .. "INDEX.tsv")
    it("has whole documents and fragments", function() assert.is_true(#rows >= 70) end)
    for _, row in ipairs(rows) do
      local file, kind, role = row[1], row[2], row[3]
      local T = types[kind]
      if role == "invalid-json" then
        it(file .. " (not JSON on the spec page) is refused: a member outside an object", function()
          -- each is a `"key": value` fragment without its braces
          support.assert_fails({ dir .. file, "1:1: expected object, got string" },
            { code = "type", line = 1, column = 1 }, T.from_file(dir .. file))
        end)
      else
        it(file .. " (" .. role .. " " .. kind .. ") round-trips JSON-equal", function()
          assert(T, "unknown kind " .. kind)
          local text = assert(support.read(dir .. file))
          -- fragments lack required members: they load as partial
          -- documents, and only whole documents validate
          local obj = assert(T.from_json(text, { allow_missing_required = role == "fragment" }))
          if role == "document" then support.assert_valid(obj) end
          local outs = {}
          for _, opts in ipairs({ {}, { pretty = true } }) do
            local out = obj:to_json(opts)
            outs[#outs + 1] = out
            assert.is_true(assert(T.from_json(out, { allow_missing_required = true })) == obj)
          end
          -- JSON-equal for an independent decoder (Python's json), not our own
          support.assert_json_same(text, outs, file)
        end)
      end
    end
  end)

  describe("conformance cases", function()
    local root = support.conformance()
    local types = { config = rt.Spec, state = rt.State, features = rt.Features }
    -- bad cases our prose-based decisions accept (docs/validation.md): none so far
    local accepted = {}
    -- why each bad case fails: the parse error's code and pointer, or the
    -- validation rule and pointer. A bad case missing here fails the run.
    local reasons = {
      ["config/freebsd-vnet-disable.json"] = { rule = "R-BSD-1", pointer = "/freebsd/jail/vnet" },
      ["config/invalid-json.json"] = { code = "syntax", line = 1, message = "expected a string key" },
      ["config/linux-hugepage.json"] = { rule = "R-LNX-14", pointer = "/linux/resources/hugepageLimits/0/pageSize" },
      ["config/linux-netdevice.json"] = { code = "type", pointer = "/linux/netDevices/eth0/name" },
      ["config/linux-rdma.json"] = { code = "type", pointer = "/linux/resources/rdma/mlx5_1/hcaHandles" },
      ["features/missing-ociVersionMax.json"] = {
        code = "missing", message = 'missing required field "ociVersionMax"',
      },
      ["state/invalid-json.json"] = { code = "syntax", line = 1, message = "expected a string key" },
    }

    if not root then
      it("needs $OCISPEC_CONFORMANCE", function() pending("conformance folder not found") end)
      return
    end

    for _, kind in ipairs({ "config", "state", "features" }) do
      local T = types[kind]
      local good = root .. "/runtime/cases/good/" .. kind
      for _, name in ipairs(support.list(good, "%.json$")) do
        it("good " .. kind .. "/" .. name .. " loads and validates", function()
          local obj = assert(T.from_file(good .. "/" .. name))
          support.assert_valid(obj)
          assert.is_true(assert(T.from_json(obj:to_json())) == obj)
        end)
      end
      local bad = root .. "/runtime/cases/bad/" .. kind
      for _, name in ipairs(support.list(bad, "%.json$")) do
        local case = kind .. "/" .. name
        if accepted[case] then
          pending("bad " .. case .. ": " .. accepted[case])
        else
          it("bad " .. case .. " fails from_json or validate for its reason", function()
            local want = reasons[case]
            assert.is_table(want, case .. ": a new bad case: add why it fails to `reasons`")
            local obj, msg, err = T.from_file(bad .. "/" .. name)
            if want.code then
              support.assert_fails({ want.message or want.pointer }, { code = want.code, line = want.line,
                pointer = want.pointer }, obj, msg, err)
            else
              assert.is_not_nil(obj, case .. " does not parse: " .. tostring(msg))
              support.assert_rule(obj, want.rule, want.pointer)
            end
          end)
        end
      end
    end

    it("has good and bad cases of each kind", function()
      for _, kind in ipairs({ "config", "state", "features" }) do
        for _, side in ipairs({ "good", "bad" }) do
          local dir = ("%s/runtime/cases/%s/%s"):format(root, side, kind)
          assert.is_true(#support.list(dir, "%.json$") > 0, "no case in " .. dir)
        end
      end
    end)
  end)

  describe("Spec:canonicalize_rootfs", function()
    -- the oracle: Python's os.path.realpath
    local function py_realpath(path)
      local p = assert(io.popen(("python3 -c 'import os,sys; print(os.path.realpath(sys.argv[1]))' %s")
        :format("'" .. path:gsub("'", "'\\''") .. "'")))
      local out = p:read("a")
      assert(p:close(), "python3 failed")
      return (out:gsub("\n$", ""))
    end
    local dir
    before_each(function()
      dir = support.tmpdir()
      assert(os.execute(("mkdir -p %s/bundle/real/root %s/other && ln -s real/root %s/bundle/rootfs"
        .. " && ln -s ../bundle %s/other/link"):format(dir, dir, dir, dir)))
    end)
    after_each(function() support.rmdir(dir) end)

    it("resolves a relative root.path against the bundle, through symlinks", function()
      local spec = rt.Spec.default()
      spec:root():set_path("rootfs")
      -- the bundle is named through a symlink too
      assert.are.equal(spec, assert(spec:canonicalize_rootfs(dir .. "/other/link")))
      assert.are.equal(py_realpath(dir .. "/bundle/rootfs"), spec:root():path())
      assert.are.equal(py_realpath(dir) .. "/bundle/real/root", spec:root():path())
      assert.is_true(spec:root():readonly()) -- runc spec's true is kept
      support.assert_valid(spec)
    end)

    it("resolves an absolute root.path and makes readonly explicit", function()
      local spec = assert(rt.Spec.from_table({ ociVersion = "1.2.0", root = { path = dir .. "/other/link/rootfs" } }))
      assert.is_nil(spec:root():readonly())
      assert(spec:canonicalize_rootfs("/nonexistent-bundle")) -- not needed for an absolute path
      assert.are.equal(py_realpath(dir .. "/other/link/rootfs"), spec:root():path())
      assert.is_false(spec:root():readonly())
    end)

    it("fails with the reason: no root, a missing path, a missing bundle", function()
      local none = assert(rt.Spec.from_table({ ociVersion = "1.2.0" }))
      local ok, msg = none:canonicalize_rootfs(dir)
      assert.is_nil(ok)
      assert.are.equal("no root path provided for canonicalization", msg)

      local spec = rt.Spec.default()
      spec:root():set_path("missing")
      ok, msg = spec:canonicalize_rootfs(dir .. "/bundle")
      assert.is_nil(ok)
      assert.are.equal(py_realpath(dir .. "/bundle") .. "/missing: No such file or directory", msg)
      assert.are.equal("missing", spec:root():path()) -- unchanged

      ok, msg = spec:canonicalize_rootfs(dir .. "/no-bundle")
      assert.is_nil(ok)
      assert.are.equal(dir .. "/no-bundle: No such file or directory", msg)
    end)
  end)
end)
