-- The registry subcommands of the ocispec command (push, pull, copy, tags,
-- inspect) against a real docker-registry on 127.0.0.1 (the fixture of
-- spec/fixtures/registry.lua), run as a user runs them: through a shell,
-- checking stdout, stderr and the exit status. Skipped (pending) when
-- docker-registry or the fixture is not there.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local oci = require("ocispec")


local registries, why
do
  local f = io.open(here .. "fixtures/registry.lua", "rb")
  if f then
    f:close()
    registries = dofile(here .. "fixtures/registry.lua")
    local ok, reason = registries.available()
    if not ok then registries, why = nil, reason end
  else
    why = "spec/fixtures/registry.lua is not there"
  end
end

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local tmp

-- Runs `ocispec <args>` (a shell-quoted string) with optional stdin;
-- returns stdout, stderr, exit status.
local ocispec = support.cli_runner(function() return tmp end)

local image = oci.image

-- A layout at dir with a small image tagged `tag` (a config and one
-- layer; the registry does not look inside them). Returns the manifest's
-- descriptor and the layout.
local function make_image(dir, tag, arch)
  local L = assert(oci.layout.create(dir))
  local cfg = assert(L:put_blob(oci.json.encode({
    architecture = arch or "amd64", os = "linux",
    rootfs = { type = "layers", diff_ids = { "sha256:" .. ("0"):rep(64) } },
  }), image.MediaType.ImageConfig))
  local layer = assert(L:put_blob("layer bytes of " .. tag .. (arch or ""), image.MediaType.ImageLayerGzip))
  local m = assert(image.ImageManifestBuilder():schema_version(2):media_type(image.MediaType.ImageManifest)
    :config(cfg):layers({ layer }):build())
  local d = assert(L:put_document(m))
  assert(L:tag(d, tag))
  return d, L
end

local function one_line(err)
  return select(2, err:gsub("\n", "")) == 1
end

if not registries then
  describe("ocispec registry commands", function()
    pending("no registry to test against: " .. tostring(why))
  end)
  return
end

