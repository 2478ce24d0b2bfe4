--- Shared plumbing of the `ocispec` command: the error that ends a
-- command with a status, the options parser, document and image-reference
-- helpers, and the table of subcommands the `ocispec.cli.*` modules fill.
-- @module ocispec.cli.base
local oci = require "ocispec"
local util = require "ocispec.util"

local M = {}

local image = oci.image

--- Document kinds `--kind` accepts, and their classes (values.def's
-- document kinds, from the core).
M.KINDS = {}
for name, class in pairs(oci.core.values.kinds) do M.KINDS[name] = class end
-- the kind names by values.def id: K.IMAGE_MANIFEST == "image-manifest"
local K = util.constants("kind_ids", oci.core.values.kind_ids)

local function kind_names()
  local names = {}
  for k in pairs(M.KINDS) do names[#names + 1] = k end
  table.sort(names)
  return table.concat(names, ", ")
end

local MT = image.MediaType
-- the members a Platform may have (image-index.md)
local PLATFORM_KEYS = {
  architecture = true, os = true, ["os.version"] = true, ["os.features"] = true, variant = true, features = true,
}
-- the members of an image config that a Platform has not (config.md)
local CONFIG_KEYS = { created = true, author = true, config = true, rootfs = true, history = true }

--- The kind of a decoded JSON document, from its mediaType or its shape;
-- nil when it cannot be told. Exact: a document's own mediaType decides
-- (a descriptor's describes something else); otherwise each kind needs
-- members that only it has (an image config one of rootfs, config,
-- history, created, author; a Platform nothing but platform members), so
-- one kind is never taken for another.
function M.detect_kind(t)
  if type(t) ~= "table" then return nil end
  local mt = t.mediaType
  if mt ~= nil and t.digest == nil then
    if MT.is_index(mt) then return K.IMAGE_INDEX end
    if MT.is_manifest(mt) then return K.IMAGE_MANIFEST end
    if mt == MT.ArtifactManifest then return K.IMAGE_ARTIFACT_MANIFEST end
  end
  if t.schemaVersion ~= nil then
    if t.manifests ~= nil and t.config == nil and t.layers == nil then return K.IMAGE_INDEX end
    if t.manifests == nil and (t.config ~= nil or t.layers ~= nil) then return K.IMAGE_MANIFEST end
    return nil
  end
  if t.blobs ~= nil and t.artifactType ~= nil then return K.IMAGE_ARTIFACT_MANIFEST end
  if t.ociVersionMin ~= nil or t.ociVersionMax ~= nil then return K.RUNTIME_FEATURES end
  if t.ociVersion ~= nil then
    if t.id ~= nil and t.status ~= nil then return K.RUNTIME_STATE end
    return K.RUNTIME_CONFIG
  end
  if t.imageLayoutVersion ~= nil then return K.IMAGE_LAYOUT end
  if t.rootfs ~= nil then return K.IMAGE_CONFIG end
  if t.architecture ~= nil and t.os ~= nil then
    local config_only, other = false, false
    for k in pairs(t) do
      if CONFIG_KEYS[k] then
        config_only = true
      elseif not PLATFORM_KEYS[k] then
        other = true
      end
    end
    if config_only then return K.IMAGE_CONFIG end
    return not other and K.IMAGE_PLATFORM or nil
  end
  if mt ~= nil and t.digest ~= nil and t.size ~= nil then return K.IMAGE_DESCRIPTOR end
  if t.errors ~= nil then return K.DISTRIBUTION_ERRORS end
  if t.repositories ~= nil then return K.DISTRIBUTION_CATALOG end
  if t.name ~= nil and t.tags ~= nil then return K.DISTRIBUTION_TAGS end
  return nil
end

-- ------------------------------------------------------------ plumbing

-- An error that ends the command with a status (raised, caught by main).
local Exit = {}
Exit.__index = Exit
local function fail(status, msg)
  error(setmetatable({ status = status, msg = msg }, Exit), 0)
end

-- Writes a document's JSON and a final newline (as on stdout) to path,
-- atomically: a file beside it, then a rename.
local function write_document(path, obj, pretty)
  local ok, msg = oci.core.fs.write_atomic(path, obj:to_json({ pretty = pretty }) .. "\n")
  if not ok then fail(2, msg) end
end

local function read_input(path)
  if path == "-" then return io.stdin:read("a") end
  local f, err = io.open(path, "rb")
  if not f then fail(2, err) end
  local s = f:read("a")
  f:close()
  if not s then fail(2, path .. ": cannot read") end
  return s
end

-- Options parser: spec maps "--name" to "flag" | "value"; short aliases
-- map "-x" to "--name". Returns opts, positional args.
local function parse_args(args, spec, aliases)
  local opts, pos = {}, {}
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "--" then
      for j = i + 1, #args do pos[#pos + 1] = args[j] end
      break
    end
    local name, inline = a:match("^(%-%-[%w-]+)=(.*)$")
    name = name or a
    name = aliases and aliases[name] or name
    if name:sub(1, 1) == "-" and name ~= "-" then
      local kind = spec[name]
      -- the name only: a mistyped --pasword=... must not echo its value
      if not kind then fail(2, "unknown option " .. name) end
      local key = name:gsub("^%-%-", ""):gsub("-", "_")
      if kind == "flag" then
        if inline then fail(2, name .. " takes no value") end
        opts[key] = true
      else
        local v = inline
        if not v then
          i = i + 1
          v = args[i]
          if not v then fail(2, name .. " needs a value") end
        end
        if kind == "list" then -- repeatable: every value, in order
          opts[key] = opts[key] or {}
          table.insert(opts[key], v)
        else
          opts[key] = v
        end
      end
    else
      pos[#pos + 1] = a
    end
    i = i + 1
  end
  return opts, pos
end

-- Loads a document: text -> (class, kind, object) or fails with status 1
-- (not JSON, not the kind) / 2 (cannot tell the kind).
local function load_document(path, text, kind)
  local T
  if kind then
    T = M.KINDS[kind]
    if not T then fail(2, ("unknown kind %q (one of: %s)"):format(kind, kind_names())) end
  else
    local t, msg = oci.json.decode(text)
    if t == nil then fail(1, path .. ": not JSON: " .. tostring(msg)) end
    kind = M.detect_kind(t)
    if not kind then fail(2, path .. ": cannot tell what kind of document this is; pass --kind") end
    T = M.KINDS[kind]
  end
  local obj, msg = T.from_json(text)
  if not obj then fail(1, path .. ": " .. msg) end
  return T, kind, obj
end


-- ------------------------------------------------------------ commands

local commands = {}
local order = {}

local function command(name, summary, usage, run)
  commands[name] = { summary = summary, usage = usage, run = run }
  order[#order + 1] = name
end


-- ------------------------------------------------------------ image references

local function parse_platform(s)
  if not s then return nil end
  local os_, arch, variant = s:match("^([^/]+)/([^/]+)/?([^/]*)$")
  if not os_ then fail(2, ("bad --platform %q (os/arch[/variant], e.g. linux/arm64/v8)"):format(s)) end
  return { os = os_, architecture = arch, variant = variant ~= "" and variant or nil }
end

-- An image of a layout on the command line: "DIR[:NAME]" (NAME default
-- "latest", as umoci and skopeo's oci: transport write it; a colon inside
-- the directory name needs the NAME), "DIR:DIGEST" or "DIR@DIGEST" (the
-- manifest or index of that digest), "DIR:NAME@DIGEST" (NAME must be that
-- digest). -> dir, ref (a name or a digest), name (the NAME of
-- DIR:NAME@DIGEST). Something shaped like a digest that is not one is a
-- usage error.
local LOCAL_REF_HELP = [==[
DIR[:NAME] is the image NAME (a ref name of DIR's index.json, default
"latest") of the layout DIR; DIR:DIGEST and DIR@DIGEST name the manifest or
index of that digest, DIR:NAME@DIGEST checks that NAME is that digest.]==]
local function digest_or_fail(s, what)
  local ok, msg = oci.digest.parse(s)
  if not ok then fail(2, ("%s: bad digest %q: %s"):format(what, s, msg)) end
  return s
end
local function parse_image_ref(s)
  local head, dg = s:match("^(.+)@([%w+._-]+:[^/:@]*)$")
  if head then
    digest_or_fail(dg, s)
    local dir, name = head:match("^(.*):([^/:]+)$")
    if dir and dir ~= "" then return dir, dg, name end
    return head, dg
  end
  local dir, alg, enc = s:match("^(.+):([%w+._-]+):([^/:]*)$")
  if dir then
    for _, a in ipairs(oci.digest.algorithms) do
      if a == alg then return dir, digest_or_fail(alg .. ":" .. enc, s) end
    end
  end
  local tag
  dir, tag = s:match("^(.*):([^/:]+)$")
  if not dir or dir == "" then return s, "latest" end
  return dir, tag
end

local function open_layout(dir)
  local L, msg = oci.layout.open(dir)
  if not L then fail(2, msg) end
  return L
end

-- Checks that the image parse_image_ref gave is in layout L before
-- anything is done with it: a name missing from index.json, a digest
-- missing from blobs/, or a NAME that is not DIGEST is a local error (2).
local function check_image_ref(L, dir, ref, name)
  local is_digest = oci.digest.parse(ref) ~= nil
  if is_digest and not name then
    if not L:has_blob(ref) then fail(2, ("%s: no blob %s in the layout"):format(dir, ref)) end
    return
  end
  local want = name or ref
  local names = {}
  for _, e in ipairs(L:list()) do
    if e.name == want then
      if name and e.descriptor:digest() ~= ref then
        fail(2, ("%s: %s is %s, not %s"):format(dir, name, e.descriptor:digest(), ref))
      end
      return
    end
    if e.name then names[#names + 1] = e.name end
  end
  fail(2, ("%s: no image named %q in index.json (names: %s)"):format(dir, want,
    #names > 0 and table.concat(names, ", ") or "none"))
end

local function format_size(n)
  local units = { "B", "KiB", "MiB", "GiB", "TiB" }
  local i = 1
  while n >= 1024 and i < #units do
    n, i = n / 1024, i + 1
  end
  return i == 1 and ("%d B"):format(n) or ("%.1f %s"):format(n, units[i])
end

-- --threads N|auto, of the commands that compress layers: as the
-- `threads` option of ocispec.layer.build.
local THREADS_HELP = [==[
--threads N|auto: compress each new layer on N threads (1 to 64) or, with
auto (the default), one per CPU this process may run on; both write the
parallel format, whose bytes are the same for every N. 0: the
single-threaded format (the default before 2026-12-05).]==]

-- The value of --threads (nil: the default) -> the `threads` option; a
-- bad one ends the command with status 2.
local function parse_threads(s)
  if s == nil or s == "auto" then return s end
  local n = s:match("^%d+$") and math.tointeger(tonumber(s))
  if not n or n > oci.layer.threads_max then
    fail(2, ("--threads: an integer from 0 to %d or auto expected, got %q"):format(oci.layer.threads_max, s))
  end
  return n
end

-- ------------------------------------------------------------ transports
-- Commands that read one image (fs, unpack) also take a reference with a
-- transport of ocispec.transport, as copy and diff do.
local TRANSPORT_PREFIXES = { "oci:", "oci-archive:", "docker-archive:", "docker://" }

local TRANSPORT_REF_HELP = [==[
IMAGE may also carry a transport, as `ocispec copy` takes them:
oci:DIR[:NAME|@DIGEST], oci-archive:FILE[:NAME],
docker-archive:FILE[:NAME:TAG|:@N], docker://HOST/REPO[:TAG|@DIGEST]
(with --plain-http, --tls-verify=BOOL, --ca-file FILE, --auth-file FILE).]==]

-- The parse_args spec of the connection options for a docker:// image.
local READ_CONNECTION_OPTS = { ["--plain-http"] = "flag", ["--tls-verify"] = "value",
  ["--ca-file"] = "value", ["--auth-file"] = "value" }

-- opts (parse_args' result with READ_CONNECTION_OPTS) -> the connection
-- options of oci.transport.open / oci.diff.
local function read_connection(opts)
  local o = { plain_http = opts.plain_http or nil, ca_file = opts.ca_file, auth_file = opts.auth_file }
  if opts.tls_verify == "false" then
    o.tls_verify = false
  elseif opts.tls_verify and opts.tls_verify ~= "true" then
    fail(2, "--tls-verify takes true or false")
  end
  return o
end

--- The one opener of a transport image: opens `ref` (a reference string
-- or oci.transport.parse's table) with oci.transport.open and options
-- `conn`. Returns `{S=, L=, desc=, close=}` (the source, its Layout, its
-- top Descriptor; close() removes an archive's or a registry's temporary
-- layout). When it does not open, the command ends with
-- `fail(on_fail(err, msg))`: the caller says which status and message.
local function open_image(ref, conn, on_fail)
  local S, msg, err = oci.transport.open(ref, conn)
  if not S then fail(on_fail(err, msg)) end
  return { S = S, L = S:layout(), desc = S:descriptor(), close = function() S:close() end }
end

--- `open_image(ref, conn, on_fail)`, then `fn(src)`; the image is closed
-- on every path (also when fn fails). Returns fn's results.
local function with_image(ref, conn, on_fail, fn)
  local src = open_image(ref, conn, on_fail)
  return util.finally(src.close, fn, src)
end

--- Runs `fn(L, ref)` on the image IMAGE `s` names, then closes it on every
-- path: `s` with a transport (TRANSPORT_REF_HELP) through oci.transport
-- (archives and registries in a temporary layout; `ref` the top digest;
-- failing to open exits 1 for a registry, 2 for a bad reference or a
-- local file), else a layout DIR[:NAME] (parse_image_ref, checked by
-- check_image_ref). Returns fn's results.
local function with_read_image(s, conn, fn)
  for _, p in ipairs(TRANSPORT_PREFIXES) do
    if s:sub(1, #p) == p then
      return with_image(s, conn, function(err, msg)
        local remote = s:sub(1, 9) == "docker://" and (err and err.code ~= "invalid")
        return remote and 1 or 2, ("%s: %s"):format(s, msg)
      end, function(src) return fn(src.L, src.desc:digest()) end)
    end
  end
  local dir, ref, name = parse_image_ref(s)
  local L = open_layout(dir)
  return util.finally(function() L:close() end, function()
    check_image_ref(L, dir, ref, name)
    return fn(L, ref)
  end)
end

M.Exit = Exit
M.fail = fail
M.write_document = write_document
M.read_input = read_input
M.parse_args = parse_args
M.load_document = load_document
M.commands = commands
M.order = order
M.command = command
M.K = K
M.kind_names = kind_names
M.MT = MT
M.parse_platform = parse_platform
M.LOCAL_REF_HELP = LOCAL_REF_HELP
M.digest_or_fail = digest_or_fail
M.parse_image_ref = parse_image_ref
M.open_layout = open_layout
M.check_image_ref = check_image_ref
M.format_size = format_size
M.THREADS_HELP = THREADS_HELP
M.parse_threads = parse_threads
M.TRANSPORT_REF_HELP = TRANSPORT_REF_HELP
M.READ_CONNECTION_OPTS = READ_CONNECTION_OPTS
M.read_connection = read_connection
M.open_image = open_image
M.with_image = with_image
M.with_read_image = with_read_image

return M
