--- RUN steps of `ocispec.build`: `img:run(cmd, opts)` runs a command in
-- the image's current file system with an OCI runtime (runc, or crun) and
-- commits the change as one layer.
--
--    local img = assert(oci.build.Image.from(L, "base"))
--    assert(img:run("adduser -D app && echo hi > /etc/motd"))
--    assert(img:run({ "/bin/sh", "-c", "rm /etc/motd" }, { network = "host" }))
--
-- How: the image's layers are unpacked (the safe unpacker, each layer
-- checked against its digest and diff_id) into a temporary directory;
-- overlayfs is mounted over it (lowerdir = the unpacked tree), so the
-- upper directory holds exactly the change; a bundle is made with
-- `runtime.Spec.from_image_config` plus the options; the runtime runs it
-- with its state in the temporary directory. The upper directory becomes
-- the layer: whiteouts (overlayfs's 0:0 character devices) as `.wh.NAME`,
-- opaque directories as `.wh..wh..opq`. Where overlayfs cannot be mounted,
-- the tree is unpacked twice and the layer is the changeset between the
-- two (`layer.build{lower=, upper=}`: size, mode, owner and mtime
-- compared, and the content of files whose metadata is unchanged).
--
-- Afterwards, whatever happened (success, a failing command, a timeout, an
-- error raised by the output callback, SIGINT/SIGTERM/SIGHUP/SIGQUIT
-- while the command runs), the container is deleted (`runtime delete
-- --force`), the overlay unmounted and the temporary directory removed;
-- a caught signal is raised again after that.
--
-- Rootless (euid not 0), as `runc spec --rootless` and buildah do: the
-- tree is unpacked rootless (the owners the caller cannot give recorded in
-- the user.rootlesscontainers xattr, as umoci does), twice (no overlayfs:
-- the layer is the snapshot comparison, its owners read back from the
-- xattrs, files the command made owned by root); the runtime runs the step
-- in a user namespace that maps the caller's uid and gid to 0 (a single
-- mapping: ids from /etc/subuid are not used, so the command runs as root
-- and a chown to another id fails), without cgroups, with its state in the
-- step's temporary directory. Where user namespaces are not available
-- (`core.run.userns_check`), the step fails with code "unsupported"
-- naming what is missing.
-- @module ocispec.build_run
local core = require "ocispec.core"
local util = require "ocispec.util"
local runtime = require "ocispec.runtime"

local M = {}

--- Seconds a `runtime delete --force` may take before it is killed (60).
M.DELETE_TIMEOUT = 60

local RUN_OPTIONS = { "env", "workdir", "user", "mounts", "network", "timeout", "runtime", "output",
  "tmpdir", "comment", "overlay", "cache_dir", "on_phase" }

-- The capabilities of a RUN step: Docker's default set, so that package
-- managers, chown and adduser work.
local Cap = runtime.Capability
local RUN_CAPS = { Cap.Chown, Cap.DacOverride, Cap.Fsetid, Cap.Fowner, Cap.Mknod, Cap.NetRaw, Cap.Setgid,
  Cap.Setuid, Cap.Setfcap, Cap.Setpcap, Cap.NetBindService, Cap.SysChroot, Cap.Kill, Cap.AuditWrite }

-- The absolute path of program `name` in PATH, or nil.
local function which(name)
  if name:find("/", 1, true) then
    local f = io.open(name, "rb")
    if f then f:close() return name end
    return nil
  end
  for dir in (os.getenv("PATH") or "/usr/sbin:/usr/bin:/sbin:/bin"):gmatch("[^:]+") do
    local p = dir .. "/" .. name
    local f = io.open(p, "rb")
    if f then
      f:close()
      return p
    end
  end
  return nil
end

--- The runtime a RUN step uses: `name` ("runc", "crun" or a path) or,
-- by default, runc when installed, else crun. Returns its path, or nil,
-- message, err.
function M.find_runtime(name)
  if name ~= nil and type(name) ~= "string" then error("runtime: a string expected", 2) end
  for _, n in ipairs(name and { name } or { "runc", "crun" }) do
    local p = which(n)
    if p then return p end
  end
  return util.fail("unsupported", ("RUN: no OCI runtime found (%s): install Debian's runc or crun")
    :format(name or "runc, crun"))
