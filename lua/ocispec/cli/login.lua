--- `ocispec` commands for credentials: login, logout (as docker login /
-- docker logout).
-- @module ocispec.cli.login
local oci = require "ocispec"
local core = require "ocispec.core"
local base = require "ocispec.cli.base"
local parse_args, fail, command = base.parse_args, base.fail, base.command

local OPTS = {
  ["--username"] = "value", ["--password"] = "value", ["--password-stdin"] = "flag", ["--auth-file"] = "value",
  ["--plain-http"] = "flag", ["--tls-verify"] = "value", ["--ca-file"] = "value", ["--no-verify"] = "flag",
}

local function printable(s)
  return (tostring(s):gsub("[%c\127]", function(c) return ("\\x%02x"):format(c:byte()) end))
end

command("login", "store registry credentials (a credential helper, else config.json)",
  [==[usage: ocispec login [OPTIONS] HOST

Checks USER's password against HOST (/v2/ with it; --no-verify skips
that) and stores it as docker login does: through the credential helper
the Docker config names for HOST (credHelpers[HOST], else credsStore:
docker-credential-NAME store), else in the config's auths (base64 of
user:password), the file written atomically with mode 0600, its other
content kept. The config is --auth-file, else $DOCKER_CONFIG/config.json,
else ~/.docker/config.json. Without --password(-stdin) the password is
asked for on the terminal, without echo.

Options:
  --username USER (-u)  the user (asked for on the terminal when absent)
  --password-stdin      the password is the first line of stdin
  --password PASS (-p)  on the command line (insecure: others can see it)
  --auth-file FILE      the Docker config.json to write
  --plain-http, --tls-verify=false, --ca-file FILE   for the check
  --no-verify           store without checking
]==],
  function(args, out)
    local opts, pos = parse_args(args, OPTS, { ["-u"] = "--username", ["-p"] = "--password" })
    if #pos ~= 1 then fail(2, "expected one HOST") end
    local host = pos[1]
    if not core.check.registry_host(host) then fail(2, ("HOST: %s is not a registry host"):format(printable(host))) end
    if opts.password and opts.password_stdin then fail(2, "--password and --password-stdin exclude each other") end
    local user, password = opts.username, opts.password
    if not user then
      if not core.fs.isatty(io.stdin) then fail(2, "--username is needed (stdin is not a terminal)") end
      io.stderr:write("Username: ")
      user = io.stdin:read("l")
      if not user or user == "" then fail(2, "no username") end
    end
    if opts.password_stdin then
      password = io.stdin:read("l")
      if not password then fail(2, "--password-stdin: nothing on stdin") end
      password = password:gsub("\r$", "")
    elseif opts.password then
      io.stderr:write("ocispec: WARNING! Using --password on the command line is insecure "
        .. "(other users can see it in the process list). Use --password-stdin.\n")
    else
      local msg
      password, msg = core.fs.read_secret("Password: ")
      if not password then fail(2, msg .. "; use --password-stdin") end
    end
    local o = { auth_file = opts.auth_file, verify = not opts.no_verify, plain_http = opts.plain_http or nil,
                ca_file = opts.ca_file }
    if opts.tls_verify == "false" then
      o.tls_verify = false
    elseif opts.tls_verify ~= nil and opts.tls_verify ~= "true" then
      fail(2, "--tls-verify takes true or false")
    end
    local where, msg, err = oci.registry.login(host, user, password, o)
    if not where then fail((err and err.code == "registry") and 1 or 2, printable(msg)) end
    out:write(("Login Succeeded (credentials in %s)\n"):format(printable(where)))
    return 0
  end)

command("logout", "remove registry credentials (a credential helper, else config.json)",
  [==[usage: ocispec logout [--auth-file FILE] HOST

Removes HOST's credentials as docker logout does: through the config's
credential helper (erase), else from its auths.
]==],
  function(args, out)
    local opts, pos = parse_args(args, { ["--auth-file"] = "value" })
    if #pos ~= 1 then fail(2, "expected one HOST") end
    local where, removed, err = oci.registry.logout(pos[1], { auth_file = opts.auth_file })
    if not where then fail(2, printable(removed or (err and err.message) or "logout failed")) end
    if removed then
      out:write(("Removing login credentials for %s (%s)\n"):format(printable(pos[1]), printable(where)))
    else
      out:write(("Not logged in to %s\n"):format(printable(pos[1])))
    end
    return 0
  end)
