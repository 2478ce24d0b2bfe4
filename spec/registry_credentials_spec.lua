-- Credential sources against a real docker-registry with htpasswd auth
-- (spec/fixtures/registry.lua), through the `ocispec` command run as a user
-- runs it, with its own HOME, XDG_RUNTIME_DIR and PATH: the auth.json that
-- `skopeo login` writes is read, a Docker credential helper (a fake script
-- on PATH) is run and its failure reported with its stderr. The order of
-- the sources, the helper's bounds and timeout: tests/c/registry/
-- test_credentials.c.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local registries = dofile(here .. "fixtures/registry.lua")
local oci = require("ocispec")
local image = oci.image
local MT = image.MediaType
local q, sh = registries.quote, registries.sh


local have = support.have

describe("credential sources (htpasswd registry, ocispec command)", function()
  local reg, skip, tmp
  local ok_reg, why = registries.available()
  local ok_h, why_h = registries.htpasswd_available()

  -- `ocispec ARGS` with HOME, XDG_RUNTIME_DIR and PATH of the test only;
  -- extra (third): more VAR=value words. Returns stdout, stderr, exit status.
  local ocispec = support.cli_runner(function() return tmp end, { env = function(dir)
    return ("env -u REGISTRY_AUTH_FILE -u DOCKER_CONFIG -u XDG_CONFIG_HOME HOME=%s XDG_RUNTIME_DIR=%s PATH=%s "
      .. "FAKE_LOG=%s"):format(q(dir .. "/home"), q(dir .. "/run"), q(dir .. "/bin:" .. os.getenv("PATH")),
      q(dir .. "/helper.log"))
  end })

  setup(function()
    if not ok_reg then skip = why return end
    if not ok_h then skip = why_h return end
    reg = registries.start{ auth = "htpasswd" }
    tmp = registries.scratch()
    sh(("mkdir -p %s %s %s"):format(q(tmp .. "/home"), q(tmp .. "/run"), q(tmp .. "/bin")))
    -- one tagged manifest in creds/app
    local c = assert(oci.registry.connect(reg.host, { plain_http = true, auth_file = false,
      username = reg.username, password = reg.password }))
    local cfg = assert(c:push_blob("creds/app", '{"architecture":"amd64","os":"linux",'
      .. '"rootfs":{"type":"layers","diff_ids":[]}}', MT.ImageConfig))
    local m = assert(image.ImageManifest.from_table({ schemaVersion = 2, mediaType = MT.ImageManifest,
      config = cfg:to_table(), layers = {} }))
    assert(c:put_manifest("creds/app", "v1", m))
    -- the fake helper: FAKE_MODE ok (the registry's credentials), fail
    support.write(tmp .. "/bin/docker-credential-fake", table.concat({
      "#!/bin/sh",
      "IFS= read -r server",
      'printf \'%s %s\\n\' "$1" "$server" >> "$FAKE_LOG"',
      'case "$FAKE_MODE" in',
      ("fail) echo 'vault sealed: cannot unlock' >&2; exit 2 ;;"),
      ("*) printf '{\"ServerURL\":\"%%s\",\"Username\":\"%s\",\"Secret\":\"%s\"}' \"$server\" ;;")
        :format(reg.username, reg.password),
      "esac", "" }, "\n"))
    sh("chmod +x " .. q(tmp .. "/bin/docker-credential-fake"))
  end)
  teardown(function()
    if reg then reg.stop() end
    if tmp then support.rmdir(tmp) end
  end)
  before_each(function()
    if tmp then
      sh(("rm -rf %s/run/containers %s/home/.docker %s/helper.log && mkdir %s/home/.docker")
        :format(q(tmp), q(tmp), q(tmp), q(tmp)))
    end
  end)

  local ARGS = function() return "tags --plain-http " .. reg.host .. "/creds/app" end

  it("without any source: 401", function()
    if skip then return pending(skip) end
    local out, err, status = ocispec(ARGS())
    assert.are.equal(1, status, out)
    assert.truthy(err:find("401", 1, true), err)
  end)

  it("reads the auth.json that skopeo login wrote to $XDG_RUNTIME_DIR/containers", function()
    if skip then return pending(skip) end
    if not have("skopeo") then return pending("skopeo is not installed") end
    support.write(tmp .. "/pw.txt", reg.password)
    local out, ok = sh(("XDG_RUNTIME_DIR=%s skopeo login --tls-verify=false -u %s --password-stdin %s < %s")
      :format(q(tmp .. "/run"), q(reg.username), q(reg.host), q(tmp .. "/pw.txt")))
    assert(ok, out)
    assert.truthy(support.read(tmp .. "/run/containers/auth.json"), "skopeo wrote no auth.json")
    local o, err, status = ocispec(ARGS())
    assert.are.equal(0, status, err)
    assert.are.equal("v1\n", o)
  end)

  it("runs the credHelpers helper from PATH: `get` with the host on stdin", function()
    if skip then return pending(skip) end
    support.write(tmp .. "/home/.docker/config.json",
      oci.json.encode({ credHelpers = { [reg.host] = "fake" } }))
    local out, err, status = ocispec(ARGS())
    assert.are.equal(0, status, err)
    assert.are.equal("v1\n", out)
    assert.are.equal("get " .. reg.host .. "\n", support.read(tmp .. "/helper.log"))
  end)

  it("a failing helper (credsStore): its stderr and the file that named it, no password", function()
    if skip then return pending(skip) end
    support.write(tmp .. "/home/.docker/config.json", oci.json.encode({ credsStore = "fake" }))
    local out, err, status = ocispec(ARGS(), nil, "FAKE_MODE=fail")
    assert.are.equal(2, status, out) -- a local failure (code "io"), as a bad auth file

    assert.truthy(err:find("docker-credential-fake get", 1, true), err)
    assert.truthy(err:find("vault sealed: cannot unlock", 1, true), err)
    assert.truthy(err:find(".docker/config.json", 1, true), err)
    assert.falsy(err:find(reg.password, 1, true), err)
  end)

  it("login writes config.json (0600, other content kept) that skopeo reads; logout removes it", function()
    if skip then return pending(skip) end
    local cfg = tmp .. "/home/.docker/config.json"
    support.write(cfg, '{"auths":{"other:1":{"auth":"eDp5"}},"proxies":{"default":{"httpProxy":"http://p:3128"}}}')
    -- a wrong password: refused by the registry, nothing written
    support.write(tmp .. "/stdin.txt", "wrong-" .. reg.password .. "\n")
    local out, err, status = ocispec(("login --plain-http -u %s --password-stdin %s < stdin.txt")
      :format(q(reg.username), reg.host))
    assert.are.equal(1, status, out)
    assert.truthy(err:find("401", 1, true), err)
    assert.falsy(support.read(cfg):find(reg.host, 1, true))
    support.write(tmp .. "/stdin.txt", reg.password .. "\n")
    out, err, status = ocispec(("login --plain-http -u %s --password-stdin %s < stdin.txt")
      :format(q(reg.username), reg.host))
    assert.are.equal(0, status, err)
    assert.truthy(out:find("Login Succeeded", 1, true), out)
    local mode = sh("stat -c %a " .. q(cfg)):gsub("%s+$", "")
    assert.are.equal("600", mode)
    -- python3 reads the file: the other members kept, auth = base64(user:password)
    local check = sh(("python3 -c %s %s"):format(q([==[
import base64, json, sys
c = json.load(open(sys.argv[1]))
print(c["proxies"]["default"]["httpProxy"], c["auths"]["other:1"]["auth"],
      base64.b64decode(c["auths"][sys.argv[2]]["auth"]).decode())]==]), q(cfg) .. " " .. q(reg.host)))
    assert.are.equal(("http://p:3128 eDp5 %s:%s\n"):format(reg.username, reg.password), check)
    if have("skopeo") then
      local tags, ok = sh(("skopeo list-tags --tls-verify=false --authfile %s docker://%s/creds/app")
        :format(q(cfg), reg.host))
      assert(ok, tags)
      assert.truthy(tags:find('"v1"', 1, true), tags)
    end
    out, err, status = ocispec(ARGS())
    assert.are.equal(0, status, err)
    assert.are.equal("v1\n", out)
    out, err, status = ocispec("logout " .. reg.host)
    assert.are.equal(0, status, err)
    assert.truthy(out:find("Removing login credentials", 1, true), out)
    assert.falsy(support.read(cfg):find(reg.host, 1, true))
    assert.truthy(support.read(cfg):find("other:1", 1, true))
    out, err, status = ocispec("logout " .. reg.host)
    assert.are.equal(0, status, err)
    assert.truthy(out:find("Not logged in", 1, true), out)
    out, err, status = ocispec(ARGS())
    assert.are.equal(1, status, out)
    assert.truthy(err:find("401", 1, true), err)
    if not have("skopeo") then pending("skopeo is not installed: its cross-check was skipped") end
  end)

  it("login without a terminal or --password-stdin: a usage error, nothing asked", function()
    if skip then return pending(skip) end
    if not have("setsid") then return pending("setsid (util-linux) is not installed") end
    -- setsid: no controlling terminal, so /dev/tty cannot be opened
    local args = ("login -u %s %s"):format(q(reg.username), reg.host)
    local out, err, status = ocispec(args, nil, "setsid -w")
    assert.are.equal(2, status, out)
    assert.truthy(err:find("no terminal to read a password from", 1, true), err)
    assert.truthy(err:find("--password-stdin", 1, true), err)
  end)

  it("login and logout go through the configured helper (store, erase)", function()
    if skip then return pending(skip) end
    local cfg = tmp .. "/home/.docker/config.json"
    support.write(cfg, oci.json.encode({ credHelpers = { [reg.host] = "fake" } }))
    support.write(tmp .. "/stdin.txt", reg.password .. "\n")
    local out, err, status = ocispec(("login --plain-http -u %s --password-stdin %s < stdin.txt")
      :format(q(reg.username), reg.host))
    assert.are.equal(0, status, err)
    assert.truthy(out:find("docker-credential-fake", 1, true), out)
    local log = support.read(tmp .. "/helper.log")
    local json = assert(log:match("^store (.-)\n"), log)
    local t = oci.json.decode(json)
    assert.are.same({ ServerURL = reg.host, Username = reg.username, Secret = reg.password }, t)
    assert.are.equal(oci.json.encode({ credHelpers = { [reg.host] = "fake" } }), support.read(cfg))
    out, err, status = ocispec("logout " .. reg.host)
    assert.are.equal(0, status, err)
    assert.truthy(out:find("docker-credential-fake", 1, true), out)
    assert.truthy(support.read(tmp .. "/helper.log"):find("\nerase " .. reg.host:gsub("%p", "%%%0") .. "\n"))
  end)
end)

describe("identity tokens and token expiry (token auth)", function()
  local reg, skip, tmp
  local RT = "rt-identity-7Hq-not-in-messages"
  local ok_reg, why = registries.available()
  local ok_t, why_t = registries.token_available()

  setup(function()
    if not ok_reg then skip = why return end
    if not ok_t then skip = why_t return end
    reg = registries.start{ auth = "token", token_expires_in = 3, refresh_token = RT }
    tmp = registries.scratch()
  end)
  teardown(function()
    if reg then reg.stop() end
    if tmp then support.rmdir(tmp) end
  end)

  local function connect_with(entry)
    local path = tmp .. "/config.json"
    support.write(path, oci.json.encode({ auths = { [reg.host] = entry } }))
    return assert(oci.registry.connect(reg.host, { plain_http = true, auth_file = path, retry_delay_ms = 10 }))
  end

  it("an identitytoken is a refresh_token grant POSTed to the realm", function()
    if skip then return pending(skip) end
    local c = connect_with({ identitytoken = RT })
    local d = assert(c:push_blob("idtok/app", "via an identity token"))
    assert.are.equal("via an identity token", assert(c:get_blob("idtok/app", d:digest())))
    local user = reg.username:gsub("%-", "%%-")
    assert.is_true(reg.count_token_requests("^POST /token grant=refresh_token user=" .. user
      .. " .*scope=repository:idtok/app:[%a,]*push.* %-> 200") >= 1, reg.token_log())
    assert.are.equal(0, reg.count_token_requests("^GET "), reg.token_log())
    -- the token expires (expires_in 3): refreshed with the same POST
    -- before the next request, which stays a plain GET
    local posts = reg.count_token_requests("^POST .* %-> 200")
    os.execute("sleep 3")
    assert.are.equal("via an identity token", assert(c:get_blob("idtok/app", d:digest())))
    assert.are.equal(posts + 1, reg.count_token_requests("^POST .* %-> 200"), reg.token_log())
    -- a refresh token the realm refuses: its 401, without the token
    local bad = connect_with({ identitytoken = "Wr0ng-" .. RT })
    local d2, msg = bad:push_blob("idtok/app", "refused")
    assert.is_nil(d2)
    assert.truthy(msg:find("401", 1, true), msg)
    assert.falsy(msg:find(RT, 1, true), msg)
  end)

  it("a token is fetched again before it expires (expires_in), not after a 401", function()
    if skip then return pending(skip) end
    local c = assert(oci.registry.connect(reg.host, { plain_http = true, auth_file = false,
      username = reg.username, password = reg.password }))
    local d = assert(c:push_blob("expiry/app", "short-lived tokens"))
    local scope = "scope=repository:expiry/app:pull %-> 200"
    local before = reg.count_token_requests(scope)
    assert.are.equal("short-lived tokens", assert(c:get_blob("expiry/app", d:digest())))
    local first = reg.count_token_requests(scope)
    assert.are.equal("short-lived tokens", assert(c:get_blob("expiry/app", d:digest())))
    assert.are.equal(first, reg.count_token_requests(scope)) -- cached while valid
    local unauthorized = reg.count_requests("GET", "^/v2/expiry/app/blobs/")
    os.execute("sleep 3")
    assert.are.equal("short-lived tokens", assert(c:get_blob("expiry/app", d:digest())))
    assert.are.equal(first + 1, reg.count_token_requests(scope), reg.token_log())
    -- one GET of the blob: no request was answered 401 first
    assert.are.equal(unauthorized + 1, reg.count_requests("GET", "^/v2/expiry/app/blobs/"))
    assert.is_true(first >= before)
  end)
end)

describe("credential sources without a registry: planted auth files, failing helpers", function()
  local tmp
  local ocispec = support.cli_runner(function() return tmp end, { env = function(dir)
    return ("env -u REGISTRY_AUTH_FILE -u DOCKER_CONFIG -u XDG_CONFIG_HOME HOME=%s XDG_RUNTIME_DIR=%s PATH=%s")
      :format(q(dir .. "/home"), q(dir .. "/run"), q(dir .. "/bin:" .. os.getenv("PATH")))
  end })
  before_each(function()
    tmp = support.tmpdir()
    sh(("mkdir -p %s %s %s"):format(q(tmp .. "/home/.docker"), q(tmp .. "/run/containers"), q(tmp .. "/bin")))
  end)

  it("a helper that fails echoing its input: the error never quotes the secret", function()
    -- `store` reads {"ServerURL","Username","Secret"} and complains with it
    support.write(tmp .. "/bin/docker-credential-echo", "#!/bin/sh\necho \"cannot store: $(cat)\" >&2\nexit 1\n")
    sh("chmod +x " .. q(tmp .. "/bin/docker-credential-echo"))
    support.write(tmp .. "/home/.docker/config.json", '{"credsStore":"echo"}')
    support.write(tmp .. "/pw.txt", "hunter2-pw\n")
    local out, err, status = ocispec("login --no-verify -u u --password-stdin 127.0.0.1:9 < pw.txt")
    assert.are.equal(2, status, out)
    assert.truthy(err:find("docker-credential-echo store", 1, true), err)
    assert.truthy(err:find("mentions a secret: not shown", 1, true), err)
    assert.is_nil(err:find("hunter2", 1, true), err)
  end)
  after_each(function() support.rmdir(tmp) end)

  -- a FIFO: open(2) waited for a writer forever (io.open in login/logout,
  -- fopen and open in the client's sources); now refused at once, named
  it("a FIFO at ~/.docker/config.json or auth.json: login, logout and connect fail at once, naming it", function()
    local cfg = tmp .. "/home/.docker/config.json"
    assert(os.execute("mkfifo " .. q(cfg)))
    -- `timeout 20`: the old code never returned (124)
    support.write(tmp .. "/pw.txt", "pw\n")
    local out, err, status = ocispec("login --no-verify -u u --password-stdin 127.0.0.1:9 < pw.txt", nil, "timeout 20")
    assert.are.equal(2, status, out)
    assert.truthy(err:find("config.json", 1, true) and err:find("not a regular file", 1, true), err)
    out, err, status = ocispec("logout 127.0.0.1:9", nil, "timeout 20")
    assert.are.equal(2, status, out)
    assert.truthy(err:find("not a regular file", 1, true), err)
    assert.truthy(sh("stat -c %F " .. q(cfg)):find("fifo", 1, true))
    os.remove(cfg)
    assert(os.execute("mkfifo " .. q(tmp .. "/run/containers/auth.json")))
    out, err, status = ocispec("tags --plain-http 127.0.0.1:9/x", nil, "timeout 20")
    assert.are.equal(1, status, out)
    assert.truthy(err:find("auth.json", 1, true) and err:find("not a regular file", 1, true), err)
  end)
end)
