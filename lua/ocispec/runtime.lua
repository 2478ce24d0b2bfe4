--- runtime-spec types, constants, defaults and helpers
-- (oci-spec-rs `oci_spec::runtime`).
--
-- Every type of config.json (Spec, Process, Linux, ...), state.json
-- (State, ContainerProcessState) and features.json (Features, ...), each
-- with `<Name>Builder()`. `Spec.default()` is what `runc spec` writes and
-- `Spec.rootless(uid, gid)` what `runc spec --rootless` writes.
-- @module ocispec.runtime
local core = require "ocispec.core"
local util = require "ocispec.util"

local M = {}
util.export_classes(M, "runtime")

--- runtime-spec version these types follow.
M.VERSION = "1.3.0"
M.VERSION_MAJOR, M.VERSION_MINOR, M.VERSION_PATCH = 1, 3, 0
--- Name of the seccomp agent's file descriptor (config-linux.md).
M.SECCOMP_FD_NAME = "seccompFd"

-- ---- enumerations as string constants (oci-spec-rs variant names) ---------

local function enum(kind, names)
  local t = {}
  for name, value in pairs(names) do t[name] = value end
  return util.constants(kind, t)
end

--- Linux capabilities, `Capability.SysAdmin == "CAP_SYS_ADMIN"`.
local capability_names = {
  AuditControl = "CAP_AUDIT_CONTROL", AuditRead = "CAP_AUDIT_READ",
  AuditWrite = "CAP_AUDIT_WRITE", BlockSuspend = "CAP_BLOCK_SUSPEND",
  Bpf = "CAP_BPF", CheckpointRestore = "CAP_CHECKPOINT_RESTORE",
  Chown = "CAP_CHOWN", DacOverride = "CAP_DAC_OVERRIDE",
  DacReadSearch = "CAP_DAC_READ_SEARCH", Fowner = "CAP_FOWNER",
  Fsetid = "CAP_FSETID", IpcLock = "CAP_IPC_LOCK", IpcOwner = "CAP_IPC_OWNER",
  Kill = "CAP_KILL", Lease = "CAP_LEASE", LinuxImmutable = "CAP_LINUX_IMMUTABLE",
  MacAdmin = "CAP_MAC_ADMIN", MacOverride = "CAP_MAC_OVERRIDE",
  Mknod = "CAP_MKNOD", NetAdmin = "CAP_NET_ADMIN",
  NetBindService = "CAP_NET_BIND_SERVICE", NetBroadcast = "CAP_NET_BROADCAST",
  NetRaw = "CAP_NET_RAW", Perfmon = "CAP_PERFMON", Setgid = "CAP_SETGID",
  Setfcap = "CAP_SETFCAP", Setpcap = "CAP_SETPCAP", Setuid = "CAP_SETUID",
  SysAdmin = "CAP_SYS_ADMIN", SysBoot = "CAP_SYS_BOOT",
  SysChroot = "CAP_SYS_CHROOT", SysModule = "CAP_SYS_MODULE",
  SysNice = "CAP_SYS_NICE", SysPacct = "CAP_SYS_PACCT",
  SysPtrace = "CAP_SYS_PTRACE", SysRawio = "CAP_SYS_RAWIO",
  SysResource = "CAP_SYS_RESOURCE", SysTime = "CAP_SYS_TIME",
  SysTtyConfig = "CAP_SYS_TTY_CONFIG", Syslog = "CAP_SYSLOG",
  WakeAlarm = "CAP_WAKE_ALARM",
}
M.Capability = enum("Capability", capability_names)

