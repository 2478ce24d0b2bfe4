--- Registry login and logout, as `docker login` / `docker logout` do them:
-- through the credential helper the Docker config names for the host
-- (`credHelpers[host]`, else `credsStore`), else in the config's `auths`
-- (`auth` = base64 of `user:password`), the file written atomically with
-- mode 0600 and everything else in it kept. Exposed as
-- `ocispec.registry.login` and `ocispec.registry.logout`.
-- @module ocispec.credentials
local core = require "ocispec.core"
local util = require "ocispec.util"

local M = {}

local HOSTS = core.values.hosts

-- The key docker files host's credentials under (Docker Hub: its index URL).
local function server_key(host)
  if host == HOSTS.docker_hub or host == HOSTS.docker_hub_index or host == HOSTS.docker_hub_api then
    return "https://" .. HOSTS.docker_hub_index .. "/v1/"
  end
  return host
end

-- Whether a config key ("https://host/v1/", "host") names host.
local function key_names(key, host)
  local bare = key:gsub("^https?://", ""):match("^[^/]*")
  if bare == host then return true end
  return server_key(host) ~= host and (bare == HOSTS.docker_hub_index or bare == HOSTS.docker_hub)
end

-- The Docker config file: opts.auth_file, $DOCKER_CONFIG/config.json,
-- ~/.docker/config.json.
local function config_path(opts)
  if opts.auth_file then return opts.auth_file end
  local dc, home = os.getenv("DOCKER_CONFIG"), os.getenv("HOME")
  if dc and dc ~= "" then return dc .. "/config.json" end
  if home and home ~= "" then return home .. "/.docker/config.json" end
  return nil
end

-- The parsed config (an AuthConfig, unknown members kept), or a new one
-- when there is no file at path. Read without io.open, which would wait
-- forever on a FIFO planted at the name (from_file refuses it at once); a
-- file that exists but cannot be read is an error, never overwritten.
local function load_config(path)
  local reg = require "ocispec.registry"
  local c, msg, err = reg.AuthConfig.from_file(path)
  if c then return c end
  if core.unpack.dir_state(path) == "missing" then return reg.AuthConfig.from_table({}) end
  return util.fail(err, ("auth file %s: %s"):format(path, msg))
end

local function helper_of(cfg, host)
  for k, name in pairs(cfg:cred_helpers() or {}) do
    if key_names(k, host) then return name end
  end
  local store = cfg:creds_store()
  if store and store ~= "" then return store end
  return nil
end

-- Runs helper `name` `action` with input; nil, message, err unless it
-- exited 0.
local function run_helper(name, action, input, timeout_ms, server)
  local reg = require "ocispec.registry"
  local r, msg, err = reg.run_helper(name, action, input, timeout_ms)
  if not r then return nil, msg, err end
  if r.status ~= 0 then
    local words = (r.stderr ~= "" and r.stderr or r.stdout):gsub("%s+$", "")
    -- never a stream that mentions a secret (credentials JSON echoed)
    if words:lower():find("secret", 1, true) then
      words = ("(its %s mentions a secret: not shown)"):format(r.stderr ~= "" and "stderr" or "output")
    end
    words = words:gsub("[%c\127]", function(c) return ("\\x%02x"):format(c:byte()) end):sub(1, 300)
    return util.fail("io", ("credential helper docker-credential-%s %s for %s failed (exit status %d): %s")
      :format(name, action, server, r.status, words ~= "" and words or "(it printed nothing)"))
  end
  return true
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

