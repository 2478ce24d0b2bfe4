-- Build a runnable image into an OCI image layout.
--
--   lua5.4 examples/build_image.lua [layout-dir [tag]]
--
-- The image holds one layer: a static busybox (Debian busybox-static) with
-- links for the applets its command uses. Its config runs
-- `/bin/sh -c 'echo hello from an ocispec image'`. The layout (default
-- ./image-layout, tag "latest") then works with umoci, skopeo, podman and
-- runc. Timestamps are SOURCE_DATE_EPOCH (default 2024-01-01), so two
-- builds give the same manifest digest.
local oci = require "ocispec"

local BUSYBOX = "/bin/busybox"
local APPLETS = { "sh", "echo", "cat", "ls", "true", "false", "env" }
local dir = arg and arg[1] or "image-layout"
local tag = arg and arg[2] or "latest"
local epoch = math.tointeger(tonumber(os.getenv("SOURCE_DATE_EPOCH") or "")) or 1704067200

local function sh(cmd)
  local ok, how, code = os.execute(cmd)
  if not ok then error(("command failed (%s %s): %s"):format(how, code, cmd)) end
end

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- 1. The layer's content, described as entries: nothing depends on the
-- files of a scratch folder, so the layer is the same on every machine
-- with the same busybox.
local f = io.open(BUSYBOX, "rb")
if not f then error(BUSYBOX .. " is missing: install Debian's busybox-static") end
f:close()
local entries = {
  { path = "bin", type = "dir", mode = 493 },
  { path = "bin/busybox", type = "file", source = BUSYBOX, mode = 493 },
  { path = "etc", type = "dir", mode = 493 },
  { path = "etc/passwd", type = "file", content = "root:x:0:0:root:/root:/bin/sh\n", mode = 420 },
  { path = "etc/group", type = "file", content = "root:x:0:\n", mode = 420 },
  { path = "root", type = "dir", mode = 448 },
  { path = "tmp", type = "dir", mode = 1023 },
}
for _, applet in ipairs(APPLETS) do
  entries[#entries + 1] = { path = "bin/" .. applet, type = "symlink", target = "busybox" }
end

-- 2. The layout and the image.
sh("mkdir -p " .. quote(dir))
local layout = assert(oci.layout.create(dir))
local img = oci.build.Image.new(layout, {
  platform = { os = "linux", architecture = oci.core.host_arch },
  created = epoch,
  author = "ocispec examples",
})
assert(img:add_layer{
  entries = entries, mtime = epoch, uid = 0, gid = 0,
  created_by = "busybox-static with applet links",
})
img:env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
  :working_dir("/")
  :cmd({ "/bin/sh", "-c", "echo hello from an ocispec image" })
  :label("org.opencontainers.image.title", "ocispec busybox example")
local manifest = assert(img:commit(tag))

-- 3. Check what was written, as a consumer would.
assert(layout:verify())
local r = assert(layout:resolve(tag))
assert(r.descriptor:digest() == manifest:digest())
print(("%s:%s %s"):format(dir, tag, manifest:digest()))
