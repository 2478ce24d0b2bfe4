--- `ocispec` commands on registries: push, pull, copy, tags, inspect.
-- @module ocispec.cli.registries
local oci = require "ocispec"
local base = require "ocispec.cli.base"
local parse_args, format_size = base.parse_args, base.format_size
local fail, command = base.fail, base.command
local LOCAL_REF_HELP, parse_image_ref = base.LOCAL_REF_HELP, base.parse_image_ref
local open_layout, check_image_ref = base.open_layout, base.check_image_ref
local parse_platform = base.parse_platform

-- Options every registry command takes.
local REMOTE_OPTS = {
  ["--plain-http"] = "flag", ["--tls-verify"] = "value", ["--insecure"] = "flag", ["--ca-file"] = "value",
  ["--username"] = "value", ["--password"] = "value", ["--password-stdin"] = "flag", ["--auth-file"] = "value",
  ["--timeout"] = "value", ["--quiet"] = "flag", ["--json"] = "flag",
  ["--blob-cache"] = "value", ["--no-blob-cache"] = "flag",
}
local REMOTE_ALIASES = { ["-q"] = "--quiet", ["-u"] = "--username", ["-p"] = "--password", ["-j"] = "--jobs" }
-- push, pull and copy: blobs moved at once
local JOBS_OPT = { ["--jobs"] = "value" }
local JOBS_HELP = [==[
  --jobs N, -j N        blobs moved at once (1..64, default 4: most of the
                        gain of parallel transfers on one registry, without
                        crowding it)
]==]

local REMOTE_HELP = [==[
Connection options:
  --plain-http          http:// instead of https://
  --tls-verify=false    accept any TLS certificate (also --insecure)
  --ca-file FILE        CA bundle (PEM) to verify the registry with,
                        instead of the system's
  --username USER       with --password PASS or --password-stdin (the
                        first line of stdin): Basic or token auth
  --auth-file FILE      Docker config.json to take credentials from
                        (default $DOCKER_CONFIG/config.json, then
                        ~/.docker/config.json; "" for none)
  --timeout SECONDS     connect timeout, and the time a transfer may move
                        less than 1 KiB/s before it is dropped (default
                        30 and 60)
  --blob-cache FILE     the blob-location cache (where blobs were seen, for
                        cross-repository mounts; default
                        $OCISPEC_BLOB_CACHE, else
                        $XDG_CACHE_HOME/ocispec/blob-locations.json or
                        ~/.cache/ocispec/blob-locations.json)
  --no-blob-cache       none (also OCISPEC_BLOB_CACHE=off)
Credentials go only to the registry's own scheme, host and port (an upload
or a redirect elsewhere gets none), and to a token service over https (or
plain http on the registry's own host when --plain-http).
  --quiet, -q           no progress, print only the result
  --json                print the result as JSON
Progress goes to stderr: one bar for all the blobs on a terminal, "DIGEST
DONE/TOTAL" lines otherwise. Exit status: 0 done, 1 the registry or the transfer failed, 2
usage or local I/O error.]==]

local function remote_opts(args, extra, more)
  local spec = {}
  for k, v in pairs(REMOTE_OPTS) do spec[k] = v end
  for k, v in pairs(extra or {}) do spec[k] = v end
  for k, v in pairs(more or {}) do spec[k] = v end
  return parse_args(args, spec, REMOTE_ALIASES)
end

