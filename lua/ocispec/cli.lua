--- The `ocispec` command (bin/ocispec): subcommands over the module.
--
-- `main(argv)` returns the exit status: 0 success, 1 a document is
-- invalid (or a check failed), 2 usage or I/O error. Errors go to stderr
-- as one line `ocispec <command>: <what>: <why>`; nothing is half-written
-- (files are written atomically by the library).
-- @module ocispec.cli
local oci = require "ocispec"

local M = {}

local image, runtime, dist = oci.image, oci.runtime, oci.distribution

--- Document kinds `--kind` accepts, and their classes.
M.KINDS = {
  ["runtime-config"] = runtime.Spec,
  ["runtime-state"] = runtime.State,
  ["runtime-features"] = runtime.Features,
  ["image-manifest"] = image.ImageManifest,
  ["image-index"] = image.ImageIndex,
  ["image-artifact-manifest"] = image.ArtifactManifest,
  ["image-config"] = image.ImageConfiguration,
  ["image-platform"] = image.Platform,
  ["image-descriptor"] = image.Descriptor,
  ["image-layout"] = image.OciLayout,
  ["distribution-errors"] = dist.ErrorResponse,
  ["distribution-tags"] = dist.TagList,
  ["distribution-catalog"] = dist.RepositoryList,
}

