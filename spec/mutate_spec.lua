-- Image mutation (ocispec.mutate, issue 15 §3): config removals, platform,
-- any Config member, and the history they leave. The oracle reading the
-- results is lua-cjson over the blob bytes, not ocispec's own parser.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local oci = require("ocispec")
local cjson = require("cjson")

-- The manifest and config (plain tables decoded by cjson) of a tag.
local function read_image(L, tag)
  local r = assert(L:resolve(tag))
  local m = cjson.decode((assert(L:get_blob(r.descriptor:digest()))))
  local c = cjson.decode((assert(L:get_blob(m.config.digest))))
  return m, c, r.descriptor
end

-- A base image with one layer and every config member set.
local function base_image(L)
  local img = oci.build.Image.new(L, { platform = { os = "linux", architecture = "amd64" }, created = 0 })
  assert(img:add_layer{ entries = { { path = "etc/motd", type = "file", content = "hi\n", mode = 420 } },
    created_by = "COPY motd /etc/" })
  img:env("PATH", "/bin"):env("DEBUG", "1"):label("a", "1"):label("b", "2")
     :cmd({ "/bin/sh" }):entrypoint({ "/init" }):expose("80/tcp"):expose("53/udp")
     :volume("/data"):volume("/logs"):user("1000"):working_dir("/srv"):stop_signal("SIGINT")
     :annotate("note", "x")
  return assert(img:commit("base"))
end

