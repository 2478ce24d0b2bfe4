-- Build an OCI runtime bundle and run it with runc.
--
--   lua5.4 examples/runc_bundle.lua [bundle-dir]
--
-- The bundle (arg[1], else a fresh `mktemp -d` folder) gets a rootfs with
-- Debian busybox-static's /bin/busybox plus sh and echo links to it, and a
-- config.json from runtime.Spec.default() (what `runc spec` writes) running
-- `echo` without a terminal. As root with runc installed, the bundle is run
-- with `runc run` and its output checked, then run again with args
-- {"/bin/true"} (runc must exit 0) and {"/bin/false"} (runc must report exit
-- status 1); otherwise the runs are skipped: the reason is printed as
-- "SKIP: ..." and the exit status is 77 (ctest reports the example as
-- skipped, not passed).
local oci = require "ocispec"
local runtime = oci.runtime

local BUSYBOX = "/bin/busybox"
local MESSAGE = "hello from ocispec"

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function run(cmd)
  local ok, how, code = os.execute(cmd)
  if not ok then error(("command failed (%s %s): %s"):format(how, code, cmd)) end
end

local function capture(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local ok, how, code = p:close()
  return out, ok, how, code
end

local function which(name)
  local out = capture("command -v " .. quote(name) .. " 2>/dev/null")
  out = out:gsub("%s+$", "")
  return out ~= "" and out or nil
end

-- 1. The bundle folder.
local bundle = arg and arg[1]
if bundle then
  run("mkdir -p " .. quote(bundle))
else
  bundle = capture("mktemp -d"):gsub("%s+$", "")
  assert(bundle ~= "", "mktemp -d failed")
end
print("bundle: " .. bundle)

-- 2. rootfs: a static busybox and the applets the processes need.
local f = io.open(BUSYBOX, "rb")
if not f then
  error(BUSYBOX .. " is missing: install Debian's busybox-static")
end
f:close()
local rootfs = bundle .. "/rootfs"
run("mkdir -p " .. quote(rootfs .. "/bin") .. " " .. quote(rootfs .. "/proc") .. " "
  .. quote(rootfs .. "/dev") .. " " .. quote(rootfs .. "/sys") .. " " .. quote(rootfs .. "/tmp"))
run("cp " .. quote(BUSYBOX) .. " " .. quote(rootfs .. "/bin/busybox"))
for _, applet in ipairs({ "sh", "echo", "true", "false" }) do
  run("ln -sf busybox " .. quote(rootfs .. "/bin/" .. applet))
end

-- 3. config.json: runc's default spec, no terminal, our command.
local spec = runtime.Spec.default()
spec:process():set_terminal(false):set_args({ "/bin/sh", "-c", "echo " .. MESSAGE })
assert(spec:validate())
local config = bundle .. "/config.json"
assert(spec:to_file_pretty(config))
local back = assert(runtime.Spec.from_file(config))
assert(back == spec, "config.json does not read back equal")
assert(back:validate())
assert(back:root():path() == "rootfs")
print("wrote " .. config)

-- 4. Run it, when we can.
local function id_u()
  return (capture("id -u"):gsub("%s+$", ""))
end
local runc = which("runc")
local skip_reason
if id_u() ~= "0" then
  skip_reason = "`runc run` needs root"
elseif not runc then
  skip_reason = "runc is not installed"
end
if skip_reason then
  print("SKIP: " .. skip_reason .. ": the bundle was written but not run")
  os.exit(77)
else
  local state = bundle .. "/runc-state"
  -- Runs the bundle once with `args`; returns runc's output and exit status.
  local function runc_run(args)
    spec:process():set_args(args)
    assert(spec:to_file_pretty(config))
    local id = ("ocispec-%d-%d"):format(os.time(), math.random(1, 1 << 30))
    local cmd = ("cd %s && %s --root %s run %s 2>&1"):format(quote(bundle), quote(runc), quote(state), quote(id))
    print("running " .. table.concat(args, " ") .. ": " .. cmd)
    local out, ok, how, code = capture(cmd)
    io.write(out)
    -- leave nothing behind, whatever happened
    os.execute(("%s --root %s delete --force %s >/dev/null 2>&1"):format(quote(runc), quote(state), quote(id)))
    assert(how == "exit", ("runc was killed by signal %s"):format(code))
    return out, ok and 0 or code
  end

  local out, status = runc_run({ "/bin/sh", "-c", "echo " .. MESSAGE })
  assert(status == 0, ("runc run failed with exit status %s"):format(status))
  local first = out:match("^([^\n]*)")
  assert(first == MESSAGE, ("unexpected output %q"):format(out))
  print("runc ran the bundle: " .. first)

  status = select(2, runc_run({ "/bin/true" }))
  assert(status == 0, ("/bin/true: runc exit status %s, want 0"):format(status))
  print("/bin/true: runc exit status 0")

  status = select(2, runc_run({ "/bin/false" }))
  assert(status == 1, ("/bin/false: runc exit status %s, want 1"):format(status))
  print("/bin/false: runc exit status 1")
end
