--- `ocispec` commands on local images: layout, build, unpack.
-- @module ocispec.cli.images
local oci = require "ocispec"
local base = require "ocispec.cli.base"
local command, LOCAL_REF_HELP = base.command, base.LOCAL_REF_HELP
local parse_args, fail = base.parse_args, base.fail
local open_layout, format_size = base.open_layout, base.format_size
local parse_image_ref, parse_platform = base.parse_image_ref, base.parse_platform
local check_image_ref = base.check_image_ref

command("layout", "create, list, inspect, verify and garbage-collect OCI image layouts",
  [==[usage: ocispec layout init DIR
       ocispec layout ls [--json] DIR
       ocispec layout inspect [--json] [--platform OS/ARCH[/VARIANT]] DIR[:NAME]
       ocispec layout verify DIR
       ocispec layout gc DIR

init creates an empty layout (oci-layout, index.json, blobs/). ls lists the
entries of index.json with their ref names. inspect resolves an image
(DIR[:NAME], see below; through nested indexes, choosing the platform) and shows the manifest,
config and layers (an artifact: its artifactType and config media type).
verify checks every reachable blob (presence, size, digest), every
document, diff_ids against the layers; exit 1 when it finds problems. gc
removes blobs nothing references. --json prints JSON for scripts.
]==] .. LOCAL_REF_HELP,
  function(args, out)
    local sub = table.remove(args, 1)
    local opts, pos = parse_args(args, { ["--json"] = "flag", ["--platform"] = "value" })
    if not sub then fail(2, "no layout command (init, ls, inspect, verify, gc)") end
    if #pos ~= 1 then fail(2, "expected one DIR") end
    if sub == "init" then
      local L, msg = oci.layout.create(pos[1])
      if not L then fail(2, msg) end
      out:write(L:path(), "\n")
      return 0
    elseif sub == "ls" then
      local L = open_layout(pos[1])
      local rows = {}
      for _, e in ipairs(L:list()) do
        local d = e.descriptor
        rows[#rows + 1] = { name = e.name, digest = d:digest(), mediaType = d:media_type(), size = d:size() }
      end
      if opts.json then
        out:write(oci.json.encode(setmetatable(rows, #rows == 0 and oci.empty_array_mt() or nil)), "\n")
      else
        for _, r in ipairs(rows) do
          out:write(("%-24s %s %10s %s\n"):format(r.name or "<none>", r.digest, format_size(r.size), r.mediaType))
        end
      end
      return 0
    elseif sub == "inspect" then
      local dir, ref, name = parse_image_ref(pos[1])
      local platform = parse_platform(opts.platform)
      local L = open_layout(dir)
      check_image_ref(L, dir, ref, name)
      local r, msg, code = L:resolve(ref, platform and { platform = platform } or nil)
      -- nothing for the platform, unreadable blobs: local (2); bad documents: 1
      if not r then fail((code.code == "invalid" or code.code == "io") and 2 or 1, msg) end
      -- an artifact's config is not an image configuration: r.config is nil
      local c, m = r.config, r.manifest
      if opts.json then
        local layers = {}
        for i, d in ipairs(r.layers) do layers[i] = d:to_table() end
        out:write(oci.json.encode({
          descriptor = r.descriptor:to_table(), manifest = m:to_table(), config = c and c:to_table() or nil,
          layers = setmetatable(layers, #layers == 0 and oci.empty_array_mt() or nil),
        }), "\n")
        return 0
      end
      local shown = name and ("%s:%s@%s"):format(dir, name, ref)
        or oci.digest.parse(ref) and ("%s@%s"):format(dir, ref) or ("%s:%s"):format(dir, ref)
      out:write(("%s\n  manifest  %s\n"):format(shown, r.descriptor:digest()))
      if m:artifact_type() then out:write(("  artifact  %s\n"):format(m:artifact_type())) end
      if c then
        out:write(("  platform  %s/%s%s\n  config    %s\n"):format(c:os(), c:architecture(),
          c:variant() and "/" .. c:variant() or "", m:config():digest()))
      else
        out:write(("  config    %s %s\n"):format(m:config():digest(), m:config():media_type()))
      end
      if c and c:created() then out:write(("  created   %s\n"):format(c:created())) end
      local cc = c and c:config()
      if cc then
        if cc:entrypoint() then out:write(("  entrypoint %s\n"):format(oci.json.encode(cc:entrypoint()))) end
        if cc:cmd() then out:write(("  cmd       %s\n"):format(oci.json.encode(cc:cmd()))) end
      end
      out:write(("  layers    %d\n"):format(#r.layers))
      for _, d in ipairs(r.layers) do
        out:write(("    %s %10s %s\n"):format(d:digest(), format_size(d:size()), d:media_type()))
      end
      return 0
    elseif sub == "verify" then
      local L = open_layout(pos[1])
      local ok, warnings_or_msg, verr = L:verify()
      local problems = verr and verr.problems
      if ok then
        for _, w in ipairs(type(warnings_or_msg) == "table" and warnings_or_msg or {}) do
          out:write(("warning: %s\n"):format(w.message or tostring(w)))
        end
        out:write(("%s: verified\n"):format(pos[1]))
        return 0
      end
      for _, p in ipairs(problems or {}) do
        out:write(("%s: %s\n"):format(p.digest or p.path or pos[1], p.message))
      end
      if not problems or #problems == 0 then out:write(warnings_or_msg, "\n") end
      return 1
    elseif sub == "gc" then
      local L = open_layout(pos[1])
      local removed, msg = L:gc()
      if not removed then fail(2, msg) end
      for _, d in ipairs(removed) do out:write("removed ", d, "\n") end
      return 0
    end
    fail(2, ("unknown layout command %q (init, ls, inspect, verify, gc)"):format(sub))
  end)

-- Message handler for a build script: an error raised inside the library
-- (a misused call: wrong argument type, a C function's argument check)
-- names the script's line that made the call, the innermost frame of the
-- script on the stack, instead of a line of the library or none.
local function script_error(script)
  local source = "@" .. script
  return function(e)
    local msg = tostring(e)
    if msg:sub(1, #script + 1) == script .. ":" then return msg end
    for level = 2, math.huge do
      local info = debug.getinfo(level, "Sl")
      if not info then break end
      if info.source == source and info.currentline and info.currentline > 0 then
        -- the library's own position goes: the script's replaces it
        msg = msg:gsub("^[^\n]-%.lua:%d+: ", "", 1)
        return ("%s:%d: %s"):format(script, info.currentline, msg)
      end
    end
    return msg
  end
end

-- `ocispec build --prune [--keep-days N] [--max-bytes SIZE] LAYOUT`
local function prune_command(args, out)
  local opts, pos = parse_args({ table.unpack(args, 2) }, { ["--keep-days"] = "value", ["--max-bytes"] = "value" })
  if #pos ~= 1 then fail(2, "build --prune: one LAYOUT expected") end
  local o = { layout = open_layout(pos[1]) }
  if opts.keep_days then
    o.keep_days = tonumber(opts.keep_days)
    if not o.keep_days or o.keep_days < 0 then fail(2, "--keep-days: a number >= 0 expected") end
  end
  if opts.max_bytes then
    local n, unit = opts.max_bytes:lower():match("^(%d+)([kmg]?)$")
    if not n or #n > 15 then fail(2, "--max-bytes: an integer with an optional k, m or g suffix expected") end
    o.max_bytes = math.tointeger(n) << (({ k = 10, m = 20, g = 30 })[unit] or 0)
  end
  if not o.keep_days and not o.max_bytes then fail(2, "build --prune: --keep-days or --max-bytes expected") end
  local r, msg = oci.build.prune_cache(o)
  if not r then fail(1, msg) end
  for _, x in ipairs(r.removed) do
    local what = x.created_by and " " .. x.created_by:gsub("[%z\1-\31\127]", "?") or ""
    out:write(("removed %s%s\n"):format(x.key and x.key:sub(8, 19) or "?", what))
  end
  out:write(("%d records removed, %d kept (%d bytes), %d blobs removed\n"):format(#r.removed, r.kept,
    r.kept_bytes, #r.blobs))
  return 0
end

command("build", "run an image build script",
  [==[usage: ocispec build [--no-cache] [--cache-to REF] [--cache-from REF]...
                     [--plain-http] [--tls-verify=BOOL] [--ca-file FILE]
                     [--auth-file FILE] SCRIPT.lua [ARGS...]
       ocispec build --prune [--keep-days N] [--max-bytes SIZE] LAYOUT

Runs a Lua build script (ocispec.build, docs/lua.md) with `oci` set to
the module and `arg` to ARGS; the script's error ends the command with exit
status 1. Each layer step (RUN, COPY, ...) is printed on stderr with
"cached" (or "cached from REF") or the time it took. --no-cache: run every
step (the build cache is still recorded).
--cache-from REF (repeatable): a step the layout has no result for is
looked up in the build cache artifact REF (as --cache-to pushes it); its
layer is fetched only on a hit and verified (digest, size, diff_id). An
entry that fails a check is a miss: the step runs and a "note:" line says
why. --cache-to REF: after the script, push the cache of every step it ran
or found to REF (a tag). The connection options apply to both:
--plain-http, --tls-verify=false, --ca-file, --auth-file (as `ocispec
push`).
--prune: drop the build cache records of LAYOUT (an image layout or a
cache directory) not used for N days (--keep-days, a number) and, least
recently used first, those past SIZE bytes in all (--max-bytes: an
integer, with an optional k, m or g suffix, powers of 1024), then the
blobs only they kept (as `ocispec layout gc`); prints each removed record
and a summary.]==],
  function(args, out)
    if args[1] == "--prune" then return prune_command(args, out) end
    local no_cache, cache_to, cache_from = false, nil, {}
    local conn = {}
    local function value(o)
      local name, v = o:match("^(%-%-[%w-]+)=(.*)$")
      if name then return name, v end
      v = table.remove(args, 1)
      if v == nil then fail(2, o .. " needs a value") end
      return o, v
    end
    while args[1] and args[1]:sub(1, 2) == "--" do
      local o = table.remove(args, 1)
      local name = o:match("^(%-%-[%w-]+)") or o
      if o == "--no-cache" then
        no_cache = true
      elseif o == "--plain-http" then
        conn.plain_http = true
      elseif name == "--cache-to" or name == "--cache-from" or name == "--tls-verify" or name == "--ca-file"
          or name == "--auth-file" then
        local _, v = value(o)
        if name == "--cache-to" then
          cache_to = v
        elseif name == "--cache-from" then
          cache_from[#cache_from + 1] = v
        elseif name == "--tls-verify" then
          if v ~= "true" and v ~= "false" then fail(2, "--tls-verify takes true or false") end
          conn.tls_verify = v == "true"
        elseif name == "--ca-file" then
          conn.ca_file = v
        else
          conn.auth_file = v
        end
      else
        fail(2, ("unknown option %q"):format(o))
      end
    end
    for _, r in ipairs(cache_to and { cache_to, table.unpack(cache_from) } or cache_from) do
      local ok, msg = oci.registry.parse_reference(r)
      if not ok then fail(2, ("%s: %s"):format(r, msg)) end
    end
    local cache = require "ocispec.build_cache"
    local n = 0
    local session = cache_to and {} or nil
    cache.defaults = { no_cache = no_cache, cache_from = cache_from[1] and cache_from or nil,
      cache_registry = conn, session = session, on_step = function(s)
      n = n + 1
      local w = io.stderr
      local how = s.remote and ("cached from " .. s.remote) or s.cached and "cached" or ("%.2fs"):format(s.seconds)
      w:write(("#%d %s %s\n"):format(n, s.description, how))
      if s.note then w:write(("#%d note: %s\n"):format(n, (s.note:gsub("[%z\1-\31\127]", "?")))) end
    end }
    local script = table.remove(args, 1)
    if not script then fail(2, "no SCRIPT given") end
    local chunk, msg = loadfile(script, "t")
    if not chunk then fail(2, msg) end
    local script_args = { [0] = script }
    for i, a in ipairs(args) do script_args[i] = a end
    local saved_arg, saved_oci = rawget(_G, "arg"), rawget(_G, "oci")
    rawset(_G, "arg", script_args)
    rawset(_G, "oci", oci)
    local ok, err = xpcall(chunk, script_error(script), table.unpack(args))
    rawset(_G, "arg", saved_arg)
    rawset(_G, "oci", saved_oci)
    cache.defaults = {}
    if not ok then fail(1, err) end
    if session then
      for _, img in ipairs(session) do cache.close(img) end
      if #session == 0 then
        io.stderr:write(("ocispec: --cache-to %s: no cached step, nothing exported\n"):format(cache_to))
      else
        local d, emsg = cache.export(cache_to, session, conn)
        if not d then fail(1, (emsg:gsub("[%z\1-\31\127]", "?"))) end
        io.stderr:write(("cache exported to %s (%s)\n"):format(cache_to, d:digest()))
      end
    end
    return 0
  end)

command("unpack", "unpack an image of a layout into a runtime bundle",
  [==[usage: ocispec unpack [--rootless] [--platform OS/ARCH[/VARIANT]]
                      [--max-bytes N] [--max-entries N]
                      [--uid-map C:H[:N]]... [--gid-map C:H[:N]]...
                      IMAGE BUNDLE

Applies the image's layers in order into BUNDLE/rootfs (whiteouts
included) and writes BUNDLE/config.json from its configuration, as
image-spec conversion.md says; `runc run` takes it from there. Each layer's
digest, size and diff_id are checked before it is applied, and entries
never leave the rootfs (docs/security.md). BUNDLE must not exist or be an
empty directory: it is built beside it (mode 0700) and appears only when
complete. --rootless: no owners, no device nodes, and a rootless runtime
config for the current user; owners other than root are recorded in the
user.rootlesscontainers xattr, as umoci does. --uid-map, --gid-map
(repeatable, as umoci's): container ids C..C+N-1 are host ids H..H+N-1
(N default 1); an owner no mapping covers is an error. --max-bytes,
--max-entries: limits per layer (uncompressed bytes, default 64 GiB; tar
entries, default 1000000).
IMAGE: DIR[:NAME], where ]==] .. LOCAL_REF_HELP .. "\n" .. base.TRANSPORT_REF_HELP .. "\n",
  function(args, out)
    local spec = { ["--rootless"] = "flag", ["--platform"] = "value",
      ["--max-bytes"] = "value", ["--max-entries"] = "value",
      ["--uid-map"] = "list", ["--gid-map"] = "list" }
    for k, v in pairs(base.READ_CONNECTION_OPTS) do spec[k] = v end
    local opts, pos = parse_args(args, spec)
    if #pos ~= 2 then fail(2, "expected IMAGE and BUNDLE") end
    local limits = {}
    for _, key in ipairs({ "max_bytes", "max_entries" }) do
      local v = opts[key]
      if v ~= nil then
        local n = math.tointeger(tonumber(v))
        if not n or n < 1 then
          fail(2, ("--%s: expected a positive integer, got %q"):format(key:gsub("_", "-"), v))
        end
        limits[key] = n
      end
    end
    local platform = parse_platform(opts.platform)
    local cfg, msg = base.with_read_image(pos[1], base.read_connection(opts), function(L, ref)
      return oci.unpack.image(L, ref, pos[2], {
        rootless = opts.rootless, platform = platform,
        max_bytes = limits.max_bytes, max_entries = limits.max_entries,
        uid_map = opts.uid_map, gid_map = opts.gid_map,
      })
    end)
    if not cfg then fail(1, msg) end
    out:write(pos[2], "\n")
    return 0
  end)