-- A progress reporter on stderr: nil with --quiet; on a terminal one line
-- for all the blobs moving at once (redrawn when its percentage changes,
-- ended when every blob begun has finished); plain lines otherwise (per
-- blob: at the start, the end, and at most once a second between).
local function progress_reporter(quiet)
  if quiet then return nil end
  local tty = oci.core.fs.isatty(io.stderr)
  local shown = {} -- digest -> {done=, at=}
  -- the terminal line: every blob of the operation so far
  local blobs, nblobs, nfinished, done_all, total_all, last_pct = {}, 0, 0, 0, 0, nil
  return function(digest, done, total)
    local finished = total >= 0 and done >= total
    if tty then
      local b = blobs[digest]
      if not b then
        b = { done = 0, finished = false }
        blobs[digest] = b
        nblobs = nblobs + 1
        if total > 0 then total_all = total_all + total end
      end
      if b.finished or b.done == done then return end
      done_all = done_all + (done - b.done)
      b.done = done
      if finished then
        b.finished = true
        nfinished = nfinished + 1
      end
      local all = nfinished == nblobs
      local pct = total_all > 0 and math.floor(100 * done_all / total_all) or nil
      if not finished and pct ~= nil and pct == last_pct then return end
      last_pct = pct
      local width = 30
      local n = total_all > 0 and math.min(width, math.floor(width * done_all / total_all)) or 0
      io.stderr:write(("\r%d/%d blobs [%s%s] %s / %s\027[K"):format(nfinished, nblobs,
        ("="):rep(n), (" "):rep(width - n), format_size(done_all), format_size(total_all)), all and "\n" or "")
    else
      local last = shown[digest]
      if last and last.done == done then return end -- the same point again
      local now = os.time()
      if done ~= 0 and not finished and last and last.at == now then return end
      shown[digest] = { done = done, at = now }
      io.stderr:write(("%s %d/%d\n"):format(digest, done, total))
    end
    io.stderr:flush()
  end
end

