-- The mutate commands of the ocispec command (mutate, append, rebase,
-- flatten, index) on layouts and on a real docker-registry (the fixture
-- of spec/fixtures/registry.lua; pending without it), run through a shell
-- as a user runs them. Results are read with lua-cjson, and the registry
-- result with skopeo when it is installed.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local oci = require("ocispec")
local cjson = require("cjson")

local BIN = assert(oci.core.realpath(here .. "../bin/ocispec"))

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local tmp

-- Runs `ocispec <args>` in tmp (stdin: {file = path}); returns stdout,
-- stderr, exit status.
local ocispec = support.cli_runner(function() return tmp end)

-- The config (cjson) and manifest of tag in the layout dir.
local function config_of(dir, tag, platform)
  local L = assert(oci.layout.open(dir))
  local r = assert(L:resolve(tag, platform and { platform = platform } or nil))
  local m = cjson.decode((assert(L:get_blob(r.descriptor:digest()))))
  local c = cjson.decode((assert(L:get_blob(m.config.digest))))
  L:close()
  return c, m, r
end

-- A layout at dir: "base" (one layer, env, labels, cmd), "app" (base + a
-- layer), "multi" (an index of amd64 and arm64).
local function make_images(dir)
  local L = assert(oci.layout.create(dir))
  local img = oci.build.Image.new(L, { platform = { os = "linux", architecture = "amd64" }, created = 0 })
  assert(img:add_layer{ entries = { { path = "etc/base", type = "file", content = "base\n" } }, mtime = 0 })
  img:env("PATH", "/bin"):env("DEBUG", "1"):label("stage", "dev"):cmd({ "/bin/sh" }):expose("80/tcp")
  assert(img:commit("base"))
  local app = assert(oci.build.Image.from(L, "base", { created = 0 }))
  assert(app:add_layer{ entries = { { path = "app", type = "file", content = "app\n" } }, mtime = 0 })
  assert(app:commit("app"))
  local idx = oci.build.Index.new(L)
  for _, arch in ipairs({ "amd64", "arm64" }) do
    local i = oci.build.Image.new(L, { platform = { os = "linux", architecture = arch }, created = 0 })
    idx:add(assert(i:env("ARCH", arch):commit()))
  end
  assert(idx:commit("multi"))
  L:close()
end

