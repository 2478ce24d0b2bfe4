-- Parallel blob transfers (the `jobs` option): push, pull and copy move the
-- blobs of a manifest at once, the manifest only after all of them; the
-- progress callback runs on the calling thread; the first failure cancels
-- the rest and leaves nothing half-written. docker-registry sits behind
-- tests/registry/fault_proxy.py, which delays blob transfers (so that they
-- overlap) and counts how many run at once: the independent witness.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local registries = dofile(here .. "fixtures/registry.lua")
local oci = require("ocispec")
local registry = require("ocispec.registry")

local SKIP = registries.skip_reason("python3")

local LAYERS = 6

local opts = registries.opts_with{ retry_delay_ms = 1, retries = 0 }

local function file(path, content) return { path = path, type = "file", content = content, mode = 420 } end

-- Every blob file of the layout at dir is named by its own sha256 (python3
-- hashlib, not our code); returns how many there are.
local function verify_blobs(dir)
  local out, ok = registries.sh(("python3 -c %s %s"):format(registries.quote([[
import hashlib, os, sys
d = os.path.join(sys.argv[1], "blobs", "sha256")
n = 0
for name in os.listdir(d):
    with open(os.path.join(d, name), "rb") as f:
        h = hashlib.sha256(f.read()).hexdigest()
    if h != name:
        sys.exit("bad blob " + name)
    n += 1
print(n)]]), registries.quote(dir)))
  assert(ok, out)
  return tonumber(out)
end

-- What the layout's temp area holds (nothing half-written stays there).
local function temp_files(dir)
  local out = registries.sh(("ls -A %s 2>/dev/null | grep -v '[.]lock$' || true")
    :format(registries.quote(dir .. "/.ocispec-tmp")))
  return out
end

local pending_or = registries.guard(SKIP, pending)

