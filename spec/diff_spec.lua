-- oci.diff and `ocispec diff`: two images' files (added, removed, changed
-- in content, link target, mode, owner, xattrs), configs and histories,
-- without unpacking. Layers are written with Python's tarfile; the oracle
-- is umoci's unpacked trees walked by Python (os.lstat, hashlib,
-- os.listxattr): the set of paths that differ must equal ours.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local registries = dofile(here .. "fixtures/registry.lua")
local oci = require("ocispec")

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- [{out, level, entries}] (JSON on stdin) -> gzip layers; prints their
-- diff_ids, one a line
local MAKE_TAR = [[
import json, sys, tarfile, io, gzip, hashlib
types = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
         "link": tarfile.LNKTYPE, "char": tarfile.CHRTYPE, "fifo": tarfile.FIFOTYPE}
def layer(out, level, entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            i = tarfile.TarInfo(e["name"])
            i.type = types[e.get("type", "file")]
            i.mode = e.get("mode", 0o755 if i.type == tarfile.DIRTYPE else 0o644)
            i.uid, i.gid = e.get("uid", 0), e.get("gid", 0)
            i.mtime = e.get("mtime", 1704067200)
            i.linkname = e.get("target", "")
            i.devmajor, i.devminor = e.get("major", 0), e.get("minor", 0)
            i.pax_headers = {"SCHILY.xattr." + k: v for k, v in e.get("xattrs", {}).items()}
            data = e.get("data", "").encode()
            i.size = len(data) if i.type == tarfile.REGTYPE else 0
            t.addfile(i, io.BytesIO(data) if i.size else None)
    raw = buf.getvalue()
    with open(out, "wb") as f:
        f.write(gzip.compress(raw, compresslevel=level, mtime=0))
    print("sha256:" + hashlib.sha256(raw).hexdigest())
for spec in json.load(sys.stdin):
    layer(spec["out"], spec["level"], spec["entries"])
]]

-- the paths that differ between two unpacked rootfs (sorted, one a line)
local TREE_DIFF = here .. "../tests/diff/tree_diff.py"