local function kind_names()
  local names = {}
  for k in pairs(M.KINDS) do names[#names + 1] = k end
  table.sort(names)
  return table.concat(names, ", ")
end

local MT = image.MediaType
local MANIFEST_TYPES = { [MT.ImageManifest] = true, [MT.DockerManifest] = true }
local INDEX_TYPES = { [MT.ImageIndex] = true, [MT.DockerManifestList] = true }
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
    if INDEX_TYPES[mt] then return "image-index" end
    if MANIFEST_TYPES[mt] then return "image-manifest" end
    if mt == MT.ArtifactManifest then return "image-artifact-manifest" end
  end
  if t.schemaVersion ~= nil then
    if t.manifests ~= nil and t.config == nil and t.layers == nil then return "image-index" end
    if t.manifests == nil and (t.config ~= nil or t.layers ~= nil) then return "image-manifest" end
    return nil
  end
  if t.blobs ~= nil and t.artifactType ~= nil then return "image-artifact-manifest" end
  if t.ociVersionMin ~= nil or t.ociVersionMax ~= nil then return "runtime-features" end
  if t.ociVersion ~= nil then
    if t.id ~= nil and t.status ~= nil then return "runtime-state" end
    return "runtime-config"
  end
  if t.imageLayoutVersion ~= nil then return "image-layout" end
  if t.rootfs ~= nil then return "image-config" end
  if t.architecture ~= nil and t.os ~= nil then
    local config_only, other = false, false
    for k in pairs(t) do
      if CONFIG_KEYS[k] then
        config_only = true
      elseif not PLATFORM_KEYS[k] then
        other = true
      end
    end
    if config_only then return "image-config" end
    return not other and "image-platform" or nil
  end
  if mt ~= nil and t.digest ~= nil and t.size ~= nil then return "image-descriptor" end
  if t.errors ~= nil then return "distribution-errors" end
  if t.repositories ~= nil then return "distribution-catalog" end
  if t.name ~= nil and t.tags ~= nil then return "distribution-tags" end
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
        opts[key] = v
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

command("validate", "check documents against the OCI specs",
  [==[usage: ocispec validate [--kind KIND] [--quiet] FILE|-...

Parses each document and checks every spec rule. The kind is detected from
mediaType or shape unless --kind gives it. Prints every problem with its
JSON Pointer and rule id. Exit status: 0 all valid, 1 a document is invalid,
2 usage or I/O error.
  --kind KIND   one of: ]==] .. kind_names() .. [==[

  --quiet       print only problems]==],
  function(args, out)
    local opts, files = parse_args(args, { ["--kind"] = "value", ["--quiet"] = "flag" }, { ["-q"] = "--quiet" })
    if #files == 0 then fail(2, "no FILE given (use - for stdin)") end
    local status = 0
    for _, path in ipairs(files) do
      local ok, err = pcall(function()
        local _, kind, obj = load_document(path, read_input(path), opts.kind)
        local valid, warnings, err = obj:validate()
        local list = valid and warnings or err.problems
        for _, p in ipairs(list) do
          out:write(("%s: %s: %s: %s (%s)\n"):format(path, p.severity, p.pointer ~= "" and p.pointer or "/",
            p.message, p.rule))
        end
        if valid then
          if not opts.quiet then out:write(("%s: valid %s\n"):format(path, kind)) end
        else
          status = math.max(status, 1)
        end
      end)
      if not ok then
        if getmetatable(err) ~= Exit then error(err, 0) end
        io.stderr:write(("ocispec validate: %s\n"):format(err.msg))
        status = math.max(status, err.status)
      end
    end
    return status
  end)

command("fmt", "rewrite documents in canonical form",
  [==[usage: ocispec fmt [--pretty|--compact] [--in-place] [--kind KIND] FILE|-...

Round-trips each document through the library: fields in spec order,
unknown fields kept, numbers exact. Pretty (2-space indent, the default) or
compact. Without --in-place the result goes to stdout.]==],
  function(args, out)
    local opts, files = parse_args(args, {
      ["--pretty"] = "flag", ["--compact"] = "flag", ["--in-place"] = "flag", ["--kind"] = "value",
    }, { ["-i"] = "--in-place" })
    if #files == 0 then fail(2, "no FILE given (use - for stdin)") end
    if opts.pretty and opts.compact then fail(2, "--pretty and --compact exclude each other") end
    local pretty = not opts.compact
    for _, path in ipairs(files) do
      if opts.in_place and path == "-" then fail(2, "--in-place needs files, not stdin") end
      local _, _, obj = load_document(path, read_input(path), opts.kind)
      if opts.in_place then
        write_document(path, obj, pretty)
      else
        out:write(obj:to_json({ pretty = pretty }), "\n")
      end
    end
    return 0
  end)

command("digest", "print the digest of files",
  [==[usage: ocispec digest [--algorithm sha256|sha512] FILE|-...

Prints "ALGORITHM:HEX  FILE" for each file (stdin for -), as image-spec
descriptors write digests.]==],
  function(args, out)
    local opts, files = parse_args(args, { ["--algorithm"] = "value" }, { ["-a"] = "--algorithm" })
    if #files == 0 then fail(2, "no FILE given (use - for stdin)") end
    local alg = opts.algorithm or "sha256"
    if alg ~= "sha256" and alg ~= "sha512" then
      fail(2, ("unsupported algorithm %q (sha256 or sha512)"):format(alg))
    end
    for _, path in ipairs(files) do
      local d, msg
      if path == "-" then
        local h <close> = oci.digest.hasher(alg)
        repeat
          local chunk = io.stdin:read(1 << 20)
          if chunk then h:update(chunk) end
        until not chunk
        d = h:finish()
      else
        d, msg = oci.digest.file(path, alg)
        if not d then fail(2, msg) end
      end
      out:write(("%s  %s\n"):format(d, path))
    end
    return 0
  end)

-- Rewrites media types of a manifest or index to the other family.
local function convert_media_types(obj, kind, to, path)
  local map = to == "docker" and MT.to_docker_v2s2 or MT.from_docker_v2s2
  local function conv(o, pointer)
    local mt = o:media_type()
    if mt == nil then return end
    local other = map(mt)
    if other then
      o:set_media_type(other)
    elseif not (to == "docker" and mt:find("^application/vnd%.docker")
        or to == "oci" and mt:find("^application/vnd%.oci")) then
      fail(1, ("%s: %s: %s has no %s equivalent"):format(path, pointer, mt, to == "docker" and "Docker" or "OCI"))
    end
  end
  conv(obj, "/mediaType")
  if kind == "image-manifest" then
    conv(obj:config(), "/config/mediaType")
    for i, l in ipairs(obj:layers() or {}) do conv(l, ("/layers/%d/mediaType"):format(i - 1)) end
  elseif kind == "image-index" then
    for i, m in ipairs(obj:manifests() or {}) do conv(m, ("/manifests/%d/mediaType"):format(i - 1)) end
  end
end

command("convert", "convert manifests and indexes between OCI and Docker media types",
  [==[usage: ocispec convert --to docker|oci [--in-place] FILE|-...

Rewrites the media types of an image manifest or index (the document's,
its config's, its layers' or manifests') to Docker v2 schema 2 or to OCI,
as oci-spec-rs's ToDockerV2S2 does. Pretty JSON on stdout unless
--in-place. A media type with no equivalent is an error naming it.]==],
  function(args, out)
    local opts, files = parse_args(args, { ["--to"] = "value", ["--in-place"] = "flag" }, { ["-i"] = "--in-place" })
    if opts.to ~= "docker" and opts.to ~= "oci" then fail(2, "--to docker or --to oci is required") end
    if #files == 0 then fail(2, "no FILE given (use - for stdin)") end
    for _, path in ipairs(files) do
      if opts.in_place and path == "-" then fail(2, "--in-place needs files, not stdin") end
      local _, kind, obj = load_document(path, read_input(path))
      if kind ~= "image-manifest" and kind ~= "image-index" then
        fail(1, ("%s: a %s has no media types to convert (image-manifest or image-index expected)"):format(path, kind))
      end
      convert_media_types(obj, kind, opts.to, path)
      if opts.in_place then
        write_document(path, obj, true)
      else
        out:write(obj:to_json({ pretty = true }), "\n")
      end
    end
    return 0
  end)


command("spec", "write a runtime config.json like `runc spec`",
  [==[usage: ocispec spec [--rootless] [--bundle DIR]

Writes DIR/config.json (default: the current folder) with the content of
`runc spec` (or `runc spec --rootless` for the current user and group).
Refuses to overwrite an existing config.json.]==],
  function(args, out)
    local opts, rest = parse_args(args, { ["--rootless"] = "flag", ["--bundle"] = "value" }, { ["-b"] = "--bundle" })
    if #rest > 0 then fail(2, "unexpected argument " .. rest[1]) end
    local path = (opts.bundle or ".") .. "/config.json"
    local f = io.open(path, "rb")
    if f then
      f:close()
      fail(2, path .. ": exists; remove it first")
    end
    -- the effective ids, as `id -u` and `id -g` print them (no shell)
    local ids = oci.core.fs.ids()
    local spec = opts.rootless and runtime.Spec.rootless(ids.euid, ids.egid) or runtime.Spec.default()
    local ok, msg = spec:to_file_pretty(path)
    if not ok then fail(2, msg) end
    out:write(path, "\n")
    return 0
  end)

-- "os/arch[/variant]" -> platform table.
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

command("build", "run an image build script",
  [==[usage: ocispec build SCRIPT.lua [ARGS...]

Runs a Lua build script (ocispec.build, docs/lua.md) with `oci` set to
the module and `arg` to ARGS; the script's error ends the command with exit
status 1.]==],
  function(args)
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
    if not ok then fail(1, err) end
    return 0
  end)

command("unpack", "unpack an image of a layout into a runtime bundle",
  [==[usage: ocispec unpack [--rootless] [--platform OS/ARCH[/VARIANT]]
                      [--max-bytes N] [--max-entries N] DIR[:NAME] BUNDLE

Applies the image's layers in order into BUNDLE/rootfs (whiteouts
included) and writes BUNDLE/config.json from its configuration, as
image-spec conversion.md says; `runc run` takes it from there. Each layer's
digest, size and diff_id are checked before it is applied, and entries
never leave the rootfs (docs/security.md). BUNDLE must not exist or be an
empty directory: it is built beside it (mode 0700) and appears only when
complete. --rootless: no owners, no device nodes, and a rootless runtime
config for the current user. --max-bytes, --max-entries: limits per layer
(uncompressed bytes, default 64 GiB; tar entries, default 1000000).
]==] .. LOCAL_REF_HELP,
  function(args, out)
    local opts, pos = parse_args(args, { ["--rootless"] = "flag", ["--platform"] = "value",
      ["--max-bytes"] = "value", ["--max-entries"] = "value" })
    if #pos ~= 2 then fail(2, "expected DIR[:NAME] and BUNDLE") end
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
    local dir, ref, name = parse_image_ref(pos[1])
    local L = open_layout(dir)
    check_image_ref(L, dir, ref, name)
    local spec, msg = oci.unpack.image(L, ref, pos[2], {
      rootless = opts.rootless, platform = parse_platform(opts.platform),
      max_bytes = limits.max_bytes, max_entries = limits.max_entries,
    })
    if not spec then fail(1, msg) end
    out:write(pos[2], "\n")
    return 0
  end)

-- ------------------------------------------------------------ registries

-- Options every registry command takes.
local REMOTE_OPTS = {
  ["--plain-http"] = "flag", ["--tls-verify"] = "value", ["--insecure"] = "flag", ["--ca-file"] = "value",
  ["--username"] = "value", ["--password"] = "value", ["--password-stdin"] = "flag", ["--auth-file"] = "value",
  ["--timeout"] = "value", ["--quiet"] = "flag", ["--json"] = "flag",
}
local REMOTE_ALIASES = { ["-q"] = "--quiet", ["-u"] = "--username", ["-p"] = "--password" }

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
Credentials go only to the registry's own scheme, host and port (an upload
or a redirect elsewhere gets none), and to a token service over https (or
plain http on the registry's own host when --plain-http).
  --quiet, -q           no progress, print only the result
  --json                print the result as JSON
Progress goes to stderr: a bar on a terminal, "DIGEST DONE/TOTAL" lines
otherwise. Exit status: 0 done, 1 the registry or the transfer failed, 2
usage or local I/O error.]==]