--- Namespace types (`LinuxNamespaceType.Network == "network"`).
M.LinuxNamespaceType = enum("LinuxNamespaceType", {
  Mount = "mount", Cgroup = "cgroup", Uts = "uts", Ipc = "ipc", User = "user",
  Pid = "pid", Network = "network", Time = "time",
})
M.ZOSNamespaceType = enum("ZOSNamespaceType", {
  Pid = "pid", Mount = "mount", Ipc = "ipc", Uts = "uts",
})
M.LinuxDeviceType = enum("LinuxDeviceType", {
  A = "a", B = "b", C = "c", U = "u", P = "p",
})
M.PosixRlimitType = enum("PosixRlimitType", {
  RlimitCpu = "RLIMIT_CPU", RlimitFsize = "RLIMIT_FSIZE",
  RlimitData = "RLIMIT_DATA", RlimitStack = "RLIMIT_STACK",
  RlimitCore = "RLIMIT_CORE", RlimitRss = "RLIMIT_RSS",
  RlimitNproc = "RLIMIT_NPROC", RlimitNofile = "RLIMIT_NOFILE",
  RlimitMemlock = "RLIMIT_MEMLOCK", RlimitAs = "RLIMIT_AS",
  RlimitLocks = "RLIMIT_LOCKS", RlimitSigpending = "RLIMIT_SIGPENDING",
  RlimitMsgqueue = "RLIMIT_MSGQUEUE", RlimitNice = "RLIMIT_NICE",
  RlimitRtprio = "RLIMIT_RTPRIO", RlimitRttime = "RLIMIT_RTTIME",
})
M.IOPriorityClass = enum("IOPriorityClass", {
  IoprioClassRt = "IOPRIO_CLASS_RT", IoprioClassBe = "IOPRIO_CLASS_BE",
  IoprioClassIdle = "IOPRIO_CLASS_IDLE",
})
M.LinuxSchedulerPolicy = enum("LinuxSchedulerPolicy", {
  SchedOther = "SCHED_OTHER", SchedFifo = "SCHED_FIFO", SchedRr = "SCHED_RR",
  SchedBatch = "SCHED_BATCH", SchedIso = "SCHED_ISO",
  SchedIdle = "SCHED_IDLE", SchedDeadline = "SCHED_DEADLINE",
})
--- Scheduler flags as runtime-spec spells them (oci-spec-rs writes two of
-- them wrongly: SCHED_RESET_ON_FORK and SCHED_FLAG_D_L_OVERRUN).
M.LinuxSchedulerFlag = enum("LinuxSchedulerFlag", {
  SchedResetOnFork = "SCHED_FLAG_RESET_ON_FORK",
  SchedFlagReclaim = "SCHED_FLAG_RECLAIM",
  SchedFlagDLOverrun = "SCHED_FLAG_DL_OVERRUN",
  SchedFlagKeepPolicy = "SCHED_FLAG_KEEP_POLICY",
  SchedFlagKeepParams = "SCHED_FLAG_KEEP_PARAMS",
  SchedFlagUtilClampMin = "SCHED_FLAG_UTIL_CLAMP_MIN",
  SchedFlagUtilClampMax = "SCHED_FLAG_UTIL_CLAMP_MAX",
})
M.LinuxSeccompAction = enum("LinuxSeccompAction", {
  ScmpActKill = "SCMP_ACT_KILL", ScmpActKillThread = "SCMP_ACT_KILL_THREAD",
  ScmpActKillProcess = "SCMP_ACT_KILL_PROCESS", ScmpActTrap = "SCMP_ACT_TRAP",
  ScmpActErrno = "SCMP_ACT_ERRNO", ScmpActNotify = "SCMP_ACT_NOTIFY",
  ScmpActTrace = "SCMP_ACT_TRACE", ScmpActLog = "SCMP_ACT_LOG",
  ScmpActAllow = "SCMP_ACT_ALLOW",
})
M.LinuxSeccompOperator = enum("LinuxSeccompOperator", {
  ScmpCmpNe = "SCMP_CMP_NE", ScmpCmpLt = "SCMP_CMP_LT",
  ScmpCmpLe = "SCMP_CMP_LE", ScmpCmpEq = "SCMP_CMP_EQ",
  ScmpCmpGe = "SCMP_CMP_GE", ScmpCmpGt = "SCMP_CMP_GT",
  ScmpCmpMaskedEq = "SCMP_CMP_MASKED_EQ",
})
M.Arch = enum("Arch", {
  ScmpArchNative = "SCMP_ARCH_NATIVE", ScmpArchX86 = "SCMP_ARCH_X86",
  ScmpArchX86_64 = "SCMP_ARCH_X86_64", ScmpArchX32 = "SCMP_ARCH_X32",
  ScmpArchArm = "SCMP_ARCH_ARM", ScmpArchAarch64 = "SCMP_ARCH_AARCH64",
  ScmpArchMips = "SCMP_ARCH_MIPS", ScmpArchMips64 = "SCMP_ARCH_MIPS64",
  ScmpArchMips64n32 = "SCMP_ARCH_MIPS64N32", ScmpArchMipsel = "SCMP_ARCH_MIPSEL",
  ScmpArchMipsel64 = "SCMP_ARCH_MIPSEL64",
  ScmpArchMipsel64n32 = "SCMP_ARCH_MIPSEL64N32", ScmpArchPpc = "SCMP_ARCH_PPC",
  ScmpArchPpc64 = "SCMP_ARCH_PPC64", ScmpArchPpc64le = "SCMP_ARCH_PPC64LE",
  ScmpArchS390 = "SCMP_ARCH_S390", ScmpArchS390x = "SCMP_ARCH_S390X",
  ScmpArchParisc = "SCMP_ARCH_PARISC", ScmpArchParisc64 = "SCMP_ARCH_PARISC64",
  ScmpArchRiscv64 = "SCMP_ARCH_RISCV64",
  ScmpArchLoongarch64 = "SCMP_ARCH_LOONGARCH64", ScmpArchM68k = "SCMP_ARCH_M68K",
  ScmpArchSh = "SCMP_ARCH_SH", ScmpArchSheb = "SCMP_ARCH_SHEB",
})
M.LinuxSeccompFilterFlag = enum("LinuxSeccompFilterFlag", {
  SeccompFilterFlagLog = "SECCOMP_FILTER_FLAG_LOG",
  SeccompFilterFlagTsync = "SECCOMP_FILTER_FLAG_TSYNC",
  SeccompFilterFlagSpecAllow = "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
  SeccompFilterFlagWaitKillableRecv = "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
})
M.LinuxPersonalityDomain = enum("LinuxPersonalityDomain", {
  PerLinux = "LINUX", PerLinux32 = "LINUX32",
})
M.MemoryPolicyModeType = enum("MemoryPolicyModeType", {
  MpolDefault = "MPOL_DEFAULT", MpolBind = "MPOL_BIND",
  MpolInterleave = "MPOL_INTERLEAVE",
  MpolWeightedInterleave = "MPOL_WEIGHTED_INTERLEAVE",
  MpolPreferred = "MPOL_PREFERRED", MpolPreferredMany = "MPOL_PREFERRED_MANY",
  MpolLocal = "MPOL_LOCAL",
})
M.MemoryPolicyFlagType = enum("MemoryPolicyFlagType", {
  MpolFNumaBalancing = "MPOL_F_NUMA_BALANCING",
  MpolFRelativeNodes = "MPOL_F_RELATIVE_NODES",
  MpolFStaticNodes = "MPOL_F_STATIC_NODES",
})
M.ContainerState = enum("ContainerState", {
  Creating = "creating", Created = "created", Running = "running",
  Stopped = "stopped",
})

