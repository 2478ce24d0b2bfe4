-- img:copy and img:copy_from (ocispec.build_copy): COPY and COPY --from as
-- layers; the layer's entries read back with oci.layer.entries and, for
-- one, the tree umoci unpacks.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local oci = require("ocispec")

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local ok = p:close()
  assert(ok, cmd .. ": " .. out)
  return out
end

local function is_root()
  return (sh("id -u")):match("^0") ~= nil
end

-- The last layer of img: {path = {type=, mode=, uid=, gid=, target=}}.
local function last_layer(img, dir)
  local d = img.layers[#img.layers].digest
  local out = {}
  for _, e in ipairs(assert(oci.layer.entries(dir .. "/blobs/sha256/" .. d:sub(8)))) do out[e.path] = e end
  return out
end

local function keys(t)
  local k = {}
  for n in pairs(t) do k[#k + 1] = n end
  table.sort(k)
  return k
end

describe("img:copy", function()
  local tmp, L
  before_each(function()
    tmp = support.tmpdir()
    sh(("mkdir -p %s/src/sub %s/img && printf a > %s/src/a.lua && printf b > %s/src/b.lua && printf t > %s/src/c.txt "
      .. "&& printf s > %s/src/sub/s && ln -s a.lua %s/src/link.lua && chmod 700 %s/src/sub")
      :format(tmp, tmp, tmp, tmp, tmp, tmp, tmp, tmp))
    L = assert(oci.layout.create(tmp .. "/img"))
  end)
  after_each(function() support.rmdir(tmp) end)

  it("copies a glob into a directory with chown and chmod; links stay links", function()
    local img = oci.build.Image.new(L)
    assert(img:copy(tmp .. "/src/*.lua", "/app/", { chown = "1000:50", chmod = 416 }))
    local e = last_layer(img, tmp .. "/img")
    assert.are.same({ "app/", "app/a.lua", "app/b.lua", "app/link.lua" }, keys(e))
    assert.are.equal(416, e["app/a.lua"].mode)
    assert.are.equal(1000, e["app/a.lua"].uid)
    assert.are.equal(50, e["app/a.lua"].gid)
    assert.are.equal("symlink", e["app/link.lua"].type)
    assert.are.equal("a.lua", e["app/link.lua"].target)
    assert.are.equal(("COPY %s/src/*.lua /app/"):format(tmp), img.cfg.history[#img.cfg.history].created_by)
  end)

  it("copies a directory's content, modes kept and owners 0:0 by default; one file to a new name", function()
    local img = oci.build.Image.new(L)
    assert(img:copy(tmp .. "/src", "/opt/x"))
    local e = last_layer(img, tmp .. "/img")
    assert.are.same({ "opt/x/", "opt/x/a.lua", "opt/x/b.lua", "opt/x/c.txt", "opt/x/link.lua", "opt/x/sub/",
      "opt/x/sub/s" }, keys(e))
    assert.are.equal(448, e["opt/x/sub/"].mode)
    assert.are.equal(0, e["opt/x/a.lua"].uid)
    assert(img:copy(tmp .. "/src/c.txt", "/etc/renamed.txt"))
    assert.are.same({ "etc/renamed.txt" }, keys(last_layer(img, tmp .. "/img")))
  end)

  it("umoci unpacks what it copied", function()
    if not is_root() then return pending("umoci unpack (not rootless) needs root") end
    local img = oci.build.Image.new(L)
    assert(img:copy({ tmp .. "/src/a.lua", tmp .. "/src/sub" }, "/d", { chown = "7" }))
    assert(img:commit("c"))
    sh(("umoci unpack --image %s:c %s"):format(quote(tmp .. "/img"), quote(tmp .. "/u")))
    local out = sh(("cd %s/u/rootfs && find . -mindepth 1 -printf '%%y %%m %%U:%%G %%p\\n' | sort"):format(quote(tmp)))
    assert.are.equal("d 755 7:7 ./d\nf 644 7:7 ./d/a.lua\nf 644 7:7 ./d/s\n", out)
  end)

  it("refuses bad arguments and reports missing sources", function()
    local img = oci.build.Image.new(L)
    local function raises(part, f)
      local ok, e = pcall(f)
      assert.is_false(ok)
      assert.is_truthy(tostring(e):find(part, 1, true), tostring(e))
    end
    raises("copy: dst must be an absolute path", function() img:copy(tmp .. "/src", "rel") end)
    raises("copy: dst must not hold '..'", function() img:copy(tmp .. "/src", "/a/../b") end)
    raises('copy: chown must be numeric "uid[:gid]", got "root"',
      function() img:copy(tmp .. "/src", "/a", { chown = "root" }) end)
    raises('unknown option "mode"', function() img:copy(tmp .. "/src", "/a", { mode = 1 }) end)
    local ok, msg, err = img:copy(tmp .. "/nothing", "/a")
    support.assert_fails({ "no such file or directory" }, { code = "io" }, ok, msg, err)
    ok, msg, err = img:copy(tmp .. "/src/*.none", "/a")
    support.assert_fails({ "no file matches" }, { code = "io" }, ok, msg, err)
  end)

  it("refuses a file named like a whiteout, which the layer would turn into one", function()
    -- committed as is, etc/.wh.passwd deleted the base's /etc/passwd and
    -- etc/.wh..wh..opq hid every lower file of /etc
    local base = oci.build.Image.new(L, { created = 0 })
    assert(base:add_layer{ entries = { { path = "etc", type = "dir" },
      { path = "etc/passwd", type = "file", content = "root:x:0:0::/:/bin/sh\n" } } })
    sh(("mkdir -p %s/ctx/etc && touch %s/ctx/etc/.wh.passwd %s/ctx/etc/ok"):format(tmp, tmp, tmp))
    local n = #base.layers
    for _, args in ipairs({ { tmp .. "/ctx", "/" }, { tmp .. "/ctx/etc/.wh.*", "/etc/" },
      { tmp .. "/ctx/etc/ok", "/etc/.wh..wh..opq" } }) do
      support.assert_fails({ "named like a whiteout (.wh.)" }, { code = "invalid" }, base:copy(args[1], args[2]))
    end
    assert.are.equal(n, #base.layers)
    assert(base:copy(tmp .. "/ctx/etc/ok", "/etc/"))
  end)
end)

describe("img:copy_from", function()
  local tmp, L
  before_each(function()
    tmp = support.tmpdir()
    L = assert(oci.layout.create(tmp .. "/img"))
  end)
  after_each(function() support.rmdir(tmp) end)

  it("copies a file out of another image being built", function()
    if not is_root() then return pending("unpacking the other image with owners needs root") end
    local stage = oci.build.Image.new(L)
    assert(stage:add_layer { entries = {
      { path = "out", type = "dir", mode = 493 },
      { path = "out/tool", type = "file", content = "#!/bin/sh\n", mode = 493 },
    } })
    local final = oci.build.Image.new(L)
    assert(final:copy_from(stage, "/out/tool", "/usr/bin/tool", { tmpdir = tmp }))
    local e = last_layer(final, tmp .. "/img")
    assert.are.same({ "usr/bin/tool" }, keys(e))
    assert.are.equal(493, e["usr/bin/tool"].mode)
    assert.are.equal("", sh("ls -A " .. quote(tmp) .. " | grep ocispec-copy || true"))
  end)

  it("refuses a symbolic link among the directories of the path", function()
    if not is_root() then return pending("unpacking the other image with owners needs root") end
    local stage = oci.build.Image.new(L)
    assert(stage:add_layer { entries = { { path = "out", type = "symlink", target = "/etc" } } })
    local final = oci.build.Image.new(L)
    local ok, msg, err = final:copy_from(stage, "/out/passwd", "/x", { tmpdir = tmp })
    support.assert_fails({ "a symbolic link among its directories (not followed)" }, { code = "invalid" }, ok, msg,
      err)
    assert.are.equal(0, #final.layers)
  end)
end)