describe("ocispec registry commands against docker-registry", function()
  local reg
  setup(function() reg = registries.start() end)
  teardown(function() if reg then reg.stop() end end)
  before_each(function() tmp = support.tmpdir() end)
  after_each(function() support.rmdir(tmp) end)

  it("push, tags, inspect, pull and copy round-trip an image", function()
    local d, L = make_image(tmp .. "/src", "1.0")
    local manifest = assert(L:get_blob(d))
    L:close()
    local ref = reg.host .. "/cli/demo:1.0"

    local out, err, status = ocispec("push --plain-http src:1.0 " .. ref)
    assert.are.equal(0, status, err)
    assert.are.equal(("pushed %s@%s\n"):format(ref, d:digest()), out:match("^[^\n]*\n"))
    assert.truthy(out:find("blob(s) uploaded", 1, true), out)

    out, err, status = ocispec("tags --plain-http " .. reg.host .. "/cli/demo")
    assert.are.equal(0, status, err)
    assert.are.equal("1.0\n", out)
    out, err, status = ocispec("tags --plain-http --json " .. reg.host .. "/cli/demo")
    assert.are.equal(0, status, err)
    assert.are.same({ "1.0" }, oci.json.decode(out))

    out, err, status = ocispec("inspect --plain-http " .. ref)
    assert.are.equal(0, status, err)
    assert.are.equal(manifest .. "\n", out)
    out, err, status = ocispec("inspect --plain-http --json " .. ref)
    assert.are.equal(0, status, err)
    local summary = oci.json.decode(out)
    assert.are.equal(d:digest(), summary.digest)
    assert.are.equal(image.MediaType.ImageManifest, summary.mediaType)
    assert.are.equal(#manifest, summary.size)

    -- pull into a new layout: tagged as the reference's tag, verified
    out, err, status = ocispec("pull --plain-http " .. ref .. " dst")
    assert.are.equal(0, status, err)
    assert.truthy(out:find("pulled dst:1.0@" .. d:digest(), 1, true), out)
    local P = assert(oci.layout.open(tmp .. "/dst"))
    local r = assert(P:resolve("1.0"))
    assert.are.equal(d:digest(), r.descriptor:digest())
    -- (verify would object to the made-up diff_ids; check the blobs instead)
    assert.are.equal(manifest, assert(P:get_blob(d)))
    assert.is_true(P:has_blob(r.manifest:config()))
    for _, l in ipairs(r.layers) do assert.is_true(P:has_blob(l)) end
    P:close()
    -- under another name, --quiet: only the digest, nothing on stderr
    out, err, status = ocispec("pull --plain-http --quiet " .. ref .. " dst:other")
    assert.are.equal(0, status, err)
    assert.are.equal(d:digest() .. "\n", out)
    assert.are.equal("", err)
    P = assert(oci.layout.open(tmp .. "/dst"))
    assert.are.equal(d:digest(), assert(P:resolve("other")).descriptor:digest())
    P:close()

    -- copy within the registry; --json result
    out, err, status = ocispec("copy --plain-http --json " .. ref .. " " .. reg.host .. "/cli/copy:2")
    assert.are.equal(0, status, err)
    local res = oci.json.decode(out)
    assert.are.equal(d:digest(), res.digest)
    assert.is_table(res.stats)
    out = ocispec("tags --plain-http " .. reg.host .. "/cli/copy")
    assert.are.equal("2\n", out)
    -- no tag on the destination: the source's
    out, err, status = ocispec("copy --plain-http -q " .. ref .. " " .. reg.host .. "/cli/copy2")
    assert.are.equal(0, status, err)
    assert.are.equal(d:digest() .. "\n", out)
    assert.are.equal("1.0\n", (ocispec("tags --plain-http " .. reg.host .. "/cli/copy2")))
  end)

  it("push --json prints the descriptor and stats; progress lines on a non-terminal", function()
    local d = make_image(tmp .. "/src", "v1")
    local out, err, status = ocispec("push --plain-http --json src:v1 " .. reg.host .. "/cli/json:v1")
    assert.are.equal(0, status, err)
    local res = oci.json.decode(out)
    assert.are.equal(d:digest(), res.digest)
    assert.are.equal(d:size(), res.size)
    assert.are.equal(reg.host .. "/cli/json:v1", res.reference)
    assert.is_true(res.stats.requests > 0)
    assert.are.equal("", err) -- --json: no progress

    -- progress: "DIGEST DONE/TOTAL" lines on stderr (not a terminal)
    local d2 = make_image(tmp .. "/src2", "v2", "arm64")
    out, err, status = ocispec("push --plain-http src2:v2 " .. reg.host .. "/cli/progress:v2")
    assert.are.equal(0, status, err)
    assert.truthy(out:find(d2:digest(), 1, true), out)
    assert.truthy(err:find("sha256:%x+ %d+/%d+\n"), err)
    for line in err:gmatch("[^\n]+") do
      assert.truthy(line:find("^sha256:%x+ %-?%d+/%-?%d+$"), line)
    end
  end)

  it("pull --platform keeps only the matching manifest of an index", function()
    local L = assert(oci.layout.create(tmp .. "/multi"))
    local descs = {}
    for _, arch in ipairs({ "amd64", "arm64" }) do
      local cfg = assert(L:put_blob(oci.json.encode({
        architecture = arch, os = "linux", rootfs = { type = "layers", diff_ids = { "sha256:" .. ("1"):rep(64) } },
      }), image.MediaType.ImageConfig))
      local layer = assert(L:put_blob("layer of " .. arch, image.MediaType.ImageLayerGzip))
      local m = assert(image.ImageManifestBuilder():schema_version(2):media_type(image.MediaType.ImageManifest)
        :config(cfg):layers({ layer }):build())
      descs[arch] = assert(L:put_document(m, { platform = { os = "linux", architecture = arch } }))
    end
    local index = assert(image.ImageIndexBuilder():schema_version(2):media_type(image.MediaType.ImageIndex)
      :manifests({ descs.amd64, descs.arm64 }):build())
    assert(L:tag(assert(L:put_document(index)), "multi"))
    L:close()
    local ref = reg.host .. "/cli/multi:1"
    local _, err, status = ocispec("push --plain-http -q multi:multi " .. ref)
    assert.are.equal(0, status, err)
    local out
    out, err, status = ocispec("pull --plain-http -q --platform linux/arm64 " .. ref .. " one:arm")
    assert.are.equal(0, status, err)
    assert.are.equal(descs.arm64:digest() .. "\n", out)
    local P = assert(oci.layout.open(tmp .. "/one"))
    assert.is_false(P:has_blob(descs.amd64))
    assert.is_true(P:has_blob(descs.arm64))
    P:close()
    _, err, status = ocispec("pull --plain-http -q --platform linux/s390x " .. ref .. " none")
    assert.are.equal(1, status)
    assert.truthy(err:find("arm64", 1, true), err) -- the error lists what the index offers
  end)

  it("a missing manifest is exit 1 with one line naming the status", function()
    local out, err, status = ocispec("inspect --plain-http " .. reg.host .. "/cli/none:nope")
    assert.are.equal(1, status)
    assert.are.equal("", out)
    assert.truthy(err:find("^ocispec inspect: "), err)
    assert.truthy(err:find("404", 1, true), err)
    assert.is_true(one_line(err), err)
    out, err, status = ocispec("pull --plain-http -q " .. reg.host .. "/cli/none:nope dst")
    assert.are.equal(1, status)
    assert.are.equal("", out)
    assert.truthy(err:find("^ocispec pull: .*404"), err)
  end)

  it("a closed port is a network error (exit 1)", function()
    local host = "127.0.0.1:" .. registries.closed_port()
    local _, err, status = ocispec("tags --plain-http " .. host .. "/cli/demo")
    assert.are.equal(1, status)
    assert.truthy(err:find("^ocispec tags: "), err)
    assert.is_true(one_line(err), err)
  end)

  it("https against a plain-http registry fails cleanly (exit 1)", function()
    local _, err, status = ocispec("tags " .. reg.host .. "/cli/demo")
    assert.are.equal(1, status)
    assert.truthy(err:find("^ocispec tags: "), err)
    assert.truthy(err:find("needs --plain-http", 1, true), err)
    assert.is_true(one_line(err), err)
  end)
end)

describe("ocispec registry commands with htpasswd auth", function()
  local reg
  local ok_htpasswd = registries.htpasswd_available()
  setup(function() if ok_htpasswd then reg = registries.start{ auth = "htpasswd" } end end)
  teardown(function() if reg then reg.stop() end end)
  before_each(function() tmp = support.tmpdir() end)
  after_each(function() support.rmdir(tmp) end)

  it("refuses anonymous pushes, accepts --username/--password(-stdin), never prints the password", function()
    if not ok_htpasswd then return pending("htpasswd is not installed") end
    local d = make_image(tmp .. "/src", "1")
    local ref = reg.host .. "/cli/auth:1"
    local out, err, status = ocispec("push --plain-http --auth-file '' src:1 " .. ref)
    assert.are.equal(1, status)
    assert.are.equal("", out)
    assert.truthy(err:find("401", 1, true), err)
    assert.is_true(one_line(err), err)

    out, err, status = ocispec(("push --plain-http --auth-file '' --username %s --password-stdin -q src:1 %s")
      :format(quote(reg.username), ref), reg.password .. "\n")
    assert.are.equal(0, status, err)
    assert.are.equal(d:digest() .. "\n", out)

    out, err, status = ocispec(("tags --plain-http --auth-file '' --username %s --password %s %s")
      :format(quote(reg.username), quote(reg.password), reg.host .. "/cli/auth"))
    assert.are.equal(0, status, err)
    assert.are.equal("1\n", out)

    -- a wrong password: 401, and neither password appears anywhere
    out, err, status = ocispec(("inspect --plain-http --auth-file '' --username %s --password %s %s")
      :format(quote(reg.username), "wrong-pw-4711", ref))
    assert.are.equal(1, status)
    assert.is_nil((out .. err):find("wrong-pw-4711", 1, true), err)
    assert.is_nil((out .. err):find(reg.password, 1, true), err)

    -- a Docker config.json as --auth-file
    local p = io.popen(("printf '%%s' %s | base64 -w0"):format(quote(reg.username .. ":" .. reg.password)))
    local b64 = p:read("a")
    p:close()
    support.write(tmp .. "/auth.json", oci.json.encode({ auths = { [reg.host] = { auth = b64 } } }))
    out, err, status = ocispec("inspect --plain-http --json --auth-file auth.json " .. ref)
    assert.are.equal(0, status, err)
    assert.are.equal(d:digest(), oci.json.decode(out).digest)
  end)
end)

-- Issue 13 items 18-20: what a hostile server sends is printed escaped,
-- --timeout, the --password warning, and per-side options of copy.
describe("ocispec registry commands against hostile servers and per-side options", function()
  before_each(function() tmp = support.tmpdir() end)
  after_each(function() support.rmdir(tmp) end)

  local function now()
    local p = io.popen("date +%s.%N")
    local t = tonumber(p:read("l"))
    p:close()
    return t
  end

  it("tags and registry messages are printed with control characters escaped", function()
    local fake = registries.fake("evil-strings")
    finally(fake.stop)
    local out, err, status = ocispec("tags --plain-http --auth-file '' " .. fake.host .. "/x")
    assert.are.equal(0, status, err)
    assert.is_nil(out:find("[\27\r\7]"), out)
    assert.are.equal("plain\nred\\x1b[31mtag\ncr\\rover\nbell\\x07\n", out)
    out, err, status = ocispec("inspect --plain-http --auth-file '' " .. fake.host .. "/x:nope")
    assert.are.equal("", out)
    assert.are.equal(1, status, err)
    assert.is_nil(err:find("[\27\r\7]"), err)
    assert.truthy(err:find("no\\x1b[2Jsuch\\nmanifest", 1, true), err)
    assert.is_true(one_line(err), err)
    -- a body with raw control bytes (no valid document has them)
    out, err, status = ocispec("inspect --plain-http --auth-file '' " .. fake.host .. "/x:raw-esc")
    assert.are.equal(0, status, err)
    assert.are.equal('{"schemaVersion":2,"x":"\\x1b[2J\\x07"}\n', out)
  end)

  it("pull REF@digest DIR records the image under its digest; gc keeps it", function()
    local _
    local fake = registries.fake("ok")
    finally(fake.stop)
    local ref = fake.host .. "/x@" .. fake.blobs.manifest
    local out, err, status = ocispec("pull --plain-http --auth-file '' -q " .. ref .. " pulled")
    assert.are.equal(0, status, err)
    assert.are.equal(fake.blobs.manifest .. "\n", out)
    _, err, status = ocispec("layout gc pulled")
    assert.are.equal(0, status, err)
    out, err, status = ocispec("layout ls pulled")
    assert.are.equal(0, status, err)
    assert.truthy(out:find(fake.blobs.manifest, 1, true), out)
    local L = assert(oci.layout.open(tmp .. "/pulled"))
    assert(L:verify())
    assert.are.equal(fake.blobs.manifest, L:list()[1].name)
    L:close()
  end)

  it("--password warns and names --password-stdin; --password-stdin does not warn", function()
    local fake = registries.fake("ok")
    finally(fake.stop)
    local _, err, status = ocispec("tags --plain-http --auth-file '' --username u --password pw-on-argv "
      .. fake.host .. "/x")
    assert.are.equal(0, status, err)
    assert.truthy(err:find("WARNING", 1, true), err)
    assert.truthy(err:find("--password-stdin", 1, true), err)
    assert.is_nil(err:find("pw-on-argv", 1, true), err)
    _, err, status = ocispec("tags --plain-http --auth-file '' --username u --password-stdin " .. fake.host .. "/x",
      "pw-on-stdin\n")
    assert.are.equal(0, status, err)
    assert.are.equal("", err)
  end)

  it("--timeout drops a server that trickles", function()
    local fake = registries.fake("trickle")
    finally(fake.stop)
    local t0 = now()
    local _, err, status = ocispec("tags --plain-http --auth-file '' --timeout 1 " .. fake.host .. "/x")
    assert.are.equal(1, status, err)
    assert.is_true(now() - t0 < 15, "took " .. (now() - t0) .. " s")
    assert.truthy(err:find("GET http://" .. fake.host .. "/v2/x/tags/list", 1, true), err)
    _, err, status = ocispec("tags --plain-http --timeout soon " .. fake.host .. "/x")
    assert.are.equal(2, status)
    assert.truthy(err:find("--timeout takes a whole number of seconds", 1, true), err)
  end)

  it("copy takes --src-… and --dest-… connection options (plain source, TLS and htpasswd destination)", function()
    local ok, why_not = registries.htpasswd_available()
    if not ok then return pending(why_not) end
    ok, why_not = registries.token_available() -- openssl, for the certificate
    if not ok then return pending(why_not) end
    local src = registries.start()
    finally(src.stop)
    local dst = registries.start{ auth = "htpasswd", tls = true }
    finally(dst.stop)
    local d = make_image(tmp .. "/src", "1")
    local out, err, status = ocispec(("push --plain-http --auth-file '' -q src:1 %s/app:1"):format(src.host))
    assert.are.equal(0, status, err)
    assert.are.equal(d:digest() .. "\n", out)
    local from, to = src.host .. "/app:1", dst.host .. "/copied:1"
    -- the destination's options on the destination only
    out, err, status = ocispec(("copy --auth-file '' -q --src-plain-http --dest-ca-file %s --dest-creds %s %s %s")
      :format(quote(dst.ca_file), quote(dst.username .. ":" .. dst.password), from, to))
    assert.are.equal(0, status, err)
    assert.are.equal(d:digest() .. "\n", out)
    assert.truthy(err:find("--password-stdin", 1, true), err) -- creds on the command line warn
    assert.is_nil(err:find(dst.password, 1, true), err)
    -- the same with --dest-username/--dest-password and --dest-tls-verify=false
    out, err, status = ocispec(("copy --auth-file '' -q --src-plain-http --dest-tls-verify=false "
      .. "--dest-username %s --dest-password %s %s %s")
      :format(quote(dst.username), quote(dst.password), from, dst.host .. "/copied2:1"))
    assert.are.equal(0, status, err)
    assert.are.equal(d:digest() .. "\n", out)
    -- without the destination's credentials: its 401
    out, err, status = ocispec(("copy --auth-file '' -q --src-plain-http --dest-ca-file %s %s %s")
      :format(quote(dst.ca_file), from, dst.host .. "/copied3:1"))
    assert.are.equal(1, status, out)
    assert.truthy(err:find("401", 1, true), err)
    -- one --plain-http for both cannot reach the TLS destination
    out, err, status = ocispec(("copy --auth-file '' -q --plain-http --dest-creds %s %s %s")
      :format(quote(dst.username .. ":" .. dst.password), from, dst.host .. "/copied4:1"))
    assert.are.equal(1, status, out .. err)
    -- bad per-side values are usage errors
    local _
    _, err, status = ocispec(("copy --src-tls-verify=maybe %s %s"):format(from, to))
    assert.are.equal(2, status)
    assert.truthy(err:find("--src-tls-verify takes true or false", 1, true), err)
    _, err, status = ocispec(("copy --dest-creds nopassword %s %s"):format(from, to))
    assert.are.equal(2, status)
    assert.truthy(err:find("--dest-creds takes USERNAME:PASSWORD", 1, true), err)
  end)
end)
