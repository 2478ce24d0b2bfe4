-- Artifacts and referrers (oras attach / discover): ocispec.artifacts and
-- the CLI's attach and discover, on an image layout and on docker-registry
-- (no referrers API: the tag schema). What lands is read back by
-- independent readers: tests/artifacts/read_layout.py (json, hashlib) for
-- layouts, tests/registry/read_image.py (urllib) for the registry.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local registries = dofile(here .. "fixtures/registry.lua")
local cjson = require("cjson")
local oci = require("ocispec")
local artifacts = oci.artifacts
local MT = oci.image.MediaType

local q, sh = registries.quote, registries.sh
local READ_LAYOUT = here .. "../tests/artifacts/read_layout.py"
local READ_IMAGE = here .. "../tests/registry/read_image.py"
local SBOM, SIG = "application/vnd.example.sbom", "application/vnd.example.sig"
local TITLE = oci.image.ANNOTATION_TITLE

local NO_PYTHON = registries.missing("python3")
local REGISTRY_SKIP = registries.skip_reason("python3")

-- The setup and teardown of a describe block on docker-registry:
-- set(tmp, reg) gets the block's temporary folder and the registry (nil
-- when the fixture or python3 is missing: its tests end pending with
-- REGISTRY_SKIP).
local function registry_block(set)
  local tmp, reg
  setup(function()
    tmp = registries.scratch()
    if not REGISTRY_SKIP then reg = registries.start() end
    set(tmp, reg)
  end)
  teardown(function()
    if reg then reg.stop() end
    if tmp then support.rmdir(tmp) end
  end)
end

local function read_layout(dir)
  local out, ok = sh(("env -u LD_PRELOAD python3 %s %s"):format(q(READ_LAYOUT), q(dir)))
  assert(ok, out)
  return cjson.decode(out)
end

local function read_manifest(base, repo, ref)
  local out, ok = sh(("env -u LD_PRELOAD python3 %s manifest %s %s %s")
    :format(q(READ_IMAGE), q(base), q(repo), q(ref)))
  assert(ok, out)
  return cjson.decode(out)
end

-- A layout with a small image tagged "base"; returns its descriptor.
local function base_layout(dir)
  local L = assert(oci.layout.create(dir))
  local img = oci.build.Image.new(L, { platform = { os = "linux", architecture = "amd64" }, created = 0 })
  assert(img:add_layer{ entries = { { path = "f", type = "file", content = "base\n", mode = 420 } } })
  local base = assert(img:commit())
  assert(L:tag(base, "base"))
  L:close()
  return base
end

local function cli(tmp, args)
  return support.cli_runner(tmp)(args)
end

local function digests(node)
  local list = {}
  for i, c in ipairs(node.referrers) do list[i] = c.descriptor:digest() end
  table.sort(list)
  return list
end

-- the archive extracted by Python's tarfile, read by read_layout.py
local function read_archive(file, into)
  local out, ok = sh(("env -u LD_PRELOAD python3 -c %s %s %s"):format(
    q("import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])"), q(file), q(into)))
  assert(ok, out)
  return read_layout(into)
end

-- A layout "lay" with image "base", an sbom attached to it and a sig to
-- the sbom: base, sbom and sig descriptors.
local function referred_layout(tmp)
  local base = base_layout(tmp .. "/lay")
  support.write(tmp .. "/sbom.json", '{"spdxVersion":"SPDX-2.3"}')
  local sbom = assert(artifacts.attach("oci:" .. tmp .. "/lay:base", { tmp .. "/sbom.json" }, { artifact_type = SBOM }))
  local sig = assert(artifacts.attach("oci:" .. tmp .. "/lay@" .. sbom:digest(), {}, { artifact_type = SIG }))
  return base, sbom, sig
end

-- read_layout's view: the subject links sbom -> base and sig -> sbom
local function assert_links(got, base, sbom, sig)
  assert.are.equal(base:digest(), got.documents[sbom:digest()].subject.digest)
  assert.are.equal(sbom:digest(), got.documents[sig:digest()].subject.digest)
  assert.are.equal(SBOM, got.documents[sbom:digest()].artifactType)
  assert.are.equal(SIG, got.documents[sig:digest()].artifactType)
end

