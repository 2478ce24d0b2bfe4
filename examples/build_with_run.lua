-- Build an image with RUN steps, like a Dockerfile, then run it with runc.
--
--   lua5.4 examples/build_with_run.lua [layout-dir [tag]]
--
-- The base is the busybox-static layer of build_image.lua (/bin/busybox and
-- /bin/sh); the RUN steps install the applet links, create, change and
-- delete files, and add a user. Each step prints "cached" or its time: run
-- the script twice and the second build runs nothing and gives the same
-- manifest digest (the build cache, docs/lua.md). The result runs under
-- `runc run` as user app. RUN needs root and runc (or crun): otherwise the
-- script prints "SKIP: ..." and exits 77 (ctest reports it skipped).
local oci = require "ocispec"

local dir = arg and arg[1] or "run-layout"
local tag = arg and arg[2] or "latest"
local epoch = math.tointeger(tonumber(os.getenv("SOURCE_DATE_EPOCH") or "")) or 1704067200

local function capture(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local ok, _, code = p:close()
  return out, ok, code
end
local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

if capture("id -u"):gsub("%s+$", "") ~= "0" then
  print("SKIP: RUN steps need root")
  os.exit(77)
end
local runc = capture("command -v runc"):gsub("%s+$", "")
if runc == "" then
  print("SKIP: runc is not installed")
  os.exit(77)
end

-- 1. The base: busybox-static.
assert(os.execute("mkdir -p " .. quote(dir)))
local layout = assert(oci.layout.create(dir))
local img = oci.build.Image.new(layout, {
  platform = { os = "linux", architecture = oci.core.host_arch },
  created = epoch,
  on_step = function(s)
    print(("%-60s %s"):format(s.description:sub(1, 60), s.cached and "cached" or ("%.2fs"):format(s.seconds)))
  end,
})
assert(img:add_layer{
  entries = {
    { path = "bin", type = "dir", mode = 493 },
    { path = "bin/busybox", type = "file", source = "/bin/busybox", mode = 493 },
    { path = "bin/sh", type = "symlink", target = "busybox" },
    { path = "etc", type = "dir", mode = 493 },
    { path = "etc/passwd", type = "file", content = "root:x:0:0:root:/root:/bin/sh\n", mode = 420 },
    { path = "etc/group", type = "file", content = "root:x:0:\n", mode = 420 },
    { path = "root", type = "dir", mode = 448 },
    { path = "tmp", type = "dir", mode = 1023 },
  },
  mtime = epoch, uid = 0, gid = 0, created_by = "busybox-static",
})
img:env("PATH", "/bin")

-- 2. RUN steps: output goes to the callback (default: the terminal).
local quiet = { output = function() end }
assert(img:run("/bin/busybox --install -s /bin", quiet))
assert(img:run("mkdir -p /app && echo v1 > /app/version && echo scratch > /app/tmpfile", quiet))
assert(img:run("echo v2 > /app/version && rm /app/tmpfile", quiet))
-- Debian's busybox-static has no adduser applet: the files it would write
assert(img:run("echo 'app:x:1000:1000::/home/app:/bin/sh' >> /etc/passwd && echo 'app:x:1000:' >> /etc/group"
  .. " && mkdir -p /home/app && chown 1000:1000 /home/app", quiet))
img:user("app"):working_dir("/home/app")
  :cmd({ "/bin/sh", "-c", "echo \"$(id -un) $(cat /app/version) $(ls /app)\"" })
local manifest = assert(img:commit(tag))
assert(layout:verify())
print(("%s:%s %s"):format(dir, tag, manifest:digest()))

-- 3. Run the result with runc.
local bundle = capture("mktemp -d"):gsub("%s+$", "") .. "/bundle"
assert(oci.unpack.image(layout, tag, bundle))
local id = "ocispec-example-" .. tostring(os.time())
local out, ok = capture(("cd %s && %s --root %s run %s 2>&1"):format(quote(bundle), runc, quote(bundle .. "/../state"),
  id))
os.execute(("%s --root %s delete --force %s >/dev/null 2>&1; rm -rf %s"):format(runc, quote(bundle .. "/../state"),
  id, quote(bundle:match("^(.*)/bundle$"))))
io.write(out)
assert(ok, "runc run failed")
assert(out:match("^app v2 version\n"), ("unexpected output %q"):format(out))
