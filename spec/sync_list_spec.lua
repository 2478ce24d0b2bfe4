-- Mirroring by semantic-version range and by list (issue 16, "Mirroring"):
-- ocispec.tags.semver_range against node-semver (Debian's node-semver, the
-- reference implementation of the range syntax) on a grid of ranges and
-- versions; `ocispec sync --list` against `skopeo sync --src yaml` on the
-- same YAML file and the same docker-registry (same repositories, tags and
-- digests at the destination).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local registries = dofile(here .. "fixtures/registry.lua")
local oci = require("ocispec")
local q, sh, have = support.quote, support.sh, support.have

-- A temporary file holding t as JSON; its path.
local function tmp_json(t)
  local path = os.tmpname()
  support.write(path, oci.json.encode(t))
  return path
end

describe("semver ranges (ocispec.registry.semver_range)", function()
  local VERSIONS = { "0.0.1", "0.0.2", "0.1.0", "0.1.5", "0.2.0", "1.0.0", "1.0.1", "1.2.0", "1.2.3",
    "1.2.4", "1.3.0", "1.3.0-rc.1", "1.3.0-alpha", "1.9.9", "1.10.0", "2.0.0-rc.1", "2.0.0", "2.1.0",
    "2.3.4", "2.3.5", "2.4.0", "3.0.0", "10.0.0", "1.2.3-beta.2", "1.2.3-beta.10" }
  local RANGES = { "*", "", "1", "1.x", "1.2", "1.2.x", "1.2.3", "=1.2.3", "v1.2.3", ">1.2", ">1.2.3",
    ">=1.2", ">=1.2.3", "<1.2", "<1.2.3", "<=1.2", "<=1.2.3", "^1.2.3", "^1.2", "^1", "^0.1.5", "^0.1",
    "^0.0.1", "^0.0", "^0.x", "~1.2.3", "~1.2", "~1", "~0.1", "1.2.3 - 2.3.4", "1.2 - 2.3", "1 - 2",
    ">=1.2.3 <2", ">= 1.2.3 < 2.0.0", ">1.0.0 <=1.3.0 || >=10", "^1.2.3-beta.2", ">=1.3.0-alpha",
    "~1.2.3-beta.1", "<2.0.0-rc.2 >1.9", "2.x || 0.0.x", "x", "1.X", ">=0.0.0" }

  it("selects the versions node-semver selects, for every range of the grid", function()
    if not have("node") or not have("semver") then
      return pending("node-semver (Debian package node-semver) is not installed")
    end
    -- one node process: for each range, the versions node-semver's
    -- satisfies() accepts. NODE_PATH: a node not built by Debian looks for
    -- node-semver and its dependencies there too.
    local input = tmp_json({ ranges = RANGES, versions = VERSIONS })
    local out, ok = sh(("NODE_PATH=/usr/share/nodejs node -e %s %s"):format(q([[
      const s = require("semver"), fs = require("fs");
      const t = JSON.parse(fs.readFileSync(process.argv[1]));
      console.log(JSON.stringify(t.ranges.map(r => t.versions.filter(v => s.satisfies(v, r)))));
    ]]), q(input)))
    os.remove(input)
    assert(ok, out)
    local want = oci.json.decode(out)
    assert.are.equal(#RANGES, #want)
    for i, range in ipairs(RANGES) do
      local inside = assert(oci.registry.semver_range(range))
      local set = {}
      for _, v in ipairs(want[i]) do set[v] = true end
      for _, v in ipairs(VERSIONS) do
        assert.are.equal(set[v] or false, inside(v), ("range %q, version %s"):format(range, v))
      end
    end
  end)

  it("allows a leading v on tags, never matches a tag that is no version, and knows !=", function()
    local inside = assert(oci.registry.semver_range("^1.2"))
    assert.is_true(inside("v1.4.0"))
    assert.is_false(inside("latest"))
    assert.is_false(inside("1.4"))
    local not_13 = assert(oci.registry.semver_range(">=1 !=1.3.0"))
    assert.is_true(not_13("1.2.0"))
    assert.is_false(not_13("1.3.0"))
    local not_1x = assert(oci.registry.semver_range("!=1.x"))
    assert.is_false(not_1x("1.5.0"))
    assert.is_true(not_1x("2.0.0"))
    assert.are.same({ "v1.2.0", "1.9.0" },
      assert(oci.registry.filter_semver({ "latest", "v1.2.0", "1.9.0", "2.0.0", "1.10.0-rc.1" }, "1.x")))
  end)

  it("reports a malformed range with the part at fault", function()
    for range, why in pairs({ ["1.2.3.4"] = "more than three numbers", [">=1.a"] = 'bad number "a"',
      ["=>1.2"] = 'unknown operator "=>"', ["1.2-rc.1"] = "needs major.minor.patch",
      ["01.2.3"] = 'bad number "01"' }) do
      local ok, msg, err = oci.registry.semver_range(range)
      assert.is_nil(ok, range)
      assert.are.equal("invalid", err.code)
      assert.truthy(msg:find(why, 1, true), msg)
    end
  end)
end)

describe("ocispec sync --list / --semver (skopeo sync --src yaml as the oracle)", function()
  local env, reg, skip, tmp, c
  local ok_reg, why = registries.available()

  local ocispec = support.cli_runner(function() return tmp end)
  local function push(repo, tag) return (registries.push_tag_image(c, repo, tag)) end

  -- repository -> {tag -> digest} under prefix, read with python3 over HTTP
  local function contents(prefix)
    return oci.json.decode(support.py([[
import json, sys, urllib.request
host, prefix = sys.argv[1], sys.argv[2]
get = lambda p, **h: urllib.request.urlopen(urllib.request.Request('http://' + host + p, headers=h))
res = {}
for r in json.load(get('/v2/_catalog'))['repositories']:
    if not r.startswith(prefix + '/'): continue
    for t in json.load(get('/v2/%s/tags/list' % r))['tags'] or []:
        h = get('/v2/%s/manifests/%s' % (r, t), Accept='application/vnd.oci.image.manifest.v1+json')
        res.setdefault(r[len(prefix) + 1:], {})[t] = h.headers['Docker-Content-Digest']
print(json.dumps(res, sort_keys=True))
]], reg.host, prefix))
  end

  setup(function()
    if not ok_reg then skip = why return end
    if not have("skopeo") then skip = "skopeo is not installed" return end
    if not have("python3") then skip = "python3 is not installed" return end
    if not pcall(require, "lyaml") then skip = "lyaml (Debian package lua-yaml) is not installed" return end
    env = registries.start_tagged({
      { "lib/app", { "latest", "v1.10.0", "1.9.0", "1.2.0", "1.10.0-rc.1", "2.0.0" } },
      { "lib/tools/other", { "x", "y" } },
      { "third", { "1.0", "1.1" } },
    })
    reg, tmp, c = env.reg, env.tmp, env.c
  end)
  teardown(function()
    if env then env.stop() end
  end)

  it("mirrors the same repositories, tags and digests as skopeo sync --src yaml; a second run only HEADs", function()
    if skip then return pending(skip) end
    local digest_19 = assert(c:head_manifest("lib/app", "1.9.0")):digest()
    -- skopeo 1.9 has no images-by-semver: the oracle's file uses the list
    -- and regex forms, ours adds a semver selection over the same repository
    local yaml = ([[
%s:
  tls-verify: false
  images:
    lib/tools/other: []
    third:
      - "1.1"
  images-by-tag-regex:
    lib/app: ^v?1\.(2|10)\.
]]):format(reg.host)
    support.write(tmp .. "/sync.yml", yaml)
    local out, ok = sh(("skopeo sync --src yaml --dest docker --dest-tls-verify=false %s %s/skopeo 2>&1")
      :format(q(tmp .. "/sync.yml"), q(reg.host)))
    assert(ok, out)
    local o, err, status = ocispec(("sync --src-plain-http --dest-plain-http --list %s %s/ours")
      :format(q(tmp .. "/sync.yml"), reg.host))
    assert.are.equal(0, status, err)
    local theirs, ours = contents("skopeo"), contents("ours")
    assert.are.same(theirs, ours)
    assert.are.same({ "app", "other", "third" }, (function()
      local k = {}
      for r in pairs(ours) do k[#k + 1] = r end
      table.sort(k)
      return k
    end)())
    assert.truthy(o:find("copied " .. reg.host .. "/lib/app:1.10.0-rc.1\n", 1, true), o)
    assert.truthy(o:find("6 copied, 0 skipped, 0 failed\n", 1, true), o)
    -- again: nothing copied, every tag one HEAD at the destination
    local puts = reg.count_requests("PUT", "^/v2/ours/")
    o, err, status = ocispec(("sync --src-plain-http --dest-plain-http --list %s %s/ours --json")
      :format(q(tmp .. "/sync.yml"), reg.host))
    assert.are.equal(0, status, err)
    local r = oci.json.decode(o)
    assert.are.equal(0, #r.copied)
    assert.are.equal(6, #r.skipped)
    assert.are.equal(puts, reg.count_requests("PUT", "^/v2/ours/"))
    -- images-by-semver, a digest entry and --scoped (a JSON list this time)
    support.write(tmp .. "/sync.json", oci.json.encode({ [reg.host] = {
      ["images-by-semver"] = { ["lib/app"] = ">=1.9 <2" },
      images = { third = { assert(c:head_manifest("third", "1.0")):digest() } },
      ["plain-http"] = true } }))
    o, err, status = ocispec(("sync --dest-plain-http --scoped --list %s %s/scoped")
      :format(q(tmp .. "/sync.json"), reg.host))
    -- a scoped name holds the source host, whose ":port" no repository may
    -- hold: each image fails clearly (skopeo fails the same way)
    assert.are.equal(1, status, o)
    assert.truthy(err:find("is not a valid repository", 1, true), err)
    o, err, status = ocispec(("sync --dest-plain-http --list %s %s/semver --json")
      :format(q(tmp .. "/sync.json"), reg.host))
    assert.are.equal(0, status, err)
    r = oci.json.decode(o)
    table.sort(r.copied)
    local third = assert(c:head_manifest("third", "1.0")):digest()
    assert.are.same({ reg.host .. "/lib/app:1.9.0", reg.host .. "/lib/app:v1.10.0", reg.host .. "/third@" .. third },
      r.copied)
    assert.are.equal(digest_19, assert(c:head_manifest("semver/app", "1.9.0")):digest())
    assert.are.equal(third, assert(c:head_manifest("semver/third", third)):digest())
  end)

  it("checks the whole list before contacting anything, naming the entry at fault", function()
    if skip then return pending(skip) end
    local cases = {
      { { [reg.host] = { images = { app = { 1.1 } } } }, "is not a string (quote tags" },
      { { [reg.host] = { imagez = {} } }, 'unknown key "imagez"' },
      { { [reg.host] = { ["images-by-semver"] = { app = "=>1" } } }, 'unknown operator "=>"' },
      { { [reg.host] = { ["images-by-tag-regex"] = { app = "(" } } }, "images-by-tag-regex: app:" },
      { { [reg.host] = { images = { ["app:1"] = {} } } }, 'is not a repository' },
      { { ["not a host"] = { images = {} } }, "is not a registry host" },
      { {}, "no registry in the list" },
    }
    local before = reg.count_requests("GET", ".")
    for _, case in ipairs(cases) do
      local r, msg, err = oci.registry.sync_list(case[1], reg.host .. "/x", { plain_http = true, auth_file = false })
      assert.is_nil(r)
      assert.are.equal("invalid", err.code)
      assert.truthy(msg:find(case[2], 1, true), msg)
    end
    assert.are.equal(before, reg.count_requests("GET", "."))
    assert.has_error(function() oci.registry.sync_list({}, "h/x", { filter = "x" }) end,
      'unknown option "filter" (sync only; the list selects tags)')
    -- the CLI: a YAML that does not parse, --semver with a bad range
    support.write(tmp .. "/bad.yml", "a: [\n")
    local o, err, status = ocispec(("sync --plain-http --list %s %s/x"):format(q(tmp .. "/bad.yml"), reg.host))
    assert.are.equal(1, status, o)
    assert.truthy(err:find("bad.yml", 1, true), err)
    o, err, status = ocispec(("sync --plain-http --semver '>=1.a' %s/lib/app %s/y"):format(reg.host, reg.host))
    assert.are.equal(2, status, o)
    assert.truthy(err:find("--semver: semver range", 1, true), err)
  end)

  it("sync moves `jobs` images at once, each image's blobs one after another; a failure is the image's own", function()
    if skip then return pending(skip) end
    for i = 1, 6 do push("par/app", "t" .. i) end
    -- the source through the fault proxy, which delays each blob GET and
    -- counts how many run at once; the destination direct (no mount)
    local proxy = registries.proxy(reg.port)
    local function sync(dst, jobs)
      proxy.stats()
      local r = assert(oci.registry.sync(proxy.host .. "/par/app", reg.host .. "/" .. dst,
        { plain_http = true, auth_file = false, jobs = jobs }))
      return r, proxy.stats()
    end
    proxy.configure{ delay_ms = 150 }
    local r1, s1 = sync("par/one", 1)
    local r4, s4 = sync("par/four", 4)
    proxy.configure{}
    proxy.stop()
    assert.are.equal(6, #r1.copied)
    assert.are.same(r1.copied, r4.copied)
    assert.are.equal(1, s1.max_get)
    -- one blob per image here: more than one GET at once is more than one image
    assert.is_true(s4.max_get >= 2, ("at most %d images at once"):format(s4.max_get))
    assert.is_true(s4.max_get <= 4, ("%d blob GETs at once, more than jobs"):format(s4.max_get))
    for i = 1, 6 do
      assert.are.equal(assert(c:head_manifest("par/app", "t" .. i)):digest(),
        assert(c:head_manifest("par/four", "t" .. i)):digest())
    end
    -- a tag whose blob is gone at the source fails alone: the others copy
    local d = assert(c:head_manifest("par/app", "t3"))
    local m = assert(c:get_manifest("par/app", d:digest()))
    assert(c:delete_blob("par/app", m:config():digest()))
    local r = assert(oci.registry.sync(reg.host .. "/par/app", reg.host .. "/par/partial",
      { plain_http = true, auth_file = false, jobs = 4 }))
    assert.are.same({ "t1", "t2", "t4", "t5", "t6" }, r.copied)
    assert.are.equal(1, #r.failed)
    assert.are.equal("t3", r.failed[1].tag)
    assert.are.equal("registry", r.failed[1].err.code)
  end)

  it("sync --semver copies the tags inside the range only", function()
    if skip then return pending(skip) end
    local o, err, status = ocispec(("sync --plain-http --semver '^1.9' %s/lib/app %s/sem"):format(reg.host, reg.host))
    assert.are.equal(0, status, err)
    assert.are.equal("copied 1.9.0\ncopied v1.10.0\n2 copied, 0 skipped, 0 failed\n", o)
  end)
end)