describe("ocispec mutate commands on layouts", function()
  before_each(function()
    tmp = support.tmpdir()
    make_images(tmp .. "/img")
  end)
  after_each(function() support.rmdir(tmp) end)

  it("mutate: sets and removes config fields, writes --to, same digest twice", function()
    local args = "img:base --unset-env DEBUG --env A=1 --env B=2 --unset-label stage --label x=y "
      .. "--cmd '[\"/bin/true\"]' --entrypoint '/init -v' --user 1000 --workdir /srv --unset-expose 80 "
      .. "--volume /data --platform linux/arm64/v8 --to img:edited"
    local out, err, status = ocispec("mutate " .. args)
    assert.are.equal(0, status, err)
    local digest = out:match("^img:edited (sha256:%x+)\n$")
    assert.truthy(digest, out)
    local c = config_of(tmp .. "/img", "edited")
    assert.are.same({ "PATH=/bin", "A=1", "B=2" }, c.config.Env)
    assert.are.same({ x = "y" }, c.config.Labels)
    assert.are.same({ "/bin/true" }, c.config.Cmd)
    assert.are.same({ "/init", "-v" }, c.config.Entrypoint)
    assert.are.equal("1000", c.config.User)
    assert.are.equal("/srv", c.config.WorkingDir)
    assert.is_nil(c.config.ExposedPorts)
    assert.are.same({ ["/data"] = {} }, c.config.Volumes)
    assert.are.same({ "arm64", "v8" }, { c.architecture, c.variant })
    -- the same command on the same image: the same digest (another name)
    out, err, status = ocispec("mutate " .. args:gsub("img:edited", "other:again"))
    assert.are.equal(0, status, err)
    assert.are.equal("other:again " .. digest .. "\n", out)
    local L = assert(oci.layout.open(tmp .. "/other"))
    assert(L:verify())
    L:close()
  end)

  it("mutate: an index edited platform by platform, or the --select'ed ones", function()
    local _, err, status = ocispec("mutate img:multi --label edited=yes --select linux/arm64 --to img:m2")
    assert.are.equal(0, status, err)
    local arm = config_of(tmp .. "/img", "m2", { os = "linux", architecture = "arm64" })
    local amd = config_of(tmp .. "/img", "m2", { os = "linux", architecture = "amd64" })
    assert.are.same({ edited = "yes" }, arm.config.Labels)
    assert.is_nil(amd.config.Labels)
    local out
    out, err, status = ocispec("mutate img:multi --unset-env ARCH")
    assert.are.equal(0, status, err)
    assert.truthy(out:find("^img:multi sha256:"), out)
    assert.is_nil(config_of(tmp .. "/img", "multi", { os = "linux", architecture = "amd64" }).config)
  end)

  it("append: a directory, a tar on stdin; flatten; rebase", function()
    support.write(tmp .. "/hello", "hello\n")
    os.execute(("mkdir %s/d && cp %s/hello %s/d/ && tar -C %s/d -cf %s/in.tar hello"):format(
      quote(tmp), quote(tmp), quote(tmp), quote(tmp), quote(tmp)))
    local _, err, status = ocispec("append img:app --dir d --created-by 'COPY d /' --to img:a1")
    assert.are.equal(0, status, err)
    _, err, status = ocispec("append img:app --tar - --to img:a2", { file = tmp .. "/in.tar" })
    assert.are.equal(0, status, err)
    local c1, m1 = config_of(tmp .. "/img", "a1")
    local c2 = config_of(tmp .. "/img", "a2")
    assert.are.equal(3, #m1.layers)
    assert.are.equal("COPY d /", c1.history[#c1.history].created_by)
    assert.are.equal(3, #c2.rootfs.diff_ids)
    -- --threads: the parallel format, the same layer for any count and for
    -- auto, the default (a1 above); 0: the single-threaded format
    for _, n in ipairs({ 2, 4, "auto", 0 }) do
      _, err, status = ocispec(("append img:app --dir d --threads %s --created-by 'COPY d /' --to img:t%s")
        :format(n, n))
      assert.are.equal(0, status, err)
    end
    local _, mt2 = config_of(tmp .. "/img", "t2")
    local _, mt4 = config_of(tmp .. "/img", "t4")
    local _, mta = config_of(tmp .. "/img", "tauto")
    local ct0, mt0 = config_of(tmp .. "/img", "t0")
    assert.are.equal(mt2.layers[3].digest, mt4.layers[3].digest)
    assert.are.equal(mt2.layers[3].digest, mta.layers[3].digest)
    assert.are.equal(m1.layers[3].digest, mt2.layers[3].digest)
    assert.are_not.equal(m1.layers[3].digest, mt0.layers[3].digest)
    assert.are.equal(c1.rootfs.diff_ids[3], ct0.rootfs.diff_ids[3])
    local flat_out
    flat_out, err, status = ocispec("flatten img:a1 --to img:flat")
    assert.are.equal(0, status, err)
    -- reproducible: append and flatten again, into another layout
    _, err, status = ocispec("append img:app --dir d --created-by 'COPY d /' --to again:a1")
    assert.are.equal(0, status, err)
    local again
    again, err, status = ocispec("flatten again:a1 --to again:flat")
    assert.are.equal(0, status, err)
    assert.are.equal(flat_out:match("sha256:%x+"), again:match("sha256:%x+"))
    local _, mf = config_of(tmp .. "/img", "flat")
    assert.are.equal(1, #mf.layers)
    _, err, status = ocispec("flatten img:a1 --layers 2-3 --to img:flat23")
    assert.are.equal(0, status, err)
    assert.are.equal(2, #select(2, config_of(tmp .. "/img", "flat23")).layers)
    -- rebase app from base onto flat (amd64 too): base's layer swapped
    _, err, status = ocispec("rebase img:app --old-base img:base --new-base img:flat --to img:rebased")
    assert.are.equal(0, status, err)
    local _, mr = config_of(tmp .. "/img", "rebased")
    assert.are.equal(mf.layers[1].digest, mr.layers[1].digest)
    assert.are.equal("img:flat", mr.annotations["org.opencontainers.image.base.name"])
    -- not its base: exit 1, the first differing layer named
    local out
    out, err, status = ocispec("rebase img:app --old-base img:flat --new-base img:base")
    assert.are.equal(1, status)
    assert.are.equal("", out)
    assert.truthy(err:find("does not start with the old base flat: its layer 1 is", 1, true), err)
  end)

  it("index: remove, keep and add platforms", function()
    local _, err, status = ocispec("index img:multi --remove linux/amd64 --to img:arm")
    assert.are.equal(0, status, err)
    local L = assert(oci.layout.open(tmp .. "/img"))
    local function manifests(tag)
      for _, e in ipairs(L:list()) do
        if e.name == tag then return cjson.decode((assert(L:get_blob(e.descriptor:digest())))).manifests end
      end
    end
    assert.are.equal(1, #manifests("arm"))
    assert.are.equal("arm64", manifests("arm")[1].platform.architecture)
    _, err, status = ocispec("index img:arm --add img:base --to img:both")
    assert.are.equal(0, status, err)
    local both = manifests("both")
    assert.are.equal(2, #both)
    assert.are.equal("amd64", both[2].platform.architecture)
    _, err, status = ocispec("index img:both --keep linux/amd64 --to img:amd")
    assert.are.equal(0, status, err)
    assert.are.equal(1, #manifests("amd"))
    L:close()
  end)

  it("usage errors: exit 2, one line", function()
    for _, case in ipairs({
      { "mutate img:base --env A", 'mutate: --env: K=V expected, got "A"' },
      { "mutate img:nope --env A=1", 'no image named "nope"' },
      { "mutate img:base --select linux/amd64 --env A=1", "--select: the image is not an index" },
      { "append img:base", "give one of --dir and --tar" },
      { "append img:base --dir nowhere", "--dir nowhere: not a directory" },
      { "rebase img:base --old-base img:base", "--old-base and --new-base are required" },
      { "flatten img:base --layers x", '--layers: N-M expected, got "x"' },
      { "append img:base --threads x", '--threads: an integer from 0 to 64 or auto expected, got "x"' },
      { "flatten img:base --threads 65", '--threads: an integer from 0 to 64 or auto expected, got "65"' },
      { "index img:base --remove linux/amd64", "img:base: not an image index" },
      { "mutate img:base --bogus", "unknown option --bogus" },
      { "mutate img:base --env A=1 --to img@sha256:" .. ("0"):rep(64), "a layout destination needs a NAME" },
    }) do
      local out, err, status = ocispec(case[1])
      assert.are.equal(2, status, case[1] .. ": " .. err)
      assert.are.equal("", out)
      assert.truthy(err:find(case[2], 1, true), case[1] .. ": " .. err)
      assert.are.equal(1, select(2, err:gsub("\n", "")), err)
    end
  end)
end)

-- ------------------------------------------------------------ registry

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

describe("ocispec mutate commands on a registry", function()
  if not registries then
    pending("no registry to test against: " .. tostring(why))
    return
  end
  local reg
  setup(function() reg = registries.start() end)
  teardown(function() if reg then reg.stop() end end)
  before_each(function()
    tmp = support.tmpdir()
    make_images(tmp .. "/img")
  end)
  after_each(function() support.rmdir(tmp) end)

  it("mutates a registry image into another tag, and into a layout", function()
    local ref = reg.host .. "/mut/app"
    assert(oci.registry.push(tmp .. "/img", "app", ref .. ":1", { plain_http = true }))
    local out, err, status = ocispec(("mutate --plain-http %s:1 --env X=1 --unset-cmd --to %s:2"):format(ref, ref))
    assert.are.equal(0, status, err)
    local digest = out:match("^" .. ref:gsub("%p", "%%%0") .. ":2 (sha256:%x+)\n$")
    assert.truthy(digest, out)
    -- read back with skopeo when it is there, else with our pull
    local p = io.popen(("skopeo inspect --tls-verify=false --config docker://%s:2 2>&1"):format(ref))
    local text = p:read("a")
    local skopeo_ok = p:close()
    local c
    if skopeo_ok then
      c = cjson.decode(text)
    else
      assert(oci.registry.pull(ref .. ":2", tmp .. "/pulled", "x", { plain_http = true }))
      c = config_of(tmp .. "/pulled", "x")
    end
    assert.are.same({ "PATH=/bin", "DEBUG=1", "X=1" }, c.config.Env)
    assert.is_nil(c.config.Cmd)
    -- registry source, layout destination
    out, err, status = ocispec(("flatten --plain-http %s:2 --to flat:f"):format(ref))
    assert.are.equal(0, status, err)
    assert.truthy(out:find("^flat:f sha256:"), out)
    local _, m = config_of(tmp .. "/flat", "f")
    assert.are.equal(1, #m.layers)
    -- a registry base for rebase, and a missing tag: exit 1
    out, err, status = ocispec(("mutate --plain-http %s:nope --env A=1"):format(ref))
    assert.are.equal(1, status, out)
    assert.truthy(err:find(ref .. ":nope", 1, true), err)
  end)

  it("mutates an oci-archive into the registry, and a registry image into an oci-archive", function()
    local ref = reg.host .. "/mut/arch"
    assert(oci.transport.copy("oci:" .. tmp .. "/img:app", "oci-archive:" .. tmp .. "/app.tar:app"))
    local out, err, status = ocispec(("mutate --plain-http oci-archive:app.tar --env R=1 --to docker://%s:3")
      :format(ref))
    assert.are.equal(0, status, err)
    assert.truthy(out:find("^" .. ref:gsub("%p", "%%%0") .. ":3 sha256:"), out)
    out, err, status = ocispec(("mutate --plain-http %s:3 --label a=b --to oci-archive:from-reg.tar:x"):format(ref))
    assert.are.equal(0, status, err)
    assert.truthy(out:find("^oci%-archive:from%-reg%.tar:x sha256:"), out)
    local p = io.popen(("skopeo inspect --config %s 2>&1"):format(quote("oci-archive:" .. tmp .. "/from-reg.tar:x")))
    local text = p:read("a")
    local c
    if p:close() then
      c = cjson.decode(text)
    else
      assert(oci.transport.copy("oci-archive:" .. tmp .. "/from-reg.tar:x", "oci:" .. tmp .. "/back:x"))
      c = config_of(tmp .. "/back", "x")
    end
    assert.are.same({ "PATH=/bin", "DEBUG=1", "R=1" }, c.config.Env)
    assert.are.same({ stage = "dev", a = "b" }, c.config.Labels)
  end)
end)

-- ------------------------------------------------------------ archives

local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local text = p:read("a")
  local ok = p:close()
  return text, ok
end

local have = support.have

local PY = here .. "../tests/archive/archives.py"
local function py(...)
  local args = {}
  for _, a in ipairs({ ... }) do args[#args + 1] = quote(a) end
  local out, ok = sh("env -u LD_PRELOAD python3 " .. quote(PY) .. " " .. table.concat(args, " "))
  assert(ok, out)
  return out ~= "" and cjson.decode(out) or nil
end

-- skopeo inspect (--config: the image config) of a transport reference
local function inspect(ref, what)
  local out, ok = sh(("skopeo inspect %s %s"):format(what or "--config", quote(ref)))
  assert(ok, "skopeo inspect " .. ref .. ": " .. out)
  return cjson.decode(out)
end

describe("ocispec mutate commands on archives (skopeo and Python read the results)", function()
  before_each(function()
    tmp = support.tmpdir()
    make_images(tmp .. "/img")
    -- an oci-archive of the whole layout: base, app and multi
    assert(os.execute(("tar -C %s -cf %s oci-layout index.json blobs"):format(quote(tmp .. "/img"),
      quote(tmp .. "/all.tar"))))
  end)
  after_each(function() support.rmdir(tmp) end)

  it("edits an oci-archive in place (its other images kept) and writes docker-archives", function()
    if not have("skopeo") then return pending("skopeo is not installed") end
    local before = py("read-oci", tmp .. "/all.tar")
    local out, err, status = ocispec("mutate oci-archive:all.tar:app --env X=1 --unset-cmd")
    assert.are.equal(0, status, err)
    local digest = out:match("^oci%-archive:all%.tar:app (sha256:%x+)\n$")
    assert.truthy(digest, out)
    local after = py("read-oci", tmp .. "/all.tar")
    assert.are.same({}, after.bad)
    local names = {}
    for _, e in ipairs(after.index.manifests) do
      names[e.annotations["org.opencontainers.image.ref.name"]] = e.digest
    end
    for _, e in ipairs(before.index.manifests) do
      local n = e.annotations["org.opencontainers.image.ref.name"]
      if n == "app" then assert.are.equal(digest, names.app) else assert.are.equal(e.digest, names[n]) end
    end
    local c = inspect("oci-archive:" .. tmp .. "/all.tar:app")
    assert.are.same({ "PATH=/bin", "DEBUG=1", "X=1" }, c.config.Env)
    assert.is_nil(c.config.Cmd)
    -- every image of the rewritten archive is whole: skopeo copies them
    for _, n in ipairs({ "base", "app", "multi" }) do
      local o, ok = sh(("skopeo copy --quiet --all %s %s"):format(quote("oci-archive:" .. tmp .. "/all.tar:" .. n),
        quote("oci:" .. tmp .. "/check:" .. n)))
      assert(ok, o)
    end
    -- flatten into a docker-archive, then append to it in place (one image)
    out, err, status = ocispec("flatten oci-archive:all.tar:app --to docker-archive:flat.tar:example.com/flat:1")
    assert.are.equal(0, status, err)
    assert.truthy(out:find("^docker%-archive:flat%.tar:example%.com/flat:1 sha256:"), out)
    local d = py("read-docker", tmp .. "/flat.tar")
    assert.are.same({ "example.com/flat:1" }, d.images[1].RepoTags)
    assert.are.equal(1, #d.images[1].layers)
    assert.are.same(d.images[1].layers, d.images[1].diff_ids)
    support.write(tmp .. "/new", "new\n")
    os.execute(("mkdir %s && cp %s %s/"):format(quote(tmp .. "/d"), quote(tmp .. "/new"), quote(tmp .. "/d")))
    local _
    _, err, status = ocispec("append docker-archive:flat.tar --dir d")
    assert.are.equal(0, status, err)
    local info = inspect("docker-archive:" .. tmp .. "/flat.tar", "")
    assert.are.equal(2, #info.Layers)
    -- skopeo copies it to a dir: Python hashes every blob its manifest names
    local o, ok = sh(("skopeo copy --quiet %s %s"):format(quote("docker-archive:" .. tmp .. "/flat.tar"),
      quote("dir:" .. tmp .. "/sdir")))
    assert(ok, o)
    o, ok = sh(("env -u LD_PRELOAD python3 -c %s %s"):format(quote([==[
import hashlib, json, os, sys
d = sys.argv[1]
m = json.load(open(os.path.join(d, "manifest.json")))
for b in [m["config"]] + m["layers"]:
    h = b["digest"].split(":")[1]
    data = open(os.path.join(d, h), "rb").read()
    assert hashlib.sha256(data).hexdigest() == h and len(data) == b["size"], b
print(len(m["layers"]))]==]), quote(tmp .. "/sdir")))
    assert(ok, o)
    assert.are.equal("2\n", o)
    assert.are.same({ "example.com/flat:1" }, py("read-docker", tmp .. "/flat.tar").images[1].RepoTags)
    -- rebase with bases from an oci-archive and a docker-archive, into a layout
    _, err, status = ocispec("rebase oci-archive:all.tar:app --old-base oci-archive:all.tar:base "
      .. "--new-base docker-archive:flat.tar:example.com/flat:1 --to oci:out:r")
    assert.are.equal(0, status, err)
    local _, m = config_of(tmp .. "/out", "r")
    assert.are.same(info.Layers, { m.layers[1].digest, m.layers[2].digest })
    assert.are.equal(3, #m.layers)
    -- an index into its own oci-archive under a new name, and as a new archive
    _, err, status = ocispec("index oci-archive:all.tar:multi --remove linux/amd64 --to oci-archive:arm.tar:arm")
    assert.are.equal(0, status, err)
    local arm = py("read-oci", tmp .. "/arm.tar")
    assert.are.equal(1, #arm.index.manifests)
    assert.are.equal("arm", arm.index.manifests[1].annotations["org.opencontainers.image.ref.name"])
    local raw = inspect("oci-archive:" .. tmp .. "/arm.tar:arm", "--raw")
    assert.are.equal(1, #raw.manifests)
    assert.are.equal("arm64", raw.manifests[1].platform.architecture)
    _, err, status = ocispec("mutate oci-archive:all.tar:multi --label l=1 --to oci-archive:all.tar:multi2")
    assert.are.equal(0, status, err)
    assert.are.equal(4, #py("read-oci", tmp .. "/all.tar").index.manifests)
  end)

  it("refuses what a docker-archive cannot hold, and writing back a shared one", function()
    py("docker-legacy", tmp .. "/two.tar")
    for _, case in ipairs({
      { "mutate oci-archive:all.tar:multi --env A=1 --to docker-archive:x.tar", 1,
        "a docker-archive holds one platform's image" },
      { "mutate docker-archive:two.tar:busybox:1 --env A=1", 1, "holds 2 images; writing one back would drop" },
      { "mutate oci-archive:all.tar:nope --env A=1", 2, 'no image named "nope"' },
      { "mutate oci-archive:all.tar:base --env A=1 --to oci-archive:x.tar:@1", 2, "names an image to read" },
      { "mutate docker:busybox --env A=1", 2, "the docker transport is docker://" },
    }) do
      local out, err, status = ocispec(case[1])
      assert.are.equal(case[2], status, case[1] .. ": " .. err)
      assert.are.equal("", out)
      assert.truthy(err:find(case[3], 1, true), case[1] .. ": " .. err)
    end
    assert.is_nil(io.open(tmp .. "/x.tar"))
    -- stdin in, stdout out: the archive alone on stdout, the report on stderr
    local out, err, status = ocispec("mutate docker-archive:-:busybox:1 --env A=1", { file = tmp .. "/two.tar" })
    assert.are.equal(2, status, out)
    assert.truthy(err:find("docker-archive:-: stdin cannot be written back", 1, true), err)
    os.execute(("cd %s && lua5.4 %s mutate oci-archive:all.tar:base --env S=1 --to docker-archive:-:s/s:1 "
      .. ">s.tar 2>s.err"):format(quote(tmp), quote(BIN)))
    assert.truthy(support.read(tmp .. "/s.err"):find("^docker%-archive:%-:s/s:1 sha256:"))
    assert.are.same({ "s/s:1" }, py("read-docker", tmp .. "/s.tar").images[1].RepoTags)
    -- the shared archive is unchanged; writing it elsewhere works
    out, err, status = ocispec("mutate docker-archive:two.tar:busybox:1 --env A=1 --to docker-archive:one.tar")
    assert.are.equal(0, status, err)
    assert.truthy(out:find("^docker%-archive:one%.tar sha256:"), out)
    assert.are.equal(2, #py("read-docker", tmp .. "/two.tar").images)
  end)
end)