end

local function check_mounts(mounts)
  if mounts == nil then return {} end
  if type(mounts) ~= "table" then error("run: mounts must be a list", 4) end
  for i, m in ipairs(mounts) do
    if type(m) ~= "table" then error(("run: mounts[%d] must be a table"):format(i), 4) end
    util.check_options(m, { "type", "source", "target", "readonly", "size", "id" }, ("run: mounts[%d]"):format(i), 5)
    if type(m.target) ~= "string" or m.target:sub(1, 1) ~= "/" then
      error(("run: mounts[%d].target must be an absolute path"):format(i), 4)
    end
    if m.type == "bind" then
      if type(m.source) ~= "string" then error(("run: mounts[%d].source: a host path expected"):format(i), 4) end
    elseif m.type == "cache" then
      if m.id ~= nil and (type(m.id) ~= "string" or not m.id:match("^[%w_][%w._-]*$") or #m.id > 200) then
        error(("run: mounts[%d].id: letters, digits, '.', '_', '-' expected, got %s"):format(i, tostring(m.id)), 4)
      end
    elseif m.type ~= "tmpfs" then
      error(("run: mounts[%d].type must be \"bind\", \"tmpfs\" or \"cache\", got %s"):format(i, tostring(m.type)),
        4)
    end
  end
  return mounts
end

-- Why a rootless step cannot run its command as user `u` of the spec,
-- or nil: only id 0 exists in its user namespace.
local function rootless_user_problem(u)
  if (u.uid or 0) ~= 0 or (u.gid or 0) ~= 0 then
    return ("its user is uid %d gid %d"):format(u.uid or 0, u.gid or 0)
  end
  for _, g in ipairs(u.additionalGids or {}) do
    if g ~= 0 then return ("its user has the supplementary group %d"):format(g) end
  end
end

M.ROOTLESS_NOTE = "rootless: only uid and gid 0 exist in the step's user namespace (the caller's ids; "
  .. "no /etc/subuid range is used), so a chown, chgrp or setuid to another id fails"

-- The runtime spec of the step, as a table. ids: the caller's
-- {euid=, egid=} when rootless, else nil.
local function step_spec(img, argv, opts, rootfs, ids)
  local cfg, msg, err = img:config()
  if not cfg then return nil, msg, err end
  local spec
  spec, msg, err = runtime.Spec.from_image_config(cfg,
    { rootfs = rootfs, base = ids and runtime.Spec.rootless(ids.euid, ids.egid) or nil })
  if not spec then return nil, msg, err end
  local t = spec:to_table()
  local p = t.process
  if ids then
    local why = rootless_user_problem(p.user or {})
    if why then
      return util.fail("unsupported", ("RUN: cannot run rootless: %s (%s)"):format(why, M.ROOTLESS_NOTE))
    end
  end
  p.args = argv
  p.terminal = false
  p.cwd = opts.workdir or p.cwd or "/"
  local env = p.env or {}
  if opts.env then
    local names = {}
    for k in pairs(opts.env) do names[#names + 1] = k end
    table.sort(names)
    for _, k in ipairs(names) do
      local entry, done = k .. "=" .. tostring(opts.env[k]), false
      for i, e in ipairs(env) do
        if e:match("^([^=]*)") == k then env[i], done = entry, true end
      end
      if not done then env[#env + 1] = entry end
    end
  end
  p.env = env
  p.capabilities = { bounding = RUN_CAPS, effective = RUN_CAPS, permitted = RUN_CAPS }
  t.root = { path = "rootfs", readonly = false }
  t.hostname = "ocispec-run"
  for _, m in ipairs(opts.mounts) do
    if m.type == "bind" or m.type == "cache" then
      t.mounts[#t.mounts + 1] = { destination = m.target, type = "bind",
        source = m.type == "cache" and m.host or m.source,
        options = { "rbind", m.readonly and "ro" or "rw", "nosuid", "nodev" } }
    else
      t.mounts[#t.mounts + 1] = { destination = m.target, type = "tmpfs", source = "tmpfs",
        options = { "nosuid", "nodev", "mode=1777", "size=" .. tostring(m.size or "64m") } }
    end
  end
  -- network "none": a network namespace of its own (the runtime brings up
  -- its loopback only); "host": none, the host's network
  local ns = {}
  for _, n in ipairs(t.linux.namespaces or {}) do
    if n.type ~= runtime.LinuxNamespaceType.Network then ns[#ns + 1] = n end
  end
  if opts.network == "none" then ns[#ns + 1] = { type = runtime.LinuxNamespaceType.Network } end
  t.linux.namespaces = ns
  local out
  out, msg, err = runtime.Spec.from_table(t)
  if not out then return nil, msg, err end
  return out
end

-- Makes the mount points of spec in the unpacked tree `lower` (not in the
-- layer: the runtime would create the missing ones in the upper
-- directory). Each component is made only where it is missing; a
-- component that is not a real directory (a symbolic link the image
-- planted, a file) stops there and is left to the runtime.
local function make_mount_points(spec, lower)
  for _, m in ipairs(spec:to_table().mounts or {}) do
    local path = lower
    for comp in m.destination:gmatch("[^/]+") do
      if comp == "." or comp == ".." then break end
      path = path .. "/" .. comp
      local st = core.unpack.dir_state(path)
      if st == "missing" then
        if not core.unpack.mkdir(path, 493) then break end
      elseif st ~= "empty" and st ~= "full" then
        break
      end
    end
  end
end

--- The directory of cache mounts (`{type="cache", id=, target=}`):
-- `dir` when given, else $OCISPEC_CACHE_DIR, else
-- $XDG_CACHE_HOME/ocispec/mounts, else ~/.cache/ocispec/mounts.
function M.cache_dir(dir)
  if dir then return dir end
  local env = os.getenv("OCISPEC_CACHE_DIR")
  if env and env ~= "" then return env end
  local xdg = os.getenv("XDG_CACHE_HOME")
  if xdg and xdg ~= "" then return xdg .. "/ocispec/mounts" end
  return (os.getenv("HOME") or "/root") .. "/.cache/ocispec/mounts"
end

-- mkdir -p of an absolute host path (each missing component, mode 0755);
-- true, or nil, message, err.
local function mkdir_p(path)
  local cur = ""
  for comp in path:gmatch("[^/]+") do
    cur = cur .. "/" .. comp
    local st, msg, err = core.unpack.dir_state(cur)
    if not st then return nil, msg, err end
    if st == "missing" then
      local ok
      ok, msg, err = core.unpack.mkdir(cur, 493)
      if not ok and core.unpack.dir_state(cur) == "missing" then return nil, msg, err end
    elseif st == "other" then
      return util.fail("io", ("%s: not a directory"):format(cur))
    end
  end
  return true
end
M.mkdir_p = mkdir_p

-- Unpacks img's layers into dir (each checked by digest, size, diff_id);
-- rootless: owners in user.rootlesscontainers, no device nodes.
-- interrupted: a function called before each layer; when it returns
-- true, the unpack stops there with code "canceled".
local function unpack_layers(img, dir, rootless, interrupted)
  local ids = img.cfg.rootfs.diff_ids
  for i, d in ipairs(img.layers) do
    if interrupted and interrupted() then
      return util.fail("canceled", ("unpack: interrupted before layer %d"):format(i))
    end
    local ok, msg, err = core.unpack.apply_blob(img.layout, d.digest, dir,
      -- one_pass: dir is a temporary tree, removed on any failure
      { digest = d.digest, size = d.size, diff_id = ids[i], rootless = rootless or nil, one_pass = true })
    if not ok then return util.fail(err, ("layer %d (%s): %s"):format(i, d.digest, msg)) end
  end
  return true
end

M.unpack_layers = unpack_layers

--- The cache key of `img:run(cmd, opts)` (ocispec.build_cache): the
-- command, env, workdir, user, network, mounts (bind mounts: the digest of
-- their source tree; cache mounts: type, id and target only) and comment.
function M.key(img, cmd, opts)
  local cache = require "ocispec.build_cache"
  opts = type(opts) == "table" and opts or {}
  local args = { cmd = cmd, env = opts.env or {}, workdir = opts.workdir or "", user = opts.user or "",
    network = opts.network or "none", comment = opts.comment or "", layer = cache.layer_args(img), mounts = {} }
  local inputs = {}
  for i, m in ipairs(type(opts.mounts) == "table" and opts.mounts or {}) do
    if type(m) == "table" then
      args.mounts[i] = { type = m.type, target = m.target, id = m.id or "", readonly = m.readonly or false }
      if m.type == "bind" and type(m.source) == "string" then
        local d, msg, err = cache.tree_digest(m.source)
        if not d then return nil, msg, err end
        inputs[#inputs + 1] = d
      end
    end
  end
  return cache.key(img, "run", args, inputs)
end

function M.describe(cmd)
  if type(cmd) ~= "table" then return "RUN " .. tostring(cmd) end
  return "RUN " .. table.concat(cmd, " ")
end

local function describe(cmd)
  if type(cmd) == "string" then return cmd end
  local parts = {}
  for i, s in ipairs(cmd) do parts[i] = string.format("%q", s) end
  return "[" .. table.concat(parts, ",") .. "]"
end

--- Calls `f()` with SIGINT, SIGTERM, SIGHUP and SIGQUIT held (blocked;
-- the RUN steps below check for one between their phases): one that
-- arrives meanwhile is raised once f has returned (or raised), so that
-- a build step either completes or cleans up before the process ends as
-- the signal would; inside `parallel` it is handed to the scheduler,
-- which raises it once every stage has cleaned up. Returns f's results;
-- f's error is raised again.
function M.held(f)
  local prev = core.run.block_signals()
  local ok, a, b, c = pcall(f)
  local sig = core.run.pending_signal()
  core.run.restore_signals(prev)
  M.raise(sig)
  if not ok then error(a, 0) end
  return a, b, c
end

--- Ends the process by signal `sig` (nil: nothing), or inside `parallel`
-- hands it to the scheduler (raised once every stage has cleaned up).
function M.raise(sig)
  if not sig then return end
  if M.scheduler then
    M.scheduler.interrupted = M.scheduler.interrupted or sig
  else
    core.run.reraise(sig)
  end
end

--- Runs argv like `core.run.process`; inside `parallel` (a stage's
-- coroutine) the process is started and the stage yields while it runs,
-- so the other stages go on. Returns the result table, or nil, message,
-- err.
function M.process(argv, opts)
  local sched = M.scheduler
  local co = coroutine.running()
  if not sched or not sched.stages[co] then return core.run.process(argv, opts) end
  local p, msg, err = core.run.start(argv, opts)
  if not p then return nil, msg, err end
  while true do
    if sched.interrupted or sched.failed then -- stop: a signal, or another stage failed
      local r = p:finish()
      r.interrupted = sched.interrupted or 0
      if not sched.interrupted then
        return util.fail("canceled", "canceled: " .. sched.failed)
      end
      return r
    end
    local done
    done, msg, err = p:pump(sched.slice)
    if done == nil then
      p:finish()
      return nil, msg, err
    end
    if done then
      local r = p:finish()
      r.interrupted = 0
      return r
    end
    coroutine.yield()
  end
end

--- Runs the functions of `stages` (a list) as concurrent build stages:
-- each in a coroutine, switched whenever one waits for its RUN step's
-- process, so the containers of different stages run at the same time.
-- Returns the first result of each, in order. What is concurrent: the RUN
-- commands (runc and what it runs). What is not: the Lua and C work of the
-- steps (unpacking the lower directory, making and hashing layers, COPY,
-- the cache), done one stage at a time between the waits. A stage that
-- raises stops the others' running processes (their RUN fails with code
-- "canceled") and is raised again once all have ended; SIGINT, SIGTERM,
-- SIGHUP or SIGQUIT stops them all, lets each clean up, then ends the
-- process as the signal would (one that arrives during a stage's cleanup
-- too: M.run holds it and hands it to the scheduler). Not nested.
function M.parallel(stages)
  if type(stages) ~= "table" then error("parallel: a list of functions expected, got " .. type(stages), 2) end
  for i, f in ipairs(stages) do
    if type(f) ~= "function" then error(("parallel: [%d] is not a function (%s)"):format(i, type(f)), 2) end
  end
  if M.scheduler then error("parallel: already inside oci.build.parallel", 2) end
  local sched = { stages = {}, slice = 20 }
  local cos, results, first_err = {}, {}, nil
  for i, f in ipairs(stages) do
    cos[i] = coroutine.create(function() return f() end)
    sched.stages[cos[i]] = i
  end
  local prev = core.run.block_signals()
  M.scheduler = sched
  local live = #cos
  local ok, perr = pcall(function()
    while live > 0 do
      for i, co in ipairs(cos) do
        if coroutine.status(co) == "suspended" then
          local rok, r = coroutine.resume(co)
          if not rok then
            if not first_err then
              first_err = ("parallel: stage %d: %s"):format(i, tostring(r))
              sched.failed = ("stage %d failed"):format(i)
            end
          elseif coroutine.status(co) == "dead" then
            results[i] = r
          end
          if coroutine.status(co) == "dead" then live = live - 1 end
        end
        if not sched.interrupted then sched.interrupted = core.run.pending_signal() end
      end
    end
  end)
  M.scheduler = nil
  local sig = sched.interrupted or core.run.pending_signal()
  core.run.restore_signals(prev)
  if sig then core.run.reraise(sig) end
  if not ok then error(perr, 0) end
  if first_err then error(first_err, 2) end
  return table.unpack(results, 1, #stages)
end

--- Run `cmd` (a string for `/bin/sh -c`, or an argv list) in the image and
-- add its change as one layer with the history entry `RUN <cmd>`.
-- opts: `env` (a table name → value, on top of the image's Env), `workdir`,
-- `user` (as Config.User, resolved in the image), `mounts` (a list of
-- `{type="bind", source=, target=, readonly=}` or `{type="tmpfs",
-- target=, size=}` or `{type="cache", id=, target=}`: a directory that
-- persists between steps and builds by `id` (default: the target), in
-- `cache_dir` (default `build_run.cache_dir()`); never in the layer), `network` ("none", the default:
-- its own network namespace with loopback only; or "host"), `timeout`
-- (seconds), `runtime` ("runc", "crun" or a path; default runc, else
-- crun), `output` (a function(stream, data), stream "stdout" or "stderr";
-- default: written to io.stdout / io.stderr), `tmpdir` (where the step's
-- temporary directory goes; default $TMPDIR or /tmp), `comment`,
-- `on_phase` (a function called with "unpack", "container", "layer" as
-- the step reaches each phase). SIGINT, SIGTERM, SIGHUP and SIGQUIT are
-- held over the step and checked between phases: the step stops, is
-- cleaned up, then the signal is raised (see `held`).
-- Returns img, or nil, message, err: err.code "command" when the command
-- exits non-zero (err.exit_code), is killed (err.signal) or times out
-- (err.timed_out), with the tail of its stderr in the message and
-- err.stderr (rootless: err.rootless = true, and when the command failed on an
-- unmapped id, EINVAL or EPERM, a note on the single id
-- mapping); "unsupported" without a runtime, or rootless without user
-- namespaces or with a user other than root. Nothing is
-- committed on failure and nothing is left behind.
function M.run(img, cmd, opts)
  if type(cmd) == "string" then
    cmd = { "/bin/sh", "-c", cmd }
  elseif type(cmd) == "table" then
    if #cmd == 0 then error("run: an empty command", 2) end
    for i, s in ipairs(cmd) do
      if type(s) ~= "string" then error(("run: cmd[%d]: string expected, got %s"):format(i, type(s)), 2) end
    end
  else
    error("run: a command string or argv list expected, got " .. type(cmd), 2)
  end
  if opts ~= nil and type(opts) ~= "table" then error("run: options must be a table", 2) end
  util.check_options(opts, RUN_OPTIONS, "run", 3)
  opts = opts or {}
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.network = o.network or "none"
  if o.network ~= "none" and o.network ~= "host" then
    error(("run: network must be \"none\" or \"host\", got %s"):format(tostring(o.network)), 2)
  end
  if o.env ~= nil and type(o.env) ~= "table" then error("run: env must be a table", 2) end
  if o.output ~= nil and type(o.output) ~= "function" then error("run: output must be a function", 2) end
  if o.timeout ~= nil and type(o.timeout) ~= "number" then error("run: timeout must be a number", 2) end
  if o.on_phase ~= nil and type(o.on_phase) ~= "function" then error("run: on_phase must be a function", 2) end
  local mounts = {}
  for i, m in ipairs(check_mounts(o.mounts)) do
    mounts[i] = {}
    for k, v in pairs(m) do mounts[i][k] = v end
  end
  o.mounts = mounts
  for _, m in ipairs(o.mounts) do
    if m.type == "cache" then
      -- by id (default: the target), in the cache directory; made once.
      -- The step runs as root (rootless: as the caller) and may leave
      -- setuid-root files and device nodes (CAP_MKNOD) there, which the
      -- mount's nosuid,nodev only disarm inside the container: the cache
      -- directory is made private (0700, the caller's), as BuildKit keeps
      -- its cache mounts below its 0700 state directory
      local id = m.id or m.target:gsub("[^%w._-]", "_")
      local base = M.cache_dir(o.cache_dir)
      m.host = base .. "/" .. id
      local ok, msg, err = mkdir_p(base)
      if ok then ok, msg, err = core.fs.private_dir(base) end
      if ok then ok, msg, err = mkdir_p(m.host) end
      if not ok then return util.fail(err, "RUN: cache mount " .. id .. ": " .. msg) end
    end
  end
  local created_by = "RUN " .. describe((cmd[1] == "/bin/sh" and #cmd == 3 and cmd[2] == "-c"
    and cmd[3] or cmd))
  local ids = core.fs.ids()
  local rootless = ids.euid ~= 0 and ids or nil
  local rt, msg, err = M.find_runtime(o.runtime)
  if not rt then return nil, msg, err end
  if rootless then
    local ok
    ok, msg, err = core.run.userns_check()
    if not ok then return util.fail(err, "RUN: cannot run rootless: " .. msg) end
  end

  local base = o.tmpdir or os.getenv("TMPDIR") or "/tmp"
  -- The build's signals (SIGINT, SIGTERM, SIGHUP, SIGQUIT) are held from
  -- here to the end of the step: one that arrives is taken at the next
  -- check between phases (before each layer unpacked, before the
  -- container, after it, before the layer build), the step fails
  -- "canceled", everything it made is removed, then the signal is raised
  -- (inside oci.build.parallel: handed to the scheduler).
  local held = core.run.block_signals()
  local tmp
  tmp, msg, err = core.unpack.mkdtemp(base .. "/ocispec-run-XXXXXX")
  if not tmp then
    local sig = core.run.pending_signal()
    core.run.restore_signals(held)
    if sig then core.run.reraise(sig) end
    return util.fail(err, "RUN: temporary directory: " .. msg)
  end
  local state = { tmp = tmp, rt = rt, id = "ocispec-run-" .. tmp:match("([^-/]+)$") }
  local function interrupted()
    state.interrupted = state.interrupted or core.run.pending_signal()
    return state.interrupted ~= nil
  end
  local function canceled()
    return util.fail("canceled", ("RUN %s: interrupted by signal %d"):format(describe(cmd), state.interrupted))
  end
  local function phase(name)
    if o.on_phase then o.on_phase(name) end
  end
  -- `runtime delete --force`, run to its end (core.run.start, which
  -- waits for no signal: core.run.process would take a signal arriving
  -- meanwhile as its own and kill the delete, and the signal would be
  -- lost); at most a minute
  local function delete()
    local p = core.run.start({ rt, "--root", tmp .. "/state", "delete", "--force", state.id },
      { timeout = M.DELETE_TIMEOUT })
    if p then
      while p:pump(100) == false do end
      p:finish()
    end
    state.started = false
  end
  -- Everything the step made goes (the signals still held): one that
  -- arrives is kept in state.interrupted, raised once the step is cleaned
  -- up (or, inside oci.build.parallel, once every stage is).
  local function cleanup()
    if state.started then delete() end
    if state.mounted then core.run.unmount(tmp .. "/rootfs") end
    core.unpack.remove_tree(tmp)
    interrupted()
    core.run.restore_signals(held)
  end
  local ok, a, b, c = pcall(function()
    local r, m, e
    for _, d in ipairs({ "lower", "upper", "work", "rootfs", "state" }) do
      r, m, e = core.unpack.mkdir(tmp .. "/" .. d, 493)
      if not r then return nil, m, e end
    end
    if interrupted() then return canceled() end
    phase("unpack")
    r, m, e = unpack_layers(img, tmp .. "/lower", rootless, interrupted)
    if state.interrupted then return canceled() end
    if not r then return nil, m, e end
    local spec
    spec, m, e = step_spec(img, cmd, o, tmp .. "/lower", rootless)
    if not spec then return util.fail(e, (m:match("^RUN: ") and "" or "RUN: runtime config: ") .. m) end
    make_mount_points(spec, tmp .. "/lower")
    -- rootless: overlayfs would have to be mounted inside the runtime's
    -- namespaces; the snapshot comparison instead
    local overlay = o.overlay ~= false and not rootless
      and core.run.mount_overlay(tmp .. "/lower", tmp .. "/upper", tmp .. "/work", tmp .. "/rootfs")
    if overlay then
      state.mounted = true
    else -- a second copy, compared afterwards
      r, m, e = unpack_layers(img, tmp .. "/rootfs", rootless, interrupted)
      if state.interrupted then return canceled() end
      if not r then return nil, m, e end
      make_mount_points(spec, tmp .. "/rootfs")
    end
    r, m, e = spec:to_file(tmp .. "/config.json")
    if not r then return nil, m, e end
    local output = o.output or function(stream, data)
      local f = stream == "stdout" and io.stdout or io.stderr
      f:write(data)
      f:flush()
    end
    phase("container")
    if interrupted() then return canceled() end
    state.started = true
    local res
    local argv = { rt, "--root", tmp .. "/state" }
    -- crun refuses hybrid cgroup hierarchies; a build step needs no limits
    if rt:match("crun$") then argv[#argv + 1] = "--cgroup-manager=disabled" end
    for _, a in ipairs({ "run", "--bundle", tmp, state.id }) do argv[#argv + 1] = a end
    res, m, e = M.process(argv, { timeout = o.timeout, output = output })
    if not res then return util.fail(e, "RUN: " .. m) end
    if res.interrupted ~= 0 then
      state.interrupted = res.interrupted
      return util.fail("canceled", ("RUN %s: interrupted by signal %d"):format(describe(cmd), res.interrupted))
    end
    if res.timed_out or res.exit_code ~= 0 then
      local tail = res.stderr_tail:gsub("%s+$", "")
      local how = res.timed_out and ("timed out after %gs"):format(o.timeout)
        or res.signal ~= 0 and ("killed by signal %d"):format(res.signal)
        or ("exit code %d"):format(res.exit_code)
      return util.fail("command", ("%s: %s%s%s"):format(created_by, how, tail ~= "" and ": " .. tail or "",
          -- the errors of an id the namespace does not map (chown: EINVAL;
          -- setuid, setgroups: EPERM)
          rootless and (tail:find("Invalid argument", 1, true) or tail:find("not permitted", 1, true))
            and " (" .. M.ROOTLESS_NOTE .. ")" or ""),
        { exit_code = res.exit_code, signal = res.signal, timed_out = res.timed_out, stderr = res.stderr_tail,
          rootless = rootless and true or nil })
    end
    delete()
    -- a signal during the container or its delete: no layer, cleanup,
    -- then the signal
    if interrupted() then return canceled() end
    phase("layer")
    local spec_layer
    if overlay then
      r, m, e = core.run.unmount(tmp .. "/rootfs")
      if not r then return nil, m, e end
      state.mounted = false
      r, m, e = core.run.upper_to_changeset(tmp .. "/upper")
      if not r then return util.fail(e, "RUN: " .. m) end
      spec_layer = { dir = tmp .. "/upper" }
    else
      -- content changes that kept size and mtime: marked for the comparison
      r, m, e = core.run.mark_content_changes(tmp .. "/lower", tmp .. "/rootfs")
      if not r then return util.fail(e, "RUN: " .. m) end
      if interrupted() then return canceled() end
      spec_layer = { lower = tmp .. "/lower", upper = tmp .. "/rootfs", rootless = rootless and true or nil }
    end
    spec_layer.created_by = created_by
    spec_layer.comment = o.comment
    return img:_add_layer(spec_layer)
  end)
  cleanup()
  -- inside oci.build.parallel the signal is the scheduler's to raise, once
  -- every stage has cleaned up
  M.raise(state.interrupted)
  if not ok then error(a, 0) end
  return a, b, c
end

return M
