--- Image references with transports (skopeo's names), and images opened
-- wherever they live.
--
--    local transport = require("ocispec").transport
--    local r = assert(transport.parse("oci-archive:img.tar:1.0"))
--    -- r.transport == "oci-archive", r.path == "img.tar", r.name == "1.0"
--    local src = assert(transport.open("oci:layout:1.0"))
--    print(src:descriptor():digest())   -- the image's manifest or index
--    src:close()
--
-- References (`parse(ref [, {default=}])`):
--
-- * `oci:DIR[:NAME]`, `oci:DIR@DIGEST` (also `oci:DIR:DIGEST`), `oci:DIR:@N`
--   (reading: the Nth entry of index.json, from 0) — an image layout;
--   NAME defaults to "latest" for writing and to the only image for reading
-- * `oci-archive:FILE[:NAME]` (`:@N` for reading) — a tar of a layout
-- * `docker-archive:FILE[:NAME:TAG]` (a NAME without TAG is NAME:latest;
--   `:@N` for reading: the Nth image of manifest.json) — `docker save`'s format
-- * `docker://HOST/REPO[:TAG|@DIGEST]` — a registry
-- * without a transport: `default` says which ("docker", the default: a
--   registry reference; "oci": `DIR[:NAME]`, `DIR@DIGEST`, `DIR:DIGEST`)
--
-- The result is `{transport=, path=, name=, digest=, index=, reference=}`
-- (`reference`: for `docker`, `registry.parse_reference`'s table), or nil,
-- message, err (`err.code == "invalid"`), the message naming the part
-- that is wrong.
--
-- Images: `open(ref [, opts])` gives a source, `create(ref [, opts])` a
-- destination; both hand out a Layout (ocispec.layout) so every caller
-- reads and writes blobs and documents one way:
--
-- * `src:layout()`, `src:descriptor()` (the image's top Descriptor: a
--   manifest or an index), `src:reference()` (the parsed reference),
--   `src:close()`
-- * `dst:layout()` (write blobs and documents there), `dst:commit(desc)`
--   (tag a layout, write the archive, or push to the registry),
--   `dst:close()` (what was not committed is dropped)
--
-- `with_image(ref, opts, fn)` opens a source for one call of
-- `fn(layout, digest, src)` and closes it on every path.
--
-- Layouts are used in place; archives are read through a temporary layout
-- (each member checked first, then extracted by the safe unpacker, every
-- blob verified by digest when it is copied) and written from one;
-- registries are pulled to and pushed from one (blobs verified as they
-- stream). opts: `platform` (for registries: pull only that manifest),
-- `tmpdir` (default $TMPDIR or /tmp), `max_bytes`, `max_entries` (archive
-- limits, default 64 GiB and 1,000,000) and, for `docker://`, the
-- connection options of `registry.connect`.
-- @module ocispec.transport
local core = require "ocispec.core"
local util = require "ocispec.util"
local image = require "ocispec.image"
local digest = require "ocispec.digest"
local registry = require "ocispec.registry"
local layout = require "ocispec.layout"
local layer = require "ocispec.layer"
local unpack = require "ocispec.unpack"

local M = {}

local MT = image.MediaType

--- The transport names `parse` knows.
M.TRANSPORTS = { "oci", "oci-archive", "docker-archive", "docker" }

-- skopeo's transports that ocispec does not read or write
local UNSUPPORTED = {
  dir = true, ["containers-storage"] = true, ["docker-daemon"] = true, ostree = true, sif = true, tarball = true,
}

local function invalid(ref, why)
  return util.fail("invalid", ("%s: %s"):format(ref, why))
end

local function is_digest(s)
  return s ~= nil and digest.parse(s) ~= nil
end

-- a ref name of index.json (org.opencontainers.image.ref.name, as
-- containers/image accepts it): alphanumerics and separators
local function good_name(s)
  return s:match("^[%w][%w._%-/:+]*$") ~= nil and not s:find("//", 1, true)
end

-- ":@N" -> N, or nil, why
local function index_of(s)
  local n = s:match("^@(%d+)$")
  if not n or #n > 9 then return nil end
  return math.tointeger(tonumber(n))
end

-- "DIR[:REF]" of oci: and oci-archive: (skopeo splits at the first colon;
-- a digest after "@" or ":" is also taken).
local function parse_layoutish(ref, t, rest, archive)
  local head, dg = rest:match("^(.-)@([%w+._-]+:[%w=_-]+)$")
  if head and not archive then
    if head == "" then return invalid(ref, "no directory before @DIGEST") end
    if not is_digest(dg) then return invalid(ref, ("bad digest %q"):format(dg)) end
    t.path, t.digest = head, dg
    return t
  end
  local path, r = rest:match("^([^:]*):(.*)$")
  if not path then path = rest end
  if path == "" then return invalid(ref, archive and "no file name" or "no directory") end
  t.path = path
  if r == nil then return t end
  if r == "" then return invalid(ref, "empty image name after ':'") end
  if r:sub(1, 1) == "@" then
    local n = index_of(r)
    if not n then return invalid(ref, ("bad image index %q (@N, N a number from 0)"):format(r)) end
    t.index = n
    return t
  end
  if not archive and r:find(":", 1, true) and is_digest(r) then
    t.digest = r
    return t
  end
  if not good_name(r) then
    return invalid(ref, ("bad image name %q (letters, digits and . _ - / : + only, starting with a letter or digit)")
      :format(r))
  end
  t.name = r
  return t
end

local function parse_docker_archive(ref, t, rest)
  local path, r = rest:match("^([^:]*):(.*)$")
  if not path then path = rest end
  if path == "" then return invalid(ref, "no file name") end
  t.path = path
  if r == nil then return t end
  if r == "" then return invalid(ref, "empty NAME:TAG after ':'") end
  if r:sub(1, 1) == "@" then
    local n = index_of(r)
    if not n then return invalid(ref, ("bad image index %q (@N, N a number from 0)"):format(r)) end
    t.index = n
    return t
  end
  if r:find("@", 1, true) then return invalid(ref, "docker-archive takes NAME:TAG, not a digest") end
  local p, msg = registry.parse_reference(r)
  if not p then return invalid(ref, ("bad NAME:TAG %q: %s"):format(r, msg)) end
  -- RepoTags hold the name as given, with its tag (docker save writes the
  -- short form: "busybox:1")
  t.name = r:match(":[^/]*$") and r or (r .. ":" .. p.tag)
  t.reference = p
  return t
end

local function parse_docker(ref, t, rest)
  local p, msg, err = registry.parse_reference(rest)
  if not p then
    -- the registry's message names the reference already
    if ref == rest then return nil, msg, err end
    return invalid(ref, msg)
  end
  t.reference, t.path = p, rest
  t.name, t.digest = p.tag, p.digest
  return t
end

--- Parses an image reference with its transport.
-- @tparam string ref the reference
-- @tparam[opt] table opts `default`: "docker" (default) or "oci", the
-- transport of a reference without one
-- @treturn table `{transport=, path=, name=, digest=, index=, reference=}`,
-- or nil, message, err
function M.parse(ref, opts)
  assert(type(ref) == "string", "bad argument #1 to 'parse' (string expected)")
  util.check_options(opts, { "default" }, "parse")
  local default = opts and opts.default or "docker"
  if default ~= "docker" and default ~= "oci" then
    error(("bad argument to 'parse' (default must be \"docker\" or \"oci\", got %q)"):format(tostring(default)), 2)
  end
  if ref == "" then return invalid('""', "empty image reference") end
  local name, rest = ref:match("^([%a][%w-]*):(.*)$")
  if name == "docker" then
    local r = rest:match("^//(.*)$")
    if not r then return invalid(ref, "the docker transport is docker://HOST/REPO[:TAG|@DIGEST]") end
    return parse_docker(ref, { transport = "docker" }, r)
  elseif name == "oci" or name == "oci-archive" then
    return parse_layoutish(ref, { transport = name }, rest, name == "oci-archive")
  elseif name == "docker-archive" then
    return parse_docker_archive(ref, { transport = name }, rest)
  elseif name and UNSUPPORTED[name] and rest:sub(1, 1) ~= "" and default == "docker" then
    return invalid(ref, ("the %s transport is not supported (supported: %s)"):format(name,
      table.concat(M.TRANSPORTS, ", ")))
  end
  if default == "oci" then
    local t = { transport = "oci" }
    local head, dg = ref:match("^(.+)@([%w+._-]+:[^/:@]*)$")
    if head then
      if not is_digest(dg) then return invalid(ref, ("bad digest %q"):format(dg)) end
      local dir, n = head:match("^(.*):([^/:]+)$")
      if dir and dir ~= "" then
        t.path, t.digest, t.name = dir, dg, n
      else
        t.path, t.digest = head, dg
      end
      return t
    end
    local dir, alg, enc = ref:match("^(.+):([%w+._-]+):([^/:]*)$")
    if dir and is_digest(alg .. ":" .. enc) then
      t.path, t.digest = dir, alg .. ":" .. enc
      return t
    end
    local d, n = ref:match("^(.*):([^/:]+)$")
    if not d or d == "" then
      t.path = ref
    else
      t.path, t.name = d, n
    end
    return t
  end
  return parse_docker(ref, { transport = "docker" }, ref)
end

-- `ref` as `parse`'s table: a string is parsed (with popts), a table is
-- taken as `parse`'s result. -> the table, or nil, message, err
local function parsed(ref, popts)
  if type(ref) == "table" then return ref end
  return M.parse(ref, popts)
end

-- ------------------------------------------------------------ temporary layouts

local function tmpdir(opts)
  local base = opts and opts.tmpdir or os.getenv("TMPDIR")
  if not base or base == "" then base = "/tmp" end
  return unpack.mkdtemp(base .. "/ocispec-transport-XXXXXX")
end

-- A new empty layout in a temporary directory, held by handle h (a
-- source or a destination, whose close() removes it): -> h, or nil,
-- message, err (h closed).
local function temp_layout(h, opts)
  local dir, msg, err = tmpdir(opts)
  if not dir then return nil, msg, err end
  h._tmp = dir
  h._L, msg, err = layout.create(dir .. "/layout")
  if not h._L then
    h:close()
    return nil, msg, err
  end
  return h
end

-- true when the descriptor is an index
local function is_index(d)
  return MT.is_index(d:media_type())
end

-- The descriptor the reference names in layout L: a digest (its blob must
-- be there; the media type is read from the document), a name, the @N-th
-- entry, or the only one.
local function find_in_layout(L, r, what)
  local entries = L:list()
  if r.digest then
    for _, e in ipairs(entries) do
      if e.descriptor:digest() == r.digest and (not r.name or e.name == r.name) then return e.descriptor end
    end
    if r.name then return util.fail("invalid", ("%s: no image %s@%s"):format(what, r.name, r.digest)) end
    if not L:has_blob(r.digest) then return util.fail("invalid", ("%s: no blob %s"):format(what, r.digest)) end
    local blob, msg, err = L:get_blob(r.digest)
    if not blob then return nil, msg, err end
    local t = core.json_decode(blob)
    local mt = type(t) == "table" and t.mediaType or nil
    if type(mt) ~= "string" or not (MT.is_index(mt) or MT.is_manifest(mt)) then
      return util.fail("invalid", ("%s: %s is not a manifest or an index"):format(what, r.digest))
    end
    return image.Descriptor.from_table({ mediaType = mt, digest = r.digest, size = #blob })
  end
  if r.index then
    local e = entries[r.index + 1]
    if not e then
      return util.fail("invalid", ("%s: no image @%d (%d in index.json)"):format(what, r.index, #entries))
    end
    return e.descriptor, e.name
  end
  local names = {}
  for _, e in ipairs(entries) do
    if r.name and e.name == r.name then return e.descriptor, e.name end
    if e.name then names[#names + 1] = e.name end
  end
  if r.name then
    return util.fail("invalid", ("%s: no image named %q in index.json (names: %s)"):format(what, r.name,
      #names > 0 and table.concat(names, ", ") or "none"))
  end
  if #entries == 1 then return entries[1].descriptor, entries[1].name end
  return util.fail("invalid", ("%s: %d images in index.json; name one (:NAME or :@N)"):format(what, #entries))
end

-- ------------------------------------------------------------ archives

-- The path a relative symbolic link at `p` points to, normalised, or
-- nil when it leaves the archive's root.
local function link_target(p, target)
  if target == "" or target:sub(1, 1) == "/" then return nil end
  local parts = {}
  for c in (p:match("^(.*)/[^/]*$") or ""):gmatch("[^/]+") do parts[#parts + 1] = c end
  for c in target:gmatch("[^/]+") do
    if c == ".." then
      if #parts == 0 then return nil end
      parts[#parts] = nil
    elseif c ~= "." then
      parts[#parts + 1] = c
    end
  end
  if #parts == 0 then return nil end
  return table.concat(parts, "/")
end

-- Lists the members of an archive and refuses what a layout or a docker
-- archive never holds: hard links, devices, duplicates, whiteouts,
-- absolute or `..` names, and symbolic links (a docker-archive may hold
-- relative ones inside the archive: skopeo's `<id>/layer.tar`).
-- -> {files = {path = true}, links = {path = target}}, or nil, message, err
local function check_members(file, opts, allow_links)
  local entries, msg, err = layer.entries(file)
  if not entries then return util.fail(err or "invalid", ("%s: not a readable tar: %s"):format(file, msg)) end
  if opts and opts.max_entries and #entries > opts.max_entries then
    return util.fail("too_big", ("%s: more than %d members (max_entries)"):format(file, opts.max_entries))
  end
  local seen, files, links = {}, {}, {}
  for i, e in ipairs(entries) do
    local p = e.path:gsub("^%./", ""):gsub("/$", "")
    local where = ("%s: member %d %q"):format(file, i, e.path)
    if e.type == "symlink" and allow_links then
      local t = link_target(p, e.target or "")
      if not t then return util.fail("invalid", ("%s: a link to %q, outside the archive"):format(where, e.target)) end
      links[p] = t
    elseif e.type ~= "file" and e.type ~= "dir" then
      return util.fail("invalid", ("%s: a %s (an archive of images holds files and directories only)")
        :format(where, e.type))
    end
    if e.type == "file" then files[p] = true end
    if p == "" or p == "." then
      if e.type ~= "dir" then return util.fail("invalid", where .. ": not a directory") end
    else
      if p:sub(1, 1) == "/" then return util.fail("invalid", where .. ": absolute name") end
      for c in p:gmatch("[^/]+") do
        if c == ".." or c == "." then return util.fail("invalid", where .. ": '" .. c .. "' in the name") end
        if c:sub(1, 4) == ".wh." then return util.fail("invalid", where .. ": a whiteout name") end
      end
      if p:find("//", 1, true) then return util.fail("invalid", where .. ": empty component") end
      if seen[p] then return util.fail("invalid", ("%s: duplicate (also member %d)"):format(where, seen[p])) end
      seen[p] = i
    end
  end
  return { files = files, links = links }
end

-- A member name of manifest.json resolved to a regular file of the
-- archive: through the archive's own symbolic links (at most 40), never
-- through a directory that is a link. -> path, or nil, why
local function resolve_member(members, name)
  local p = name:gsub("^%./", "")
  for _ = 1, 40 do
    local acc = nil
    for c in p:gmatch("[^/]+") do
      if c == ".." or c == "." then return nil, "'" .. c .. "' in the name" end
      if acc and members.links[acc] then return nil, "a directory of its path is a link" end
      acc = acc and (acc .. "/" .. c) or c
    end
    if members.files[p] then return p end
    local t = members.links[p]
    if not t then return nil, "no such file in the archive" end
    p = t
  end
  return nil, "too many links"
end

-- Copies a stream (io.stdin for "-") to the file `path`, in 1 MiB pieces.
local function spool(from, path)
  local f, msg = io.open(path, "wb")
  if not f then return util.fail("io", msg) end
  while true do
    local piece = from:read(1 << 20)
    if not piece then break end
    local ok, werr = f:write(piece)
    if not ok then
      f:close()
      return util.fail("io", ("%s: %s"):format(path, werr))
    end
  end
  local ok, cerr = f:close()
  if not ok then return util.fail("io", ("%s: %s"):format(path, cerr)) end
  return true
end

-- Extracts a checked archive into a new temporary directory.
-- -> dir, or nil, message, err
local function extract(file, opts, allow_links)
  local members, msg, err = check_members(file, opts, allow_links)
  if not members then return nil, msg, err end
  local dir
  dir, msg, err = tmpdir(opts)
  if not dir then return nil, msg, err end
  local root = dir .. "/root"
  local r
  r, msg, err = unpack.mkdir(root, 448)
  if r then
    r, msg, err = unpack.layer(file, root, {
      rootless = true, max_bytes = opts and opts.max_bytes, max_entries = opts and opts.max_entries,
    })
  end
  if not r then
    unpack.remove_tree(dir)
    return util.fail(err or "io", msg:find(file, 1, true) and msg or ("%s: %s"):format(file, msg))
  end
  return dir, members
end

-- The layout of an oci-archive extracted at x (extract's result).
local function archive_layout(x, r)
  local L, msg, err = layout.open(x .. "/root")
  if not L then return util.fail(err or "invalid", ("%s: not an image layout inside: %s"):format(r.path, msg)) end
  return L
end

-- The entries of a tar holding everything below `dir` (files and
-- directories), for layer.build.
local function tar_entries(add, rel, abs)
  add[#add + 1] = { path = rel, type = "dir", mode = 493 }
  return abs
end

-- Writes `files` (a list of {path=, source=|content=}) as an uncompressed,
-- reproducible tar at `output` (written atomically).
local function write_tar(output, files)
  local entries, dirs = {}, {}
  for _, f in ipairs(files) do
    local d = f.path:match("^(.*)/[^/]*$")
    local acc = nil
    for c in (d or ""):gmatch("[^/]+") do
      acc = acc and (acc .. "/" .. c) or c
      if not dirs[acc] then
        dirs[acc] = true
        tar_entries(entries, acc, nil)
      end
    end
    entries[#entries + 1] = { path = f.path, type = "file", mode = 420, source = f.source, content = f.content }
  end
  local r, msg, err = layer.build({ entries = entries, output = output, compression = "none", mtime = 0 })
  if not r then return nil, msg, err end
  return r
end

-- Every blob a descriptor reaches in L (itself first), each once.
local function reachable(L, d, out, seen)
  out, seen = out or {}, seen or {}
  if seen[d:digest()] then return out end
  seen[d:digest()] = true
  out[#out + 1] = d
  local mt = d:media_type()
  if MT.is_index(mt) then
    local idx, msg, err = L:get_document(d, image.ImageIndex)
    if not idx then error({ msg, err }) end
    for _, m in ipairs(idx:manifests()) do reachable(L, m, out, seen) end
  elseif MT.is_manifest(mt) then
    local m, msg, err = L:get_document(d, image.ImageManifest)
    if not m then error({ msg, err }) end
    reachable(L, m:config(), out, seen)
    for _, l in ipairs(m:layers()) do reachable(L, l, out, seen) end
  end
  return out
end

-- pcall for functions raising {msg, err}: -> ok, results or nil, msg, err
local function protect(f, ...)
  local res = table.pack(pcall(f, ...))
  if res[1] then return table.unpack(res, 2, res.n) end
  local e = res[2]
  if type(e) == "table" and e[1] then return nil, e[1], e[2] end
  error(e, 0)
end

-- ------------------------------------------------------------ docker-archive reading

-- The image `r` names in a docker archive extracted at root: builds its
-- OCI manifest in L from manifest.json's entry. -> descriptor, or nil,
-- message, err
local function import_docker_archive(root, members, L, r, file)
  local text, tmsg, terr = core.fs.read_in_root(root, "manifest.json")
  if text == nil then -- too big (4 MiB), not a regular file, ...: why
    return util.fail(terr, ("%s: manifest.json: %s"):format(file, tmsg))
  end
  if not text then return util.fail("invalid", file .. ": no manifest.json (not a docker-archive)") end
  local list, msg = core.json_decode(text)
  if type(list) ~= "table" or #list == 0 then
    return util.fail("invalid", ("%s: manifest.json: not a non-empty JSON array%s"):format(file,
      msg and (": " .. msg) or ""))
  end
  local pick, pick_i
  if r.index then
    pick, pick_i = list[r.index + 1], r.index
    if not pick then
      return util.fail("invalid", ("%s: no image @%d (%d in manifest.json)"):format(file, r.index, #list))
    end
  elseif r.name then
    local want = r.name
    local want_norm = registry.parse_reference(want)
    for i, e in ipairs(list) do
      for _, t in ipairs(type(e.RepoTags) == "table" and e.RepoTags or {}) do
        local tn = type(t) == "string" and registry.parse_reference(t)
        if t == want or (tn and want_norm and tn.whole == want_norm.whole) then pick, pick_i = e, i - 1 end
      end
    end
    if not pick then return util.fail("invalid", ("%s: no image tagged %s in manifest.json"):format(file, want)) end
  else
    if #list > 1 then
      return util.fail("invalid", ("%s: %d images in manifest.json; name one (:NAME:TAG or :@N)"):format(file, #list))
    end
    pick, pick_i = list[1], 0
  end
  local where = ("%s: manifest.json[%d]"):format(file, pick_i)
  if type(pick) ~= "table" or type(pick.Config) ~= "string" or type(pick.Layers) ~= "table" then
    return util.fail("invalid", where .. ": needs Config (a string) and Layers (an array)")
  end
  -- each member is hashed and copied once, however often Layers names
  -- it (directly or through links): a list naming one large layer 10000
  -- times (its config listing the diff_id as often) hashed it 10000 times
  local done = {}
  local function put(member, mt)
    if type(member) ~= "string" or member == "" then
      return util.fail("invalid", where .. ": a member name must be a non-empty string")
    end
    local rp, why = resolve_member(members, member)
    if not rp then return util.fail("invalid", ("%s: %q: %s"):format(where, member, why)) end
    local key = mt .. "\0" .. rp
    if done[key] then return done[key] end
    local d, m, e = L:put_blob_file(root .. "/" .. rp, mt)
    if not d then return util.fail(e or "io", ("%s: %s: %s"):format(where, member, m)) end
    done[key] = d
    return d
  end
  local cfgd, m, e = put(pick.Config, MT.ImageConfig)
  if not cfgd then return nil, m, e end
  -- legacy archives name the config by its digest: check it when they do
  local hex = pick.Config:match("^(%x+)%.json$") or pick.Config:match("^blobs/sha256/(%x+)$")
  if hex and #hex == 64 and cfgd:digest() ~= "sha256:" .. hex then
    return util.fail("mismatch", ("%s: %s has digest %s"):format(where, pick.Config, cfgd:digest()))
  end
  local cfg, cmsg, cerr = L:get_document(cfgd, image.ImageConfiguration)
  if not cfg then return util.fail(cerr or "invalid", ("%s: %s: %s"):format(where, pick.Config, cmsg)) end
  local diff_ids = cfg:rootfs():diff_ids()
  if #diff_ids ~= #pick.Layers then
    return util.fail("invalid", ("%s: %d layers but the config has %d diff_ids"):format(where, #pick.Layers, #diff_ids))
  end
  local layers = {}
  for i, member in ipairs(pick.Layers) do
    local d, lm, le = put(member, MT.ImageLayer)
    if not d then return nil, lm, le end
    if d:digest() ~= diff_ids[i] then
      return util.fail("mismatch", ("%s: layer %d (%s) has digest %s, the config's diff_id is %s"):format(where,
        i - 1, member, d:digest(), diff_ids[i]))
    end
    layers[#layers + 1] = d:to_table()
  end
  local manifest = image.ImageManifest.from_table({
    schemaVersion = 2, mediaType = MT.ImageManifest, config = cfgd:to_table(),
    layers = setmetatable(layers, #layers == 0 and core.empty_array_mt or nil),
  })
  local d, pm, pe = L:put_document(manifest)
  if not d then return nil, pm, pe end
  local tags = {}
  for _, t in ipairs(type(pick.RepoTags) == "table" and pick.RepoTags or {}) do
    if type(t) == "string" then tags[#tags + 1] = t end
  end
  return d, { count = #list, tags = tags }
end

-- ------------------------------------------------------------ sources

local Source = {}
local SourceMT = { __index = Source }
--- The methods of a source (`open`'s result).
M.Source = Source

--- The Layout holding the image.
function Source:layout() return self._L end
--- The image's top Descriptor (manifest or index).
function Source:descriptor() return self._desc end
--- The parsed reference.
function Source:reference() return self._ref end
--- The index.json name of the image read (a layout or an oci-archive),
-- when it has one; nil otherwise.
function Source:name() return self._name end
--- Closes the layout and removes temporary files.
function Source:close()
  if self._L then self._L:close() end
  if self._tmp then unpack.remove_tree(self._tmp) end
  if self._spool then unpack.remove_tree(self._spool) end
  self._L, self._tmp, self._spool = nil, nil, nil
end
SourceMT.__close = Source.close
SourceMT.__gc = Source.close

local OPEN_KEYS = { "platform", "tmpdir", "max_bytes", "max_entries", "src", "dst" }

local function connection_options(opts, keep_sides)
  if not opts then return nil end
  local o = {}
  local skip = { progress = not keep_sides, all = true, format = true, referrers = true }
  for _, k in ipairs(OPEN_KEYS) do skip[k] = not (keep_sides and (k == "src" or k == "dst")) end
  for k, v in pairs(opts) do
    if not skip[k] then o[k] = v end
  end
  return o
end

--- Opens an image for reading.
-- @tparam string|table ref a reference (see `parse`; no transport: a
-- registry) or `parse`'s result
-- @tparam[opt] table opts `platform`, `tmpdir`, `max_bytes`,
-- `max_entries`, and connection options (docker://)
-- @return a source, or nil, message, err
function M.open(ref, opts)
  local r, pmsg, perr = parsed(ref)
  if not r then return nil, pmsg, perr end
  local s = setmetatable({ _ref = r }, SourceMT)
  local ok, msg, err = protect(function()
    if r.transport == "oci" then
      local L, m, e = layout.open(r.path)
      if not L then return nil, m, e end
      s._L = L
      local d, n
      d, n, e = find_in_layout(L, r, "oci:" .. r.path)
      if not d then return nil, n, e end
      s._desc, s._name = d, n
      return true
    end
    local dir, m, e = tmpdir(opts)
    if not dir then return nil, m, e end
    s._tmp = dir
    if r.transport == "docker" then
      local name = "image"
      local po = connection_options(opts) or {}
      po.platform = opts and opts.platform
      local d
      d, m, e = registry.pull(r.reference.whole, dir .. "/layout", name, po)
      if not d then return nil, m, e end
      s._L, m, e = layout.open(dir .. "/layout")
      if not s._L then return nil, m, e end
      s._desc = d
      return true
    end
    local file = r.path
    if file == "-" then
      -- a tar has no index: both the member check and the extraction
      -- read it whole, and docker's manifest.json may come last, so the
      -- stream is spooled to a file first
      file = dir .. "/stdin.tar"
      local ok, sm, se = spool(io.stdin, file)
      if not ok then return nil, sm, se end
    else
      unpack.remove_tree(dir)
      s._tmp = nil
    end
    local x, members
    x, members, e = extract(file, opts, r.transport == "docker-archive")
    if not x then return nil, members, e end
    if s._tmp then s._spool = s._tmp end
    s._tmp = x
    if r.transport == "oci-archive" then
      s._L, m, e = archive_layout(x, r)
      if not s._L then return nil, m, e end
      s._desc, m, e = find_in_layout(s._L, r, "oci-archive:" .. r.path)
      if not s._desc then return nil, m, e end
      s._name = m
      return true
    end
    -- docker-archive
    s._L, m, e = layout.create(x .. "/layout")
    if not s._L then return nil, m, e end
    s._desc, m, e = import_docker_archive(x .. "/root", members, s._L, r, r.path)
    if not s._desc then return nil, m, e end
    s._docker = m
    return true
  end)
  if not ok then
    s:close()
    return nil, msg, err
  end
  return s
end

--- Opens an image for one call: `fn(layout, digest, src)` runs on it (the
-- source's Layout, the digest of its top manifest or index, the source)
-- and the source is closed on every path, also when `fn` raises (the
-- error is raised again after the close): an archive's or a registry's
-- temporary layout is gone when `with_image` returns.
--
--    local transport = require("ocispec").transport
--    local n = assert(transport.with_image("oci:layout:1.0", nil, function(L, dg)
--      return #L:resolve(dg).layers
--    end))
--
-- @tparam string|table ref a reference (see `parse`; no transport: a
-- registry) or `parse`'s result
-- @tparam[opt] table opts `open`'s options
-- @tparam function fn the work
-- @return fn's results, or nil, message, err when the image does not open
function M.with_image(ref, opts, fn)
  if type(fn) ~= "function" then error("bad argument #3 to 'with_image' (function expected)", 2) end
  local src, msg, err = M.open(ref, opts)
  if not src then return nil, msg, err end
  return util.finally(function() src:close() end, fn, src:layout(), src:descriptor():digest(), src)
end

-- ------------------------------------------------------------ destinations

local Dest = {}
local DestMT = { __index = Dest }
--- The methods of a destination (`create`'s result).
M.Destination = Dest

--- The Layout to write the image's blobs and documents into.
function Dest:layout() return self._L end
--- The parsed reference.
function Dest:reference() return self._ref end

-- docker-archive: writes manifest.json, repositories, the config and the
-- layers of manifest `d` from L, uncompressed (gzip and zstd layers are
-- decompressed into `tmp`, each checked against the config's diff_id).
local function export_docker_archive(L, d, r, output, tmp, opts, path_of)
  if not MT.is_manifest(d:media_type()) then
    return util.fail("invalid", output .. ": a docker-archive holds single-platform images: choose a platform")
  end
  local m, msg, err = L:get_document(d, image.ImageManifest)
  if not m then return nil, msg, err end
  local cfg = m:config()
  local files = {}
  local chex = cfg:digest():match("^sha256:(%x+)$")
  if not chex then return util.fail("unsupported", output .. ": docker-archive needs sha256 digests") end
  local config
  config, msg, err = L:get_document(cfg, image.ImageConfiguration)
  if not config then return nil, msg, err end
  local diff_ids = config:rootfs():diff_ids()
  if #diff_ids ~= #m:layers() then
    return util.fail("invalid", ("%s: %d layers but the config has %d diff_ids"):format(output, #m:layers(),
      #diff_ids))
  end
  local cfg_path, cpmsg, cperr = path_of(cfg:digest())
  if not cfg_path then return nil, cpmsg, cperr end
  files[#files + 1] = { path = chex .. ".json", source = cfg_path }
  local layers, seen = {}, {}
  for i, l in ipairs(m:layers()) do
    local info = MT.info(l:media_type())
    if not info or info.kind ~= "layer" then
      return util.fail("unsupported", ("%s: layer %d has media type %s"):format(output, i - 1, l:media_type()))
    end
    local src, pmsg, perr = path_of(l:digest())
    if not src then return nil, pmsg, perr end
    local did = l:digest()
    if info.compression ~= "none" then
      local out = ("%s/layer-%d.tar"):format(tmp, i)
      local res, dmsg, derr = layer.decompress(src, out, opts and opts.max_bytes)
      if not res then return nil, dmsg, derr end
      src, did = out, res.diff_id
    end
    if did ~= diff_ids[i] then
      return util.fail("mismatch", ("%s: layer %d (%s) uncompresses to %s, the config's diff_id is %s"):format(output,
        i - 1, l:digest(), did, diff_ids[i]))
    end
    local hex = did:match("^sha256:(%x+)$")
    if not hex then return util.fail("unsupported", output .. ": docker-archive needs sha256 digests") end
    local name = hex .. ".tar"
    if not seen[name] then
      files[#files + 1] = { path = name, source = src }
      seen[name] = true
    end
    layers[#layers + 1] = name
  end
  local entry = {
    Config = chex .. ".json", Layers = setmetatable(layers, #layers == 0 and core.empty_array_mt or nil),
  }
  local repositories = nil
  if r.name then
    entry.RepoTags = { r.name }
    local repo, tag = r.name:match("^(.*):([^:/]+)$")
    if #layers > 0 then
      repositories = { [repo] = { [tag] = layers[#layers]:match("^(%x+)") } }
    end
  else
    entry.RepoTags = setmetatable({}, core.empty_array_mt)
  end
  files[#files + 1] = { path = "manifest.json", content = core.json_encode({ entry }) }
  if repositories then files[#files + 1] = { path = "repositories", content = core.json_encode(repositories) } end
  return write_tar(output, files)
end

--- The referrers of `dg` in layout L, and theirs: the index.json entries
-- (manifests and indexes) whose `subject` is `dg` or one of them, each
-- once, parents first (at most 10,000).
-- @param L a Layout
-- @tparam string dg a digest
-- @return a list of descriptor tables, or nil, message, err
function M.referrer_entries(L, dg)
  local idx, msg, err = L:index()
  if not idx then return nil, msg, err end
  local by = {}
  for _, e in ipairs(idx:manifests()) do
    local mt = e:media_type()
    if mt == MT.ImageManifest or mt == MT.ImageIndex then
      local doc
      doc, msg, err = L:get_document(e, mt == MT.ImageIndex and image.ImageIndex or image.ImageManifest)
      if not doc then return nil, msg, err end
      local sub = doc:subject()
      if sub then
        local list = by[sub:digest()] or {}
        by[sub:digest()] = list
        list[#list + 1] = e
      end
    end
  end
  local out, seen, queue = {}, { [dg] = true }, { dg }
  local i = 1
  while queue[i] do
    for _, e in ipairs(by[queue[i]] or {}) do
      if not seen[e:digest()] then
        seen[e:digest()] = true
        if #out >= 10000 then return util.fail("too_big", ("%s: more than 10000 referrers"):format(L:path())) end
        local t = e:to_table()
        out[#out + 1] = t
        queue[#queue + 1] = e:digest()
      end
    end
    i = i + 1
  end
  return out
end

-- Writes an oci-archive at `output` from layout L: index.json lists
-- `entries` (descriptor tables, in order), blobs/ holds every blob they
-- reach, each taken from path_of(digest). -> true, or nil, message, err
local function write_oci_archive(L, output, entries, path_of)
  local index, msg, err = image.ImageIndex.from_table({ schemaVersion = 2, mediaType = MT.ImageIndex,
    manifests = setmetatable(entries, #entries == 0 and core.empty_array_mt or nil) })
  if not index then return nil, msg, err end
  local files = {
    { path = "oci-layout", content = '{"imageLayoutVersion":"1.0.0"}' },
    { path = "index.json", content = index:to_json() },
  }
  local seen, blobs = {}, {}
  for _, e in ipairs(index:manifests()) do
    local list, bmsg, berr = protect(reachable, L, e, blobs, seen)
    if not list then return nil, bmsg, berr end
  end
  for _, d in ipairs(blobs) do
    local src, pmsg, perr = path_of(d:digest())
    if not src then return nil, pmsg, perr end
    files[#files + 1] = { path = "blobs/" .. d:digest():gsub(":", "/"), source = src }
  end
  return write_tar(output, files)
end

-- Where an archive takes blob `dg` from: a layer verified in place in
-- the source (`copy` records those), else the destination's layout.
local function blob_source(self, dg)
  return self._external and self._external[dg] or self._L:blob_path(dg)
end

--- Makes `desc` (written to `dst:layout()`) the image the reference
-- names: tags it in a layout (NAME, default "latest"), writes the
-- archive, or pushes it to the registry.
-- @param desc the top Descriptor
-- @return desc, or nil, message, err
function Dest:commit(desc)
  local r, L = self._ref, self._L
  if r.transport == "oci" then
    if r.digest then
      if desc:digest() ~= r.digest then
        return util.fail("mismatch", ("oci:%s: the image is %s, not %s"):format(r.path, desc:digest(), r.digest))
      end
      return desc
    end
    local ok, msg, err = L:tag(desc, r.name or "latest")
    if not ok then return nil, msg, err end
    return desc
  elseif r.transport == "docker" then
    local name = "image"
    local ok, msg, err = L:tag(desc, name)
    if not ok then return nil, msg, err end
    local d
    d, msg, err = registry.push(L, name, r.reference.whole, self._conn)
    if not d then return nil, msg, err end
    return d
  end
  local output = r.path == "-" and (self._tmp .. "/stdout.tar") or r.path
  if r.transport == "oci-archive" then
    -- index.json names this image only, and its referrers when asked
    -- (its layers may be verified in the source rather than copied here,
    -- so the layout is not tagged)
    local t = desc:to_table()
    t.annotations = t.annotations or {}
    t.annotations[image.ANNOTATION_REF_NAME] = r.name or "latest"
    local entries = { t }
    if self._referrers then
      local list, msg, err = M.referrer_entries(L, desc:digest())
      if not list then return nil, msg, err end
      for _, e in ipairs(list) do entries[#entries + 1] = e end
    end
    local ok, msg, err = write_oci_archive(L, output, entries, function(dg) return blob_source(self, dg) end)
    if not ok then return nil, msg, err end
  else
    local ok, msg, err = export_docker_archive(L, desc, r, output, self._tmp, self._limits,
      function(dg) return blob_source(self, dg) end)
    if not ok then return nil, msg, err end
  end
  if r.path == "-" then
    local f, msg = io.open(output, "rb")
    if not f then return util.fail("io", msg) end
    while true do
      local piece = f:read(1 << 20)
      if not piece then break end
      local ok, werr = io.stdout:write(piece)
      if not ok then
        f:close()
        return util.fail("io", "stdout: " .. tostring(werr))
      end
    end
    f:close()
    io.stdout:flush()
  end
  return desc
end

--- Closes the layout and removes temporary files.
function Dest:close()
  if self._L and not self._borrowed then self._L:close() end
  if self._tmp then unpack.remove_tree(self._tmp) end
  self._L, self._tmp = nil, nil
end
DestMT.__close = Dest.close
DestMT.__gc = Dest.close

--- Opens an image destination for writing.
-- @tparam string|table ref a reference (see `parse`) or its result
-- @tparam[opt] table opts `tmpdir` and connection options (docker://)
-- @return a destination, or nil, message, err
function M.create(ref, opts)
  local r, pmsg, perr = parsed(ref)
  if not r then return nil, pmsg, perr end
  if r.index then return invalid(r.path, "@N names an image to read, not one to write") end
  local d = setmetatable({ _ref = r, _conn = connection_options(opts),
    _limits = { max_bytes = opts and opts.max_bytes } }, DestMT)
  if r.transport == "oci" then
    local L, msg, err = layout.create(r.path)
    if not L then return nil, msg, err end
    d._L = L
    return d
  end
  return temp_layout(d, opts)
end

-- ------------------------------------------------------------ writing a layout's image

-- The path of blob `dg` of layout A, or nil, message, err: the layout
-- hands out a path only for a regular file (a link planted in blobs/ is
-- refused, never followed).
local function regular_blob(A, dg)
  return A:blob_path(dg)
end

-- Copies one blob from layout A to layout B, verified by digest and size.
local function copy_blob(A, B, d, progress, stats)
  local dg, size = d:digest(), d:size()
  if B:has_blob(dg) then
    stats.blobs_skipped = stats.blobs_skipped + 1
    return true
  end
  if progress and progress(dg, 0, size) == false then return util.fail("canceled", "copy canceled") end
  local src, lmsg, lerr = regular_blob(A, dg)
  if not src then return nil, lmsg, lerr end
  local got, msg, err = B:put_blob_file(src, d:media_type())
  if not got then return nil, msg, err end
  if got:digest() ~= dg or got:size() ~= size then
    return util.fail("mismatch", ("blob %s: read %d bytes with digest %s (descriptor: %d bytes)"):format(dg,
      got:size(), got:digest(), size))
  end
  stats.blobs_copied, stats.bytes_copied = stats.blobs_copied + 1, stats.bytes_copied + size
  if progress and progress(dg, size, size) == false then return util.fail("canceled", "copy canceled") end
  return true
end


local function same_dir(a, b)
  local ra, rb = core.realpath(a), core.realpath(b)
  return ra ~= nil and ra == rb
end

-- Copies every blob `d` reaches from layout A into layout B (each
-- verified by digest and size); -> true, or nil, message, err.
local function copy_graph(A, B, d, stats, progress)
  local list, msg, err = protect(reachable, A, d)
  if not list then return nil, msg, err end
  for _, b in ipairs(list) do
    local ok
    ok, msg, err = copy_blob(A, B, b, progress, stats)
    if not ok then return nil, msg, err end
  end
  return true
end

--- Writes the image `desc` of layout L (a manifest or an index and every
-- blob it reaches) to a reference: tagged in a layout (the blobs copied
-- in when it is another one), written as an archive (atomically: a
-- docker-archive cannot hold an index, and drops the manifest's
-- annotations as Docker schema 2 does), or pushed to a registry.
-- @param L a Layout holding the image
-- @param desc its top Descriptor
-- @tparam string|table ref a reference (see `parse`; no transport: a
-- registry) or `parse`'s result
-- @tparam[opt] table opts `referrers` (also the referrers of `desc` in L,
-- and theirs: to a layout, an oci-archive or a registry; a docker-archive
-- is refused), `tmpdir`, `max_bytes`, and connection options (docker://)
-- @return the written top Descriptor, or nil, message, err
function M.write(L, desc, ref, opts)
  local r, pmsg, perr = parsed(ref)
  if not r then return nil, pmsg, perr end
  opts = opts or {}
  if r.index then return invalid(r.path, "@N names an image to read, not one to write") end
  if r.transport == "docker-archive" then
    if opts.referrers then
      return util.fail("unsupported", ("docker-archive:%s: a docker-archive cannot hold referrers"):format(r.path))
    end
    if not MT.is_manifest(desc:media_type()) then
      return util.fail("unsupported", ("docker-archive:%s: %s is a %s, not an image manifest; a docker-archive "
        .. "holds one platform's image"):format(r.path, desc:digest(), desc:media_type()))
    end
  end
  if r.transport == "oci" then
    local B = L
    if not same_dir(L:path(), r.path) then
      local msg, err
      B, msg, err = layout.create(r.path)
      if not B then return nil, msg, err end
    end
    return util.finally(function() if B ~= L then B:close() end end, protect, function()
      local stats = { blobs_copied = 0, blobs_skipped = 0, bytes_copied = 0 }
      if B ~= L then
        local ok, m, e = copy_graph(L, B, desc, stats)
        if not ok then return nil, m, e end
        if opts.referrers then
          local list
          list, m, e = M.referrer_entries(L, desc:digest())
          if not list then return nil, m, e end
          for _, t in ipairs(list) do
            local rd = image.Descriptor.from_table(t)
            ok, m, e = copy_graph(L, B, rd, stats)
            if ok then ok, m, e = B:add(rd) end
            if not ok then return nil, m, e end
          end
        end
      end
      if r.digest then
        if desc:digest() ~= r.digest then
          return util.fail("mismatch", ("oci:%s: the image is %s, not %s"):format(r.path, desc:digest(), r.digest))
        end
        if not r.name then return desc end
      end
      local ok, m, e = B:tag(desc, r.name or "latest")
      if not ok then return nil, m, e end
      return desc
    end)
  end
  if r.transport == "docker" then
    local d, msg, err = registry.push(L, desc:digest(), r.reference.whole, connection_options(opts))
    if not d then return nil, msg, err end
    if opts.referrers then
      local ok
      ok, msg, err = require("ocispec.artifacts").copy_referrers({ layout = L, ref = desc:digest() },
        ("%s/%s@%s"):format(r.reference.registry, r.reference.repository, d:digest()), connection_options(opts))
      if not ok then return nil, msg, err end
    end
    return d
  end
  local dir, msg, err = tmpdir(opts)
  if not dir then return nil, msg, err end
  local d = setmetatable({ _ref = r, _L = L, _borrowed = true, _tmp = dir, _referrers = opts.referrers,
    _limits = { max_bytes = opts.max_bytes } }, DestMT)
  return util.finally(function() d:close() end, protect, function() return d:commit(desc) end)
end

--- Writes `desc` (an image in `src:layout()`, such as an edit of the
-- source image) back to the source's own reference: tagged in place in a
-- layout (the name the reference gave or found, else "latest"), the
-- oci-archive rewritten with every image and referrer it held and `desc`
-- under that name, a docker-archive rewritten when it held this image
-- only (several: refused, the others would be lost), or pushed to the
-- registry reference (a digest reference is refused: the image changed).
-- @param desc the top Descriptor
-- @tparam[opt] string name the name to give it instead
-- @tparam[opt] table opts as `write`
-- @return the written Descriptor, or nil, message, err
function Source:commit(desc, name, opts)
  opts = opts or {}
  local r, L = self._ref, self._L
  local where = r.transport == "docker" and r.path or (r.transport .. ":" .. r.path)
  if r.transport == "docker" then
    if r.digest and not name then
      return util.fail("invalid", ("%s: names the image by digest; the changed image needs a tag"):format(where))
    end
    local w = r.reference.whole
    if name then w = ("%s/%s:%s"):format(r.reference.registry, r.reference.repository, name) end
    return M.write(L, desc, w, opts)
  end
  if r.path == "-" and r.transport ~= "oci" then
    return util.fail("invalid", ("%s: stdin cannot be written back (write it to another reference)"):format(where))
  end
  name = name or (r.transport ~= "docker-archive" and (r.name or self._name)) or nil
  if r.transport == "docker-archive" then
    if self._docker and self._docker.count > 1 then
      return util.fail("unsupported", ("%s holds %d images; writing one back would drop the others (write it "
        .. "to another reference)"):format(where, self._docker.count))
    end
    local t = { transport = r.transport, path = r.path, name = name or r.name or (self._docker or {}).tags and
      self._docker.tags[1] }
    return M.write(L, desc, t, opts)
  end
  if r.digest and not name then
    return util.fail("invalid", ("%s: names the image by digest; the changed image needs a NAME"):format(where))
  end
  name = name or "latest"
  local ok, msg, err = L:tag(desc, name)
  if not ok then return nil, msg, err end
  if r.transport == "oci" then return desc end
  local saved, smsg, serr = self:save()
  if not saved then return nil, smsg, serr end
  return desc
end

--- Writes `desc` (an image in `src:layout()`) to a reference: when it
-- is the source's own archive file, that archive is rewritten by
-- `src:commit` under the reference's name (its other images kept, or the
-- write refused); otherwise as `write`.
-- @param desc the top Descriptor
-- @tparam string|table ref a reference or `parse`'s result
-- @tparam[opt] table opts as `write`
-- @return the written Descriptor, or nil, message, err
function Source:write(desc, ref, opts)
  local r, pmsg, perr = parsed(ref)
  if not r then return nil, pmsg, perr end
  local own = self._ref
  if r.transport == own.transport and (r.transport == "oci-archive" or r.transport == "docker-archive")
      and r.path ~= "-" and not r.index and same_dir(r.path, own.path) then
    return self:commit(desc, r.name, opts)
  end
  return M.write(self._L, desc, r, opts)
end

--- Rewrites an oci-archive source from its layout, atomically, with
-- every index.json entry (what `Source:commit` and the artifact
-- commands use after changing the layout); nothing for a layout.
-- @return true, or nil, message, err
function Source:save()
  local r, L = self._ref, self._L
  if r.transport == "oci" then return true end
  if r.transport ~= "oci-archive" then
    return util.fail("unsupported", ("%s:%s: only layouts and oci-archives are saved in place"):format(r.transport,
      r.path))
  end
  if r.path == "-" then return util.fail("invalid", "oci-archive:-: stdin cannot be written back") end
  local idx, msg, err = L:index()
  if not idx then return nil, msg, err end
  local entries = {}
  for _, e in ipairs(idx:manifests()) do entries[#entries + 1] = e:to_table() end
  return write_oci_archive(L, r.path, entries, function(dg) return L:blob_path(dg) end)
end

--- Opens a layout or an oci-archive as a whole layout (every image and
-- referrer, no image chosen), to change it and `src:save()` it: the
-- artifact commands use it. A missing oci-archive starts empty when
-- `opts.create`; a docker-archive, which holds no referrers or artifacts,
-- and a registry are refused.
-- @tparam string|table ref a reference or `parse`'s result
-- @tparam[opt] table opts `create`, `tmpdir`, `max_bytes`, `max_entries`
-- @return a source (its `descriptor()` is nil), or nil, message, err
function M.open_layout(ref, opts)
  local r, pmsg, perr = parsed(ref, { default = "oci" })
  if not r then return nil, pmsg, perr end
  opts = opts or {}
  local s = setmetatable({ _ref = r }, SourceMT)
  if r.transport == "oci" then
    local L, msg, err = layout.open(r.path)
    if not L then return nil, msg, err end
    s._L = L
    return s
  end
  if r.transport ~= "oci-archive" then
    return util.fail("unsupported", ("%s:%s: a %s holds no referrers or artifacts (use oci:, oci-archive: or a "
      .. "registry)"):format(r.transport, r.path, r.transport == "docker" and "registry reference here" or r.transport))
  end
  if r.path ~= "-" and opts.create and unpack.dir_state(r.path) == "missing" then return temp_layout(s, opts) end
  local x, members, err = extract(r.path, opts, false)
  if not x then return nil, members, err end
  s._tmp = x
  local msg
  s._L, msg, err = archive_layout(x, r)
  if not s._L then
    s:close()
    return nil, msg, err
  end
  return s
end

-- ------------------------------------------------------------ copy

local function platform_of(p)
  if type(p) == "table" then return p end
  local os_, arch, variant = p:match("^([^/]+)/([^/]+)/?([^/]*)$")
  if not os_ then return nil end
  return { os = os_, architecture = arch, variant = variant ~= "" and variant or nil }
end

local function matches(want, p)
  if not p then return false end
  return p:os() == want.os and p:architecture() == want.architecture
    and (want.variant == nil or p:variant() == want.variant)
end

-- The media type of `mt` in `format` ("oci" or "v2s2"), or nil, message,
-- err when it has none there.
local function in_format(mt, format)
  local info = MT.info(mt)
  if not info then return util.fail("unsupported", ("%s: no equivalent in format %s"):format(mt, format)) end
  if format == "v2s2" then
    if info.family == "docker" then return mt end
    return MT.to_docker_v2s2(mt)
  end
  if info.family == "oci" then return mt end
  return MT.from_docker_v2s2(mt)
end

-- Writes the image `d` of layout A into layout B in `format`: manifests
-- and indexes rewritten with that family's media types (byte for byte
-- when already in it), configs unchanged, layers copied; for v2s2 a zstd
-- layer, which Docker cannot express, is decompressed to a plain tar
-- (its diff_id is unchanged). -> the new top descriptor, or nil, msg, err
local function convert(A, B, d, format, ctx)
  local mt = d:media_type()
  local family = (MT.info(mt) or {}).family
  local same = (format == "v2s2") == (family == "docker")
  if MT.is_index(mt) then
    local idx, msg, err = A:get_document(d, image.ImageIndex)
    if not idx then return nil, msg, err end
    local list, changed = {}, not same
    for _, md in ipairs(idx:manifests()) do
      local nd
      nd, msg, err = convert(A, B, md, format, ctx)
      if not nd then return nil, msg, err end
      if nd:digest() ~= md:digest() then changed = true end
      list[#list + 1] = nd
    end
    if not changed then
      local ok
      ok, msg, err = copy_blob(A, B, d, ctx.progress, ctx.stats)
      if not ok then return nil, msg, err end
      return d
    end
    local t = idx:to_table()
    t.mediaType = in_format(mt, format)
    if format == "v2s2" then t.annotations, t.artifactType, t.subject = nil, nil, nil end
    t.manifests = {}
    for _, nd in ipairs(list) do t.manifests[#t.manifests + 1] = nd:to_table() end
    local ni
    ni, msg, err = image.ImageIndex.from_table(t)
    if not ni then return nil, msg, err end
    local out
    out, msg, err = B:put_document(ni)
    if not out then return nil, msg, err end
    local dt = d:to_table()
    dt.mediaType, dt.digest, dt.size = out:media_type(), out:digest(), out:size()
    return image.Descriptor.from_table(dt)
  end
  if not MT.is_manifest(mt) then
    return util.fail("unsupported", ("%s: a %s cannot be converted to %s"):format(d:digest(), mt, format))
  end
  local m, msg, err = A:get_document(d, image.ImageManifest)
  if not m then return nil, msg, err end
  local t = m:to_table()
  local changed = not same
  local ok
  ok, msg, err = copy_blob(A, B, m:config(), ctx.progress, ctx.stats)
  if not ok then return nil, msg, err end
  if not same then
    t.mediaType = in_format(mt, format)
    local cmt
    cmt, msg, err = in_format(m:config():media_type(), format)
    if not cmt then return nil, msg, err end
    t.config.mediaType = cmt
    if format == "v2s2" then
      if t.subject then return util.fail("unsupported", d:digest() .. ": Docker v2s2 cannot express a subject") end
      t.annotations, t.artifactType = nil, nil
    end
  end
  for i, l in ipairs(m:layers()) do
    local lt = t.layers[i]
    local info = MT.info(l:media_type()) or {}
    if format == "v2s2" and info.compression == "zstd" then
      -- Docker has no zstd layer in schema 2: a plain tar, same diff_id
      ctx.n = ctx.n + 1
      local out = ("%s/zstd-%d.tar"):format(ctx.tmp, ctx.n)
      local lp, dmsg, derr = A:blob_path(l:digest())
      if not lp then return nil, dmsg, derr end
      local res
      res, dmsg, derr = layer.decompress(lp, out, ctx.max_bytes)
      if not res then return nil, dmsg, derr end
      local nd
      nd, dmsg, derr = B:put_blob_file(out, MT.DockerLayer)
      unpack.remove_tree(out)
      if not nd then return nil, dmsg, derr end
      lt.mediaType, lt.digest, lt.size = MT.DockerLayer, nd:digest(), nd:size()
      ctx.stats.blobs_copied = ctx.stats.blobs_copied + 1
      changed = true
    else
      ok, msg, err = copy_blob(A, B, l, ctx.progress, ctx.stats)
      if not ok then return nil, msg, err end
      if not same then
        local nmt
        nmt, msg, err = in_format(l:media_type(), format)
        if not nmt then return nil, msg, err end
        lt.mediaType = nmt
        if format == "v2s2" then lt.annotations = nil end
      end
    end
  end
  if not changed then
    ok, msg, err = copy_blob(A, B, d, ctx.progress, ctx.stats)
    if not ok then return nil, msg, err end
    return d
  end
  local nm
  nm, msg, err = image.ImageManifest.from_table(t)
  if not nm then return nil, msg, err end
  local out
  out, msg, err = B:put_document(nm)
  if not out then return nil, msg, err end
  local dt = d:to_table()
  dt.mediaType, dt.digest, dt.size = out:media_type(), out:digest(), out:size()
  return image.Descriptor.from_table(dt)
end

-- Checks blob `d` of layout A against its digest and size where it is.
local function verify_in_place(A, d, progress, stats)
  local dg, size = d:digest(), d:size()
  if progress and progress(dg, 0, size) == false then return util.fail("canceled", "copy canceled") end
  local src, rmsg, rerr = regular_blob(A, dg)
  if not src then return nil, rmsg, rerr end
  local ok, got, err = digest.verify_file(dg, src)
  if not ok then return nil, got, err end
  if got ~= size then
    return util.fail("mismatch", ("blob %s: %d bytes, the descriptor says %d"):format(dg, got, size))
  end
  stats.blobs_copied, stats.bytes_copied = stats.blobs_copied + 1, stats.bytes_copied + size
  if progress and progress(dg, size, size) == false then return util.fail("canceled", "copy canceled") end
  return true
end

--- Copies an image between any two transports.
-- @tparam string src a reference (see `parse`; no transport: a registry)
-- @tparam string dst a reference
-- @tparam[opt] table opts `platform` (one "os/arch[/variant]" or a list:
-- from an index, only those manifests; one gives that manifest alone,
-- several a new index), `all` (the whole index: the default), `format`
-- ("oci" or "v2s2": manifests and indexes rewritten with that family's
-- media types, configs and diff_ids unchanged, zstd layers decompressed
-- for v2s2; nil: as they are), `referrers` (the image's referrers graph
-- too, as `oras cp -r`: layouts, oci-archives and registries; not with a
-- docker-archive, `format` or several platforms), `progress`
-- function(digest, done, total) (`false` cancels), `tmpdir`, archive
-- limits, connection options for both registries (`jobs` among them) and
-- `src`/`dst` tables for one side
-- @return the copied top Descriptor and `{blobs_copied=, blobs_skipped=,
-- bytes_copied=, referrers=}` (registry to registry: `registry.copy`'s
-- stats, and `referrers`), or nil,
-- message, err
function M.copy(src, dst, opts)
  util.check_options(opts, {
    "platform", "all", "format", "progress", "tmpdir", "max_bytes", "max_entries", "src", "dst",
    "plain_http", "tls_verify", "ca_file", "username", "password", "auth_file", "retries", "retry_delay_ms",
    "retry_max_delay_ms", "connect_timeout", "low_speed_timeout", "low_speed_limit", "chunk_size", "user_agent",
    "max_fanout", "max_nodes", "max_pages", "max_list_bytes", "allow_cross_host_auth", "allow_insecure_realm",
    "referrers", "blob_cache", "jobs",
  }, "copy")
  local rs, msg, err = parsed(src)
  if not rs then return nil, msg, err end
  local rd
  rd, msg, err = parsed(dst)
  if not rd then return nil, msg, err end
  opts = opts or {}
  local platforms = opts.platform
  if type(platforms) == "string" then platforms = { platforms } end
  if platforms and type(platforms[1]) ~= "string" and type(platforms[1]) ~= "table" then platforms = { platforms } end
  if platforms and opts.all then return util.fail("invalid", "copy: platform and all exclude each other") end
  if opts.format ~= nil and opts.format ~= "oci" and opts.format ~= "v2s2" then
    error(("bad argument to 'copy' (format must be \"oci\" or \"v2s2\", got %q)"):format(tostring(opts.format)), 2)
  end
  if opts.format == "v2s2" and (rd.transport == "oci" or rd.transport == "oci-archive") then
    return util.fail("unsupported", ("copy: %s layouts hold OCI manifests; format v2s2 needs a docker:// or "
      .. "docker-archive: destination"):format(rd.transport))
  end
  local wants = {}
  for _, p in ipairs(platforms or {}) do
    local w = platform_of(p)
    if not w then return util.fail("invalid", ("copy: bad platform %q (os/arch[/variant])"):format(tostring(p))) end
    wants[#wants + 1] = w
  end
  if opts.referrers then
    for _, r in ipairs({ rs, rd }) do
      if r.transport == "docker-archive" then
        return util.fail("unsupported", ("copy: docker-archive:%s: a docker-archive cannot hold referrers"):format(
          r.path))
      end
    end
    if opts.format or #wants > 1 then
      return util.fail("unsupported", ("copy: referrers with %s: the copied image is rewritten (a new digest), "
        .. "its referrers would not refer to it"):format(opts.format and "format" or "several platforms"))
    end
  end
  local artifacts = opts.referrers and require "ocispec.artifacts"
  -- the image's digest on a registry side: HOST/REPO@DIGEST
  local function at(r, dg) return ("%s/%s@%s"):format(r.reference.registry, r.reference.repository, dg) end
  if rs.transport == "docker" and rd.transport == "docker" and #wants == 0 and not opts.format then
    local top, stats, cerr = registry.copy(rs.path, rd.path, connection_options(opts, true))
    if not top or not opts.referrers then return top, stats, cerr end
    local list, lmsg, lerr = artifacts.copy_referrers(at(rs, top:digest()), at(rd, top:digest()),
      connection_options(opts, true))
    if not list then return nil, lmsg, lerr end
    stats.referrers = #list
    return top, stats
  end
  local function side(name)
    local o = connection_options(opts) or {}
    for k, v in pairs(type(opts[name]) == "table" and opts[name] or {}) do o[k] = v end
    o.tmpdir, o.max_bytes, o.max_entries = opts.tmpdir, opts.max_bytes, opts.max_entries
    o.progress = nil
    return o
  end
  local so = side("src")
  if #wants == 1 then so.platform = wants[1] end
  local s
  s, msg, err = M.open(rs, so)
  if not s then return nil, msg, err end
  local d
  d, msg, err = M.create(rd, side("dst"))
  if not d then
    s:close()
    return nil, msg, err
  end
  local stats = { blobs_copied = 0, blobs_skipped = 0, bytes_copied = 0 }
  local ctx
  if opts.format then
    local t
    t, msg, err = tmpdir(opts)
    if not t then
      s:close()
      d:close()
      return nil, msg, err
    end
    ctx = { tmp = t, n = 0, stats = stats, progress = opts.progress, max_bytes = opts.max_bytes }
  end
  local res = table.pack(util.finally(function()
    s:close()
    d:close()
    if ctx then unpack.remove_tree(ctx.tmp) end
  end, protect, function()
    local A, B = s:layout(), d:layout()
    local top = s:descriptor()
    if #wants > 0 and is_index(top) then
      local idx, m, e = A:get_document(top, image.ImageIndex)
      if not idx then return nil, m, e end
      local chosen = {}
      for _, md in ipairs(idx:manifests()) do
        for _, w in ipairs(wants) do
          if matches(w, md:platform()) then
            chosen[#chosen + 1] = md
            break
          end
        end
      end
      if #chosen == 0 then
        return util.fail("invalid", ("copy: %s has no manifest for the platform(s) asked"):format(rs.path))
      end
      if #chosen == 1 then
        top = chosen[1]
      else
        local list = {}
        for _, md in ipairs(chosen) do
          local nd = md
          if ctx then
            nd, m, e = convert(A, B, md, opts.format, ctx)
            if not nd then return nil, m, e end
          else
            local ok, cm, ce = protect(function()
              for _, b in ipairs(reachable(A, md)) do
                local okb, bm, be = copy_blob(A, B, b, opts.progress, stats)
                if not okb then error({ bm, be }) end
              end
              return true
            end)
            if not ok then return nil, cm, ce end
          end
          list[#list + 1] = nd
        end
        idx:set_manifests(list)
        if ctx then
          local imt
          imt, m, e = in_format(idx:media_type() or MT.ImageIndex, opts.format)
          if not imt then return nil, m, e end
          idx:set_media_type(imt)
          if opts.format == "v2s2" then idx:set_annotations(nil) end
        end
        local nd
        nd, m, e = B:put_document(idx)
        if not nd then return nil, m, e end
        return d:commit(nd)
      end
    end
    if ctx then
      local nt, m, e = convert(A, B, top, opts.format, ctx)
      if not nt then return nil, m, e end
      return d:commit(nt)
    end
    -- the referrers of the image: into the destination's layout before
    -- it is committed (a layout, an archive), pushed after (a registry)
    local function referrers_in()
      if not opts.referrers then return true end
      local src_side = rs.transport == "docker" and at(rs, top:digest()) or { layout = A, ref = top:digest() }
      local list, m, e = artifacts.copy_referrers(src_side, { layout = B, ref = top:digest() },
        connection_options(opts, true))
      if not list then return nil, m, e end
      stats.referrers = #list
      d._referrers = true
      return true
    end
    local function referrers_out(pushed)
      if not opts.referrers or rd.transport ~= "docker" then return pushed end
      local list, m, e = artifacts.copy_referrers({ layout = B, ref = top:digest() }, at(rd, pushed:digest()),
        connection_options(opts, true))
      if not list then return nil, m, e end
      return pushed
    end
    -- an archive is written from the source's layers, each verified in
    -- place first (no copy through the temporary layout); documents and
    -- configs are copied
    local in_place = rd.transport == "oci-archive" or rd.transport == "docker-archive"
    for _, b in ipairs(reachable(A, top)) do
      local ok, m, e
      if in_place and MT.is_layer(b:media_type()) then
        ok, m, e = verify_in_place(A, b, opts.progress, stats)
        if ok then
          d._external = d._external or {}
          d._external[b:digest()] = A:blob_path(b:digest())
        end
      else
        ok, m, e = copy_blob(A, B, b, opts.progress, stats)
      end
      if not ok then return nil, m, e end
    end
    local ok, m, e = referrers_in()
    if not ok then return nil, m, e end
    local pushed
    pushed, m, e = d:commit(top)
    if not pushed then return nil, m, e end
    return referrers_out(pushed)
  end))
  if res[1] then return res[1], stats end
  return table.unpack(res, 1, res.n)
end

return M
