-- The build cache (ocispec.build_cache): a rebuild with unchanged inputs
-- runs nothing and gives the same manifest digest; a changed input re-runs
-- its step and the later ones only; records survive gc; cache_dir shares
-- them between layouts. Steps are counted with on_step.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local oci = require("ocispec")

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  p:close()
  return out
end

local function missing()
  if not sh("id -u"):match("^0") then return "RUN steps need root" end
  if sh("command -v runc || command -v crun") == "" then return "neither runc nor crun is installed" end
end

-- Builds base + RUN + COPY + RUN + CMD into layout dir; returns the
-- manifest digest and the steps ({"run:cached", "copy:ran", ...}).
local function build(dir, input, opts)
  opts = opts or {}
  os.execute("mkdir -p '" .. dir .. "'")
  local L = assert(oci.layout.create(dir))
  local steps = {}
  local img = oci.build.Image.new(L, { created = 1704067200, cache = true, no_cache = opts.no_cache,
    cache_dir = opts.cache_dir,
    on_step = function(s) steps[#steps + 1] = s.kind .. ":" .. (s.cached and "cached" or "ran") end })
  assert(img:add_layer { entries = {
    { path = "bin", type = "dir", mode = 493 },
    { path = "bin/busybox", type = "file", source = "/bin/busybox", mode = 493 },
    { path = "bin/sh", type = "symlink", target = "busybox" },
    { path = "bin/cat", type = "symlink", target = "busybox" },
  }, mtime = 1704067200, uid = 0, gid = 0 })
  img:env("PATH", "/bin")
  local quiet = { output = function() end, tmpdir = opts.tmpdir }
  assert(img:run("echo one > /one", quiet))
  assert(img:copy(input, "/in/input.txt"))
  assert(img:run("cat /in/input.txt > /two", quiet))
  img:cmd({ "/bin/cat", "/two" })
  local d = assert(img:commit("t"))
  return d:digest(), steps, L
end

describe("build cache", function()
  local tmp, why
  setup(function() why = missing() end)
  before_each(function()
    tmp = support.tmpdir()
    support.write(tmp .. "/input.txt", "v1\n")
  end)
  after_each(function() support.rmdir(tmp) end)

  it("runs nothing on an unchanged rebuild, with the same digest; mtime alone changes nothing", function()
    if why then return pending(why) end
    local d1, s1 = build(tmp .. "/L", tmp .. "/input.txt")
    assert.are.same({ "add_layer:ran", "run:ran", "copy:ran", "run:ran" }, s1)
    os.execute("touch -d @1600000000 '" .. tmp .. "/input.txt'")
    local d2, s2 = build(tmp .. "/L", tmp .. "/input.txt")
    assert.are.same({ "add_layer:cached", "run:cached", "copy:cached", "run:cached" }, s2)
    assert.are.equal(d1, d2)
  end)

  it("re-runs a changed input's step and the later ones only", function()
    if why then return pending(why) end
    local d1 = build(tmp .. "/L", tmp .. "/input.txt")
    support.write(tmp .. "/input.txt", "v2\n")
    local d2, s2, L = build(tmp .. "/L", tmp .. "/input.txt")
    assert.are.same({ "add_layer:cached", "run:cached", "copy:ran", "run:ran" }, s2)
    assert.are_not.equal(d1, d2)
    -- the result holds the new content
    local r = assert(L:resolve("t"))
    local last = r.layers[#r.layers]:digest()
    local found
    for _, e in ipairs(assert(oci.layer.entries(tmp .. "/L/blobs/sha256/" .. last:sub(8)))) do
      if e.path == "two" then found = e.size end
    end
    assert.are.equal(3, found)
  end)

  it("no_cache runs every step; records survive gc; cache_dir shares them", function()
    if why then return pending(why) end
    local _, s1 = build(tmp .. "/L", tmp .. "/input.txt", { no_cache = true })
    assert.are.same({ "add_layer:ran", "run:ran", "copy:ran", "run:ran" }, s1)
    local _, _, L = build(tmp .. "/L", tmp .. "/input.txt")
    assert(L:untag("t"))
    assert(L:gc())
    local _, s3 = build(tmp .. "/L", tmp .. "/input.txt")
    assert.are.same({ "add_layer:cached", "run:cached", "copy:cached", "run:cached" }, s3)
    local da = build(tmp .. "/A", tmp .. "/input.txt", { cache_dir = tmp .. "/cache" })
    local db, sb = build(tmp .. "/B", tmp .. "/input.txt", { cache_dir = tmp .. "/cache" })
    assert.are.same({ "add_layer:cached", "run:cached", "copy:cached", "run:cached" }, sb)
    assert.are.equal(da, db)
    assert(assert(oci.layout.open(tmp .. "/B")):verify())
  end)
  it("`ocispec build` prints each step with \"cached\" or its time; --no-cache runs them all", function()
    if why then return pending(why) end
    local bin = assert(oci.core.realpath(here .. "../bin/ocispec"))
    support.write(tmp .. "/build.lua", ([[
      local L = assert(oci.layout.create(arg[1]))
      local img = oci.build.Image.new(L, { created = 1704067200 })
      assert(img:add_layer { entries = {
        { path = "bin/busybox", type = "file", source = "/bin/busybox", mode = 493 },
        { path = "bin/sh", type = "symlink", target = "busybox" } }, mtime = 1704067200 })
      assert(img:run("echo hi > /hi", { output = function() end }))
      assert(img:copy(%q, "/in.txt"))
      print(assert(img:commit("t")):digest())
    ]]):format(tmp .. "/input.txt"))
    local function run(flags)
      return sh(("cd %s && lua5.4 %s build %s build.lua L 2>err.txt; cat err.txt"):format(tmp, bin, flags))
    end
    local first = run("")
    assert.matches("#1 RUN echo hi > /hi %d+%.%d%ds\n#2 COPY [^\n]+ %d+%.%d%ds\n", first)
    local digest = first:match("(sha256:%x+)")
    local second = run("")
    assert.matches("#1 RUN echo hi > /hi cached\n#2 COPY [^\n]+ cached\n", second)
    assert.are.equal(digest, second:match("(sha256:%x+)"))
    assert.matches("#1 RUN echo hi > /hi %d+%.%d%ds\n", run("--no-cache"))
  end)
  it("examples/build_with_run.lua: the second build runs nothing, same digest; umoci sees the change", function()
    if why then return pending(why) end
    local ex = assert(oci.core.realpath(here .. "../examples/build_with_run.lua"))
    local first = sh(("lua5.4 %s %s/ex"):format(ex, tmp))
    assert.matches("app v2 version\n", first)
    local second = sh(("lua5.4 %s %s/ex"):format(ex, tmp))
    local steps = 0
    for line in second:gmatch("[^\n]+") do
      if line:match("^RUN ") then
        steps = steps + 1
        assert.matches("cached$", line)
      end
    end
    assert.are.equal(4, steps)
    assert.are.equal(first:match("(sha256:%x+)"), second:match("(sha256:%x+)"))
    if sh("command -v umoci") == "" then return pending("umoci is not installed") end
    sh(("umoci unpack --image %s/ex:latest %s/u"):format(tmp, tmp))
    assert.are.equal("v2\n", support.read(tmp .. "/u/rootfs/app/version"))
    assert.are.equal("gone\n", sh(("test -e %s/u/rootfs/app/tmpfile || echo gone"):format(tmp)))
    assert.matches("app:x:1000:1000", support.read(tmp .. "/u/rootfs/etc/passwd"))
    assert.are.equal("1000:1000\n", sh(("stat -c %%u:%%g %s/u/rootfs/home/app"):format(tmp)))
  end)
end)