describe("artifacts on a layout", function()
  local tmp
  before_each(function() tmp = support.tmpdir() end)
  after_each(function() support.rmdir(tmp) end)

  it("attach writes an artifact manifest with the image as subject, files titled, kept by index.json", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local dir = tmp .. "/lay"
    local base = base_layout(dir)
    support.write(tmp .. "/sbom.json", '{"spdxVersion":"SPDX-2.3"}')
    support.write(tmp .. "/notes.txt", "notes\n")
    local d, subject = assert(artifacts.attach("oci:" .. dir .. ":base", { tmp .. "/sbom.json",
      { path = tmp .. "/notes.txt", title = "README", media_type = "text/plain" } },
      { artifact_type = SBOM, annotations = { ["org.example.k"] = "v" } }))
    assert.are.equal(base:digest(), subject:digest())
    local got = read_layout(dir)
    -- an index.json entry without a name (oras's oci: store), the base still tagged
    local entry
    for _, e in ipairs(got.index.manifests) do
      if e.digest == d:digest() then entry = e end
    end
    assert.is_table(entry, "the artifact is in index.json")
    assert.is_nil(entry.annotations)
    assert.are.equal(MT.ImageManifest, entry.mediaType)
    local m = got.documents[d:digest()]
    assert.are.equal(SBOM, m.artifactType)
    assert.are.equal(MT.ImageManifest, m.mediaType)
    -- image-spec manifest.md: the empty descriptor as config of an artifact
    assert.are.equal(MT.EmptyJSON, m.config.mediaType)
    assert.are.equal("sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", m.config.digest)
    assert.are.equal(2, got.blobs[m.config.digest])
    assert.are.same({ mediaType = base:media_type(), digest = base:digest(), size = base:size() }, m.subject)
    assert.are.same({ ["org.example.k"] = "v" }, m.annotations)
    assert.are.equal(2, #m.layers)
    assert.are.same({ [TITLE] = "sbom.json" }, m.layers[1].annotations)
    assert.are.equal(MT.ImageLayer, m.layers[1].mediaType)
    assert.are.equal(oci.digest.sha256('{"spdxVersion":"SPDX-2.3"}'), m.layers[1].digest)
    assert.are.same({ [TITLE] = "README" }, m.layers[2].annotations)
    assert.are.equal("text/plain", m.layers[2].mediaType)
    assert.are.equal(6, got.blobs[m.layers[2].digest])
    -- attaching the same again adds no second entry
    assert(artifacts.attach("oci:" .. dir .. ":base", { tmp .. "/sbom.json",
      { path = tmp .. "/notes.txt", title = "README", media_type = "text/plain" } },
      { artifact_type = SBOM, annotations = { ["org.example.k"] = "v" } }))
    assert.are.equal(#got.index.manifests, #read_layout(dir).index.manifests)
    -- gc keeps the artifact and its blobs
    local L = assert(oci.layout.open(dir))
    local removed = assert(L:gc())
    assert.are.same({}, removed)
    assert(L:verify())
    L:close()
  end)

  it("discover gives the tree (referrers of referrers), filtered by artifactType", function()
    local dir = tmp .. "/tree"
    base_layout(dir)
    support.write(tmp .. "/f", "x")
    local sbom = assert(artifacts.attach("oci:" .. dir .. ":base", { tmp .. "/f" }, { artifact_type = SBOM }))
    local sig = assert(artifacts.attach("oci:" .. dir .. ":base", {}, { artifact_type = SIG }))
    -- a signature of the sbom: a referrer of a referrer
    local sig2 = assert(artifacts.attach("oci:" .. dir .. "@" .. sbom:digest(), {}, { artifact_type = SIG }))
    local tree = assert(artifacts.discover("oci:" .. dir .. ":base"))
    local want = { sbom:digest(), sig:digest() }
    table.sort(want)
    assert.are.same(want, digests(tree))
    for _, c in ipairs(tree.referrers) do
      if c.descriptor:digest() == sbom:digest() then
        assert.are.equal(SBOM, c.descriptor:artifact_type())
        assert.are.same({ sig2:digest() }, digests(c))
        assert.are.equal(SIG, c.referrers[1].descriptor:artifact_type())
      else
        assert.are.same({}, digests(c))
      end
    end
    -- the filter applies at every level (as oras): sig2 hangs under an sbom
    local only = assert(artifacts.discover("oci:" .. dir .. ":base", { artifact_type = SIG }))
    assert.are.same({ sig:digest() }, digests(only))
    local shallow = assert(artifacts.discover("oci:" .. dir .. ":base", { depth = 1 }))
    for _, c in ipairs(shallow.referrers) do assert.are.same({}, c.referrers) end
  end)

  it("bad references and files are reported", function()
    local dir = tmp .. "/bad"
    base_layout(dir)
    support.assert_fails({ dir, 'no image named "nope"' }, { code = "invalid" },
      artifacts.attach("oci:" .. dir .. ":nope", {}, { artifact_type = SBOM }))
    support.assert_fails({ tmp .. "/missing" }, { code = "io" },
      artifacts.attach("oci:" .. dir .. ":base", { tmp .. "/missing" }, { artifact_type = SBOM }))
    support.assert_fails({ "is not an OCI image layout" }, nil, artifacts.discover("oci:" .. tmp .. "/none:base"))
    support.assert_raises('unknown option "artifact"', artifacts.discover, "oci:" .. dir, { artifact = SBOM })
    support.assert_raises("artifact_type", artifacts.attach, "oci:" .. dir .. ":base", {}, {})
    -- Layout:add takes no named descriptor, and a blob that is not there
    local L = assert(oci.layout.open(dir))
    local named = assert(L:list()[1].descriptor)
    support.assert_fails({ "add:", "org.opencontainers.image.ref.name", "tag it" }, { code = "invalid" }, L:add(named))
    support.assert_fails({ "add:", "missing from the layout" }, { code = "io" },
      L:add(assert(oci.image.Descriptor.new(MT.ImageManifest, 3, "sha256:" .. ("ab"):rep(32)))))
    L:close()
  end)

  it("ocispec attach and discover (CLI, table and --json)", function()
    local dir = tmp .. "/cli"
    local base = base_layout(dir)
    support.write(tmp .. "/s.json", "{}")
    local out, err, status = cli(tmp, ("attach oci:%s:base --artifact-type %s --annotation a=1,b=2 s.json")
      :format(q(dir), SBOM))
    assert.are.equal(0, status, err)
    local dg = out:match("^attached (sha256:%x+) to " .. base:digest():gsub("%p", "%%%0") .. "\n$")
    assert.is_string(dg, out)
    out, err, status = cli(tmp, ("discover --json oci:%s:base"):format(q(dir)))
    assert.are.equal(0, status, err)
    local t = cjson.decode(out)
    assert.are.equal(base:digest(), t.digest)
    assert.are.equal(1, #t.manifests)
    assert.are.equal(dg, t.manifests[1].digest)
    assert.are.equal(SBOM, t.manifests[1].artifactType)
    assert.are.same({ a = "1", b = "2" }, t.manifests[1].annotations)
    out, err, status = cli(tmp, ("discover oci:%s:base"):format(q(dir)))
    assert.are.equal(0, status, err)
    assert.are.equal(("oci:%s:base@%s\n└── %s  %s\n"):format(dir, base:digest(), dg, SBOM), out)
    out, err, status = cli(tmp, ("discover --artifact-type %s oci:%s:base"):format(SIG, q(dir)))
    assert.are.equal(0, status, err)
    assert.are.equal(("oci:%s:base@%s\n"):format(dir, base:digest()), out)
    out, err, status = cli(tmp, ("attach oci:%s:base s.json"):format(q(dir)))
    assert.are.equal("", out)
    assert.are.equal(2, status)
    assert.truthy(err:find("--artifact-type is required", 1, true), err)
  end)
end)

describe("artifacts on an oci-archive (rewritten whole), docker-archive refused", function()
  local tmp
  before_each(function() tmp = support.tmpdir() end)
  after_each(function() support.rmdir(tmp) end)

  it("attach, discover, pull and push on an oci-archive; the CLI; docker-archive refused", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local base = base_layout(tmp .. "/lay")
    local a = tmp .. "/a.tar"
    assert(oci.transport.copy("oci:" .. tmp .. "/lay:base", "oci-archive:" .. a .. ":base"))
    support.write(tmp .. "/sbom.json", '{"spdxVersion":"SPDX-2.3"}')
    local sbom, subject = assert(artifacts.attach("oci-archive:" .. a .. ":base", { tmp .. "/sbom.json" },
      { artifact_type = SBOM }))
    assert.are.equal(base:digest(), subject:digest())
    local sig = assert(artifacts.attach("oci-archive:" .. a .. ":" .. sbom:digest(), {}, { artifact_type = SIG }))
    local got = read_archive(a, tmp .. "/x1")
    assert.are.equal(3, #got.index.manifests)
    assert.are.equal(base:digest(), got.documents[sbom:digest()].subject.digest)
    assert.are.equal(sbom:digest(), got.documents[sig:digest()].subject.digest)
    assert.are.equal(SIG, got.documents[sig:digest()].artifactType)
    local tree = assert(artifacts.discover("oci-archive:" .. a .. ":base"))
    assert.are.same({ sbom:digest() }, digests(tree))
    assert.are.same({ sig:digest() }, digests(tree.referrers[1]))
    local titles = assert(artifacts.pull("oci-archive:" .. a .. ":" .. sbom:digest(), tmp .. "/out"))
    assert.are.same({ "sbom.json" }, titles)
    assert.are.equal('{"spdxVersion":"SPDX-2.3"}', support.read(tmp .. "/out/sbom.json"))
    -- push: a new archive, then a second artifact into it
    assert(artifacts.push("oci-archive:" .. tmp .. "/n.tar:docs", { tmp .. "/sbom.json" }, { artifact_type = SBOM }))
    assert(artifacts.push("oci-archive:" .. tmp .. "/n.tar:more", { tmp .. "/sbom.json" }, { artifact_type = SIG }))
    local n = read_archive(tmp .. "/n.tar", tmp .. "/x2")
    local names = {}
    for _, e in ipairs(n.index.manifests) do names[#names + 1] = e.annotations[oci.image.ANNOTATION_REF_NAME] end
    table.sort(names)
    assert.are.same({ "docs", "more" }, names)
    -- the CLI
    local out, err, status = cli(tmp, ("attach oci-archive:a.tar:base --artifact-type %s sbom.json"):format(SIG))
    assert.are.equal(0, status, err)
    local dg = out:match("^attached (sha256:%x+) to ")
    out, err, status = cli(tmp, "discover --json oci-archive:a.tar:base")
    assert.are.equal(0, status, err)
    local list = {}
    for _, m in ipairs(cjson.decode(out).manifests) do list[#list + 1] = m.digest end
    table.sort(list)
    local want = { sbom:digest(), dg }
    table.sort(want)
    assert.are.same(want, list)
    -- a docker-archive holds no referrers
    assert(oci.transport.copy("oci:" .. tmp .. "/lay:base", "docker-archive:" .. tmp .. "/d.tar:x/y:1"))
    support.assert_fails({ "a docker-archive cannot hold referrers or artifacts" }, { code = "unsupported" },
      artifacts.attach("docker-archive:" .. tmp .. "/d.tar", { tmp .. "/sbom.json" }, { artifact_type = SBOM }))
    out, err, status = cli(tmp, "discover docker-archive:d.tar")
    assert.are.equal(1, status, out)
    assert.truthy(err:find("a docker-archive cannot hold referrers", 1, true), err)
  end)
end)

describe("copy --referrers between layouts and archives", function()
  local tmp
  before_each(function() tmp = support.tmpdir() end)
  after_each(function() support.rmdir(tmp) end)

  it("layout -> oci-archive -> layout keeps the subject links; docker-archive refused", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local base, sbom, sig = referred_layout(tmp)
    local T = oci.transport
    local d, stats = assert(T.copy("oci:" .. tmp .. "/lay:base", "oci-archive:" .. tmp .. "/a.tar:base",
      { referrers = true }))
    assert.are.equal(base:digest(), d:digest())
    assert.are.equal(2, stats.referrers)
    local got = read_archive(tmp .. "/a.tar", tmp .. "/x")
    assert.are.equal(3, #got.index.manifests)
    assert_links(got, base, sbom, sig)
    -- without referrers: the image alone
    assert(T.copy("oci:" .. tmp .. "/lay:base", "oci-archive:" .. tmp .. "/plain.tar:base"))
    assert.are.equal(1, #read_archive(tmp .. "/plain.tar", tmp .. "/y").index.manifests)
    local _
    _, stats = assert(T.copy("oci-archive:" .. tmp .. "/a.tar:base", "oci:" .. tmp .. "/back:b", { referrers = true }))
    assert.are.equal(2, stats.referrers)
    assert_links(read_layout(tmp .. "/back"), base, sbom, sig)
    local tree = assert(artifacts.discover("oci:" .. tmp .. "/back:b"))
    assert.are.same({ sbom:digest() }, digests(tree))
    for _, dst in ipairs({ "docker-archive:" .. tmp .. "/d.tar" }) do
      support.assert_fails({ "a docker-archive cannot hold referrers" }, { code = "unsupported" },
        T.copy("oci:" .. tmp .. "/lay:base", dst, { referrers = true }))
    end
    support.assert_fails({ "referrers with format" }, { code = "unsupported" },
      T.copy("oci:" .. tmp .. "/lay:base", "oci:" .. tmp .. "/f:x", { referrers = true, format = "oci" }))
    -- the CLI
    local out, err, status = cli(tmp, "copy --referrers oci:lay:base oci-archive:c.tar:base")
    assert.are.equal(0, status, err)
    assert.truthy(out:find("copied 2 referrer(s)", 1, true), out)
    assert_links(read_archive(tmp .. "/c.tar", tmp .. "/z"), base, sbom, sig)
    out, err, status = cli(tmp, "copy --referrers oci:lay:base docker-archive:d.tar")
    assert.are.equal(2, status, out)
    assert.truthy(err:find("--referrers: a docker-archive cannot hold referrers", 1, true), err)
  end)
end)

describe("artifacts on a registry (docker-registry 2.8: the tag schema)", function()
  local tmp, reg
  registry_block(function(t, r) tmp, reg = t, r end)

  it("attach and discover, read back with urllib", function()
    if not reg then return pending(REGISTRY_SKIP) end
    local dir = tmp .. "/lay"
    base_layout(dir)
    local o = registries.opts()
    assert(oci.registry.push(dir, "base", reg.host .. "/art/app:1", o))
    support.write(tmp .. "/sbom.json", '{"sbom":1}')
    local aopts = { artifact_type = SBOM, plain_http = true, auth_file = false }
    local sbom, subject = assert(artifacts.attach(reg.host .. "/art/app:1", { tmp .. "/sbom.json" }, aopts))
    aopts.artifact_type = SIG
    local sig = assert(artifacts.attach("docker://" .. reg.host .. "/art/app@" .. sbom:digest(), {}, aopts))
    local base_url = "http://" .. reg.host
    local m = read_manifest(base_url, "art/app", sbom:digest())
    assert.are.equal(200, m.status)
    assert.are.equal(SBOM, m.body.artifactType)
    assert.are.equal(subject:digest(), m.body.subject.digest)
    assert.are.same({ [TITLE] = "sbom.json" }, m.body.layers[1].annotations)
    -- the tag schema index of the base lists the sbom (put_manifest kept it)
    local idx = read_manifest(base_url, "art/app", assert(oci.digest.referrers_tag(subject:digest())))
    assert.are.equal(sbom:digest(), idx.body.manifests[1].digest)
    assert.are.equal(SBOM, idx.body.manifests[1].artifactType)
    local tree = assert(artifacts.discover(reg.host .. "/art/app:1", o))
    assert.are.same({ sbom:digest() }, digests(tree))
    assert.are.same({ sig:digest() }, digests(tree.referrers[1]))
    assert.are.same({}, digests(assert(artifacts.discover(reg.host .. "/art/app:1",
      { artifact_type = SIG, plain_http = true, auth_file = false }))))
    -- push and pull of files (oras push / pull), the manifest read with urllib
    local pushed = assert(artifacts.push(reg.host .. "/art/files:v1", { tmp .. "/sbom.json" },
      { artifact_type = SBOM, plain_http = true, auth_file = false }))
    local pm = read_manifest(base_url, "art/files", "v1")
    assert.are.equal(pushed:digest(), pm.digest)
    assert.are.equal(SBOM, pm.body.artifactType)
    assert.are.same({ "sbom.json" }, assert(artifacts.pull(reg.host .. "/art/files:v1", tmp .. "/got", o)))
    assert.are.equal('{"sbom":1}', support.read(tmp .. "/got/sbom.json"))
    -- an image's layers have no titles: nothing to write (as oras)
    assert.are.same({}, assert(artifacts.pull(reg.host .. "/art/app:1", tmp .. "/img", o)))
    assert.are.equal("empty", oci.unpack.dir_state(tmp .. "/img"))
  end)
end)

-- The files of a directory: {name = bytes}.
local function files_of(dir)
  local out, ok = sh(("env -u LD_PRELOAD python3 -c %s %s"):format(q([[
import json, os, sys
d = sys.argv[1]
print(json.dumps({n: open(os.path.join(d, n), "rb").read().decode("latin-1")
                  for n in os.listdir(d) if os.path.isfile(os.path.join(d, n))}))
]]), q(dir)))
  assert(ok, out)
  return cjson.decode(out)
end

-- An artifact manifest in layout dir, tagged name, with layers of the
-- given {title, bytes} (title nil: no annotation), written by hand.
local function hostile_artifact(dir, name, layers)
  local L = assert(oci.layout.create(dir))
  local list = {}
  for i, l in ipairs(layers) do
    local d = assert(L:put_blob(l[2], MT.ImageLayer)):to_table()
    if l[1] then d.annotations = { [TITLE] = l[1] } end
    list[i] = d
  end
  assert(L:put_blob("{}", MT.EmptyJSON))
  local m = assert(oci.image.ImageManifest.from_table{ schemaVersion = 2, mediaType = MT.ImageManifest,
    artifactType = SBOM, config = oci.image.Descriptor.empty():to_table(), layers = list })
  assert(L:tag(assert(L:put_document(m)), name))
  L:close()
end

describe("copy of the referrers graph (oras cp -r), docker-registry 2.8", function()
  local tmp, reg
  registry_block(function(t, r) tmp, reg = t, r end)

  it("registry to registry, registry to layout, layout to registry, and the CLI's copy --referrers", function()
    if not reg then return pending(REGISTRY_SKIP) end
    local o = registries.opts()
    local function with(t)
      for k, v in pairs(o) do t[k] = v end
      return t
    end
    local dir = tmp .. "/src"
    base_layout(dir)
    local src = reg.host .. "/cp/src:1"
    assert(oci.registry.push(dir, "base", src, o))
    support.write(tmp .. "/s", "sbom")
    local sbom = assert(artifacts.attach(src, { tmp .. "/s" }, with({ artifact_type = SBOM })))
    local sig = assert(artifacts.attach(reg.host .. "/cp/src@" .. sbom:digest(), {}, with({ artifact_type = SIG })))
    local function tree_of(ref)
      local t = assert(artifacts.discover(ref, o))
      assert.are.same({ sbom:digest() }, digests(t), ref)
      assert.are.same({ sig:digest() }, digests(t.referrers[1]), ref)
    end
    -- registry to registry: the image, then its referrers
    assert(oci.registry.copy(src, reg.host .. "/cp/dst:1", o))
    local copied = assert(artifacts.copy_referrers(src, reg.host .. "/cp/dst:1", o))
    assert.are.same({ sbom:digest(), sig:digest() }, { copied[1]:digest(), copied[2]:digest() })
    tree_of(reg.host .. "/cp/dst:1")
    -- independently: the destination's tag schema index lists the sbom
    local base_url = "http://" .. reg.host
    local top = read_manifest(base_url, "cp/dst", "1")
    local idx = read_manifest(base_url, "cp/dst", assert(oci.digest.referrers_tag(top.digest)))
    assert.are.equal(sbom:digest(), idx.body.manifests[1].digest)
    assert.are.equal(200, read_manifest(base_url, "cp/dst", sig:digest()).status)
    -- registry to layout
    local out = tmp .. "/pulled"
    assert(oci.registry.pull(src, out, "1", o))
    assert(artifacts.copy_referrers(src, "oci:" .. out .. ":1", o))
    tree_of("oci:" .. out .. ":1")
    -- layout to registry
    assert(oci.registry.push(out, "1", reg.host .. "/cp/back:1", o))
    assert(artifacts.copy_referrers("oci:" .. out .. ":1", reg.host .. "/cp/back:1", o))
    tree_of(reg.host .. "/cp/back:1")
    -- only one artifactType
    local only = assert(artifacts.copy_referrers(src, reg.host .. "/cp/dst:1", with({ artifact_type = SIG })))
    assert.are.same({}, only) -- the sig hangs under the sbom: the filter applies at every level
    -- the CLI
    local _, err, status = cli(tmp, ("copy --plain-http --auth-file '' --referrers %s %s")
      :format(src, reg.host .. "/cp/cli:1"))
    assert.are.equal(0, status, err)
    tree_of(reg.host .. "/cp/cli:1")
  end)
end)

describe("copy --referrers through a registry (docker-registry 2.8)", function()
  local tmp, reg
  registry_block(function(t, r) tmp, reg = t, r end)

  it("oci-archive -> registry -> oci-archive, the subject links intact", function()
    if not reg then return pending(REGISTRY_SKIP) end
    local o = registries.opts()
    local base, sbom, sig = referred_layout(tmp)
    local T = oci.transport
    assert(T.copy("oci:" .. tmp .. "/lay:base", "oci-archive:" .. tmp .. "/a.tar:base", { referrers = true }))
    local ref = reg.host .. "/xport/img:1"
    local d, stats = assert(T.copy("oci-archive:" .. tmp .. "/a.tar:base", ref,
      { referrers = true, plain_http = true, auth_file = false }))
    assert.are.equal(base:digest(), d:digest())
    assert.are.equal(2, stats.referrers)
    -- independently (urllib): the tag schema indexes name sbom under the
    -- image and sig under the sbom
    local base_url = "http://" .. reg.host
    local idx = read_manifest(base_url, "xport/img", assert(oci.digest.referrers_tag(base:digest())))
    assert.are.equal(sbom:digest(), idx.body.manifests[1].digest)
    idx = read_manifest(base_url, "xport/img", assert(oci.digest.referrers_tag(sbom:digest())))
    assert.are.equal(sig:digest(), idx.body.manifests[1].digest)
    assert.are.equal(base:digest(), read_manifest(base_url, "xport/img", sbom:digest()).body.subject.digest)
    -- and back into an archive
    local _
    _, stats = assert(T.copy(ref, "oci-archive:" .. tmp .. "/b.tar:back",
      { referrers = true, plain_http = true, auth_file = false }))
    assert.are.equal(2, stats.referrers)
    assert_links(read_archive(tmp .. "/b.tar", tmp .. "/x"), base, sbom, sig)
    -- registry to registry by the CLI, then the tree there
    local _, err, status = cli(tmp, ("copy --plain-http --auth-file '' --referrers %s %s")
      :format(ref, reg.host .. "/xport/cli:1"))
    assert.are.equal(0, status, err)
    local tree = assert(artifacts.discover(reg.host .. "/xport/cli:1", o))
    assert.are.same({ sbom:digest() }, digests(tree))
    assert.are.same({ sig:digest() }, digests(tree.referrers[1]))
  end)
end)

describe("artifact files (oras push / pull)", function()
  local tmp
  before_each(function() tmp = support.tmpdir() end)
  after_each(function() support.rmdir(tmp) end)

  it("push then pull round-trips titled files through a layout", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local dir = tmp .. "/lay"
    assert(oci.layout.create(dir)):close()
    support.write(tmp .. "/a.txt", "alpha\n")
    support.write(tmp .. "/b.bin", "\0\1\2beta")
    local d = assert(artifacts.push("oci:" .. dir .. ":files",
      { tmp .. "/a.txt", { path = tmp .. "/b.bin", title = "b" } }, { artifact_type = SBOM }))
    local got = read_layout(dir)
    local m = got.documents[d:digest()]
    assert.is_nil(m.subject)
    assert.are.equal(SBOM, m.artifactType)
    assert.are.equal("files", got.index.manifests[1].annotations["org.opencontainers.image.ref.name"])
    local titles = assert(artifacts.pull("oci:" .. dir .. ":files", tmp .. "/out"))
    assert.are.same({ "a.txt", "b" }, titles)
    assert.are.same({ ["a.txt"] = "alpha\n", b = "\0\1\2beta" }, files_of(tmp .. "/out"))
    -- no temporary directory is left behind
    assert.are.equal("full", oci.unpack.dir_state(tmp .. "/out"))
    local names = {}
    for n in pairs(files_of(tmp .. "/out")) do names[#names + 1] = n end
    assert.are.equal(2, #names)
    local _, ok = sh("ls -A " .. q(tmp .. "/out") .. " | grep -q ocispec-pull")
    assert.is_falsy(ok)
    support.assert_fails({ 'files[2]: title "a.txt" is taken by files[1]' }, { code = "invalid" },
      artifacts.push("oci:" .. dir .. ":dup", { tmp .. "/a.txt", { path = tmp .. "/b.bin", title = "a.txt" } },
        { artifact_type = SBOM }))
  end)

  for _, case in ipairs({
    { "../escape", "traversal" }, { "/etc/passwd", "absolute" }, { "a/b", "a directory" },
    { "..", "dot-dot" }, { ".", "dot" }, { "", "empty" }, { "evil\n", "a newline" },
  }) do
    it(("a hostile title (%s) is refused and nothing is written"):format(case[2]), function()
      local dir = tmp .. "/hostile"
      hostile_artifact(dir, "x", { { "fine.txt", "ok" }, { case[1], "pwned" } })
      support.assert_fails({ "layers[2]: title", "is not a plain file name" }, { code = "invalid" },
        artifacts.pull("oci:" .. dir .. ":x", tmp .. "/out"))
      assert.are.equal("missing", oci.unpack.dir_state(tmp .. "/out"))
      assert.are.equal("missing", oci.unpack.dir_state(tmp .. "/escape"))
    end)
  end

  it("two layers with one title, and a planted symlink, cannot write outside the directory", function()
    local dir = tmp .. "/dup"
    hostile_artifact(dir, "x", { { "f", "one" }, { "f", "two" } })
    support.assert_fails({ 'layers[2]: title "f" is taken by layers[1]' }, { code = "invalid" },
      artifacts.pull("oci:" .. dir .. ":x", tmp .. "/out"))
    -- a symlink planted under a title's name is replaced, its target untouched
    hostile_artifact(dir, "y", { { "link", "new" }, { nil, "untitled: skipped" } })
    assert(oci.unpack.mkdir(tmp .. "/out2"))
    support.write(tmp .. "/target", "keep")
    assert(sh(("ln -s %s %s"):format(q(tmp .. "/target"), q(tmp .. "/out2/link"))))
    assert.are.same({ "link" }, assert(artifacts.pull("oci:" .. dir .. ":y", tmp .. "/out2")))
    assert.are.equal("keep", support.read(tmp .. "/target"))
    assert.are.equal("new", support.read(tmp .. "/out2/link"))
    local _, islink = sh("test -L " .. q(tmp .. "/out2/link"))
    assert.is_falsy(islink)
  end)

  it("ocispec push-artifact and pull-artifact (CLI)", function()
    local dir = tmp .. "/cli"
    assert(oci.layout.create(dir)):close()
    support.write(tmp .. "/n.txt", "note")
    local out, err, status = cli(tmp, ("push-artifact --artifact-type %s oci:%s:v1 n.txt"):format(SBOM, q(dir)))
    assert.are.equal(0, status, err)
    assert.truthy(out:match("^pushed oci:.*:v1@sha256:%x+\n$"), out)
    out, err, status = cli(tmp, ("pull-artifact oci:%s:v1 got"):format(q(dir)))
    assert.are.equal(0, status, err)
    assert.are.equal("n.txt\n", out)
    assert.are.equal("note", support.read(tmp .. "/got/n.txt"))
  end)
end)

describe("layout gc and referrers", function()
  local tmp
  before_each(function() tmp = support.tmpdir() end)
  after_each(function() support.rmdir(tmp) end)

  local function blob_file(dir, dg)
    local f = io.open(dir .. "/blobs/" .. dg:gsub(":", "/"), "rb")
    if f then f:close() end
    return f ~= nil
  end

  -- An artifact manifest put as a blob only (no index.json entry), about
  -- subject (a descriptor), with one layer; -> its descriptor, layer's.
  local function loose_referrer(L, subject, payload)
    local layer = assert(L:put_blob(payload, MT.ImageLayer))
    assert(L:put_blob("{}", MT.EmptyJSON))
    local m = assert(oci.image.ImageManifest.from_table{ schemaVersion = 2, mediaType = MT.ImageManifest,
      artifactType = SIG, config = oci.image.Descriptor.empty():to_table(), layers = { layer:to_table() },
      subject = { mediaType = subject:media_type(), digest = subject:digest(), size = subject:size() } })
    return assert(L:put_document(m)), layer
  end

  it("keeps the referrers of kept images (and theirs), drops the others", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local dir = tmp .. "/gc"
    local base = base_layout(dir)
    local L = assert(oci.layout.open(dir))
    local r1, l1 = loose_referrer(L, base, "sig of base")
    local r2, l2 = loose_referrer(L, r1, "sig of sig")
    local gone = assert(oci.image.Descriptor.new(MT.ImageManifest, 10, oci.digest.sha256("not here")))
    local r3, l3 = loose_referrer(L, gone, "sig of nothing kept")
    local removed = assert(L:gc())
    table.sort(removed)
    local want = { r3:digest(), l3:digest() }
    table.sort(want)
    assert.are.same(want, removed)
    for _, d in ipairs({ r1, l1, r2, l2 }) do assert.is_true(blob_file(dir, d:digest()), d:digest()) end
    assert.is_false(blob_file(dir, r3:digest()))
    -- discover finds index.json referrers only; attach one, then drop all
    support.write(tmp .. "/f", "attached")
    local att = assert(artifacts.attach("oci:" .. dir .. ":base", { tmp .. "/f" }, { artifact_type = SBOM }))
    support.assert_raises('unknown option "drop"', L.gc, L, { drop = true })
    removed = assert(L:gc({ drop_referrers = true }))
    local was = {}
    for _, d in ipairs(removed) do was[d] = true end
    for _, d in ipairs({ r1, r2, att }) do assert.is_true(was[d:digest()], d:digest()) end
    for _, d in ipairs({ r1, l1, r2, l2, att }) do assert.is_false(blob_file(dir, d:digest()), d:digest()) end
    assert.is_true(blob_file(dir, base:digest()))
    -- index.json keeps the base, loses the attached artifact's entry
    local got = read_layout(dir)
    assert.are.equal(1, #got.index.manifests)
    assert.are.equal(base:digest(), got.index.manifests[1].digest)
    assert(L:verify())
    L:close()
  end)
end)

describe("layout verify and referrers tag schema indexes", function()
  local tmp
  before_each(function() tmp = support.tmpdir() end)
  after_each(function() support.rmdir(tmp) end)

  it("an index tagged <alg>-<hex> must list documents whose subject is that digest", function()
    local dir = tmp .. "/v"
    local base = base_layout(dir)
    support.write(tmp .. "/f", "x")
    local sbom = assert(artifacts.attach("oci:" .. dir .. ":base", { tmp .. "/f" }, { artifact_type = SBOM }))
    local L = assert(oci.layout.open(dir))
    local tag = assert(oci.digest.referrers_tag(base:digest()))
    local function schema_index(entries)
      local x = assert(oci.image.ImageIndex.from_table{ schemaVersion = 2, mediaType = MT.ImageIndex,
        manifests = entries })
      return assert(L:put_document(x))
    end
    local good = { mediaType = MT.ImageManifest, digest = sbom:digest(), size = sbom:size(), artifactType = SBOM }
    -- as a registry's fallback tag would be copied: it matches
    assert(L:tag(schema_index({ good }), tag))
    local ok, warnings = L:verify()
    assert.is_true(ok)
    for _, w in ipairs(warnings or {}) do assert.falsy(w.message:find("referrers index", 1, true), w.message) end
    -- listed under another digest's tag: the sbom's subject is not that one
    local other = assert(oci.digest.referrers_tag(sbom:digest()))
    assert(L:tag(schema_index({ good }), other))
    -- (the problem's whole message: err.message is cut to its size)
    local function problem_with(text)
      local _, msg, err = L:verify()
      assert.are.equal("validate", err.code, msg)
      for _, p in ipairs(err.problems) do
        if p.message:find(text, 1, true) then return p end
      end
      error(("no problem says %q: %s"):format(text, msg))
    end
    local p = problem_with(("referrers index %s /manifests/0: %s has subject %s, not %s")
      :format(other, sbom:digest(), base:digest(), sbom:digest()))
    assert.are.equal("error", p.severity)
    assert.are.equal(sbom:digest(), p.digest)
    assert(L:untag(other))
    -- the base itself (no subject) listed as a referrer of the base
    assert(L:tag(schema_index({ { mediaType = base:media_type(), digest = base:digest(), size = base:size() } }), tag))
    problem_with(("%s has no subject, not %s"):format(base:digest(), base:digest()))
    -- a wrong artifactType is a warning
    local wrong = { mediaType = MT.ImageManifest, digest = sbom:digest(), size = sbom:size(), artifactType = SIG }
    assert(L:tag(schema_index({ wrong }), tag))
    ok, warnings = L:verify()
    assert.is_true(ok)
    local seen = false
    for _, w in ipairs(warnings) do
      seen = seen or w.message:find("artifactType " .. SIG .. ", the document's is " .. SBOM, 1, true) ~= nil
    end
    assert.is_true(seen)
    L:close()
  end)
end)
