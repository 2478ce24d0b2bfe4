-- runtime.Spec.from_image_config: image-spec conversion.md.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local oci = require("ocispec")
local runtime = oci.runtime

local tmpdir, write = support.tmpdir, support.write

local function config(c)
  return { architecture = "arm64", os = "linux", variant = "v8",
    ["os.version"] = "6.1", ["os.features"] = { "a", "b" },
    author = "me", created = "2024-01-02T03:04:05Z",
    rootfs = { type = "layers", diff_ids = {} }, config = c }
end

describe("runtime.Spec.from_image_config", function()
  local rootfs
  setup(function()
    rootfs = tmpdir()
    os.execute("mkdir -p " .. rootfs .. "/etc")
    write(rootfs .. "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n")
    write(rootfs .. "/etc/group", "root:x:0:\napp:x:1001:\nwheel:x:10:app,bob\naudio:x:29:app\n")
  end)
  teardown(function() support.rmdir(rootfs) end)

  it("copies WorkingDir, Env and Entrypoint + Cmd verbatim", function()
    local s = assert(runtime.Spec.from_image_config(config({
      WorkingDir = "/srv", Env = { "PATH=/bin", "A=1" },
      Entrypoint = { "/bin/app" }, Cmd = { "--flag" } })))
    local p = s:process()
    assert.are.equal("/srv", p:cwd())
    assert.are.same({ "/bin/app", "--flag" }, p:args())
    -- defaults are kept unless the image names the same variable
    assert.are.same({ "TERM=xterm", "PATH=/bin", "A=1" }, p:env())
    assert.is_false(p:terminal())
    assert.is_true((s:validate()))
  end)

  it("uses Cmd alone, and keeps the default args without either", function()
    local s = assert(runtime.Spec.from_image_config(config({ Cmd = { "sh", "-c", "x" } })))
    assert.are.same({ "sh", "-c", "x" }, s:process():args())
    s = assert(runtime.Spec.from_image_config(config({})))
    assert.are.same({ "sh" }, s:process():args())
    assert.are.equal("/", s:process():cwd())
  end)

  it("sets the implicit annotations, and Labels take precedence", function()
    local s = assert(runtime.Spec.from_image_config(config({
      StopSignal = "SIGINT", ExposedPorts = { ["80/tcp"] = {}, ["53/udp"] = {} },
      Labels = { ["org.opencontainers.image.author"] = "label wins", x = "y" } })))
    local a = s:annotations()
    assert.are.equal("linux", a["org.opencontainers.image.os"])
    assert.are.equal("arm64", a["org.opencontainers.image.architecture"])
    assert.are.equal("v8", a["org.opencontainers.image.variant"])
    assert.are.equal("6.1", a["org.opencontainers.image.os.version"])
    assert.are.equal("a,b", a["org.opencontainers.image.os.features"])
    assert.are.equal("2024-01-02T03:04:05Z", a["org.opencontainers.image.created"])
    assert.are.equal("SIGINT", a["org.opencontainers.image.stopSignal"])
    assert.are.equal("53/udp,80/tcp", a["org.opencontainers.image.exposedPorts"])
    assert.are.equal("label wins", a["org.opencontainers.image.author"])
    assert.are.equal("y", a.x)
  end)

  it("resolves users and groups: numeric verbatim, names from the rootfs", function()
    local cases = {
      { "1234", nil, { uid = 1234, gid = 0 } },
      { "1234:5678", nil, { uid = 1234, gid = 5678 } },
      { "1000", rootfs, { uid = 1000, gid = 1001 } },
      { "app", rootfs, { uid = 1000, gid = 1001, additionalGids = { 10, 29 } } },
      { "app:wheel", rootfs, { uid = 1000, gid = 10 } },
      { "0:app", rootfs, { uid = 0, gid = 1001 } },
    }
    for _, c in ipairs(cases) do
      local s = assert(runtime.Spec.from_image_config(config({ User = c[1] }), { rootfs = c[2] }))
      assert.are.same(c[3], s:process():user():to_table(), c[1])
    end
  end)

  it("fails with a clear message when a name cannot be resolved", function()
    local cases = {
      { "nobody", rootfs, 'user "nobody" not found' },
      { "app:nogroup", rootfs, 'group "nogroup" not found' },
      { "app", nil, "no rootfs given" },
      { "app", "/nonexistent", "cannot resolve" },
    }
    for _, c in ipairs(cases) do
      local s, err = runtime.Spec.from_image_config(config({ User = c[1] }), { rootfs = c[2] })
      assert.is_nil(s)
      assert.truthy(err:find(c[3], 1, true), err)
    end
  end)

  describe("reads /etc/passwd and /etc/group without leaving the rootfs", function()
    local top, outside
    local function sh(cmd) assert(os.execute(cmd), cmd) end
    -- a fresh rootfs under top with etc/group; returns its path
    local n = 0
    local function new_rootfs()
      n = n + 1
      local r = top .. "/r" .. n
      sh("mkdir -p " .. r .. "/etc")
      write(r .. "/etc/group", "root:x:0:\n")
      return r
    end
    local function convert(r, user)
      return runtime.Spec.from_image_config(config({ User = user or "app" }), { rootfs = r })
    end
    before_each(function()
      top = tmpdir()
      -- host data the image must never reach: uid 4242
      outside = top .. "/outside"
      sh("mkdir -p " .. outside)
      write(outside .. "/passwd", "app:x:4242:4242::/:/bin/sh\n")
    end)
    after_each(function() support.rmdir(top) end)

    it("an absolute symlink is resolved inside the rootfs, never on the host", function()
      -- etc/passwd -> <host file>: the host file is not read
      local r = new_rootfs()
      sh(("ln -s %s %s/etc/passwd"):format(outside .. "/passwd", r))
      local s, err = convert(r)
      assert.is_nil(s)
      assert.truthy(err:find("the rootfs has no /etc/passwd", 1, true), err)
      -- etc/passwd -> /srv/passwd: the rootfs's own /srv/passwd
      r = new_rootfs()
      sh(("mkdir -p %s/srv && ln -s /srv/passwd %s/etc/passwd"):format(r, r))
      write(r .. "/srv/passwd", "app:x:1000:1001::/:/bin/sh\n")
      s = assert(convert(r))
      assert.are.equal(1000, s:process():user():uid())
    end)

    it("a symlinked directory (etc -> /etc) is resolved inside the rootfs", function()
      local r = top .. "/rdir"
      sh(("mkdir -p %s && ln -s %s %s/etc"):format(r, outside, r))
      local s, err = convert(r)
      assert.is_nil(s)
      assert.truthy(err:find("the rootfs has no /etc/passwd", 1, true), err)
      -- numeric users look the entry up too: nothing from the host either
      s = assert(convert(r, "4242"))
      assert.are.same({ uid = 4242, gid = 0 }, s:process():user():to_table())
      -- etc -> /data/etc inside the rootfs works
      r = top .. "/rdir2"
      sh(("mkdir -p %s/data/etc && ln -s /data/etc %s/etc"):format(r, r))
      write(r .. "/data/etc/passwd", "app:x:1000:1001::/:/bin/sh\n")
      s = assert(convert(r))
      assert.are.equal(1000, s:process():user():uid())
    end)

    it("'..' in a link stops at the rootfs, as in a chroot", function()
      local r = new_rootfs()
      -- r/etc/passwd -> ../../../../outside/passwd: climbs to r, not top
      sh(("ln -s ../../../../../../outside/passwd %s/etc/passwd"):format(r))
      local s, err = convert(r)
      assert.is_nil(s)
      assert.truthy(err:find("the rootfs has no /etc/passwd", 1, true), err)
      sh(("mkdir -p %s/outside"):format(r))
      write(r .. "/outside/passwd", "app:x:7:7::/:/bin/sh\n")
      s = assert(convert(r))
      assert.are.equal(7, s:process():user():uid())
    end)

    it("refuses a FIFO without blocking, a directory, a loop and a file over 4 MiB", function()
      local r = new_rootfs()
      sh(("mkfifo %s/etc/passwd"):format(r))
      -- in a child with a time limit: without the check the read blocks forever
      local cmd = ("timeout 20 lua5.4 -e %q >%s/out 2>&1"):format(
        ("package.path=%q package.cpath=%q "):format(package.path, package.cpath)
        .. ("local s, e = require('ocispec').runtime.Spec.from_image_config("
        .. "{architecture='amd64', os='linux', rootfs={type='layers', diff_ids={}}, config={User='app'}},"
        .. "{rootfs=%q}) io.write(tostring(s), ' ', tostring(e)) os.exit(s and 1 or 0)"):format(r), top)
      local ok, _, code = os.execute(cmd)
      local out = support.read(top .. "/out")
      assert.is_true(ok, ("exit %s: %s"):format(tostring(code), out))
      assert.truthy(out:find("/etc/passwd is a FIFO, not a regular file", 1, true), out)
      r = new_rootfs()
      sh(("mkdir %s/etc/passwd"):format(r))
      local s, err = convert(r)
      assert.is_nil(s)
      assert.truthy(err:find("/etc/passwd is a directory, not a regular file", 1, true), err)
      r = new_rootfs()
      sh(("ln -s passwd %s/etc/passwd"):format(r))
      s, err = convert(r)
      assert.is_nil(s)
      assert.truthy(err:find("more than 40 symbolic links", 1, true), err)
      r = new_rootfs()
      write(r .. "/etc/passwd", "app:x:1000:1001::/:/bin/sh\n" .. ("#"):rep(runtime.ROOTFS_DB_MAX))
      s, err = convert(r)
      assert.is_nil(s)
      assert.truthy(err:find("/etc/passwd is larger than 4194304 bytes", 1, true), err)
      -- a numeric user reads /etc/passwd too: refusals are errors there as well
      s, err = convert(r, "1000")
      assert.is_nil(s)
      assert.truthy(err:find("larger than", 1, true), err)
      -- a group file that is not a file
      r = new_rootfs()
      write(r .. "/etc/passwd", "app:x:1000:1001::/:/bin/sh\n")
      os.remove(r .. "/etc/group")
      sh(("mkfifo %s/etc/group"):format(r))
      s, err = convert(r)
      assert.is_nil(s)
      assert.truthy(err:find("/etc/group is a FIFO", 1, true), err)
    end)
  end)

  it("mounts Volumes on request, and accepts an ImageConfiguration object", function()
    local cfg = assert(oci.image.ImageConfiguration.from_table(config({ Volumes = { ["/data"] = {} } })))
    local plain = assert(runtime.Spec.from_image_config(cfg))
    local with = assert(runtime.Spec.from_image_config(cfg, { volumes = true }))
    assert.are.equal(#plain:mounts() + 1, #with:mounts())
    local last = with:mounts()[#with:mounts()]
    assert.are.equal("/data", last:destination())
    assert.are.equal("tmpfs", last:typ())
  end)
end)
