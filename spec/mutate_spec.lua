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