describe("mutate: config edits", function()
  local tmp, L
  before_each(function()
    tmp = support.tmpdir()
    L = assert(oci.layout.create(tmp .. "/img"))
    base_image(L)
  end)
  after_each(function()
    L:close()
    support.rmdir(tmp)
  end)

  it("removes every field: env, label, cmd, entrypoint, port, volume, user, workdir, stop signal", function()
    local _, before = read_image(L, "base")
    local img = assert(oci.build.Image.from(L, "base", { created = 0 }))
    assert.are.equal(img, img:unset_env("DEBUG"):unset_label("a"):unset_cmd():unset_entrypoint()
      :unset_exposed_port("80"):unset_volume("/data"):unset_user():unset_working_dir():unset_stop_signal()
      :unset_annotation("note"))
    img:unset_env("ABSENT"):unset_label("absent") -- absent: no change, no error
    assert(img:commit("edited"))
    local m, c = read_image(L, "edited")
    assert.are.same({ "PATH=/bin" }, c.config.Env)
    assert.are.same({ b = "2" }, c.config.Labels)
    assert.are.same({ ["53/udp"] = {} }, c.config.ExposedPorts)
    assert.are.same({ ["/logs"] = {} }, c.config.Volumes)
    for _, k in ipairs({ "Cmd", "Entrypoint", "User", "WorkingDir", "StopSignal" }) do
      assert.is_nil(c.config[k], k)
    end
    assert.is_nil(m.annotations)
    -- removals write no history entry (Docker has no instruction for them)
    assert.are.same(before.history, c.history)
    assert(L:verify())
  end)

  it("drops a map emptied by removals instead of writing {}", function()
    local img = assert(oci.build.Image.from(L, "base", { created = 0 }))
    img:unset_label("a"):unset_label("b"):unset_exposed_port("80/tcp"):unset_exposed_port("53/udp")
       :unset_volume("/data"):unset_volume("/logs"):unset_env("PATH"):unset_env("DEBUG")
    assert(img:commit("bare"))
    local _, c = read_image(L, "bare")
    for _, k in ipairs({ "Labels", "ExposedPorts", "Volumes", "Env" }) do assert.is_nil(c.config[k], k) end
  end)

  it("sets the platform: config, and the descriptor an index records", function()
    local img = assert(oci.build.Image.from(L, "base", { created = 0 }))
    img:set_platform("linux/arm64/v8")
    assert.are.same({ os = "linux", architecture = "arm64", variant = "v8" }, img:platform())
    local desc = assert(img:commit("arm"))
    local _, c = read_image(L, "arm")
    assert.are.equal("arm64", c.architecture)
    assert.are.equal("v8", c.variant)
    assert.are.equal("arm64", desc:platform():architecture())
    img:set_platform({ os = "windows", architecture = "amd64", os_version = "10.0.17763.1" })
    assert(img:commit("win"))
    local _, w = read_image(L, "win")
    assert.are.equal("10.0.17763.1", w["os.version"])
    assert.is_nil(w.variant) -- members not given go
    assert.has_error(function() img:set_platform("linux") end,
      'platform: "linux" is not os/arch[/variant] (e.g. linux/arm64/v8)')
    assert.has_error(function() img:set_platform({ os = "linux" }) end,
      "platform: os and architecture (strings) are required")
    assert.has_error(function() img:set_platform({ os = "linux", architecture = "x", cpu = 1 }) end,
      'platform: unknown member "cpu"')
  end)

  it("sets and removes any Config member; author with Docker's MAINTAINER entry", function()
    local _, before = read_image(L, "base")
    local img = assert(oci.build.Image.from(L, "base", { created = 0 }))
    img:set_config("Healthcheck", { Test = { "CMD", "true" }, Interval = 1000000000 })
       :set_config("Shell", { "/bin/bash", "-c" }):set_config("Env", { "A=1" }):set_config("Labels", nil)
       :author("Jane <j@x>")
    assert(img:commit("cfg"))
    local _, c = read_image(L, "cfg")
    assert.are.same({ Test = { "CMD", "true" }, Interval = 1000000000 }, c.config.Healthcheck)
    assert.are.same({ "/bin/bash", "-c" }, c.config.Shell)
    assert.are.same({ "A=1" }, c.config.Env)
    assert.is_nil(c.config.Labels)
    assert.are.equal("Jane <j@x>", c.author)
    assert.are.equal(#before.history + 1, #c.history)
    assert.are.same({ created = "1970-01-01T00:00:00Z", created_by = "MAINTAINER Jane <j@x>", empty_layer = true },
      c.history[#c.history])
    img:author(nil)
    assert(img:commit("noauthor"))
    local _, n = read_image(L, "noauthor")
    assert.is_nil(n.author)
    assert.has_error(function() img:set_config("Bogus", 1) end, 'set_config: unknown config member "Bogus"')
    assert.has_error(function() img:set_config("Env", "A=1") end, "set_config: Env: table expected, got string")
    assert.has_error(function() img:unset_env(1) end, "unset_env: string expected, got number")
  end)

  it("is reproducible: the same edits give the same manifest digest", function()
    local digests = {}
    for i = 1, 2 do
      local img = assert(oci.build.Image.from(L, "base", { created = 0 }))
      img:unset_env("DEBUG"):set_platform("linux/arm64"):unset_cmd():label("c", "3")
      digests[i] = assert(img:commit("r" .. i)):digest()
    end
    assert.are.equal(digests[1], digests[2])
  end)
end)

describe("mutate: indexes", function()
  local tmp, L
  local ARCHES = { "amd64", "arm64", "s390x" }
  before_each(function()
    tmp = support.tmpdir()
    L = assert(oci.layout.create(tmp .. "/multi"))
    local idx = oci.build.Index.new(L, { annotations = { keep = "me" } })
    for _, arch in ipairs(ARCHES) do
      local img = oci.build.Image.new(L, { platform = { os = "linux", architecture = arch }, created = 0 })
      assert(img:add_layer{ entries = { { path = "arch", type = "file", content = arch .. "\n", mode = 420 } } })
      img:cmd({ "/bin/cat", "/arch" }):env("ARCH", arch)
      idx:add(assert(img:commit()))
    end
    assert(idx:commit("multi"))
  end)
  after_each(function()
    L:close()
    support.rmdir(tmp)
  end)

  -- the index tagged `tag`: decoded by cjson, and its bytes
  local function index_json(tag)
    local top
    for _, e in ipairs(L:list()) do
      if e.name == tag then top = e.descriptor:digest() end
    end
    local bytes = assert(L:get_blob(top))
    return cjson.decode(bytes), bytes
  end

  local function config_of(desc)
    local m = cjson.decode((assert(L:get_blob(desc.digest))))
    return cjson.decode((assert(L:get_blob(m.config.digest))))
  end

  it("edits every platform at once and writes a new index", function()
    local idx = assert(oci.build.Index.from(L, "multi"))
    local seen = {}
    assert(idx:edit(function(img, p)
      seen[#seen + 1] = p.architecture
      img:unset_env("ARCH"):label("edited", "yes")
    end, { created = 0 }))
    assert(idx:commit("edited"))
    assert.are.same(ARCHES, seen)
    local t = index_json("edited")
    assert.are.same({ keep = "me" }, t.annotations)
    assert.are.equal(3, #t.manifests)
    for i, d in ipairs(t.manifests) do
      assert.are.equal(ARCHES[i], d.platform.architecture)
      local c = config_of(d)
      assert.are.same({ edited = "yes" }, c.config.Labels)
      assert.is_nil(c.config.Env)
    end
    assert(L:verify())
  end)

  it("edits a chosen set of platforms and leaves the others byte for byte", function()
    local before = index_json("multi")
    local idx = assert(oci.build.Index.from(L, "multi"))
    assert(idx:edit(function(img) img:cmd({ "/bin/true" }) end, { platforms = { "linux/arm64" }, created = 0 }))
    assert(idx:commit("one"))
    local t = index_json("one")
    assert.are.same(before.manifests[1], t.manifests[1])
    assert.are.same(before.manifests[3], t.manifests[3])
    assert.are_not.equal(before.manifests[2].digest, t.manifests[2].digest)
    assert.are.same({ "/bin/true" }, config_of(t.manifests[2]).config.Cmd)
    local none, msg = idx:edit(function() end, { platforms = "linux/riscv64" })
    assert.is_nil(none)
    assert.are.equal("Index:edit: no image manifest of the index matches the platforms given", msg)
    -- fn failing: the edit fails with its message, the index unchanged
    local bad, bmsg = idx:edit(function() return nil, "nope" end)
    assert.is_nil(bad)
    assert.truthy(bmsg:find("nope", 1, true), bmsg)
  end)

  it("adds, removes and filters platforms", function()
    local idx = assert(oci.build.Index.from(L, "multi"))
    local _, n = idx:remove("linux/s390x")
    assert.are.equal(1, n)
    assert(idx:commit("two"))
    local t = index_json("two")
    assert.are.equal(2, #t.manifests)
    local archs = { t.manifests[1].platform.architecture, t.manifests[2].platform.architecture }
    assert.are.same({ "amd64", "arm64" }, archs)
    idx = assert(oci.build.Index.from(L, "multi"))
    idx:filter({ "linux/arm64", { os = "linux", architecture = "amd64" } })
    assert.are.equal(2, #idx:platforms())
    -- add one back from another image
    local img = oci.build.Image.new(L, { platform = { os = "linux", architecture = "ppc64le" }, created = 0 })
    idx:add(assert(img:commit()))
    assert(idx:commit("plus"))
    t = index_json("plus")
    assert.are.equal("ppc64le", t.manifests[3].platform.architecture)
    idx:filter(function() return false end)
    assert(idx:commit("empty"))
    local _, bytes = index_json("empty")
    assert.truthy(bytes:find('"manifests":[]', 1, true), bytes)
    assert.has_error(function() idx:remove(5) end,
      "Index:remove: a platform, a list of platforms or a function expected")
  end)

  it("reads a Docker manifest list and writes an OCI index", function()
    local before = index_json("multi")
    local list = cjson.encode({ schemaVersion = 2, manifests = before.manifests,
      mediaType = "application/vnd.docker.distribution.manifest.list.v2+json" })
    assert(L:tag(assert(L:put_blob(list, "application/vnd.docker.distribution.manifest.list.v2+json")), "dl"))
    local idx = assert(oci.build.Index.from(L, "dl"))
    assert(idx:edit(function(img) img:env("B", "2") end, { created = 0 }))
    assert(idx:commit("dl2"))
    local t = index_json("dl2")
    assert.are.equal("application/vnd.oci.image.index.v1+json", t.mediaType)
    assert.are.equal(3, #t.manifests)
  end)

  it("refuses a manifest or a missing name", function()
    local img = oci.build.Image.new(L, { created = 0 })
    assert(img:commit("single"))
    local idx, msg, err = oci.build.Index.from(L, "single")
    assert.is_nil(idx)
    assert.are.equal("invalid", err.code)
    assert.truthy(msg:find("is not an image index", 1, true), msg)
    idx, msg = oci.build.Index.from(L, "nope")
    assert.is_nil(idx)
    assert.truthy(msg:find('no image named "nope"', 1, true), msg)
  end)
end)

-- ------------------------------------------------------------ layers

local sh = support.sh

local quote = support.quote

-- Runs a python3 script (written to a temporary file) with args.
local function python(args, script)
  local file = os.tmpname()
  support.write(file, script)
  local out, ok = sh(("python3 %s %s"):format(quote(file), args))
  os.remove(file)
  return out, ok
end

-- A tar written by python's tarfile (the oracle: not our writer), from a
-- list of {name, type ("file", "dir", "symlink", "hardlink"), content or
-- link target}.
local function python_tar(path, members)
  local lines = {}
  for _, m in ipairs(members) do
    lines[#lines + 1] = ("%s\t%s\t%s"):format(m[1], m[2], m[3] or "")
  end
  local spec = path .. ".members"
  support.write(spec, table.concat(lines, "\n") .. "\n")
  local out, ok = python(([[%s %s]]):format(quote(spec), quote(path)), [[
import io, sys, tarfile
spec, out = sys.argv[1], sys.argv[2]
with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
    for line in open(spec):
        name, kind, data = line.rstrip("\n").split("\t")
        i = tarfile.TarInfo(name)
        i.mtime = 1000
        if kind == "file":
            b = data.encode(); i.size = len(b); i.mode = 0o644
            t.addfile(i, io.BytesIO(b)); continue
        i.mode = 0o755 if kind == "dir" else 0o777
        i.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE}[kind]
        i.linkname = data
        t.addfile(i)
]])
  assert(ok, out)
end

-- The tree below root as python's os.walk sees it: sorted lines
-- "path type detail" (file: content; symlink: target; dir: nothing), with
-- the number of hard links of a file when above 1.
local function python_tree(root)
  local out, ok = python(quote(root), [[
import os, stat, sys
root = sys.argv[1]
rows = []
for d, dirs, files in os.walk(root):
    for n in dirs + files:
        p = os.path.join(d, n); rel = os.path.relpath(p, root); st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode): rows.append(f"{rel} symlink {os.readlink(p)}")
        elif stat.S_ISDIR(st.st_mode): rows.append(f"{rel} dir")
        else:
            rows.append(f"{rel} file {open(p).read().strip()}" + (f" links={st.st_nlink}" if st.st_nlink > 1 else ""))
print("\n".join(sorted(rows)))
]])
  assert(ok, out)
  local rows = {}
  for l in out:gmatch("[^\n]+") do rows[#rows + 1] = l end
  return rows
end

-- umoci's unpack of tag into a tree (nil and the reason without umoci).
local function umoci_tree(dir, tag, bundle)
  local _, have = sh("command -v umoci")
  if not have then return nil, "umoci is not installed" end
  local out, ok = sh(("umoci unpack --image %s:%s %s"):format(quote(dir), tag, quote(bundle)))
  assert(ok, out)
  return python_tree(bundle .. "/rootfs")
end

describe("mutate: layers", function()
  local tmp, L
  before_each(function()
    tmp = support.tmpdir()
    L = assert(oci.layout.create(tmp .. "/img"))
    local img = oci.build.Image.new(L, { platform = { os = "linux", architecture = "amd64" }, created = 0 })
    assert(img:add_layer{ entries = {
      { path = "keep", type = "file", content = "keep\n" },
      { path = "gone", type = "file", content = "gone\n" },
      { path = "d", type = "dir" },
      { path = "d/old", type = "file", content = "old\n" },
      { path = "lib", type = "file", content = "lib\n" },
    }, created_by = "base layer 1", mtime = 0 })
    img:env("A", "1")
    assert(img:add_layer{ entries = { { path = "second", type = "file", content = "2\n" } },
      created_by = "base layer 2", mtime = 0 })
    assert(img:commit("base"))
  end)
  after_each(function()
    L:close()
    support.rmdir(tmp)
  end)

  local CHANGE = {
    { "new", "file", "new" }, { ".wh.gone", "file" }, { "d", "dir" }, { "d/.wh..wh..opq", "file" },
    { "d/fresh", "file", "fresh" }, { "ln", "symlink", "new" }, { "hl", "hardlink", "new" },
  }

  it("appends a tar file (whiteouts and links kept); umoci unpacks the tree expected", function()
    python_tar(tmp .. "/change.tar", CHANGE)
    local img = assert(oci.build.Image.from(L, "base", { created = 0 }))
    assert.are.equal(img, img:add_layer{ tar = tmp .. "/change.tar", created_by = "append change.tar" })
    assert(img:commit("appended"))
    assert(L:verify())
    local _, c = read_image(L, "appended")
    assert.are.equal(3, #c.rootfs.diff_ids)
    assert.are.equal("append change.tar", c.history[#c.history].created_by)
    local tree, why = umoci_tree(tmp .. "/img", "appended", tmp .. "/bundle")
    if not tree then return pending(why) end
    assert.are.same({
      "d dir", "d/fresh file fresh", "hl file new links=2", "keep file keep", "lib file lib", "ln symlink new",
      "new file new links=2", "second file 2",
    }, tree)
  end)

  it("appends a tar stream: a file handle or a function giving chunks, same digest as the file", function()
    python_tar(tmp .. "/change.tar", CHANGE)
    local digests = {}
    local f = assert(io.open(tmp .. "/change.tar", "rb"))
    local whole = f:read("a")
    f:seek("set", 0)
    local sources = {
      tmp .. "/change.tar", f,
      coroutine.wrap(function()
        for i = 1, #whole, 1000 do coroutine.yield(whole:sub(i, i + 999)) end
      end),
    }
    for i, src in ipairs(sources) do
      local img = assert(oci.build.Image.from(L, "base", { created = 0 }))
      assert(img:add_layer{ tar = src })
      digests[i] = assert(img:commit()):digest()
    end
    f:close()
    assert.are.equal(digests[1], digests[2])
    assert.are.equal(digests[1], digests[3])
    -- nothing left in the layout's temporary area
    local left = sh("ls -A " .. quote(tmp .. "/img/blobs") .. " | grep -v sha256 || true")
    assert.are.equal("", left)
  end)

  it("refuses a hostile tar with a specific error and adds nothing", function()
    python_tar(tmp .. "/evil.tar", { { "../evil", "file", "x" } })
    local img = assert(oci.build.Image.from(L, "base", { created = 0 }))
    support.assert_fails({ "evil.tar", "../evil" }, nil, img:add_layer{ tar = tmp .. "/evil.tar" })
    -- a file through the tar's own link: out of the root (the unpacker's
    -- error), or inside it (refused: its content would be read through it)
    python_tar(tmp .. "/out.tar", { { "etc", "symlink", "/etc" }, { "etc/passwd", "file", "x" } })
    support.assert_fails({ "out.tar", 'layer entry "etc/passwd"', "symbolic links" }, nil,
      img:add_layer{ tar = tmp .. "/out.tar" })
    python_tar(tmp .. "/through.tar", { { "real", "dir" }, { "sub", "symlink", "real" }, { "sub/f", "file", "x" } })
    support.assert_fails('tar entry "sub/f" is below the symbolic link "sub"', { code = "unsupported" },
      img:add_layer{ tar = tmp .. "/through.tar" })
    support.assert_fails("tar stream: a string chunk expected, got number", { code = "invalid" },
      img:add_layer{ tar = function() return 5 end })
    assert.are.equal(2, #img.layers)
    assert.has_error(function() img:add_layer{ tar = 5 } end,
      "add_layer: tar must be a path, a file handle or a function, got number")
  end)

  it("flattens all layers into one: whiteouts resolved, the same tree, history consistent, reproducible", function()
    python_tar(tmp .. "/change.tar", CHANGE)
    local img = assert(oci.build.Image.from(L, "base", { created = 0 }))
    assert(img:add_layer{ tar = tmp .. "/change.tar", created_by = "append" })
    img:cmd({ "/new" })
    assert(img:commit("layered"))
    local digests = {}
    for i = 1, 2 do
      local flat = assert(oci.build.Image.from(L, "layered", { created = 0 }))
      assert.are.equal(flat, flat:flatten())
      digests[i] = assert(flat:commit("flat")):digest()
    end
    assert.are.equal(digests[1], digests[2])
    local m, c = read_image(L, "flat")
    assert.are.equal(1, #m.layers)
    assert.are.equal(1, #c.rootfs.diff_ids)
    local steps = {}
    for i, e in ipairs(c.history) do steps[i] = (e.empty_layer and "empty " or "") .. e.created_by end
    assert.are.same({ "empty ENV A=1", "ocispec flatten", 'empty CMD ["/new"]' }, steps)
    for _, e in ipairs(assert(oci.layer.entries(L:blob_path(m.layers[1].digest)))) do
      assert.is_nil(e.path:find(".wh.", 1, true), e.path)
    end
    assert(L:verify())
    local want, why = umoci_tree(tmp .. "/img", "layered", tmp .. "/b-layered")
    if not want then return pending(why) end
    assert.are.same(want, umoci_tree(tmp .. "/img", "flat", tmp .. "/b-flat"))
    support.assert_fails("flatten: no layers 2 to 1 (the image has 1)", { code = "invalid" },
      assert(oci.build.Image.from(L, "flat")):flatten({ from = 2, to = 1 }))
  end)

  it("flattens a range above the first layer: its deletions of lower files kept as whiteouts", function()
    python_tar(tmp .. "/change.tar", CHANGE)
    local img = assert(oci.build.Image.from(L, "base", { created = 0 }))
    assert(img:add_layer{ tar = tmp .. "/change.tar", created_by = "append" })
    -- a fourth layer: "keep" rewritten with the same size and mtime (only
    -- the content tells), a range file deleted, the lower "second" kept
    python_tar(tmp .. "/more.tar", { { "keep", "file", "KEEP" }, { ".wh.ln", "file" },
      { "lowerlink", "hardlink", "lib" } })
    -- as it is (its hard link's target is in a lower layer: add_layer{tar=} would refuse it)
    local more = assert(L:put_blob_file(tmp .. "/more.tar", oci.image.MediaType.ImageLayer))
    img:add_layer_descriptor(more, more:digest(), { created_by = "more" })
    assert(img:commit("four"))
    assert(img:flatten({ from = 2, to = 4, created_by = "squash 2-4" }))
    assert(img:commit("ranged"))
    local m, c = read_image(L, "ranged")
    assert.are.equal(2, #m.layers)
    local _, four = read_image(L, "four")
    assert.are.equal(four.rootfs.diff_ids[1], c.rootfs.diff_ids[1])
    local steps = {}
    for i, e in ipairs(c.history) do steps[i] = e.created_by end
    assert.are.same({ "base layer 1", "ENV A=1", "squash 2-4" }, steps)
    local names = {}
    for _, e in ipairs(assert(oci.layer.entries(L:blob_path(m.layers[2].digest)))) do
      names[#names + 1] = e.path .. " " .. e.type
    end
    table.sort(names)
    -- hl and new: one hard link group (which one holds the data is the builder's choice)
    assert.are_not.equal(names[6]:match(" (%a+)$"), names[9]:match(" (%a+)$"))
    names[6], names[9] = "hl", "new"
    assert.are.same({ ".wh.gone file", ".wh.ln file", "d/ dir", "d/.wh..wh..opq file", "d/fresh file",
      "hl", "keep file", "lowerlink file", "new", "second file" }, names)
    assert(L:verify())
    local want, why = umoci_tree(tmp .. "/img", "four", tmp .. "/b-four")
    if not want then return pending(why) end
    -- the same tree, except that the hard link to a file below the range
    -- is a copy of it (documented)
    for i, row in ipairs(want) do
      if row:match("^lib ") or row:match("^lowerlink ") then want[i] = row:gsub(" links=2$", "") end
    end
    assert.are.same(want, umoci_tree(tmp .. "/img", "ranged", tmp .. "/b-ranged"))
  end)

  it("removes and replaces layer N, keeping the history consistent", function()
    local _, base = read_image(L, "base")
    assert.are.equal(3, #base.history) -- layer, ENV (empty_layer), layer
    local img = assert(oci.build.Image.from(L, "base", { created = 0 }))
    assert(img:replace_layer(1, { entries = { { path = "only", type = "file", content = "only\n" } },
      created_by = "replaced", mtime = 0 }))
    assert(img:commit("replaced"))
    local _, c = read_image(L, "replaced")
    assert.are.equal("replaced", c.history[1].created_by)
    assert.are.equal("ENV A=1", c.history[2].created_by)
    assert.are.equal("base layer 2", c.history[3].created_by)
    assert.are.equal(base.rootfs.diff_ids[2], c.rootfs.diff_ids[2])
    assert.are_not.equal(base.rootfs.diff_ids[1], c.rootfs.diff_ids[1])
    local tree, why = umoci_tree(tmp .. "/img", "replaced", tmp .. "/b1")
    if tree then assert.are.same({ "only file only", "second file 2" }, tree) end

    img = assert(oci.build.Image.from(L, "base", { created = 0 }))
    assert(img:remove_layer(1))
    assert(img:commit("removed"))
    local m
    m, c = read_image(L, "removed")
    assert.are.equal(1, #m.layers)
    assert.are.same({ base.rootfs.diff_ids[2] }, c.rootfs.diff_ids)
    assert.are.same({ "ENV A=1", "base layer 2" }, { c.history[1].created_by, c.history[2].created_by })
    assert(L:verify())
    support.assert_fails("remove_layer: no layer 5 (the image has 1)", { code = "invalid" }, img:remove_layer(5))
    support.assert_fails("replace_layer: no layer 0 (the image has 1)", { code = "invalid" },
      img:replace_layer(0, { entries = {} }))
    -- a history that does not match the layers is refused, not guessed at
    img.cfg.history[#img.cfg.history + 1] = { created_by = "stray" }
    support.assert_fails("remove_layer: the history has 2 entries for layers, the image 1 layers",
      { code = "invalid" }, img:remove_layer(1))
    if not tree then pending(why) end
  end)
end)

describe("mutate: rebase", function()
  local tmp, L
  local function layer_image(layout, tag, files, arch)
    local img = oci.build.Image.new(layout, { platform = { os = "linux", architecture = arch or "amd64" },
      created = 0 })
    for _, f in ipairs(files) do
      assert(img:add_layer{ entries = { { path = f[1], type = "file", content = f[2] .. "\n" } },
        created_by = "ADD " .. f[1], mtime = 0 })
    end
    img:env("BASE", tag)
    return assert(img:commit(tag))
  end
  before_each(function()
    tmp = support.tmpdir()
    L = assert(oci.layout.create(tmp .. "/img"))
    layer_image(L, "old", { { "os-release", "old" } })
    layer_image(L, "new", { { "os-release", "new" }, { "extra", "extra" } })
    layer_image(L, "other", { { "os-release", "other" } })
    local app = assert(oci.build.Image.from(L, "old", { created = 0 }))
    assert(app:add_layer{ entries = { { path = "app", type = "file", content = "app\n" } }, created_by = "ADD app",
      mtime = 0 })
    app:cmd({ "/app" })
    assert(app:commit("app"))
  end)
  after_each(function()
    L:close()
    support.rmdir(tmp)
  end)

  it("swaps the old base's layers for the new base's, history and base annotations updated", function()
    local _, new_cfg, new_desc = read_image(L, "new")
    local _, app_cfg = read_image(L, "app")
    local img = assert(oci.build.Image.from(L, "app", { created = 0 }))
    assert.are.equal(img, img:rebase("old", "new"))
    local d1 = assert(img:commit("rebased")):digest()
    local m, c = read_image(L, "rebased")
    assert.are.equal(3, #m.layers)
    assert.are.same({ new_cfg.rootfs.diff_ids[1], new_cfg.rootfs.diff_ids[2], app_cfg.rootfs.diff_ids[2] },
      c.rootfs.diff_ids)
    local steps = {}
    for i, e in ipairs(c.history) do steps[i] = e.created_by end
    assert.are.same({ "ADD os-release", "ADD extra", "ENV BASE=new", "ADD app", 'CMD ["/app"]' }, steps)
    assert.are.equal(new_desc:digest(), m.annotations["org.opencontainers.image.base.digest"])
    assert.are.equal("new", m.annotations["org.opencontainers.image.base.name"])
    assert(L:verify())
    -- reproducible
    local again = assert(oci.build.Image.from(L, "app", { created = 0 }))
    assert.are.equal(d1, assert(assert(again:rebase("old", "new")):commit()):digest())
    local tree, why = umoci_tree(tmp .. "/img", "rebased", tmp .. "/bundle")
    if not tree then return pending(why) end
    assert.are.same({ "app file app", "extra file extra", "os-release file new" }, tree)
  end)

  it("takes a new base from another layout (its blobs copied in) and a name", function()
    local L2 = assert(oci.layout.create(tmp .. "/other-layout"))
    layer_image(L2, "v2", { { "os-release", "v2" } })
    local img = assert(oci.build.Image.from(L, "app", { created = 0 }))
    assert(img:rebase("old", { layout = L2, ref = "v2" }, { name = "example.com/base:v2" }))
    assert(img:commit("moved"))
    assert(L:verify())
    local m = read_image(L, "moved")
    assert.are.equal("example.com/base:v2", m.annotations["org.opencontainers.image.base.name"])
    L2:close()
  end)

  it("never follows a link planted in another layout's blobs/", function()
    local L2 = assert(oci.layout.create(tmp .. "/planted"))
    local d = layer_image(L2, "v2", { { "os-release", "v2" } })
    local r = assert(L2:resolve("v2"))
    local layer_path = L2:blob_path(r.layers[1]:digest())
    support.write(tmp .. "/secret", "host secret\n")
    assert(os.execute(("rm %s && ln -s %s %s"):format(quote(layer_path), quote(tmp .. "/secret"), quote(layer_path))))
    local img = assert(oci.build.Image.from(L, "app", { created = 0 }))
    local ok, msg = img:rebase("old", { layout = L2, ref = "v2" })
    assert.is_nil(ok)
    assert.truthy(msg:find(r.layers[1]:digest(), 1, true), msg)
    -- the secret's bytes never reached the image's layout
    local secret_digest = oci.digest.sha256("host secret\n")
    assert.is_false(L:has_blob(secret_digest))
    assert.is_not_nil(d)
    L2:close()
  end)

  it("refuses an image that does not start with the old base, and a base of another platform", function()
    local img = assert(oci.build.Image.from(L, "app", { created = 0 }))
    support.assert_fails({ "rebase: the image does not start with the old base other: its layer 1 is" },
      { code = "mismatch" }, img:rebase("other", "new"))
    layer_image(L, "arm", { { "os-release", "arm" } }, "arm64")
    support.assert_fails("rebase: the new base arm is linux/arm64, the image linux/amd64", { code = "mismatch" },
      img:rebase("old", { layout = L, ref = "arm" }))
    support.assert_fails({ "rebase: old base nothing" }, nil, img:rebase("nothing", "new"))
    assert.are.equal(2, #img.layers) -- unchanged
    assert.has_error(function() img:rebase(5, "new") end,
      "rebase: old base: a ref of the image's layout or {layout=, ref=} expected")
  end)
end)