describe("parallel blob transfers (jobs)", function()
  local env, reg, proxy, tmp, src_dir, top
  setup(function()
    if SKIP then return end
    env = registries.start_proxied()
    reg, proxy, tmp = env.reg, env.proxy, env.tmp
    src_dir = tmp .. "/src"
    local L = assert(oci.layout.create(src_dir))
    local img = oci.build.Image.new(L, { platform = { os = "linux", architecture = "amd64" }, created = 0 })
    for i = 1, LAYERS do
      assert(img:add_layer{ entries = { file("f" .. i, ("layer %d\n"):format(i):rep(2000)) } })
    end
    top = assert(img:commit())
    assert(L:tag(top, "1"))
    L:close()
  end)
  teardown(function()
    if env then env.stop() end
  end)

  local function push(repo, jobs)
    local L = assert(oci.layout.open(src_dir))
    local c = assert(registry.connect(proxy.host, opts{ jobs = jobs }))
    local d, msg = c:push(L, "1", repo, "1")
    c:close()
    L:close()
    assert(d, msg)
    return d
  end

  it("push uploads the blobs at once with jobs = 4, one at a time with jobs = 1", pending_or(function()
    proxy.configure{ delay_ms = 200 }
    proxy.stats()
    push("par/one", 1)
    local s1 = proxy.stats()
    push("par/four", 4)
    local s4 = proxy.stats()
    assert.are.equal(1, s1.max_put)
    assert.is_true(s4.max_put >= 2, ("at most %d uploads at once"):format(s4.max_put))
    assert.is_true(s4.max_put <= 4, ("%d uploads at once, more than jobs"):format(s4.max_put))
    proxy.configure{}
    -- what the registry holds is what skopeo's peer, docker-registry, serves
    local c = assert(registry.connect(reg.host, opts()))
    local m = assert(c:get_manifest("par/four", "1"))
    assert.are.equal(LAYERS, #m:layers())
    c:close()
  end))

  it("pull fetches the blobs at once, reports progress on the calling thread, and verifies", pending_or(function()
    push("par/pull", 4)
    proxy.configure{ delay_ms = 200 }
    proxy.stats()
    local started, finished, calls = {}, {}, 0
    local c = assert(registry.connect(proxy.host, opts{ jobs = 4, progress = function(digest, done, total)
      calls = calls + 1
      if done == 0 then started[digest] = true end
      if done == total then finished[digest] = true end
      return true
    end }))
    local dir = tmp .. "/pulled"
    local L = assert(oci.layout.create(dir))
    local d = assert(c:pull("par/pull", "1", L, "1"))
    local s = proxy.stats()
    proxy.configure{}
    assert.are.equal(top:digest(), d:digest())
    assert.is_true(s.max_get >= 2, ("at most %d downloads at once"):format(s.max_get))
    assert.is_true(s.max_get <= 4)
    -- every blob (config and layers) was announced and finished
    local n = 0
    for dg in pairs(started) do
      n = n + 1
      assert.is_true(finished[dg], dg .. " started and never finished")
    end
    assert.are.equal(LAYERS + 1, n)
    local st = c:stats()
    assert.are.equal(LAYERS + 1, st.blobs_downloaded)
    c:close()
    L:close()
    assert.are.equal(LAYERS + 2, verify_blobs(dir)) -- + the manifest
    assert.are.equal("", temp_files(dir))
  end))

  it("copy moves the blobs at once between two clients", pending_or(function()
    push("par/csrc", 4)
    proxy.configure{ delay_ms = 200 }
    proxy.stats()
    local a = assert(registry.connect(proxy.host, opts{ jobs = 4 }))
    local b = assert(registry.connect(proxy.host, opts{ jobs = 4 }))
    local d = assert(a:copy("par/csrc", "1", b, "par/cdst", "2"))
    local s = proxy.stats()
    proxy.configure{}
    assert.are.equal(top:digest(), d:digest())
    assert.is_true(s.max_get >= 2, ("at most %d downloads at once"):format(s.max_get))
    assert.is_true(s.max_put >= 2, ("at most %d uploads at once"):format(s.max_put))
    assert.are.equal(LAYERS + 1, b:stats().blobs_uploaded)
    a:close()
    b:close()
  end))

  it("the first failure cancels the others: no manifest, no temp file, a specific error", pending_or(function()
    push("par/fail", 4)
    local c0 = assert(registry.connect(reg.host, opts()))
    local m = assert(c0:get_manifest("par/fail", "1"))
    c0:close()
    local bad = m:config():digest()
    proxy.configure{ delay_ms = 400, fail = bad }
    proxy.stats()
    local c = assert(registry.connect(proxy.host, opts{ jobs = 2 }))
    local dir = tmp .. "/failed"
    local L = assert(oci.layout.create(dir))
    local d, msg, err = c:pull("par/fail", "1", L, "1")
    local s = proxy.stats()
    proxy.configure{}
    assert.is_nil(d)
    assert.are.equal("registry", err.code)
    assert.truthy(msg:find(bad, 1, true), msg)
    assert.truthy(msg:find("HTTP 500", 1, true), msg)
    assert.are.equal(500, c:last_response().status)
    -- the other worker's transfer was cut short, the rest never started
    -- (the proxy's count is the witness, not the wall clock: a loaded
    -- machine or valgrind makes any time bound flaky)
    assert.is_true(s.gets < LAYERS, ("%d blob GETs after the failure"):format(s.gets))
    -- nothing of the image was published: no manifest, no tag
    assert.is_false(L:has_blob(top:digest()))
    assert.are.equal(0, #L:list())
    assert.are.equal("", temp_files(dir))
    c:close()
    L:close()
  end))

  it("a progress callback that cancels stops every worker", pending_or(function()
    push("par/cancel", 4)
    proxy.configure{ delay_ms = 200 }
    local seen = 0
    local c = assert(registry.connect(proxy.host, opts{ jobs = 4, progress = function()
      seen = seen + 1
      return false
    end }))
    local dir = tmp .. "/canceled"
    local L = assert(oci.layout.create(dir))
    local d, msg, err = c:pull("par/cancel", "1", L, "1")
    proxy.configure{}
    assert.is_nil(d)
    assert.are.equal("canceled", err.code)
    assert.truthy(msg:find("cancel", 1, true), msg)
    assert.are.equal(1, seen)
    assert.is_false(L:has_blob(top:digest()))
    assert.are.equal("", temp_files(dir))
    c:close()
    L:close()
  end))

  it("jobs is checked: an integer from 0 (the default, 4) to 64", pending_or(function()
    support.assert_raises({ "jobs", "out of range" }, registry.connect, "127.0.0.1:1", { jobs = 65 })
    support.assert_raises({ "jobs", "an integer" }, registry.connect, "127.0.0.1:1", { jobs = "4" })
    assert(registry.connect("127.0.0.1:1", { jobs = 0, auth_file = false })):close()
  end))
end)

describe("ocispec push/pull/copy --jobs", function()
  local env, proxy, tmp
  local BIN = oci.core.realpath(here .. "../bin/ocispec")
  setup(function()
    if SKIP then return end
    env = registries.start_proxied()
    proxy, tmp = env.proxy, env.tmp
    local L = assert(oci.layout.create(tmp .. "/src"))
    local img = oci.build.Image.new(L, { platform = { os = "linux", architecture = "amd64" }, created = 0 })
    for i = 1, 4 do assert(img:add_layer{ entries = { file("g" .. i, ("cli %d\n"):format(i)) } }) end
    assert(L:tag(assert(img:commit()), "1"))
    L:close()
  end)
  teardown(function()
    if env then env.stop() end
  end)

  local function run(args, tty)
    local cmd = ("cd %s && lua5.4 %s %s"):format(registries.quote(tmp), registries.quote(BIN), args)
    if tty then
      -- a terminal on stderr (script(1) gives the command a pty)
      cmd = ("script -qec %s /dev/null"):format(registries.quote(cmd))
    end
    local out, ok = registries.sh(cmd .. " </dev/null 2>&1")
    return out, ok
  end

  it("-j N bounds the blobs moved at once; a bad N is a usage error", pending_or(function()
    local out, ok = run(("push --plain-http -q -j 1 src:1 %s/cli/j:1"):format(proxy.host))
    assert(ok, out)
    proxy.configure{ delay_ms = 200 }
    proxy.stats()
    out, ok = run(("pull --plain-http -q -j 1 %s/cli/j:1 one"):format(proxy.host))
    assert(ok, out)
    assert.are.equal(1, proxy.stats().max_get)
    out, ok = run(("pull --plain-http -q --jobs 3 %s/cli/j:1 three"):format(proxy.host))
    assert(ok, out)
    local s = proxy.stats()
    assert.is_true(s.max_get >= 2 and s.max_get <= 3, ("%d at once"):format(s.max_get))
    proxy.configure{}
    out, ok = run(("pull --plain-http -j 0 %s/cli/j:1 zero"):format(proxy.host))
    assert.is_falsy(ok)
    assert.truthy(out:find("--jobs takes a whole number from 1 to 64", 1, true), out)
  end))

  it("on a terminal, one progress line adds up every blob", pending_or(function()
    local _, have = registries.sh("command -v script")
    if not have then return pending("script(1) (util-linux) is not installed") end
    local out, ok = run(("pull --plain-http -j 4 %s/cli/j:1 tty"):format(proxy.host), true)
    assert(ok, out)
    -- the config and 4 layers, counted on one line that ends complete
    assert.truthy(out:find("5/5 blobs [" .. ("="):rep(30) .. "]", 1, true), out)
    assert.falsy(out:find("sha256:%x+ %["), out) -- no per-blob bars
  end))
end)
