-- Pruning the build cache (oci.build.prune_cache, `ocispec build
-- --prune`): records dropped by age and total size, least recently used
-- first, then the blobs only they kept; the kept records still hit. The
-- clock of the records is replaced (build_cache.clock) so that ages are
-- days without waiting. Steps are add_layer steps with `cache = true` (no
-- runtime needed).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local oci = require("ocispec")
local cache = require("ocispec.build_cache")

local DAY = 86400
local T0 = 1800000000
local BIN = assert(oci.core.realpath(here .. "../bin/ocispec"))

-- Three cached add_layer steps in layout L, step i stored at times[i]
-- (the clock moves between them); sizes: bytes of content per step. The
-- image is not committed: only the records keep the layers. Returns the
-- steps as on_step saw them ("ran"/"cached") and the layer digests.
local function build(L, times, sizes)
  local seen, layers = {}, {}
  local img = oci.build.Image.new(L, { created = 0, cache = true, compression = "none",
    on_step = function(s) seen[#seen + 1] = s.cached and "cached" or "ran" end })
  for i = 1, 3 do
    cache.clock = function() return times[i] end
    local content = ("x"):rep(sizes and sizes[i] or i)
    assert(img:add_layer { entries = { { path = "f" .. i, type = "file", content = content } },
      mtime = 0, created_by = "ADD f" .. i })
    layers[i] = img.layers[#img.layers].digest
  end
  return seen, layers
end

describe("oci.build.prune_cache", function()
  local tmp, L, clock
  before_each(function()
    tmp = support.tmpdir()
    L = assert(oci.layout.create(tmp .. "/L"))
    clock = cache.clock
  end)
  after_each(function()
    cache.clock = clock
    L:close()
    support.rmdir(tmp)
  end)

  it("drops records older than keep_days and the layers only they kept; the rest still hit", function()
    local seen, layers = build(L, { T0 - 10 * DAY, T0 - 5 * DAY, T0 })
    assert.are.same({ "ran", "ran", "ran" }, seen)
    local r = assert(oci.build.prune_cache { layout = L, keep_days = 7, now = T0 })
    assert.are.equal(1, #r.removed)
    assert.are.equal(T0 - 10 * DAY, r.removed[1].used)
    assert.are.equal(2, r.kept)
    assert.is_false(L:has_blob(layers[1])) -- only the pruned record held it
    assert.is_true(L:has_blob(layers[2]))
    assert.is_true(L:has_blob(layers[3]))
    local gone = {}
    for _, d in ipairs(r.blobs) do gone[d] = true end
    assert.is_true(gone[layers[1]])
    assert(L:verify())
    -- a later build: the pruned first step runs again, the kept ones hit
    seen = build(L, { T0, T0, T0 })
    assert.are.same({ "ran", "cached", "cached" }, seen)
    -- nothing older than 7 days now: nothing to do
    r = assert(oci.build.prune_cache { layout = tmp .. "/L", keep_days = 7, now = T0 })
    assert.are.same({}, r.removed)
    assert.are.equal(3, r.kept)
  end)

  it("a hit refreshes a record: used recently, it is kept", function()
    build(L, { T0 - 30 * DAY, T0 - 30 * DAY, T0 - 30 * DAY })
    local seen = build(L, { T0 - DAY, T0 - DAY, T0 - DAY }) -- all hits, a day ago
    assert.are.same({ "cached", "cached", "cached" }, seen)
    local r = assert(oci.build.prune_cache { layout = L, keep_days = 7, now = T0 })
    assert.are.same({}, r.removed)
    assert.are.equal(3, r.kept)
  end)

  it("max_bytes keeps the most recently used records that fit", function()
    local _, layers = build(L, { T0 - 3 * DAY, T0 - 2 * DAY, T0 - DAY }, { 5000, 20000, 3000 })
    -- sizes as the layout has them: each record's layer and manifest
    local function size(d) return #assert(L:get_blob(d)) end
    -- room for the newest record and a little: neither older one (20000
    -- and 5000 bytes of content) fits
    local r = assert(oci.build.prune_cache { layout = L, max_bytes = size(layers[3]) + 2000, now = T0 })
    assert.are.equal(2, #r.removed)
    assert.are.equal(1, r.kept)
    assert.is_true(r.kept_bytes <= size(layers[3]) + 2000 and r.kept_bytes > size(layers[3]))
    assert.is_true(L:has_blob(layers[3]))
    assert.is_false(L:has_blob(layers[2]))
    assert.is_false(L:has_blob(layers[1]))
    -- max_bytes 0: every record goes, and the records' tag with them
    r = assert(oci.build.prune_cache { layout = L, max_bytes = 0 })
    assert.are.equal(1, #r.removed)
    assert.are.equal(0, r.kept)
    for _, e in ipairs(L:list()) do assert.are_not.equal(cache.TAG, e.name) end
    assert.is_false(L:has_blob(layers[3]))
  end)

  it("keeps layers a tagged image still uses", function()
    local img = oci.build.Image.new(L, { created = 0, cache = true, compression = "none" })
    cache.clock = function() return T0 - 100 * DAY end
    assert(img:add_layer { entries = { { path = "a", type = "file", content = "a" } }, mtime = 0 })
    assert(img:commit("keep"))
    local r = assert(oci.build.prune_cache { layout = L, keep_days = 1, now = T0 })
    assert.are.equal(1, #r.removed)
    assert(L:resolve("keep"))
    assert.is_true(L:has_blob(img.layers[1].digest))
    assert(L:verify())
  end)

  it("refuses bad options; a path that is not a layout fails", function()
    local function raises(what, f)
      local ok, e = pcall(f)
      assert.is_false(ok)
      assert.matches(what, tostring(e), 1, true)
    end
    raises('unknown option "days"', function() oci.build.prune_cache { layout = L, days = 1 } end)
    raises("keep_days or max_bytes expected", function() oci.build.prune_cache { layout = L } end)
    raises("keep_days must be a number >= 0", function() oci.build.prune_cache { layout = L, keep_days = -1 } end)
    raises("max_bytes must be an integer >= 0", function() oci.build.prune_cache { layout = L, max_bytes = 1.5 } end)
    raises("layout must be a Layout or a path", function() oci.build.prune_cache { layout = 3, keep_days = 1 } end)
    raises("an options table expected", function() oci.build.prune_cache() end)
    local ok, msg, err = oci.build.prune_cache { layout = tmp .. "/none", keep_days = 1 }
    assert.is_nil(ok)
    assert.matches("none", msg, 1, true)
    assert.are.equal("table", type(err))
  end)

  it("ocispec build --prune", function()
    build(L, { T0 - 10 * DAY, T0 - 10 * DAY, T0 - 10 * DAY })
    local function run(args)
      local _, _, status = os.execute(("cd %s && lua5.4 %s build --prune %s >out.txt 2>err.txt")
        :format(support.quote(tmp), support.quote(BIN), args))
      return support.read(tmp .. "/out.txt"), support.read(tmp .. "/err.txt"), status
    end
    local out, err, status = run("--keep-days 365 L")
    assert.are.equal(0, status, err)
    assert.matches("^0 records removed, 3 kept %(%d+ bytes%), 0 blobs removed\n$", out)
    out, err, status = run("--max-bytes 0k L")
    assert.are.equal(0, status, err)
    assert.matches("^removed %x+ ADD f1\nremoved %x+ ADD f2\nremoved %x+ ADD f3\n", out)
    assert.matches("3 records removed, 0 kept %(0 bytes%), %d+ blobs removed\n$", out)
    local _
    _, err, status = run("L")
    assert.are.equal(2, status)
    assert.matches("--keep-days or --max-bytes expected", err, 1, true)
    _, err, status = run("--max-bytes 12x L")
    assert.are.equal(2, status)
    assert.matches("--max-bytes: an integer", err, 1, true)
  end)
end)
