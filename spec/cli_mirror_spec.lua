-- `ocispec tags --filter/--sort`, `catalog`, `delete` against a plain
-- docker-registry on 127.0.0.1 (spec/fixtures/registry.lua, deletes
-- enabled), run as a user runs them; skopeo cross-checks the deletes.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local registries = dofile(here .. "fixtures/registry.lua")
local oci = require("ocispec")
local sh = registries.sh

describe("ocispec tags --filter/--sort, catalog, delete", function()
  local env, reg, skip, tmp, c
  local ok_reg, why = registries.available()

  local ocispec = support.cli_runner(function() return tmp end)
  local function push(repo, tag) return registries.push_tag_image(c, repo, tag) end

  setup(function()
    if not ok_reg then skip = why return end
    env = registries.start_tagged({
      { "mirror/app", { "latest", "v1.10.0", "1.9.0", "v1.2.0", "1.10.0-rc.1", "1.10.0-alpha" } },
      { "mirror/other", { "x" } },
    })
    reg, tmp, c = env.reg, env.tmp, env.c
  end)
  teardown(function()
    if env then env.stop() end
  end)

  it("tags --sort semver: versions in semver order (a leading v allowed), then the rest", function()
    if skip then return pending(skip) end
    local out, err, status = ocispec("tags --plain-http --sort semver " .. reg.host .. "/mirror/app")
    assert.are.equal(0, status, err)
    assert.are.equal("v1.2.0\n1.9.0\n1.10.0-alpha\n1.10.0-rc.1\nv1.10.0\nlatest\n", out)
    out, err, status = ocispec("tags --plain-http --json --sort semver --filter '^v?1\\.10\\.' "
      .. reg.host .. "/mirror/app")
    assert.are.equal(0, status, err)
    assert.are.same({ "1.10.0-alpha", "1.10.0-rc.1", "v1.10.0" }, oci.json.decode(out))
    -- a pattern that does not compile: a usage error before any request
    out, err, status = ocispec("tags --plain-http --filter '(' " .. reg.host .. "/mirror/app")
    assert.are.equal(2, status, out)
    assert.truthy(err:find("--filter: regular expression", 1, true), err)
    assert.are.same({ "v1.2.0", "1.9.0" }, oci.registry.sort_tags({ "1.9.0", "v1.2.0" }))
  end)

  it("catalog lists the repositories (--filter)", function()
    if skip then return pending(skip) end
    local out, err, status = ocispec("catalog --plain-http " .. reg.host)
    assert.are.equal(0, status, err)
    assert.truthy(out:find("mirror/app\n", 1, true), out)
    assert.truthy(out:find("mirror/other\n", 1, true), out)
    out, err, status = ocispec("catalog --plain-http --json --filter 'other$' " .. reg.host)
    assert.are.equal(0, status, err)
    assert.are.same({ "mirror/other" }, oci.json.decode(out))
  end)

  it("delete REF removes the manifest (by its digest); --blob removes a blob", function()
    if skip then return pending(skip) end
    local d, cfg = push("mirror/del", "gone")
    local out, err, status = ocispec("delete --plain-http " .. reg.host .. "/mirror/del:gone")
    assert.are.equal(0, status, err)
    assert.are.equal(("deleted manifest %s/mirror/del@%s\n"):format(reg.host, d:digest()), out)
    assert.is_false(c:head_manifest("mirror/del", d:digest()))
    -- again: not there
    out, err, status = ocispec("delete --plain-http " .. reg.host .. "/mirror/del:gone")
    assert.are.equal(1, status, out)
    assert.truthy(err:find("no such manifest", 1, true), err)
    -- a blob
    assert.truthy(c:has_blob("mirror/del", cfg:digest()))
    out, err, status = ocispec("delete --plain-http --blob " .. reg.host .. "/mirror/del@" .. cfg:digest())
    assert.are.equal(0, status, err)
    assert.are.equal(("deleted blob %s/mirror/del@%s\n"):format(reg.host, cfg:digest()), out)
    assert.is_false(c:has_blob("mirror/del", cfg:digest()))
    out, err, status = ocispec("delete --plain-http --blob " .. reg.host .. "/mirror/del:tag")
    assert.are.equal(2, status, out)
    assert.truthy(err:find("--blob needs", 1, true), err)
    -- skopeo finds the deleted manifest gone, and the one of another tag there
    if support.peer_or_pending("skopeo", pending) then
      local function inspect(digest)
        return sh(("skopeo inspect --raw --tls-verify=false docker://%s/mirror/del@%s"):format(reg.host, digest))
      end
      local kept = push("mirror/del", "kept")
      local text, ok = inspect(kept:digest())
      assert(ok, text)
      text, ok = inspect(d:digest())
      assert.falsy(ok)
      assert.truthy(text:find("manifest unknown", 1, true), text)
    end
  end)

  it("sync copies the selected tags once; a second run only HEADs (per-side options)", function()
    if skip then return pending(skip) end
    local args = ("sync --src-plain-http --dest-plain-http --filter '^v' %s/mirror/app %s/mirror/copy")
      :format(reg.host, reg.host)
    local out, err, status = ocispec(args)
    assert.are.equal(0, status, err)
    assert.are.equal("copied v1.10.0\ncopied v1.2.0\n2 copied, 0 skipped, 0 failed\n", out)
    for _, tag in ipairs({ "v1.10.0", "v1.2.0" }) do
      local a = assert(c:head_manifest("mirror/app", tag))
      local b = assert(c:head_manifest("mirror/copy", tag))
      assert.are.equal(a:digest(), b:digest())
    end
    assert.is_false(c:head_manifest("mirror/copy", "latest"))
    local puts = reg.count_requests("PUT", "^/v2/mirror/copy/manifests/")
    local heads = reg.count_requests("HEAD", "^/v2/mirror/copy/manifests/")
    push("mirror/app", "v2.0.0")
    out, err, status = ocispec(args .. " --json")
    assert.are.equal(0, status, err)
    assert.are.same({ copied = { "v2.0.0" }, skipped = { "v1.10.0", "v1.2.0" }, failed = {} }, oci.json.decode(out))
    assert.are.equal(puts + 1, reg.count_requests("PUT", "^/v2/mirror/copy/manifests/"))
    assert.are.equal(heads + 3, reg.count_requests("HEAD", "^/v2/mirror/copy/manifests/"))
    -- without the per-side options both sides are https: a network failure
    out, err, status = ocispec(("sync %s/mirror/app %s/mirror/copy"):format(reg.host, reg.host))
    assert.are.equal(1, status, out)
    assert.truthy(err:find("https://" .. reg.host, 1, true), err)
    -- a tag or digest is refused
    out, err, status = ocispec(("sync --plain-http %s/mirror/app:v1 %s/mirror/copy"):format(reg.host, reg.host))
    assert.are.equal(2, status, out)
    assert.truthy(err:find("without a tag or digest", 1, true), err)
  end)
end)
