--- `ocispec` commands on documents: validate, fmt, digest, convert, spec.
-- @module ocispec.cli.documents
local oci = require "ocispec"
local base = require "ocispec.cli.base"
local runtime = oci.runtime
local command, kind_names = base.command, base.kind_names
local parse_args, fail = base.parse_args, base.fail
local load_document, read_input = base.load_document, base.read_input
local Exit, write_document = base.Exit, base.write_document
local MT, K = base.MT, base.K

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
  if kind == K.IMAGE_MANIFEST then
    conv(obj:config(), "/config/mediaType")
    for i, l in ipairs(obj:layers() or {}) do conv(l, ("/layers/%d/mediaType"):format(i - 1)) end
  elseif kind == K.IMAGE_INDEX then
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
      if kind ~= K.IMAGE_MANIFEST and kind ~= K.IMAGE_INDEX then
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