-- ---- defaults (runc spec) -------------------------------------------------

local Spec = M.Spec

--- What `runc spec` writes (Debian's runc): a shell in a read-only rootfs.
function Spec.default()
  return core.runtime_spec_default()
end

--- What `runc spec --rootless` writes, mapping root to `uid` and `gid`.
function Spec.rootless(uid, gid)
  assert(math.type(uid) == "integer" and math.type(gid) == "integer",
    "bad argument to 'rootless' (integer uid and gid expected)")
  return core.runtime_spec_rootless(uid, gid)
end

--- oci-spec-rs `Spec::load(path)` / `spec.save(path)` (compact JSON).
Spec.load = Spec.from_file
function Spec.methods.save(self, path) return self:to_file(path) end
M.State.load = M.State.from_file
function M.State.methods.save(self, path) return self:to_file(path) end

--- Resolve root.path against `bundle` to an absolute, symlink-free path
-- (oci-spec-rs `canonicalize_rootfs`); readonly becomes explicit.
function Spec.methods.canonicalize_rootfs(self, bundle)
  local root = self:root()
  if not root then return util.fail("missing", "no root path provided for canonicalization") end
  local path = root:path()
  if path:sub(1, 1) ~= "/" then
    local base, msg, err = core.realpath(bundle)
    if not base then return nil, msg, err end
    path = base .. "/" .. path
  end
  local real, msg, err = core.realpath(path)
  if not real then return nil, msg, err end
  root:set_path(real)
  root:set_readonly(root:readonly() or false)
  return self
end

local function defaults(rootless)
  return rootless and Spec.rootless(0, 0) or Spec.default()
end

--- The 7 mounts of `runc spec`, as Mount objects.
function M.get_default_mounts() return defaults(false):mounts() end
--- The mounts of `runc spec --rootless`.
function M.get_rootless_mounts() return defaults(true):mounts() end
--- The namespaces of `runc spec` (pid, network, ipc, uts, mount).
function M.get_default_namespaces() return defaults(false):linux():namespaces() end
--- The masked paths of `runc spec`.
function M.get_default_maskedpaths() return defaults(false):linux():masked_paths() end
--- The read-only paths of `runc spec`.
function M.get_default_readonly_paths()
  return defaults(false):linux():readonly_paths()
end

-- ---- image configuration -> runtime configuration (image-spec conversion.md)

--- Size cap of the rootfs's /etc/passwd and /etc/group (4 MiB).
M.ROOTFS_DB_MAX = 4 << 20

--- Convert an image configuration to a runtime configuration
-- (image-spec conversion.md), starting from `Spec.default()` (or
-- `opts.base`). `opts.rootfs`: the extracted root filesystem, to resolve
-- user and group names (its /etc/passwd and /etc/group are read without
-- leaving it: a symlink is resolved inside the rootfs as in a chroot, an
-- absolute target from the rootfs and `..` stopping there, at most 40
-- links; a FIFO, device or directory is refused, and so is a file over
-- `ROOTFS_DB_MAX`, 4 MiB); `opts.volumes = true`: a tmpfs mount for each
-- `Config.Volumes` path. The C function oci_runtime_spec_from_image_config
-- does the work (ocispec/conversion.h). Returns the Spec, or nil, message,
-- err (an unknown user or group, or a refused /etc file, names
-- `/config/User`).
function Spec.from_image_config(image_config, opts)
  util.check_options(opts, { "rootfs", "volumes", "base" }, "from_image_config")
  opts = opts or {}
  local cfg = image_config
  if type(cfg) == "table" then
    local image = require "ocispec.image"
    local msg, err
    cfg, msg, err = image.ImageConfiguration.from_table(cfg)
    if not cfg then return nil, msg, err end
  end
  -- oci_runtime_spec_from_image_config (csrc/image/conversion.c)
  return core.runtime_spec_from_image_config(cfg, opts.base, opts.rootfs, opts.volumes)
end

-- ---- helpers mirroring oci-spec-rs ------------------------------------------

local seccomp_values = {
  SCMP_ACT_KILL = 0x00000000, SCMP_ACT_KILL_THREAD = 0x00000000,
  SCMP_ACT_KILL_PROCESS = 0x80000000, SCMP_ACT_TRAP = 0x00030000,
  SCMP_ACT_ERRNO = 0x00050000, SCMP_ACT_NOTIFY = 0x7fc00000,
  SCMP_ACT_TRACE = 0x7ff00000, SCMP_ACT_LOG = 0x7ffc0000,
  SCMP_ACT_ALLOW = 0x7fff0000,
}

--- The kernel value of a seccomp action (libseccomp's), with `errno_ret`
-- for ERRNO and TRACE (1 when absent), as oci-spec-rs `as_u32`.
function M.seccomp_action_value(action, errno_ret)
  local v = seccomp_values[action]
  if not v then return util.fail("invalid", ("unknown seccomp action %q"):format(tostring(action))) end
  if action == "SCMP_ACT_ERRNO" or action == "SCMP_ACT_TRACE" then
    v = v | ((errno_ret or 1) & 0xffff)
  end
  return v
end

--- "b 1:9 rwm" as a cgroup v1 devices rule (oci-spec-rs Display).
function M.LinuxDeviceCgroup.methods.to_string(self)
  local function num(x) return x and tostring(x) or "*" end
  return ("%s %s:%s %s"):format(self:typ() or "a", num(self:major()),
    num(self:minor()), self:access() or "")
end

--- A cgroup rule allowing a device (oci-spec-rs `From<&LinuxDevice>`).
function M.LinuxDeviceCgroup.from_device(dev)
  local b = M.LinuxDeviceCgroupBuilder():allow(true):typ(dev:typ()):access("rwm")
  if dev:major() then b:major(dev:major()) end
  if dev:minor() then b:minor(dev:minor()) end
  return b:build()
end

return M