local function remote_opts(args, extra)
  local spec = {}
  for k, v in pairs(REMOTE_OPTS) do spec[k] = v end
  for k, v in pairs(extra or {}) do spec[k] = v end
  return parse_args(args, spec, REMOTE_ALIASES)
end

-- A progress reporter on stderr: nil with --quiet; a bar on a terminal
-- (redrawn when its percentage changes), plain lines otherwise (at the
-- start, the end, and at most once a second between).
local function progress_reporter(quiet)
  if quiet then return nil end
  local tty = oci.core.fs.isatty(io.stderr)
  local shown = {} -- digest -> {done=, at=, pct=}
  return function(digest, done, total)
    local last = shown[digest]
    if last and last.done == done then return end -- the same point again
    local finished = total >= 0 and done >= total
    if tty then
      local pct = total > 0 and math.floor(100 * done / total) or nil
      if last and not finished and pct ~= nil and pct == last.pct then
        last.done = done
        return
      end
      shown[digest] = { done = done, pct = pct }
      local short = digest:gsub("^(%w+:)(" .. ("%x"):rep(12) .. ")%x*$", "%1%2")
      local width = 30
      local text
      if total > 0 then
        local n = math.min(width, math.floor(width * done / total))
        text = ("[%s%s] %s / %s"):format(("="):rep(n), (" "):rep(width - n), format_size(done), format_size(total))
      else
        text = format_size(done)
      end
      io.stderr:write(("\r%s %s\027[K"):format(short, text), finished and "\n" or "")
    else
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
M.printable = printable

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
  o.progress = progress_reporter(opts.quiet or opts.json)
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
]==] .. LOCAL_REF_HELP .. "\n" .. REMOTE_HELP,
  function(args, out)
    local opts, pos = remote_opts(args)
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
]==] .. REMOTE_HELP,
  function(args, out)
    local opts, pos = remote_opts(args, { ["--platform"] = "value" })
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

