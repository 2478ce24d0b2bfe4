-- A 3-step RUN build: ocispec (img:run, overlayfs, build cache) against the
-- same steps with buildah from / run / commit (Debian's buildah, vfs
-- storage, runc), in the same run; cold (first build) and warm (the same
-- build again: ocispec's cache hits, buildah has no cache for run steps).
-- Figures, never pass/fail: wall time, median of N builds (3; 1 with
-- OCISPEC_BENCH_QUICK). Needs root, runc and buildah: else "SKIP: ...".
-- Then two independent stages of the same steps (each + `sleep 0.5`, no
-- cache): one after the other against oci.build.parallel.
--
--   lua5.4 bench/build_run.lua
local oci = require "ocispec"
local now = oci.core.run.now

local function capture(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local ok = p:close()
  return out, ok
end
local function sh(cmd)
  local out, ok = capture(cmd .. " 2>&1")
  if not ok then error(cmd .. ": " .. out) end
  return out
end

if capture("id -u"):gsub("%s+$", "") ~= "0" then print("SKIP: build_run: needs root") return end
for _, tool in ipairs({ "runc", "buildah" }) do
  if capture("command -v " .. tool) == "" then print("SKIP: build_run: " .. tool .. " is not installed") return end
end

local STEPS = {
  "mkdir -p /app && echo one > /app/a && cp -r /bin /app/bin-copy",
  "echo two >> /app/a && rm -r /app/bin-copy/sh",
  "echo 'app:x:1000:1000::/app:/bin/sh' >> /etc/passwd && chown -R 1000 /app",
}
local reps = os.getenv("OCISPEC_BENCH_QUICK") and 1 or 3
-- lower case: buildah names the image after the layout's path
math.randomseed(os.time())
local tmp = ("/tmp/ocispec-bench-run-%d-%d"):format(os.time(), math.random(1, 1 << 30))
sh("mkdir -m 700 " .. tmp)

-- the base: busybox-static with its applets, in a layout
local base = tmp .. "/base"
sh("mkdir -p " .. base)
do
  local L = assert(oci.layout.create(base))
  local img = oci.build.Image.new(L, { created = 1704067200, cache = false })
  assert(img:add_layer { entries = {
    { path = "bin", type = "dir", mode = 493 },
    { path = "bin/busybox", type = "file", source = "/bin/busybox", mode = 493 },
    { path = "bin/sh", type = "symlink", target = "busybox" },
    { path = "etc", type = "dir", mode = 493 },
    { path = "etc/passwd", type = "file", content = "root:x:0:0:root:/root:/bin/sh\n", mode = 420 },
  }, mtime = 1704067200, uid = 0, gid = 0 })
  img:env("PATH", "/bin")
  assert(img:run("/bin/busybox --install -s /bin", { output = function() end }))
  assert(img:commit("base"))
end

local function ocispec_build(layout_dir)
  if oci.unpack.dir_state(layout_dir) == "missing" then sh("cp -a " .. base .. " " .. layout_dir) end
  local L = assert(oci.layout.open(layout_dir))
  local img = assert(oci.build.Image.from(L, "base", { created = 1704067200 }))
  for _, s in ipairs(STEPS) do assert(img:run(s, { output = function() end })) end
  return assert(img:commit("out")):digest()
end

local B = ("buildah --root %s/root --runroot %s/runroot --storage-driver vfs"):format(tmp, tmp)
local function buildah_build(out)
  local c = sh(B .. " from --pull-never --name ocispec-bench oci:" .. base .. ":base"):match("([^\n]+)\n?$")
  for _, s in ipairs(STEPS) do
    sh(("%s run --runtime runc %s -- /bin/sh -c '%s'"):format(B, c, (s:gsub("'", "'\\''"))))
  end
  sh(("%s commit %s oci:%s:out"):format(B, c, out))
  sh(B .. " rm " .. c)
end

local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end

local res = { ocispec = { cold = {}, warm = {} }, buildah = { cold = {}, warm = {} } }
for i = 1, reps do
  -- ocispec: a fresh layout (cold), then the same again (warm: cached)
  local dir = ("%s/o%d"):format(tmp, i)
  local t0 = now()
  local d1 = ocispec_build(dir)
  local t1 = now()
  local d2 = ocispec_build(dir)
  local t2 = now()
  assert(d1 == d2, "warm build gave another digest")
  res.ocispec.cold[i], res.ocispec.warm[i] = t1 - t0, t2 - t1
  -- buildah: fresh storage (cold: the base is copied in), then again
  sh(("rm -rf %s/root %s/runroot"):format(tmp, tmp))
  t0 = now()
  buildah_build(("%s/b%d-1"):format(tmp, i))
  t1 = now()
  buildah_build(("%s/b%d-2"):format(tmp, i))
  t2 = now()
  res.buildah.cold[i], res.buildah.warm[i] = t1 - t0, t2 - t1
end
-- parallel stages (oci.build.parallel): two independent stages of the 3
-- steps (no cache), one after the other, then as two concurrent stages
local function stage(L)
  local img = assert(oci.build.Image.from(L, "base", { created = 1704067200, cache = false }))
  for _, s in ipairs(STEPS) do assert(img:run(s .. " && sleep 0.5", { output = function() end })) end
  return img
end
local par = { seq = {}, par = {} }
for i = 1, reps do
  local dir = ("%s/p%d"):format(tmp, i)
  sh("cp -a " .. base .. " " .. dir)
  local L = assert(oci.layout.open(dir))
  local t0 = now()
  stage(L)
  stage(L)
  local t1 = now()
  oci.build.parallel { function() return stage(L) end, function() return stage(L) end }
  local t2 = now()
  par.seq[i], par.par[i] = t1 - t0, t2 - t1
end

sh(("%s rm --all >/dev/null 2>&1; true"):format(B))
sh(("chattr -R -i %s >/dev/null 2>&1; rm -rf %s"):format(tmp, tmp))

local oc, ow = median(res.ocispec.cold), median(res.ocispec.warm)
local bc, bw = median(res.buildah.cold), median(res.buildah.warm)
print(("build_run: 3 RUN steps on busybox, median of %d, wall seconds"):format(reps))
print(("  %-8s %8s %8s"):format("", "cold", "warm"))
print(("  %-8s %8.3f %8.3f"):format("ocispec", oc, ow))
print(("  %-8s %8.3f %8.3f"):format("buildah", bc, bw))
print(("  buildah/ocispec: cold %.1fx, warm %.1fx"):format(bc / oc, bw / ow))
local ps, pp = median(par.seq), median(par.par)
print(("parallel: 2 stages x 3 RUN steps (each + sleep 0.5), no cache, median of %d, wall seconds"):format(reps))
print(("  one after the other %8.3f"):format(ps))
print(("  oci.build.parallel  %8.3f  (%.2fx)"):format(pp, ps / pp))
