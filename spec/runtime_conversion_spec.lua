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