command("copy", "copy an image from one registry reference to another",
  [==[usage: ocispec copy [OPTIONS] SRC_REF DST_REF

Copies SRC_REF (host/repo[:tag|@digest]) to DST_REF (host/repo[:tag]; no
tag: the source's tag): manifests byte for byte; blobs mounted when both
are in the same registry, else through a temporary file that is verified
before the upload. The connection options below apply to both sides; these
apply to one side, over them (skopeo's names):
  --src-plain-http, --dest-plain-http
  --src-tls-verify=BOOL, --dest-tls-verify=BOOL
  --src-ca-file FILE, --dest-ca-file FILE
  --src-creds USER:PASS, --dest-creds USER:PASS (or --src-username U
      --src-password P, and --dest-… likewise)
  --src-authfile FILE, --dest-authfile FILE (also --src-auth-file, ...)
]==] .. REMOTE_HELP,
  function(args, out)
    local opts, pos = remote_opts(args, SIDE_OPTS)
    if #pos ~= 2 then fail(2, "expected SRC_REF and DST_REF") end
    local rs = parse_remote(pos[1], "SRC_REF")
    local rd = parse_remote(pos[2], "DST_REF")
    local conn = connection(opts)
    conn.src, conn.dst = side_connection(opts, "src"), side_connection(opts, "dest")
    local d, msg, code = oci.registry.copy(pos[1], pos[2], conn)
    if not d then remote_fail(msg, code) end
    -- as registry.copy tags it: DST_REF's own tag, else the source's
    local tag = not rd.digest and (pos[2]:match(":[^/]*$") and rd.tag or rs.tag) or nil
    report(out, opts, "copied", ("%s/%s"):format(rd.registry, rd.repository) .. (tag and ":" .. tag or ""), d, msg)
    return 0
  end)

command("tags", "list the tags of a repository",
  [==[usage: ocispec tags [OPTIONS] REMOTE_REPO

Prints every tag of REMOTE_REPO (host/repo), one a line (--json: a JSON
array), following the registry's pages.
]==] .. REMOTE_HELP,
  function(args, out)
    local opts, pos = remote_opts(args)
    if #pos ~= 1 then fail(2, "expected one REMOTE_REPO") end
    parse_remote(pos[1], "REMOTE_REPO")
    local tags, msg, code = oci.registry.tags(pos[1], connection(opts))
    if not tags then remote_fail(msg, code) end
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

-- ------------------------------------------------------------ main

local function usage()
  local lines = { "usage: ocispec COMMAND [OPTIONS] [ARGS]", "", "Commands:" }
  for _, name in ipairs(order) do
    lines[#lines + 1] = ("  %-10s %s"):format(name, commands[name].summary)
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "`ocispec COMMAND --help` describes a command."
  return table.concat(lines, "\n") .. "\n"
end

--- Runs the command line `argv` (a list of strings); returns the exit
-- status. `out` (default io.stdout) receives normal output.
function M.main(argv, out)
  out = out or io.stdout
  local name = argv[1]
  if name == nil or name == "--help" or name == "-h" or name == "help" then
    local cmd = name == "help" and argv[2] and commands[argv[2]]
    out:write(cmd and cmd.usage .. "\n" or usage())
    return name == nil and 2 or 0
  end
  if name == "--version" then
    out:write("ocispec ", oci._VERSION, "\n")
    return 0
  end
  local cmd = commands[name]
  if not cmd then
    io.stderr:write(("ocispec: unknown command %q (see ocispec --help)\n"):format(name))
    return 2
  end
  local args = table.move(argv, 2, #argv, 1, {})
  for _, a in ipairs(args) do
    if a == "--help" or a == "-h" then
      out:write(cmd.usage, "\n")
      return 0
    end
  end
  local ok, status = pcall(cmd.run, args, out)
  if ok then return status end
  if getmetatable(status) == Exit then
    io.stderr:write(("ocispec %s: %s\n"):format(name, status.msg))
    return status.status
  end
  io.stderr:write(("ocispec %s: internal error: %s\n"):format(name, tostring(status)))
  return 2
end

--- Adds a subcommand (used as library parts land): name, one-line
-- summary, usage text, run(args, out) -> status. `fail(status, msg)` and
-- `parse_args` are passed as helpers.
function M.command(name, summary, usage_text, run)
  command(name, summary, usage_text, run)
end
M.fail = fail
M.parse_args = parse_args

return M
