--- `ocispec` commands on artifacts and referrers, as oras names them:
-- attach, discover.
-- @module ocispec.cli.artifacts
local oci = require "ocispec"
local base = require "ocispec.cli.base"
local fail, command = base.fail, base.command
local remote = base.remote -- ocispec.cli.registries, loaded before

local REF_HELP = [==[
REF is oci:DIR[:NAME|@DIGEST] (an image layout; NAME default "latest"),
oci-archive:FILE[:NAME|:DIGEST] (a tar of a layout: read whole, and
rewritten atomically when an artifact is added; push-artifact creates a
missing one) or a registry reference [docker://]HOST/REPO[:TAG|@DIGEST].
A docker-archive holds no referrers or artifacts (exit 1).]==]

-- Connection options from the command line; none for a layout.
local function connection(ref, opts)
  if ref:match("^oci:") or ref:match("^oci%-archive:") or ref:match("^docker%-archive:") then return {} end
  local o = remote.connection(opts)
  o.progress = nil
  return o
end

local function run_fail(msg, err)
  remote.fail(msg, err)
end

-- --annotation K1=V1,K2=V2 -> a table, or nil.
local function parse_annotations(s)
  if not s then return nil end
  local annotations = {}
  for kv in s:gmatch("[^,]+") do
    local k, v = kv:match("^([^=]+)=(.*)$")
    if not k then fail(2, ("--annotation %q: KEY=VALUE expected"):format(kv)) end
    annotations[k] = v
  end
  return annotations
end

command("attach", "attach files to an image as an artifact (a referrer)",
  [==[usage: ocispec attach [OPTIONS] REF --artifact-type TYPE FILE...

Puts an artifact manifest whose subject is REF: artifactType TYPE, the
empty config, one layer per FILE titled with its name
(org.opencontainers.image.title), and the annotations given. Prints its
digest.
  --artifact-type TYPE  the artifact's type (required)
  --annotation K=V      an annotation of the manifest (repeatable as
                        --annotation K1=V1,K2=V2)
  --media-type MT       media type of the files (default
                        ]==] .. oci.artifacts.FILE_MEDIA_TYPE .. [==[)
]==] .. REF_HELP .. "\n" .. remote.help,
  function(args, out)
    local opts, pos = remote.opts(args, { ["--artifact-type"] = "value", ["--annotation"] = "value",
      ["--media-type"] = "value" })
    if #pos < 1 then fail(2, "expected REF and FILE...") end
    if not opts.artifact_type then fail(2, "--artifact-type is required") end
    local annotations = parse_annotations(opts.annotation)
    local files = table.move(pos, 2, #pos, 1, {})
    local o = connection(pos[1], opts)
    o.artifact_type, o.annotations, o.media_type = opts.artifact_type, annotations, opts.media_type
    local d, msg, err = oci.artifacts.attach(pos[1], files, o)
    if not d then run_fail(msg, err) end
    if opts.json then
      out:write(oci.json.encode({ digest = d:digest(), mediaType = d:media_type(), size = d:size(),
        artifactType = opts.artifact_type, subject = msg:digest() }), "\n")
    elseif opts.quiet then
      out:write(d:digest(), "\n")
    else
      out:write(("attached %s to %s\n"):format(d:digest(), msg:digest()))
    end
    return 0
  end)

-- The JSON of a discover node, as oras discover --format json nests it.
local function node_table(n)
  local d = n.descriptor
  local t = { mediaType = d:media_type(), digest = d:digest(), size = d:size(),
    artifactType = d:artifact_type(), annotations = d:annotations(), manifests = {} }
  for i, c in ipairs(n.referrers) do t.manifests[i] = node_table(c) end
  if #t.manifests == 0 then t.manifests = setmetatable({}, oci.empty_array_mt()) end
  return t
end

local function print_tree(out, n, prefix)
  for i, c in ipairs(n.referrers) do
    local last = i == #n.referrers
    local d = c.descriptor
    out:write(prefix, last and "└── " or "├── ", d:digest(), "  ",
      remote.printable(d:artifact_type() or d:media_type()), "\n")
    print_tree(out, c, prefix .. (last and "    " or "│   "))
  end
end

command("discover", "list the referrers tree of an image",
  [==[usage: ocispec discover [OPTIONS] REF

Lists the artifacts that refer to REF (their subject is REF), and theirs,
as a tree: each line a digest and its artifactType.
  --artifact-type TYPE  only referrers of that type (at every level)
  --depth N             levels followed (default 8)
  --json                the tree as JSON: {digest, mediaType, size,
                        manifests: [{digest, mediaType, size,
                        artifactType, annotations, manifests}]}
]==] .. REF_HELP .. "\n" .. remote.help,
  function(args, out)
    local opts, pos = remote.opts(args, { ["--artifact-type"] = "value", ["--depth"] = "value" })
    if #pos ~= 1 then fail(2, "expected REF") end
    local o = connection(pos[1], opts)
    o.artifact_type = opts.artifact_type
    if opts.depth then
      o.depth = math.tointeger(tonumber(opts.depth))
      if not o.depth or o.depth < 1 then fail(2, "--depth takes a positive whole number") end
    end
    local tree, msg, err = oci.artifacts.discover(pos[1], o)
    if not tree then run_fail(msg, err) end
    if opts.json then
      local t = node_table(tree)
      t.reference = pos[1]
      out:write(oci.json.encode(t), "\n")
    else
      out:write(remote.printable(pos[1]), "@", tree.descriptor:digest(), "\n")
      print_tree(out, tree, "")
    end
    return 0
  end)

command("push-artifact", "push files as an artifact (oras push)",
  [==[usage: ocispec push-artifact [OPTIONS] REF --artifact-type TYPE FILE...

Puts FILEs as an artifact manifest tagged REF (oci:DIR[:NAME], the layout
must exist, or [docker://]HOST/REPO[:TAG]): artifactType TYPE, the empty
config, one layer per FILE titled with its name. Prints REF@DIGEST.
  --artifact-type TYPE  the artifact's type (required)
  --annotation K=V      annotations of the manifest (K1=V1,K2=V2)
  --media-type MT       media type of the files
]==] .. REF_HELP .. "\n" .. remote.help,
  function(args, out)
    local opts, pos = remote.opts(args, { ["--artifact-type"] = "value", ["--annotation"] = "value",
      ["--media-type"] = "value" })
    if #pos < 2 then fail(2, "expected REF and FILE...") end
    if not opts.artifact_type then fail(2, "--artifact-type is required") end
    local o = connection(pos[1], opts)
    o.artifact_type, o.media_type = opts.artifact_type, opts.media_type
    o.annotations = parse_annotations(opts.annotation)
    local d, msg, err = oci.artifacts.push(pos[1], table.move(pos, 2, #pos, 1, {}), o)
    if not d then run_fail(msg, err) end
    if opts.quiet then
      out:write(d:digest(), "\n")
    else
      out:write(("pushed %s@%s\n"):format(remote.printable(pos[1]), d:digest()))
    end
    return 0
  end)

command("pull-artifact", "write an artifact's titled files into a directory (oras pull)",
  [==[usage: ocispec pull-artifact [OPTIONS] REF DIR

Writes each layer of the artifact REF that has an
org.opencontainers.image.title into DIR (created when missing) under that
title, verified; prints the titles written. A title must be one plain
file name (no '/', '.', '..' or control character) and unique, else
nothing is written (exit 1). Files appear only once all are fetched; an
existing file or symlink of that name is replaced, never followed.
]==] .. REF_HELP .. "\n" .. remote.help,
  function(args, out)
    local opts, pos = remote.opts(args)
    if #pos ~= 2 then fail(2, "expected REF and DIR") end
    local titles, msg, err = oci.artifacts.pull(pos[1], pos[2], connection(pos[1], opts))
    if not titles then run_fail(msg, err) end
    for _, t in ipairs(titles) do out:write(remote.printable(t), "\n") end
    return 0
  end)
