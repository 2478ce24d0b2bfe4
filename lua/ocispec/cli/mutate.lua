--- `ocispec` commands that change images (crane's forms): mutate, append,
-- rebase, flatten, index.
--
-- Every command takes an image reference REF with any transport of
-- `ocispec.transport` (oci:, oci-archive:, docker-archive:, docker://),
-- or without one a layout image (`DIR[:NAME]`, `DIR@DIGEST`) or a
-- registry reference (`HOST/REPO[:TAG|@DIGEST]`): a ref whose directory
-- part does not exist and whose first component is a host (has a "." or
-- ":", or is "localhost") is a registry reference. Archives and registry
-- images are read through a temporary layout (`transport.open`). The
-- result is written back to REF (`Source:commit`) or to `--to REF`
-- (`transport.write`). An index is edited platform by platform
-- (`--select` chooses).
-- @module ocispec.cli.mutate
local oci = require "ocispec"
local base = require "ocispec.cli.base"
local util = require "ocispec.util"
local fail, command = base.fail, base.command

-- ------------------------------------------------------------ arguments

local parse_args = base.parse_args

local CONN_OPTS = { ["--plain-http"] = "flag", ["--tls-verify"] = "value", ["--ca-file"] = "value",
  ["--auth-file"] = "value" }
local CONN_HELP = [==[
REF: an image reference with its transport (as ocispec copy takes them):
  oci:DIR[:NAME|@DIGEST]             an image layout (:@N: its Nth image)
  oci-archive:FILE[:NAME]            a tar of an image layout
  docker-archive:FILE[:NAME:TAG|:@N] docker save / docker load's format
  docker://HOST/REPO[:TAG|@DIGEST]   a registry
or, without a transport, DIR[:NAME] / DIR@DIGEST (a layout, NAME default
"latest") or HOST/REPO[:TAG|@DIGEST] (a registry: a REF whose directory
does not exist and whose first component is a host, with a "." or ":" or
"localhost"). Archives and registry images are read through a temporary
layout. The result goes to REF itself (a layout or an oci-archive: tagged
NAME, the archive rewritten atomically with its other images kept; a
docker-archive holding only this image: rewritten; a registry: pushed to
the tag), or to --to REF (any transport; a docker-archive takes one
platform's image, not an index, and drops the manifest's annotations as
Docker schema 2 does). An index is edited platform by platform; --select
P (repeatable) limits the edit to those platforms. Registry options:
--plain-http, --tls-verify=false, --ca-file FILE, --auth-file FILE.
Results are reproducible: no timestamps are added unless
SOURCE_DATE_EPOCH is set. Prints the written reference and its digest.
Exit status: 0 done, 1 the image does not allow the change (a mismatch,
a registry error, a destination that cannot hold it), 2 usage or local
error.]==]

local function with(spec)
  local t = { ["--to"] = "value", ["--select"] = "list" }
  for k, v in pairs(CONN_OPTS) do t[k] = v end
  for k, v in pairs(spec) do t[k] = v end
  return t
end

local function connection(opts)
  local o = { plain_http = opts.plain_http or nil, ca_file = opts.ca_file, auth_file = opts.auth_file }
  if opts.tls_verify ~= nil then
    if opts.tls_verify ~= "true" and opts.tls_verify ~= "false" then fail(2, "--tls-verify takes true or false") end
    o.tls_verify = opts.tls_verify == "true"
  end
  return o
end

-- ------------------------------------------------------------ references

local function is_dir(path)
  return oci.unpack.dir_state(path) == "empty" or oci.unpack.dir_state(path) == "full"
end

local PREFIXES = { "oci:", "oci-archive:", "docker-archive:", "docker:" }

-- REF -> oci.transport.parse's table, plus `text` (REF as given). A REF
-- with a transport is parsed as such; without one it is a layout
-- DIR[:NAME] (NAME default "latest", as before transports) unless DIR
-- does not exist and its first component is a host: a registry.
local function parse_ref(s, what)
  local function check(r, msg)
    if not r then fail(2, ("%s: %s"):format(what, msg)) end
    r.text = s
    return r
  end
  for _, p in ipairs(PREFIXES) do
    if s:sub(1, #p) == p then return check(oci.transport.parse(s)) end
  end
  local r, msg = oci.transport.parse(s, { default = "oci" })
  if r and is_dir(r.path) then
    r.name = r.name or (not r.digest and "latest" or nil)
    return check(r)
  end
  local host = s:match("^([^/]+)/")
  if host and (host:find("[.:]") or host == "localhost") and oci.registry.parse_reference(s) then
    return check(oci.transport.parse(s))
  end
  if r then r.name = r.name or (not r.digest and "latest" or nil) end
  return check(r, msg)
end

-- The status of a failure to read or write an image: 2 for local trouble
-- (a layout, a file, a bad reference), 1 for the registry and for what
-- the image does not allow.
local function status_of(r, err)
  local code = err and err.code
  if code == "io" then return 2 end
  if r.transport == "docker" or code == "unsupported" or code == "mismatch" then return 1 end
  return 2
end

local function where_of(r, msg)
  if r.transport == "docker" or msg:find(r.path, 1, true) then return msg end
  return ("%s: %s"):format(r.text or r.path, msg)
end

-- REF (the text s) as base.open_image / base.with_image take it: the
-- parsed reference, its options (conn for a registry) and what a failure
-- to open it says.
local function source_ref(s, conn, what)
  local r = parse_ref(s, what or "REF")
  local o = {}
  if r.transport == "docker" then
    for k, v in pairs(conn) do o[k] = v end
  end
  return r, o, function(err, msg)
    return status_of(r, err), r.transport == "docker" and ("%s: %s"):format(s, msg) or where_of(r, msg)
  end
end

-- Opens REF as a source: {S=, L=, desc=, r=, close=}.
local function open_source(s, conn, what)
  local r, o, on_fail = source_ref(s, conn, what)
  local src = base.open_image(r, o, on_fail)
  src.r = r
  return src
end

-- Runs fn(src) on REF opened as open_source does; closed on every path.
local function with_source(s, conn, what, fn)
  local r, o, on_fail = source_ref(s, conn, what)
  return base.with_image(r, o, on_fail, function(src)
    src.r = r
    return fn(src)
  end)
end

-- Copies the graph below descriptor table d from layout A into B.
local function copy_graph(A, B, d)
  if not B:has_blob(d.digest) then
    -- the verified bytes: a link planted in A's blobs/ is not followed
    local bytes, msg = require("ocispec.mutate").blob_bytes(A, d)
    if not bytes then fail(2, msg) end
    local got
    got, msg = B:put_blob(bytes, d.mediaType)
    if not got then fail(2, msg) end
    if got:digest() ~= d.digest then fail(2, ("blob %s arrived as %s"):format(d.digest, got:digest())) end
  end
  local mt = d.mediaType or ""
  if oci.image.MediaType.is_index(mt) or oci.image.MediaType.is_manifest(mt) then
    local t = oci.json.decode((assert(A:get_blob(d.digest))))
    for _, m in ipairs(t.manifests or {}) do copy_graph(A, B, m) end
    if t.config then copy_graph(A, B, t.config) end
    for _, l in ipairs(t.layers or {}) do copy_graph(A, B, l) end
  end
end

local function same_file(a, b)
  local ra, rb = oci.core.realpath(a), oci.core.realpath(b)
  return ra ~= nil and ra == rb
end

-- How a written reference is printed: a layout DIR:NAME, a registry
-- HOST/REPO[:TAG], an archive TRANSPORT:FILE[:NAME].
local function shown(r, name)
  if r.transport == "oci" then return ("%s:%s"):format(r.path, name or r.name or "latest") end
  if r.transport == "docker" then
    if name then return ("%s/%s:%s"):format(r.reference.registry, r.reference.repository, name) end
    return r.path
  end
  name = name or r.name
  return ("%s:%s"):format(r.transport, r.path) .. (name and (":" .. name) or "")
end

-- Writes descriptor desc (in src.L) to dest (default: the source REF).
local function store(src, desc, dest, conn, out)
  local d, msg, err, r, name
  if dest == nil then
    r = src.r
    d, msg, err = src.S:commit(desc, nil, conn)
    name = r.transport == "oci" and (r.name or src.S:name() or "latest") or nil
  else
    r = parse_ref(dest, "--to")
    if r.transport == "oci" and r.digest and not r.name then
      fail(2, ("%s: a layout destination needs a NAME, not a digest"):format(r.text))
    end
    if r.index then fail(2, ("%s: @N names an image to read, not one to write"):format(r.text)) end
    -- the source's own archive: its other images are kept (or the write
    -- refused)
    local o = {}
    for k, v in pairs(r.transport == "docker" and conn or {}) do o[k] = v end
    d, msg, err = src.S:write(desc, r, o)
  end
  if not d then fail(status_of(r, err), where_of(r, msg)) end
  -- an archive written to stdout: the report goes to stderr
  if r.path == "-" and r.transport ~= "oci" and r.transport ~= "docker" then out = io.stderr end
  out:write(("%s %s\n"):format(shown(r, name), d:digest()))
end

-- Runs edit(img) on the source image, or on each selected platform's
-- image of an index; returns the new top descriptor.
local function edit_image(src, opts, edit)
  local top = src.desc
  if oci.image.MediaType.is_index(top:media_type()) then
    local idx, msg = oci.build.Index.from(src.L, top:digest())
    if not idx then fail(2, msg) end
    local platforms
    if opts.select then
      platforms = {}
      for i, p in ipairs(opts.select) do platforms[i] = base.parse_platform(p) end
    end
    local ok, err
    ok, msg, err = idx:edit(edit, { platforms = platforms, threads = opts.threads })
    if not ok then fail((err and err.code == "io") and 2 or 1, msg) end
    local d
    d, msg = idx:commit()
    if not d then fail(1, msg) end
    return d
  end
  if opts.select then fail(2, "--select: the image is not an index") end
  local img, msg, err = oci.build.Image.from(src.L, top:digest(), { threads = opts.threads })
  if not img then fail((err and err.code == "io") and 2 or 1, msg) end
  local ok, emsg = edit(img)
  if ok == nil and emsg then fail(1, emsg) end
  local d
  d, msg = img:commit()
  if not d then fail(1, msg) end
  return d
end

-- --threads N|auto (the commands that build layers): compression
-- threads, as ocispec.layer.build's `threads` (base.parse_threads).
local THREADS_HELP = base.THREADS_HELP

local function check_threads(opts)
  opts.threads = base.parse_threads(opts.threads)
end

-- The common frame: parse, open, edit, store, close.
local function run_edit(args, out, spec, check, edit)
  local opts, pos = parse_args(args, with(spec))
  if #pos ~= 1 then fail(2, "expected one REF") end
  check_threads(opts)
  local conn = connection(opts)
  check(opts)
  return with_source(pos[1], conn, nil, function(src)
    local d = edit_image(src, opts, function(img) return edit(img, opts, src, conn) end)
    store(src, d, opts.to, conn, out)
    return 0
  end)
end

-- ------------------------------------------------------------ commands

-- "--entrypoint" / "--cmd" values: a JSON array, or words split on spaces.
local function command_list(v, what)
  if v:match("^%s*%[") then
    local t = oci.json.decode(v)
    if type(t) ~= "table" then fail(2, what .. ": not a JSON array of strings: " .. v) end
    for _, s in ipairs(t) do
      if type(s) ~= "string" then fail(2, what .. ": not a JSON array of strings: " .. v) end
    end
    return t
  end
  local t = {}
  for w in v:gmatch("%S+") do t[#t + 1] = w end
  return t
end

local function key_value(v, what)
  local k, val = v:match("^([^=]+)=(.*)$")
  if not k then fail(2, ("%s: K=V expected, got %q"):format(what, v)) end
  return k, val
end

command("mutate", "edit an image's configuration (crane mutate, umoci config)",
  [==[usage: ocispec mutate REF [--env K=V] [--unset-env K] [--label K=V]
                      [--unset-label K] [--entrypoint JSON|CMD] [--cmd JSON|CMD]
                      [--unset-entrypoint] [--unset-cmd] [--user U] [--workdir D]
                      [--expose PORT] [--unset-expose PORT] [--volume D]
                      [--unset-volume D] [--stop-signal S] [--author A]
                      [--platform OS/ARCH[/VARIANT]] [--select P] [--to REF]

Edits the image configuration. --env, --unset-env, --label,
--unset-label, --expose, --unset-expose, --volume and --unset-volume
repeat. --entrypoint and --cmd take a JSON array (["/bin/sh","-c"]) or a
command split on spaces; "" empties it. --platform sets the image's
platform (os/arch[/variant]). Edits a Dockerfile can make get its history
entry; removals get none (as Docker).
]==] .. CONN_HELP,
  function(args, out)
    return run_edit(args, out, {
      ["--env"] = "list", ["--unset-env"] = "list", ["--label"] = "list", ["--unset-label"] = "list",
      ["--entrypoint"] = "value", ["--cmd"] = "value", ["--unset-entrypoint"] = "flag", ["--unset-cmd"] = "flag",
      ["--user"] = "value", ["--workdir"] = "value", ["--expose"] = "list", ["--unset-expose"] = "list",
      ["--volume"] = "list", ["--unset-volume"] = "list", ["--stop-signal"] = "value", ["--author"] = "value",
      ["--platform"] = "value",
    }, function(opts)
      for _, e in ipairs(opts.env or {}) do key_value(e, "--env") end
      for _, e in ipairs(opts.label or {}) do key_value(e, "--label") end
      if opts.entrypoint then command_list(opts.entrypoint, "--entrypoint") end
      if opts.cmd then command_list(opts.cmd, "--cmd") end
      if opts.platform then base.parse_platform(opts.platform) end
    end, function(img, opts)
      for _, k in ipairs(opts.unset_env or {}) do img:unset_env(k) end
      for _, e in ipairs(opts.env or {}) do img:env(key_value(e, "--env")) end
      for _, k in ipairs(opts.unset_label or {}) do img:unset_label(k) end
      for _, e in ipairs(opts.label or {}) do img:label(key_value(e, "--label")) end
      if opts.unset_entrypoint then img:unset_entrypoint() end
      if opts.unset_cmd then img:unset_cmd() end
      if opts.entrypoint then img:entrypoint(command_list(opts.entrypoint, "--entrypoint")) end
      if opts.cmd then img:cmd(command_list(opts.cmd, "--cmd")) end
      if opts.user then img:user(opts.user) end
      if opts.workdir then img:working_dir(opts.workdir) end
      for _, p in ipairs(opts.unset_expose or {}) do img:unset_exposed_port(p) end
      for _, p in ipairs(opts.expose or {}) do img:expose(p) end
      for _, v in ipairs(opts.unset_volume or {}) do img:unset_volume(v) end
      for _, v in ipairs(opts.volume or {}) do img:volume(v) end
      if opts.stop_signal then img:stop_signal(opts.stop_signal) end
      if opts.author then img:author(opts.author) end
      if opts.platform then img:set_platform(base.parse_platform(opts.platform)) end
    end)
  end)

command("append", "add a layer to an image from a directory or a tar (crane append)",
  [==[usage: ocispec append REF (--dir DIR | --tar FILE|-) [--created-by TEXT]
                      [--threads N] [--select P] [--to REF]

Adds one layer: the tree below DIR, or a tar (plain, gzip or zstd; - reads
stdin), which goes through the safe unpacker and is rebuilt reproducibly
with its whiteouts and links. --created-by: its history entry's
created_by.
]==] .. THREADS_HELP .. "\n" .. CONN_HELP,
  function(args, out)
    local stdin_tar
    local flags = { ["--dir"] = "value", ["--tar"] = "value", ["--created-by"] = "value", ["--threads"] = "value" }
    return util.finally(function() if stdin_tar then os.remove(stdin_tar) end end, run_edit, args, out, flags,
      function(opts)
        if (opts.dir == nil) == (opts.tar == nil) then fail(2, "give one of --dir and --tar") end
        if opts.dir and not is_dir(opts.dir) then fail(2, ("--dir %s: not a directory"):format(opts.dir)) end
      end, function(img, opts)
        local spec = { created_by = opts.created_by }
        if opts.dir then
          spec.dir = opts.dir
        elseif opts.tar == "-" then
          -- stdin is read once; an index's platforms share the spooled copy
          if not stdin_tar then
            stdin_tar = os.tmpname()
            local f = assert(io.open(stdin_tar, "wb"))
            for chunk in function() return io.stdin:read(65536) end do f:write(chunk) end
            f:close()
          end
          spec.tar = stdin_tar
        else
          spec.tar = opts.tar
        end
        local ok, msg = img:add_layer(spec)
        if not ok then fail(opts.tar and 1 or 2, msg) end
      end)
  end)

command("rebase", "swap an image's base layers for another base's (crane rebase)",
  [==[usage: ocispec rebase REF --old-base REF --new-base REF [--to REF]

Replaces the old base's layers at the bottom of the image by the new
base's, after checking that the image really starts with the old base
(layer digests and diff_ids; exit 1 naming the first difference
otherwise). The org.opencontainers.image.base.digest and .base.name
annotations name the new base.
]==] .. CONN_HELP,
  function(args, out)
    local bases = {}
    return util.finally(function() for _, s in ipairs(bases) do s.close() end end, run_edit, args, out,
      { ["--old-base"] = "value", ["--new-base"] = "value" },
      function(opts)
        if not opts.old_base or not opts.new_base then fail(2, "--old-base and --new-base are required") end
      end, function(img, opts, src, conn)
        for _, which in ipairs({ "old_base", "new_base" }) do
          if not bases[which] then
            local s = open_source(opts[which], conn, "--" .. which:gsub("_", "-"))
            bases[#bases + 1] = s
            bases[which] = s
          end
        end
        local function spec(s)
          local ref = s.S:name() or s.desc:digest()
          return same_file(s.L:path(), src.L:path()) and ref or { layout = s.L, ref = ref }
        end
        local r, msg = img:rebase(spec(bases.old_base), spec(bases.new_base), { name = opts.new_base })
        if not r then fail(1, msg) end
      end)
  end)

command("flatten", "merge an image's layers into one (crane flatten)",
  [==[usage: ocispec flatten REF [--layers N-M] [--threads N] [--to REF]

Merges all layers (or layers N to M, 1 the lowest) into one, whiteouts
resolved; the history keeps one entry for them.
]==] .. THREADS_HELP .. "\n" .. CONN_HELP,
  function(args, out)
    return run_edit(args, out, { ["--layers"] = "value", ["--threads"] = "value" }, function(opts)
      if opts.layers and not opts.layers:match("^%d+%-%d+$") then
        fail(2, ("--layers: N-M expected, got %q"):format(opts.layers))
      end
    end, function(img, opts)
      local o = {}
      if opts.layers then
        local a, b = opts.layers:match("^(%d+)%-(%d+)$")
        o.from, o.to = math.tointeger(tonumber(a)), math.tointeger(tonumber(b))
      end
      local ok, msg = img:flatten(o)
      if not ok then fail(1, msg) end
    end)
  end)

command("index", "add, remove or keep platforms of an image index",
  [==[usage: ocispec index REF [--remove P] [--keep P] [--add REF] [--to REF]

--remove drops the manifests of platform P (os/arch[/variant]), --keep
keeps only those of the platforms given, --add adds the image REF (its
blobs copied in); each repeats. The new index goes to REF or --to REF.
]==] .. CONN_HELP,
  function(args, out)
    local opts, pos = parse_args(args, with({ ["--remove"] = "list", ["--keep"] = "list", ["--add"] = "list" }))
    if #pos ~= 1 then fail(2, "expected one REF") end
    if opts.select then fail(2, "index takes --keep, not --select") end
    local conn = connection(opts)
    local remove, keep = {}, {}
    for i, p in ipairs(opts.remove or {}) do remove[i] = base.parse_platform(p) end
    for i, p in ipairs(opts.keep or {}) do keep[i] = base.parse_platform(p) end
    return with_source(pos[1], conn, nil, function(src)
      local MT = oci.image.MediaType
      local top = src.desc
      if not MT.is_index(top:media_type()) then fail(2, pos[1] .. ": not an image index") end
      local idx, msg = oci.build.Index.from(src.L, top:digest())
      if not idx then fail(2, msg) end
      if #remove > 0 then idx:remove(remove) end
      if #keep > 0 then idx:filter(keep) end
      for _, a in ipairs(opts.add or {}) do
        with_source(a, conn, "--add", function(s)
          local d = s.desc:to_table()
          if not same_file(s.L:path(), src.L:path()) then copy_graph(s.L, src.L, d) end
          local r, rmsg = s.L:resolve(d.digest)
          if not r then fail(1, rmsg) end
          local p = r.config and { os = r.config:os(), architecture = r.config:architecture(),
            variant = r.config:variant() } or nil
          idx:add({ mediaType = d.mediaType, digest = d.digest, size = d.size },
            not MT.is_index(d.mediaType) and p or nil)
        end)
      end
      local d
      d, msg = idx:commit()
      if not d then fail(1, msg) end
      store(src, d, opts.to, conn, out)
      return 0
    end)
  end)
