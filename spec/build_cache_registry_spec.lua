-- Sharing the build cache through a registry (ocispec.build_cache.export,
-- the `cache_to` / `cache_from` options, `ocispec build --cache-to
-- --cache-from`): a build in layout A pushes its cache to a real
-- docker-registry on 127.0.0.1; a fresh layout B built with cache_from
-- runs no step and gives the same manifest digest; a changed input re-runs
-- its step and the later ones only. A cache from the registry is
-- untrusted: a tampered blob, an entry naming a layer the artifact lacks
-- and a wrong diff_id are misses (the step runs, the note says why),
-- never a crash. Steps are counted with on_step.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local registries = dofile(here .. "fixtures/registry.lua")
local oci = require("ocispec")
local cache = require("ocispec.build_cache")

local sh = registries.sh
local CONN = { plain_http = true, auth_file = false, retries = 0, retry_delay_ms = 1 }

local function no_run()
  if not sh("id -u"):match("^0") then return "RUN steps need root" end
  local _, ok = sh("command -v runc")
  if not ok then return "runc is not installed" end
end

-- base + COPY + COPY (+ RUN when `run`) + CMD into layout dir; returns the
-- manifest digest, the steps ({"copy:ran", "copy:remote", ...}) and the
-- notes of on_step.
local function build(dir, input, opts)
  opts = opts or {}
  os.execute("mkdir -p '" .. dir .. "'")
  local L = assert(oci.layout.create(dir))
  local steps, notes = {}, {}
  local img = oci.build.Image.new(L, { created = 1704067200, cache = true,
    cache_from = opts.cache_from, cache_to = opts.cache_to, cache_registry = CONN,
    on_step = function(s)
      steps[#steps + 1] = s.kind .. ":" .. (s.remote and "remote" or s.cached and "cached" or "ran")
      if s.note then notes[#notes + 1] = s.note end
    end })
  assert(img:add_layer { entries = {
    { path = "bin", type = "dir", mode = 493 },
    { path = "bin/busybox", type = "file", source = "/bin/busybox", mode = 493 },
    { path = "bin/sh", type = "symlink", target = "busybox" },
  }, mtime = 1704067200, uid = 0, gid = 0 })
  img:env("PATH", "/bin")
  assert(img:copy(input, "/in/input.txt"))
  assert(img:copy(input, "/in/again.txt"))
  if opts.run then assert(img:run("cat /in/input.txt /in/again.txt > /two", { output = function() end })) end
  img:cmd({ "/bin/cat", "/in/input.txt" })
  local d, msg = img:commit("t")
  assert(d, msg)
  return d:digest(), steps, notes, L
end

-- the file of blob `digest` in the registry's storage
local function stored_blob(reg, digest)
  local hex = digest:sub(8)
  return ("%s/storage/docker/registry/v2/blobs/sha256/%s/%s/data"):format(reg.dir, hex:sub(1, 2), hex)
end

describe("build cache through a registry", function()
  local reg, tmp, why
  setup(function()
    local ok, reason = registries.available()
    if not ok then
      why = reason
      return
    end
    reg = registries.start {}
  end)
  teardown(function() if reg then reg.stop() end end)
  before_each(function()
    tmp = support.tmpdir()
    support.write(tmp .. "/input.txt", "v1\n")
  end)
  after_each(function() support.rmdir(tmp) end)

  it("cache_to pushes an artifact; a fresh layout with cache_from runs no step, same digest", function()
    if why then return pending(why) end
    local ref = reg.host .. "/cache/a:1"
    local da, sa = build(tmp .. "/A", tmp .. "/input.txt", { cache_to = ref })
    assert.are.same({ "add_layer:ran", "copy:ran", "copy:ran" }, sa)
    -- the artifact, read with the client: artifactType, the map as config,
    -- the three cached layers
    local c = assert(oci.registry.connect(reg.host, CONN))
    local man = assert(c:get_manifest("cache/a", "1")):to_table()
    assert.are.equal(cache.ARTIFACT_TYPE, man.artifactType)
    assert.are.equal(cache.MAP_TYPE, man.config.mediaType)
    assert.are.equal(3, #man.layers)
    local map = assert(oci.json.decode(assert(c:get_blob("cache/a", man.config.digest))))
    local n = 0
    for key, e in pairs(map.records) do
      n = n + 1
      assert.matches("^sha256:%x+$", key)
      assert.matches("^sha256:%x+$", e.diff_id)
    end
    assert.are.equal(3, n)
    c:close()
    local db, sb, notes, LB = build(tmp .. "/B", tmp .. "/input.txt", { cache_from = ref })
    assert.are.same({ "add_layer:remote", "copy:remote", "copy:remote" }, sb)
    assert.are.same({}, notes)
    assert.are.equal(da, db)
    assert(LB:verify())
    -- recorded in B: the next build needs no registry
    local _, sb2 = build(tmp .. "/B", tmp .. "/input.txt", { cache_from = reg.host .. "/cache/none:x" })
    assert.are.same({ "add_layer:cached", "copy:cached", "copy:cached" }, sb2)
    -- a changed input: its step and the later ones run, nothing before
    support.write(tmp .. "/input.txt", "v2\n")
    local dc, sc = build(tmp .. "/C", tmp .. "/input.txt", { cache_from = ref })
    assert.are.same({ "add_layer:remote", "copy:ran", "copy:ran" }, sc)
    assert.are_not.equal(da, dc)
  end)

  it("with RUN steps: none runs in the fresh layout (runc)", function()
    if why then return pending(why) end
    local r = no_run()
    if r then return pending(r) end
    local ref = reg.host .. "/cache/run:1"
    local da, sa = build(tmp .. "/A", tmp .. "/input.txt", { cache_to = ref, run = true })
    assert.are.same({ "add_layer:ran", "copy:ran", "copy:ran", "run:ran" }, sa)
    local db, sb = build(tmp .. "/B", tmp .. "/input.txt", { cache_from = ref, run = true })
    assert.are.same({ "add_layer:remote", "copy:remote", "copy:remote", "run:remote" }, sb)
    assert.are.equal(da, db)
  end)

  it("a tampered blob in the registry is a miss: the step re-runs and the note says why", function()
    if why then return pending(why) end
    local ref = reg.host .. "/cache/t:1"
    local da = build(tmp .. "/A", tmp .. "/input.txt", { cache_to = ref })
    local c = assert(oci.registry.connect(reg.host, CONN))
    local man = assert(c:get_manifest("cache/t", "1")):to_table()
    c:close()
    -- the second layer (the first COPY): same size, other bytes
    local victim = man.layers[2].digest
    local path = stored_blob(reg, victim)
    local bytes = assert(support.read(path))
    support.write(path, ("\0"):rep(#bytes))
    local db, sb, notes, LB = build(tmp .. "/B", tmp .. "/input.txt", { cache_from = ref })
    -- the COPY's own result is refused; it runs and gives the same layer,
    -- so the next COPY (same parent state) is a hit again
    assert.are.same({ "add_layer:remote", "copy:ran", "copy:remote" }, sb)
    assert.are.equal(1, #notes)
    assert.matches(victim, notes[1], 1, true)
    assert.matches("cache_from " .. ref, notes[1], 1, true)
    assert.are.equal(da, db)
    assert(LB:verify())
  end)

  it("an entry naming a layer the artifact lacks, or a wrong diff_id, is a miss", function()
    if why then return pending(why) end
    local ref = reg.host .. "/cache/m:1"
    local da = build(tmp .. "/A", tmp .. "/input.txt", { cache_to = ref })
    local c = assert(oci.registry.connect(reg.host, CONN))
    local man = assert(c:get_manifest("cache/m", "1")):to_table()
    local map = assert(oci.json.decode(assert(c:get_blob("cache/m", man.config.digest))))
    -- the first layer's entry names another blob; the second's lies about
    -- its diff_id
    for _, e in pairs(map.records) do
      if e.layer == man.layers[1].digest then
        e.layer = "sha256:" .. ("ab"):rep(32)
      elseif e.layer == man.layers[2].digest then
        e.diff_id = "sha256:" .. ("cd"):rep(32)
      end
    end
    local cfg = assert(c:push_blob("cache/m", oci.json.encode(map), cache.MAP_TYPE)):to_table()
    man.config = cfg
    local doc = assert(oci.image.ImageManifest.from_table(man))
    assert(c:put_manifest("cache/m", "bad", doc))
    c:close()
    local db, sb, notes = build(tmp .. "/B", tmp .. "/input.txt", { cache_from = reg.host .. "/cache/m:bad" })
    assert.are.same({ "add_layer:ran", "copy:ran", "copy:remote" }, sb)
    assert.are.equal(2, #notes)
    assert.matches("is not among the artifact's layers", notes[1], 1, true)
    assert.matches("the cache says sha256:" .. ("cd"):rep(32), notes[2], 1, true)
    assert.are.equal(da, db)
  end)

  it("a missing or foreign cache_from is noted once and every step runs", function()
    if why then return pending(why) end
    local _, s, notes = build(tmp .. "/A", tmp .. "/input.txt", { cache_from = { reg.host .. "/cache/none:1" } })
    assert.are.same({ "add_layer:ran", "copy:ran", "copy:ran" }, s)
    assert.are.equal(1, #notes)
    assert.matches("cache_from " .. reg.host .. "/cache/none:1: ", notes[1], 1, true)
    -- an image is no cache
    build(tmp .. "/I", tmp .. "/input.txt")
    assert(oci.registry.push(tmp .. "/I", "t", reg.host .. "/cache/image:1", CONN))
    local _, s2, notes2 = build(tmp .. "/B", tmp .. "/input.txt", { cache_from = reg.host .. "/cache/image:1" })
    assert.are.same({ "add_layer:ran", "copy:ran", "copy:ran" }, s2)
    assert.matches("not a build cache", notes2[1], 1, true)
  end)

  it("export refuses a digest reference and an image without cached steps; options are checked", function()
    if why then return pending(why) end
    local L = assert(oci.layout.create(tmp .. "/L"))
    local img = oci.build.Image.new(L)
    local ok, msg, err = cache.export(reg.host .. "/cache/x@sha256:" .. ("0"):rep(64), img, CONN)
    assert.is_nil(ok)
    assert.matches("a tag is needed", msg, 1, true)
    assert.are.equal("invalid", err.code)
    ok, msg, err = cache.export(reg.host .. "/cache/x:1", img, CONN)
    assert.is_nil(ok)
    assert.matches("no cached step to export", msg, 1, true)
    assert.are.equal("invalid", err.code)
    assert.has_error(function() oci.build.Image.new(L, { cache_to = 5 }) end,
      "Image.new: cache_to must be a reference, got number")
    assert.has_error(function() oci.build.Image.new(L, { cache_from = { "a", 1 } }) end,
      "Image.new: cache_from[2]: string expected, got number")
    -- commit with cache_to reports the push's failure
    local img2 = oci.build.Image.new(L, { cache_to = registries.closed_port and
      ("127.0.0.1:%d/c:1"):format(registries.closed_port()) or "127.0.0.1:1/c:1", cache_registry = CONN })
    assert(img2:copy(tmp .. "/input.txt", "/x"))
    ok, msg, err = img2:commit("t")
    assert.is_nil(ok)
    assert.matches("^cache_to 127%.0%.0%.1:%d+/c:1: ", msg)
    assert.are.equal("network", err.code)
  end)

  it("`ocispec build --cache-to` then `--cache-from` in a fresh directory: every step cached", function()
    if why then return pending(why) end
    local bin = assert(oci.core.realpath(here .. "../bin/ocispec"))
    support.write(tmp .. "/build.lua", ([[
      local L = assert(oci.layout.create(arg[1]))
      local img = oci.build.Image.new(L, { created = 1704067200 })
      assert(img:copy(%q, "/in.txt"))
      assert(img:copy(%q, "/again.txt"))
      print(assert(img:commit("t")):digest())
    ]]):format(tmp .. "/input.txt", tmp .. "/input.txt"))
    local ref = reg.host .. "/cache/cli:1"
    local function run(flags, dir)
      return sh(("cd %s && lua5.4 %s build --plain-http --auth-file '' %s build.lua %s 2>err.txt; cat err.txt")
        :format(tmp, bin, flags, dir))
    end
    local first = run("--cache-to " .. ref, "A")
    assert.matches("#1 COPY [^\n]+ %d+%.%d%ds\n#2 COPY [^\n]+ %d+%.%d%ds\n", first)
    assert.matches("cache exported to " .. ref .. " %(sha256:%x+%)", first)
    local second = run("--cache-from " .. ref, "B")
    assert.matches("#1 COPY [^\n]+ cached from " .. ref .. "\n#2 COPY [^\n]+ cached from ", second)
    assert.are.equal(first:match("(sha256:%x+)"), second:match("(sha256:%x+)"))
    local third = run("--cache-from " .. reg.host .. "/cache/none:1", "C")
    assert.matches("#1 note: cache_from " .. reg.host .. "/cache/none:1: ", third, 1, true)
    assert.matches("unknown option \"--cache-too\"", run("--cache-too x", "D"), 1, true)
  end)
end)