-- A string from a server (a tag, a registry's message) made safe to print:
-- control characters (an ESC sequence could rewrite the terminal, a CR
-- the line) are shown escaped.
local function printable(s)
  return (tostring(s):gsub("[%z\1-\31\127]", function(c)
    if c == "\n" then return "\\n" end
    if c == "\r" then return "\\r" end
    if c == "\t" then return "\\t" end
    return ("\\x%02x"):format(c:byte())
  end))
end

local function password_warning(flag)
  io.stderr:write(("ocispec: WARNING! Using %s on the command line is insecure "
    .. "(other users can see it in the process list). Use --password-stdin.\n"):format(flag))
end

-- Connection options from the command line (fails 2 on bad combinations).
local function connection(opts)
  local o = { plain_http = opts.plain_http or nil, ca_file = opts.ca_file, auth_file = opts.auth_file }
  if opts.timeout ~= nil then
    local t = tonumber(opts.timeout)
    if not t or t ~= math.floor(t) or t < 1 or t > 86400 then
      fail(2, "--timeout takes a whole number of seconds (1..86400)")
    end
    o.connect_timeout, o.low_speed_timeout = math.tointeger(t), math.tointeger(t)
  end
  if opts.tls_verify ~= nil then
    if opts.tls_verify == "false" then
      o.tls_verify = false
    elseif opts.tls_verify == "true" then
      o.tls_verify = true
    else
      fail(2, "--tls-verify takes true or false")
    end
  end
  if opts.insecure then o.tls_verify = false end
  if opts.password and opts.password_stdin then fail(2, "--password and --password-stdin exclude each other") end
  local password = opts.password
  if opts.password_stdin then
    password = io.stdin:read("l")
    if not password then fail(2, "--password-stdin: nothing on stdin") end
    password = password:gsub("\r$", "")
  end
  if password and not opts.username then fail(2, "a password needs --username") end
  if opts.username and not password then fail(2, "--username needs --password or --password-stdin") end
  -- warned once the options are known to be usable (a usage error stays
  -- one line)
  if opts.password then password_warning("--password") end
  o.username, o.password = opts.username, password
  if opts.jobs ~= nil then
    local j = math.tointeger(tonumber(opts.jobs))
    if not j or j < 1 or j > 64 then fail(2, "--jobs takes a whole number from 1 to 64") end
    o.jobs = j
  end
  o.progress = progress_reporter(opts.quiet or opts.json)
  -- the blob-location cache: on by default (as skopeo's blob-info cache)
  if opts.blob_cache and opts.no_blob_cache then fail(2, "--blob-cache and --no-blob-cache exclude each other") end
  if opts.blob_cache == "" then fail(2, "--blob-cache takes a file") end
  local env = os.getenv("OCISPEC_BLOB_CACHE")
  if opts.no_blob_cache then
    o.blob_cache = false
  elseif opts.blob_cache then
    o.blob_cache = opts.blob_cache
  elseif env == "off" or env == "" then
    o.blob_cache = false
  else
    o.blob_cache = env or true
  end
  return o
end

local function parse_remote(s, what)
  local r, msg = oci.registry.parse_reference(s)
  if not r then fail(2, ("%s: %s"):format(what, printable(msg))) end
  return r
end

-- The status of a failed remote operation: 2 for local trouble (the
-- layout, files), 1 for the registry and the transfer.
local LOCAL_CODES = { io = true }
local function remote_fail(msg, err)
  -- the library names its option; here it is a flag
  msg = msg:gsub("needs plain_http%)", "needs --plain-http)")
  fail(LOCAL_CODES[err and err.code] and 2 or 1, printable(msg))
end

local function desc_json(d, extra)
  local t = { digest = d:digest(), mediaType = d:media_type(), size = d:size() }
  for k, v in pairs(extra or {}) do t[k] = v end
  return oci.json.encode(t)
end

local function stats_line(s)
  return ("%d blob(s) uploaded, %d present, %d mounted, %d downloaded; %s up, %s down; %d request(s)")
    :format(s.blobs_uploaded, s.blobs_skipped, s.blobs_mounted, s.blobs_downloaded,
      format_size(s.bytes_uploaded), format_size(s.bytes_downloaded), s.requests)
end

-- Prints the result of push, pull or copy.
local function report(out, opts, verb, where, d, stats)
  if opts.json then
    out:write(desc_json(d, { reference = where, stats = stats }), "\n")
  elseif opts.quiet then
    out:write(d:digest(), "\n")
  else
    out:write(("%s %s@%s\n  %s\n"):format(verb, where, d:digest(), stats_line(stats)))
  end
end

command("push", "push an image of a layout to a registry",
  [==[usage: ocispec push [OPTIONS] DIR[:NAME] REMOTE_REF

Pushes an image of a layout to REMOTE_REF (host/repo[:tag]): the
blobs the registry lacks, then the manifests, the top one under the tag.
Prints the pushed reference and digest.
]==] .. JOBS_HELP .. LOCAL_REF_HELP .. "\n" .. REMOTE_HELP,
  function(args, out)
    local opts, pos = remote_opts(args, JOBS_OPT)
    if #pos ~= 2 then fail(2, "expected DIR[:NAME] and REMOTE_REF") end
    local dir, ref, name = parse_image_ref(pos[1])
    local r = parse_remote(pos[2], "REMOTE_REF")
    local conn = connection(opts)
    local L = open_layout(dir)
    check_image_ref(L, dir, ref, name)
    local d, msg, code = oci.registry.push(L, ref, pos[2], conn)
    L:close()
    if not d then remote_fail(msg, code) end
    local where = ("%s/%s"):format(r.registry, r.repository) .. (r.digest and "" or ":" .. r.tag)
    report(out, opts, "pushed", where, d, msg)
    return 0
  end)

-- "DIR[:NAME]" -> dir, name or nil (pull: the reference's tag by default).
local function parse_layout_target(s)
  local dir, name = s:match("^(.*):([^/:]+)$")
  if not dir or dir == "" then return s, nil end
  return dir, name
end

command("pull", "pull an image from a registry into a layout",
  [==[usage: ocispec pull [OPTIONS] [--platform OS/ARCH[/VARIANT]] REMOTE_REF DIR[:NAME]

Pulls REMOTE_REF (host/repo[:tag|@digest]) into the layout DIR (created
when missing), every blob verified while it streams, and tags it NAME
(default: the reference's tag). Without --platform an index is pulled
whole; with it, only the matching manifest.
  --platform P          os/arch[/variant], such as linux/arm64/v8
]==] .. JOBS_HELP .. REMOTE_HELP,
  function(args, out)
    local opts, pos = remote_opts(args, { ["--platform"] = "value" }, JOBS_OPT)
    if #pos ~= 2 then fail(2, "expected REMOTE_REF and DIR[:NAME]") end
    local r = parse_remote(pos[1], "REMOTE_REF")
    local dir, name = parse_layout_target(pos[2])
    local conn = connection(opts)
    conn.platform = parse_platform(opts.platform)
    local d, msg, code = oci.registry.pull(pos[1], dir, name, conn)
    if not d then remote_fail(msg, code) end
    report(out, opts, "pulled", ("%s:%s"):format(dir, name or (not r.digest and r.tag) or d:digest()), d, msg)
    return 0
  end)

-- Per-side options of copy, as skopeo names them: --src-… and --dest-….
local SIDE_OPTS = {}
for _, side in ipairs({ "src", "dest" }) do
  for name, kind in pairs({ ["plain-http"] = "flag", ["tls-verify"] = "value", ["ca-file"] = "value",
                            creds = "value", username = "value", password = "value",
                            authfile = "value", ["auth-file"] = "value" }) do
    SIDE_OPTS["--" .. side .. "-" .. name] = kind
  end
end

-- The connection options of one side of copy: its own flags, over nothing
-- (registry.copy lays them over the common ones).
local function side_connection(opts, side)
  local function get(name) return opts[side .. "_" .. name] end
  local o, any = {}, false
  if get("plain_http") then o.plain_http, any = true, true end
  local tv = get("tls_verify")
  if tv ~= nil then
    if tv ~= "true" and tv ~= "false" then fail(2, ("--%s-tls-verify takes true or false"):format(side)) end
    o.tls_verify, any = tv == "true", true
  end
  if get("ca_file") then o.ca_file, any = get("ca_file"), true end
  local af = get("authfile") or get("auth_file")
  if af then o.auth_file, any = af, true end
  local user, pass = get("username"), get("password")
  if get("creds") then
    if user or pass then fail(2, ("--%s-creds excludes --%s-username and --%s-password"):format(side, side, side)) end
    user, pass = get("creds"):match("^([^:]*):(.*)$")
    if not user then fail(2, ("--%s-creds takes USERNAME:PASSWORD"):format(side)) end
  end
  if (user == nil) ~= (pass == nil) then
    fail(2, ("--%s-username and --%s-password go together"):format(side, side))
  end
  if pass then password_warning(get("creds") and ("--" .. side .. "-creds") or ("--" .. side .. "-password")) end
  if user then o.username, o.password, any = user, pass, true end
  return any and o or nil
end

-- A transport reference on the command line (a bare one is a registry):
-- the parsed table, or a usage error naming the argument.
local function parse_transport(s, what)
  local r, msg = oci.transport.parse(s)
  if not r then fail(2, ("%s: %s"):format(what, printable(msg))) end
  return r
end

-- Where a copy landed, for the report.
local function transport_where(r, s)
  if r.transport == "docker" then return nil end
  return s
end

command("copy", "copy an image between any two transports (registry, layout, archives)",
  [==[usage: ocispec copy [OPTIONS] SRC_REF DST_REF

Copies the image SRC_REF to DST_REF. Each is a reference with a transport
(skopeo's names):
  oci:DIR[:NAME|@DIGEST]             an image layout (:@N: its Nth image)
  oci-archive:FILE[:NAME]            a tar of an image layout
  docker-archive:FILE[:NAME:TAG|:@N] docker save / docker load's format
  docker://HOST/REPO[:TAG|@DIGEST]   a registry (also HOST/REPO[:TAG|@DIGEST])
Every blob is verified by digest and size as it is copied. An archive FILE
"-" is stdin or stdout (read: spooled to a temporary file first, as a tar
has no index and docker's manifest.json may come last; write: built in a
temporary file, then streamed; the report then goes to stderr). Registry to
registry: manifests byte for byte, blobs mounted when both are in the same
registry, else through a temporary file verified before the upload (no
DST_REF tag: the source's). Archives are read through a temporary layout
(every member checked: no links out, no devices, no duplicates; then the
safe unpacker extracts them) and written from one.
  --all                 the whole index (the default)
  --platform P[,P...]   only these platforms of an index (os/arch[/variant]);
                        one gives its manifest alone, several a new index
  --format oci|v2s2     write manifests and indexes with OCI or Docker
                        schema 2 media types (configs and diff_ids kept;
                        zstd layers become plain tars for v2s2)
  --referrers           also copy the referrers graph of the image (its
                        artifacts, and theirs), as oras cp -r does: between
                        registries, layouts and oci-archives (index.json
                        entries with a subject), not a docker-archive;
                        without --format or several platforms
The connection options below apply to both sides; these apply to one side,
over them (skopeo's names):
  --src-plain-http, --dest-plain-http
  --src-tls-verify=BOOL, --dest-tls-verify=BOOL
  --src-ca-file FILE, --dest-ca-file FILE
  --src-creds USER:PASS, --dest-creds USER:PASS (or --src-username U
      --src-password P, and --dest-… likewise)
  --src-authfile FILE, --dest-authfile FILE (also --src-auth-file, ...)
]==] .. JOBS_HELP .. REMOTE_HELP,
  function(args, out)
    local extra = { ["--all"] = "flag", ["--platform"] = "value", ["--format"] = "value", ["--referrers"] = "flag" }
    for k, v in pairs(SIDE_OPTS) do extra[k] = v end
    local opts, pos = remote_opts(args, extra, JOBS_OPT)
    if #pos ~= 2 then fail(2, "expected SRC_REF and DST_REF") end
    local ts = parse_transport(pos[1], "SRC_REF")
    local td = parse_transport(pos[2], "DST_REF")
    if td.index then fail(2, "DST_REF: @N names an image to read, not one to write") end
    if opts.all and opts.platform then fail(2, "--all and --platform exclude each other") end
    if opts.format and opts.format ~= "oci" and opts.format ~= "v2s2" then
      fail(2, ("--format takes oci or v2s2, not %q"):format(printable(opts.format)))
    end
    local platforms = nil
    if opts.platform then
      platforms = {}
      for p in (opts.platform .. ","):gmatch("([^,]*),") do platforms[#platforms + 1] = parse_platform(p) end
    end
    local conn = connection(opts)
    conn.src, conn.dst = side_connection(opts, "src"), side_connection(opts, "dest")
    if ts.transport == "docker" and td.transport == "docker" and not platforms and not opts.format then
      local rs, rd = ts.reference, td.reference
      local d, msg, code = oci.registry.copy(ts.path, td.path, conn)
      if not d then remote_fail(msg, code) end
      if opts.referrers then
        -- the copy by its digest: DST_REF may take the source's tag
        local o = { src = conn.src, dst = conn.dst }
        for _, k in ipairs({ "plain_http", "tls_verify", "ca_file", "auth_file", "username", "password",
          "connect_timeout", "low_speed_timeout" }) do o[k] = conn[k] end
        local refs, rmsg, rerr = oci.artifacts.copy_referrers(ts.path,
          ("%s/%s@%s"):format(rd.registry, rd.repository, d:digest()), o)
        if not refs then remote_fail(rmsg, rerr) end
        if not opts.quiet and not opts.json then
          out:write(("copied %d referrer(s)\n"):format(#refs))
        end
      end
      -- as registry.copy tags it: DST's own tag, else the source's
      local tag = not rd.digest and (td.path:match(":[^/]*$") and rd.tag or rs.tag) or nil
      report(out, opts, "copied", ("%s/%s"):format(rd.registry, rd.repository) .. (tag and ":" .. tag or ""), d, msg)
      return 0
    end
    if opts.referrers then
      if ts.transport == "docker-archive" or td.transport == "docker-archive" then
        fail(2, "--referrers: a docker-archive cannot hold referrers")
      end
      if opts.format or (platforms and #platforms > 1) then
        fail(2, "--referrers: the copied image must keep its digest (no --format, one --platform at most)")
      end
    end
    conn.platform, conn.all, conn.format = platforms, opts.all or nil, opts.format
    conn.referrers = opts.referrers or nil
    -- the archive goes to stdout: the report to stderr
    if td.path == "-" and td.transport ~= "oci" and td.transport ~= "docker" then out = io.stderr end
    local d, msg, code = oci.transport.copy(ts, td, conn)
    if not d then remote_fail(msg, code) end
    local where = transport_where(td, pos[2])
      or ("%s/%s"):format(td.reference.registry, td.reference.repository)
        .. (td.reference.digest and "" or ":" .. td.reference.tag)
    if opts.json then
      out:write(desc_json(d, { reference = where, stats = msg }), "\n")
    elseif opts.quiet then
      out:write(d:digest(), "\n")
    else
      out:write(("copied %s@%s\n  %d blob(s) copied, %d present; %s\n"):format(printable(where), d:digest(),
        msg.blobs_copied, msg.blobs_skipped, format_size(msg.bytes_copied)))
      if opts.referrers then out:write(("copied %d referrer(s)\n"):format(msg.referrers or 0)) end
    end
    return 0
  end)

command("tags", "list the tags of a repository",
  [==[usage: ocispec tags [OPTIONS] REMOTE_REPO

Prints every tag of REMOTE_REPO (host/repo), one a line (--json: a JSON
array), following the registry's pages.

  --filter REGEX        only the tags REGEX (POSIX extended) matches
  --sort semver         semantic versions first (a leading v allowed) in
                        semver order, then the others in byte order
]==] .. REMOTE_HELP,
  function(args, out)
    local opts, pos = remote_opts(args, { ["--filter"] = "value", ["--sort"] = "value" })
    if #pos ~= 1 then fail(2, "expected one REMOTE_REPO") end
    if opts.sort and opts.sort ~= "semver" then fail(2, "--sort takes semver") end
    if opts.filter then
      local ok, why = oci.core.check.regex_find(opts.filter, "")
      if ok == nil then fail(2, "--filter: " .. printable(why)) end
    end
    parse_remote(pos[1], "REMOTE_REPO")
    local tags, msg, code = oci.registry.tags(pos[1], connection(opts))
    if not tags then remote_fail(msg, code) end
    if opts.filter then tags = assert(oci.registry.filter_tags(tags, opts.filter)) end
    if opts.sort then tags = oci.registry.sort_tags(tags) end
    if opts.json then
      out:write(oci.json.encode(setmetatable(tags, #tags == 0 and oci.empty_array_mt() or nil)), "\n")
    else
      for _, t in ipairs(tags) do out:write(printable(t), "\n") end
    end
    return 0
  end)

command("inspect", "print the manifest or index a registry reference names",
  [==[usage: ocispec inspect [OPTIONS] REMOTE_REF

Prints the manifest or index REMOTE_REF (host/repo[:tag|@digest]) names,
byte for byte as the registry serves it (its digest is checked). --json
prints a summary instead: {"digest", "mediaType", "size", "reference"}.
]==] .. REMOTE_HELP,
  function(args, out)
    local opts, pos = remote_opts(args)
    if #pos ~= 1 then fail(2, "expected one REMOTE_REF") end
    local r = parse_remote(pos[1], "REMOTE_REF")
    local conn = connection(opts)
    conn.progress = nil
    local c, msg, code = oci.registry.connect(r.host, conn)
    if not c then remote_fail(msg, code) end
    local body, d
    body, d, code = c:get_manifest_raw(r.repository, r.reference)
    c:close()
    if not body then remote_fail(d, code) end
    if opts.json then
      out:write(desc_json(d, { reference = r.whole }), "\n")
    else
      -- as served; a valid document holds no control character but
      -- whitespace, so only a broken or hostile body is changed here
      body = body:gsub("[%z\1-\8\11\12\14-\31\127]", printable)
      out:write(body, body:sub(-1) == "\n" and "" or "\n")
    end
    return 0
  end)


-- The connection plumbing, for the other command groups that reach
-- registries (cli/mirror.lua, cli/artifacts.lua): the connection options,
-- their help, and the failure and printing conventions.
base.remote = {
  opts = remote_opts, connection = connection, fail = remote_fail, help = REMOTE_HELP,
  printable = printable, parse = parse_remote, side_opts = SIDE_OPTS, side_connection = side_connection,
}