-- Every layer of this file, written by one Python run in setup:
-- name -> entries (and `level`, gzip's; default 9).
local LAYER_SPECS = {
  base = {
    { name = "etc", type = "dir" },
    { name = "etc/passwd", data = "root" },
    { name = "etc/keep", data = "same" },
    { name = "etc/mode", data = "m" },
    { name = "etc/owner", data = "o" },
    { name = "etc/xattr", data = "x", xattrs = { ["user.a"] = "1" } },
    { name = "etc/link", type = "symlink", target = "passwd" },
    { name = "opq/a", data = "a" },
    { name = "opq/b", data = "b" },
    { name = "gone/x", data = "x" },
    { name = "rm", data = "bye" },
    { name = "hl", type = "dir" },
    { name = "hl/f", data = "hard" },
    { name = "hl/l", type = "link", target = "hl/f" },
    { name = "mt", data = "mtime only" },
  },
  top = {
    { name = "etc/mode", data = "m", mode = 493 },
    { name = "etc/owner", data = "o", uid = 1000, gid = 1000 },
    { name = "etc/xattr", data = "x", xattrs = { ["user.a"] = "2" } },
    { name = "etc/link", type = "symlink", target = "keep" },
    { name = "etc/passwd", data = "root2" },
    { name = ".wh.rm" },
    { name = ".wh.gone" },
    { name = "opq/.wh..wh..opq" },
    { name = "opq/c", data = "c" },
    { name = "new", data = "added" },
    { name = "hl/f", data = "hard2" },
    { name = "hl/l", type = "link", target = "hl/f" },
    { name = "mt", data = "mtime only", mtime = 1 },
  },
  -- the same tar as plain, compressed at another level: another blob
  again = { level = 1, { name = "etc", type = "dir" }, { name = "etc/passwd", data = "root" } },
  plain = { { name = "etc", type = "dir" }, { name = "etc/passwd", data = "root" } },
  evil = { { name = "etc", type = "dir" }, { name = "etc/passwd", data = "evil" } },
  d1 = { { name = "dev", type = "dir" }, { name = "dev/null", type = "char", major = 1, minor = 3 },
    { name = "dev/p", type = "fifo" } },
  d2 = { { name = "dev", type = "dir" }, { name = "dev/null", type = "char", major = 1, minor = 5 },
    { name = "dev/p", data = "now a file" } },
  -- whiteout then rewrite in one layer, a file over a directory, an
  -- opaque directory re-filled
  swap = {
    { name = ".wh.gone" },
    { name = "gone/new", data = "fresh" },
    { name = "opq", data = "now a file" },
    { name = "hl/.wh..wh..opq" },
    { name = "hl/g", data = "g" },
  },
  bad1 = { { name = "etc/link/x", data = "through" } },
  bad2 = { { name = "rm/inside", data = "through" } },
  hlbad1 = { { name = "hl/bad", type = "link", target = "nothing" } },
  hlbad2 = { { name = "hl/bad", type = "link", target = "etc" } },
  ok = { { name = ".wh.rm" }, { name = "rm/inside", data = "fine" } },
  x = { { name = "cap", data = "c", xattrs = { ["user.bin"] = "\0\1" } } },
}

local tmp
local LAYERS = {} -- name -> {path=, diff_id=}

local function make_layers()
  support.write(tmp .. "/make_tar.py", MAKE_TAR)
  local names, list = {}, {}
  for name in pairs(LAYER_SPECS) do names[#names + 1] = name end
  table.sort(names)
  for i, name in ipairs(names) do
    local spec = LAYER_SPECS[name]
    list[i] = { out = ("%s/%s.tar.gz"):format(tmp, name), level = spec.level or 9,
      entries = table.move(spec, 1, #spec, 1, {}) }
  end
  support.write(tmp .. "/layers.json", oci.json.encode(list))
  local p = io.popen(("python3 %s < %s"):format(quote(tmp .. "/make_tar.py"), quote(tmp .. "/layers.json")))
  for i, name in ipairs(names) do LAYERS[name] = { path = list[i].out, diff_id = p:read("l") } end
  assert(p:close())
end

-- A layout at dir (tag "t") with these layers (bottom first) and config
-- fields cfg (config=, history=); ids: the diff_ids the config claims.
local function make_image(dir, layers, cfg, ids)
  local L = assert(oci.layout.create(dir))
  local descs, claimed = {}, {}
  for i, l in ipairs(layers) do
    descs[i] = assert(L:put_blob_file(l.path, oci.image.MediaType.ImageLayerGzip))
    claimed[i] = l.diff_id
  end
  ids = ids or claimed
  local c = { architecture = oci.core.host_arch, os = "linux", rootfs = { type = "layers", diff_ids = ids } }
  for k, v in pairs(cfg or {}) do c[k] = v end
  local cd = assert(L:put_blob(oci.json.encode(c), oci.image.MediaType.ImageConfig))
  local m = assert(oci.image.ImageManifestBuilder():schema_version(2)
    :media_type(oci.image.MediaType.ImageManifest):config(cd):layers(descs):build())
  assert(L:tag(assert(L:put_document(m)), "t"))
  L:close()
  return "oci:" .. dir .. ":t"
end

local function paths(list)
  local out = {}
  for i, e in ipairs(list) do out[i] = e.path end
  return out
end

local function changed_map(d)
  local out = {}
  for _, c in ipairs(d.files.changed) do out[c.path] = table.concat(c.what, ",") end
  return out
end

local function run_cli(args)
  local cmd = { "lua5.4", quote(support.dir .. "../../bin/ocispec") }
  for _, a in ipairs(args) do cmd[#cmd + 1] = quote(a) end
  local p = io.popen(table.concat(cmd, " ") .. " 2>" .. quote(tmp .. "/stderr"))
  local out = p:read("a")
  local _, _, status = p:close()
  return out, status, support.read(tmp .. "/stderr")
end

describe("oci.diff", function()
  local A, B, base
  setup(function()
    tmp = support.tmpdir()
    make_layers()
    base = LAYERS.base
    local top = LAYERS.top
    A = make_image(tmp .. "/a", { base }, {
      config = { Env = { "PATH=/bin" }, Cmd = { "sh" }, Labels = { x = "1" } },
      history = { { created_by = "base" } },
    })
    B = make_image(tmp .. "/b", { base, top }, {
      config = { Env = { "PATH=/bin", "X=1" }, Cmd = { "sh" }, Labels = { x = "2" } },
      history = { { created_by = "base" }, { created_by = "top" } },
    })
  end)
  teardown(function() support.rmdir(tmp) end)

  it("reports every kind of file change, the config and the history", function()
    local d = assert(oci.diff(A, B))
    assert.same({ "/new", "/opq/c" }, paths(d.files.added))
    assert.same({ "/gone", "/gone/x", "/opq/a", "/opq/b", "/rm" }, paths(d.files.removed))
    assert.same({
      ["/etc/link"] = "target",
      ["/etc/mode"] = "mode",
      ["/etc/owner"] = "owner",
      ["/etc/passwd"] = "content",
      ["/etc/xattr"] = "xattrs",
      ["/hl/f"] = "content",
      ["/hl/l"] = "content",
    }, changed_map(d))
    local x = d.files.changed[5]
    assert.equal("/etc/xattr", x.path)
    assert.same({ ["user.a"] = "1" }, x.a.xattrs)
    assert.same({ ["user.a"] = "2" }, x.b.xattrs)
    local p = d.files.changed[4]
    assert.equal("/etc/passwd", p.path)
    assert.equal("sha256:4813494d137e1631bba301d5acab6e7bb7aa74ce1185d456565ef51d737677b2", p.a.digest)
    assert.equal(2, p.b.layer)
    assert.same({ "config.Env", "config.Labels" }, { d.config[1].field, d.config[2].field })
    assert.equal(2, #d.config)
    assert.same({ "PATH=/bin", "X=1" }, d.config[1].b)
    assert.same({ { index = 2, b = { created_by = "top" } } }, d.history)
    assert.same({ a = 1, b = 2, shared = 1 }, d.layers)
    assert.is_false(d.identical)
  end)

  it("gives an empty diff for identical images, reading no layer", function()
    local d = assert(oci.diff(A, A))
    assert.is_true(d.identical)
    assert.same({ {}, {}, {} }, { d.files.added, d.files.removed, d.files.changed })
    assert.same({ a = 1, b = 1, shared = 1 }, d.layers)
  end)

  it("reads the layers both images share once, none when all are shared", function()
    local LA, LB = assert(oci.layout.open(tmp .. "/a")), assert(oci.layout.open(tmp .. "/b"))
    local ra, rb = assert(oci.image_reader(LA, "t")), assert(oci.image_reader(LB, "t"))
    local d = assert(oci.core.image_reader.diff(ra, rb))
    assert.equal(1, d.layers_shared)
    assert.same({ 1, 1 }, { ra:layers_read(), rb:layers_read() }) -- the base once, then B's top
    local r1, r2 = assert(oci.image_reader(LA, "t")), assert(oci.image_reader(LA, "t"))
    d = assert(oci.core.image_reader.diff(r1, r2))
    assert.same({ 0, 0, 0 }, { #d.changed, r1:layers_read(), r2:layers_read() })
    for _, r in ipairs({ ra, rb, r1, r2, LA, LB }) do r:close() end
  end)

  it("reads both sides of a recompressed layer, and a config's diff_ids hide nothing", function()
    local again = LAYERS.again
    local plain = LAYERS.plain
    local R1 = make_image(tmp .. "/r1", { plain })
    local R2 = make_image(tmp .. "/r2", { again })
    local d = assert(oci.diff(R1, R2))
    assert.is_true(d.identical)
    assert.equal(0, d.layers.shared)
    -- a config claiming the base's diff_id for another layer
    local evil = LAYERS.evil
    local E = make_image(tmp .. "/evil", { evil }, nil, { plain.diff_id })
    d = assert(oci.diff(R1, E))
    assert.same({ ["/etc/passwd"] = "content" }, changed_map(d))
  end)

  it("compares device numbers and types, and hashes a sparse file's holes as zeros", function()
    local d1 = LAYERS.d1
    local d2 = LAYERS.d2
    local d = assert(oci.diff(make_image(tmp .. "/d1", { d1 }), make_image(tmp .. "/d2", { d2 })))
    assert.same({ ["/dev/null"] = "device", ["/dev/p"] = "type,content" }, changed_map(d))
    assert.same({ 1, 5 }, { d.files.changed[1].b.major, d.files.changed[1].b.minor })
    -- a file with a hole, stored sparse by layer.build
    local dir = tmp .. "/sparse"
    assert(os.execute("mkdir -p " .. quote(dir)))
    local f = assert(io.open(dir .. "/holes", "wb"))
    f:write("head")
    f:seek("set", 1024 * 1024)
    f:write("tail")
    f:close()
    local L = assert(oci.layout.create(tmp .. "/sp"))
    local img = oci.build.Image.new(L, { created = 0 })
    assert(img:add_layer{ dir = dir })
    assert(img:commit("t"))
    L:close()
    d = assert(oci.diff(A, "oci:" .. tmp .. "/sp:t"))
    local holes
    for _, e in ipairs(d.files.added) do if e.path == "/holes" then holes = e end end
    local p = io.popen("python3 -c 'import hashlib,sys;"
      .. "print(hashlib.sha256(open(sys.argv[1],\"rb\").read()).hexdigest())' " .. quote(dir .. "/holes"))
    assert.equal("sha256:" .. p:read("l"), holes.digest)
    p:close()
    assert.equal(1024 * 1024 + 4, holes.size)
  end)

  it("takes opened sources and both directions", function()
    local sa = assert(oci.transport.open(A))
    local sb = assert(oci.transport.open(B))
    local d = assert(oci.diff(sb, sa))
    assert.same({ "/gone", "/gone/x", "/opq/a", "/opq/b", "/rm" }, paths(d.files.added))
    assert.same({ "/new", "/opq/c" }, paths(d.files.removed))
    sa:close()
    sb:close()
  end)

  it("compares images of other transports: docker-archive, oci-archive, a registry", function()
    local da, oa = "docker-archive:" .. tmp .. "/b.tar:demo/b:1", "oci-archive:" .. tmp .. "/b-oci.tar:1"
    assert(oci.transport.copy(B, da))
    assert(oci.transport.copy(B, oa))
    -- docker-archive layers are plain tars: other blobs, every layer read on both sides
    local d = assert(oci.diff(B, da))
    assert.is_true(d.identical)
    assert.same({ a = 2, b = 2, shared = 0 }, d.layers)
    d = assert(oci.diff(A, oa))
    assert.same({ "/new", "/opq/c" }, paths(d.files.added))
    assert.same({ a = 1, b = 2, shared = 1 }, d.layers)
    local ok, why = registries.available()
    if not ok then return pending(why) end
    local reg = registries.start()
    local conn = { plain_http = true, auth_file = false }
    local ref = "docker://" .. reg.host .. "/diff/b:1"
    local pushed, msg = oci.transport.copy(B, ref, conn)
    local rd, rmsg = oci.diff(A, ref, conn)
    local out, status, cerr = run_cli({ "diff", "--plain-http", A, ref })
    reg.stop()
    assert(pushed, msg)
    assert(rd, rmsg)
    assert.same({ "/new", "/opq/c" }, paths(rd.files.added))
    assert.equal(1, status, cerr)
    assert.matches("A /new\n", out, 1, true)
  end)

  it("agrees with umoci's unpacked trees walked by Python", function()
    if os.execute("command -v umoci >/dev/null 2>&1") ~= true then return pending("umoci is not installed") end
    local C = make_image(tmp .. "/swap", { base, LAYERS.swap }) -- LAYER_SPECS.swap says what it holds
    local rootless = io.popen("id -u"):read("l") ~= "0"
    local function unpack(dir)
      local out = tmp .. "/u-" .. dir:gsub("[^%w]", "_")
      assert(os.execute(("umoci unpack %s --image %s %s >/dev/null 2>&1"):format(rootless and "--rootless" or "",
        quote(dir .. ":t"), quote(out))))
      return out .. "/rootfs"
    end
    local ua = unpack(tmp .. "/a")
    for _, case in ipairs({ { tmp .. "/b", B }, { tmp .. "/swap", C } }) do
      local p = io.popen(("python3 %s %s %s"):format(quote(TREE_DIFF), quote(ua), quote(unpack(case[1]))))
      local want = {}
      for l in p:lines() do want[#want + 1] = l end
      assert(p:close())
      local d = assert(oci.diff(A, case[2]))
      local got = {}
      for _, k in ipairs({ "added", "removed", "changed" }) do
        for _, e in ipairs(d.files[k]) do got[#got + 1] = e.path end
      end
      table.sort(got)
      if rootless and case[2] == B then -- an unprivileged unpack cannot give /etc/owner its owner
        table.insert(want, 1, "/etc/owner")
        table.sort(want)
      end
      assert.same(want, got)
      assert.is_true(#got > 5)
    end
  end)

  it("refuses a layer written below a lower symbolic link or file (umoci refuses the file too)", function()
    for i, case in ipairs({ { "etc/link/x", "/etc/link" }, { "rm/inside", "/rm" } }) do
      local bad = LAYERS["bad" .. i]
      local C = make_image(tmp .. "/c" .. i, { base, bad })
      local d, msg, err = oci.diff(A, C)
      assert.is_nil(d)
      assert.equal("unsupported", err.code)
      assert.matches(case[2] .. ": a layer writes below this path", msg, 1, true)
    end
    -- hard links: the unpacker's errors
    for i, case in ipairs({ { "nothing", 'layer entry "hl/bad": hard link target "nothing" does not exist' },
      { "etc", 'layer entry "hl/bad": hard link to a directory' } }) do
      local bad = LAYERS["hlbad" .. i]
      local d, msg, err = oci.diff(A, make_image(tmp .. "/h" .. i, { base, bad }))
      assert.is_nil(d)
      assert.equal("invalid", err.code)
      assert.matches(case[2], msg, 1, true)
    end
    -- whited out in the same layer, the name may become a directory
    local ok = LAYERS.ok
    local d = assert(oci.diff(A, make_image(tmp .. "/c3", { base, ok })))
    assert.same({ "/rm/inside" }, paths(d.files.added))
    assert.same({ ["/rm"] = "type,content,mode" }, changed_map(d))
  end)

  it("fails with the side and the reason on a missing image or a bad reference", function()
    local d, msg, err = oci.diff(A, "oci:" .. tmp .. "/nowhere:t")
    assert.is_nil(d)
    assert.matches("^b: ", msg)
    assert.equal("table", type(err))
    d, msg, err = oci.diff("oci:", A)
    assert.is_nil(d)
    assert.matches("^a: .*no directory", msg)
    assert.equal("invalid", err.code)
    assert.has_error(function() oci.diff(A, B, { bogus = 1 }) end, 'bad argument to \'diff\' (unknown option "bogus")')
  end)

  it("ocispec diff: a report, --json, exit 0 when identical, 1 when not, 2 on error", function()
    local out, status = run_cli({ "diff", A, B })
    assert.equal(1, status)
    assert.matches("A /new\n", out, 1, true)
    assert.matches("D /rm\n", out, 1, true)
    assert.matches("C /etc/mode (mode 0644 -> 0755)\n", out, 1, true)
    assert.matches("C /etc/link (target passwd -> keep)\n", out, 1, true)
    assert.matches("C /etc/owner (owner 0:0 -> 1000:1000)\n", out, 1, true)
    assert.matches('C /etc/xattr (xattrs user.a)\n', out, 1, true)
    assert.matches('config Env: ["PATH=/bin"] -> ["PATH=/bin","X=1"]\n', out, 1, true)
    assert.matches('history 2: (none) -> {"created_by":"top"}\n', out, 1, true)
    out, status = run_cli({ "diff", "--json", A, B })
    assert.equal(1, status)
    local j = assert(oci.json.decode(out))
    assert.equal("/new", j.files.added[1].path)
    -- an xattr value that is no text: {"hex": ...} in JSON
    local X = make_image(tmp .. "/x", { LAYERS.x })
    out, status = run_cli({ "diff", "--json", A, X })
    assert.equal(1, status)
    assert.matches('"xattrs":{"user.bin":{"hex":"0001"}}', out, 1, true)
    out, status = run_cli({ "diff", A, A })
    assert.equal(0, status)
    assert.equal("", out)
    local err
    out, status, err = run_cli({ "diff", A, "oci:" .. tmp .. "/nowhere:t" })
    assert.equal(2, status)
    assert.equal("", out)
    assert.matches("ocispec diff: b: ", err, 1, true)
  end)
end)
