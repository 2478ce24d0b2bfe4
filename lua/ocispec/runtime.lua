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

-- Every runtime enumeration of values.def, from the core: Capability
-- (`Capability.SysAdmin == "CAP_SYS_ADMIN"`), LinuxNamespaceType,
-- ZOSNamespaceType, LinuxDeviceType, PosixRlimitType, IOPriorityClass,
-- LinuxSchedulerPolicy, LinuxSchedulerFlag (as runtime-spec spells them;
-- oci-spec-rs writes two wrongly), MountPropagation, LinuxSeccompAction,
-- LinuxSeccompOperator, Arch (seccomp architectures), LinuxSeccompFilterFlag,
-- LinuxPersonalityDomain, MemoryPolicyModeType, MemoryPolicyFlagType,
-- ContainerState, VMImageFormat, FreeBSDSharing, FreeBSDSharingNoDisable,
-- WindowsDeviceIdType.
for name, values in pairs(core.values.enums.runtime) do
  M[name] = util.constants(name, values)
end

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
  if not core.runtime_spec_from_image_config then -- csrc/image/conversion.c
    error("ocispec.runtime.Spec.from_image_config: not available (built without OCISPEC_WITH_IMAGE)", 2)
  end
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

local Act = M.LinuxSeccompAction
local seccomp_values = {
  [Act.ScmpActKill] = 0x00000000, [Act.ScmpActKillThread] = 0x00000000,
  [Act.ScmpActKillProcess] = 0x80000000, [Act.ScmpActTrap] = 0x00030000,
  [Act.ScmpActErrno] = 0x00050000, [Act.ScmpActNotify] = 0x7fc00000,
  [Act.ScmpActTrace] = 0x7ff00000, [Act.ScmpActLog] = 0x7ffc0000,
  [Act.ScmpActAllow] = 0x7fff0000,
}

--- The kernel value of a seccomp action (libseccomp's), with `errno_ret`
-- for ERRNO and TRACE (1 when absent), as oci-spec-rs `as_u32`.
function M.seccomp_action_value(action, errno_ret)
  local v = seccomp_values[action]
  if not v then return util.fail("invalid", ("unknown seccomp action %q"):format(tostring(action))) end
  if action == Act.ScmpActErrno or action == Act.ScmpActTrace then
    v = v | ((errno_ret or 1) & 0xffff)
  end
  return v
end

--- "b 1:9 rwm" as a cgroup v1 devices rule (oci-spec-rs Display).
function M.LinuxDeviceCgroup.methods.to_string(self)
  local function num(x) return x and tostring(x) or "*" end
  return ("%s %s:%s %s"):format(self:typ() or M.LinuxDeviceType.A, num(self:major()),
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