-- RFC 4648 base64 of s.
local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = (a << 16) | ((b or 0) << 8) | (c or 0)
    local q = { (n >> 18) & 63, (n >> 12) & 63, (n >> 6) & 63, n & 63 }
    out[#out + 1] = B64:sub(q[1] + 1, q[1] + 1) .. B64:sub(q[2] + 1, q[2] + 1)
      .. (b and B64:sub(q[3] + 1, q[3] + 1) or "=") .. (c and B64:sub(q[4] + 1, q[4] + 1) or "=")
  end
  return table.concat(out)
end

local function write_config(path, cfg)
  local dir = path:match("^(.*)/[^/]*$")
  if dir and dir ~= "" then
    -- docker creates ~/.docker 0700; an existing folder is left as it is
    local ok, msg, err = core.fs.mkdir(dir, tonumber("700", 8))
    if not ok then return nil, msg, err end
  end
  local json = cfg:to_json({ pretty = true })
  local ok, msg, err = core.fs.write_atomic(path, json .. "\n", tonumber("600", 8))
  if not ok then return nil, msg, err end
  return true
end

local CONNECT_KEYS = { "plain_http", "tls_verify", "ca_file", "retries", "connect_timeout", "allow_insecure_realm" }

--- Stores credentials for `host` as `docker login` does: through the
-- credential helper of the Docker config (`credHelpers[host]`, else
-- `credsStore`: `docker-credential-NAME store`), else in its `auths` with
-- `auth` = base64("user:password"), the file (default
-- `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`) written
-- atomically, mode 0600, its other members kept. Unless `verify = false`
-- the credentials are first checked against the registry (`/v2/` with
-- them), and nothing is stored when it refuses them.
-- Options: `auth_file`, `verify` (true), `helper_timeout_ms` (30000), and
-- for the check `plain_http`, `tls_verify`, `ca_file`, `retries`,
-- `connect_timeout`, `allow_insecure_realm`.
-- @tparam string host the registry ("127.0.0.1:5000", "docker.io")
-- @tparam string username
-- @tparam string password the password or token
-- @tparam[opt] table opts options
-- @return where the credentials went (`"docker-credential-NAME"` or the
-- file's path), or nil, message, err
function M.login(host, username, password, opts)
  util.check_options(opts, { "auth_file", "verify", "helper_timeout_ms", table.unpack(CONNECT_KEYS) }, "login")
  opts = opts or {}
  assert(type(host) == "string" and host ~= "", "login: host must be a non-empty string")
  assert(type(username) == "string" and type(password) == "string", "login: username and password must be strings")
  if username == "" or username:find(":", 1, true) then
    return util.fail("invalid", "login: the username is empty or holds ':'")
  end
  if opts.verify ~= false then
    local reg = require "ocispec.registry"
    local o = { username = username, password = password, auth_file = false }
    for _, k in ipairs(CONNECT_KEYS) do o[k] = opts[k] end
    local c, msg, err = reg.connect(host, o)
    if not c then return nil, msg, err end
    local ok
    ok, msg, err = c:ping()
    c:close()
    if not ok then return util.fail(err, ("login %s: %s"):format(host, msg)) end
  end
  local path = config_path(opts)
  if not path then return util.fail("invalid", "login: no Docker config (neither DOCKER_CONFIG nor HOME is set)") end
  local cfg, msg, err = load_config(path)
  if not cfg then return nil, msg, err end
  local server = server_key(host)
  local helper = helper_of(cfg, host)
  if helper then
    local reg = require "ocispec.registry"
    local input = reg.HelperReply.from_table({ ServerURL = server, Username = username, Secret = password }):to_json()
    local ok
    ok, msg, err = run_helper(helper, "store", input, opts.helper_timeout_ms, server)
    if not ok then return nil, msg, err end
    return "docker-credential-" .. helper
  end
  local reg = require "ocispec.registry"
  local auths = cfg:auths() or {}
  for k in pairs(auths) do
    if key_names(k, host) then auths[k] = nil end
  end
  auths[server] = reg.AuthEntry.from_table({ auth = base64(username .. ":" .. password) })
  cfg:set_auths(auths)
  local ok
  ok, msg, err = write_config(path, cfg)
  if not ok then return nil, msg, err end
  return path
end

--- Removes the credentials of `host` as `docker logout` does: through
-- the config's credential helper (`erase`), else from its `auths` (the
-- file rewritten as `login` writes it).
-- Options: `auth_file`, `helper_timeout_ms`.
-- @tparam string host the registry
-- @tparam[opt] table opts options
-- @return where they were removed from (the helper or the file) and
-- whether there were any (false: not logged in, nothing written), or nil,
-- message, err
function M.logout(host, opts)
  util.check_options(opts, { "auth_file", "helper_timeout_ms" }, "logout")
  opts = opts or {}
  assert(type(host) == "string" and host ~= "", "logout: host must be a non-empty string")
  local path = config_path(opts)
  if not path then return util.fail("invalid", "logout: no Docker config (neither DOCKER_CONFIG nor HOME is set)") end
  local cfg, msg, err = load_config(path)
  if not cfg then return nil, msg, err end
  local server = server_key(host)
  local helper = helper_of(cfg, host)
  if helper then
    local ok
    ok, msg, err = run_helper(helper, "erase", server, opts.helper_timeout_ms, server)
    if not ok then return nil, msg, err end
    return "docker-credential-" .. helper, true
  end
  local auths, found = cfg:auths() or {}, false
  for k in pairs(auths) do
    if key_names(k, host) then auths[k], found = nil, true end
  end
  if not found then return path, false end
  cfg:set_auths(auths)
  local ok
  ok, msg, err = write_config(path, cfg)
  if not ok then return nil, msg, err end
  return path, true
end

return M
