--- Artifacts and referrers (image-spec manifest.md "Guidelines for
-- Artifact Usage", distribution-spec 1.1 referrers), as oras does them:
-- `attach` puts an artifact manifest whose `subject` is an image, and
-- `discover` lists the referrers tree of an image.
--
--    local artifacts = require("ocispec").artifacts
--    local d = assert(artifacts.attach("oci:image-layout:1.0", { "sbom.json" },
--      { artifact_type = "application/spdx+json" }))
--    local tree = assert(artifacts.discover("oci:image-layout:1.0"))
--
-- A reference is `oci:DIR[:NAME|@DIGEST]` (an image layout; NAME default
-- "latest"), `oci-archive:FILE[:NAME|:DIGEST]` (a tar of a layout, read
-- whole through a temporary layout and rewritten atomically when an
-- artifact is added), or a registry reference
-- `[docker://]HOST/REPO[:TAG|@DIGEST]`; a docker-archive holds no
-- referrers ("unsupported"). `copy_referrers` also takes `{layout=, ref=}`
-- (an open Layout and a name or digest in it).
-- In a layout, an artifact is a blob with an index.json entry without a
-- name (`Layout:add`, as oras's oci: store keeps it: gc keeps it too), and
-- the referrers of a digest are the index.json manifests and indexes whose
-- `subject` names it. In a registry, the artifact is put by digest and
-- the referrers come from the referrers API, else its tag schema
-- (`client:referrers`, which `put_manifest` keeps).
-- @module ocispec.artifacts
local image = require "ocispec.image"
local digest = require "ocispec.digest"
local registry = require "ocispec.registry"
local util = require "ocispec.util"

local M = {}
local MT = image.MediaType

--- Default media type of an attached file (oras's, for files).
M.FILE_MEDIA_TYPE = MT.ImageLayer
--- How deep `discover` follows referrers of referrers by default.
M.MAX_DEPTH = 8
--- How many referrers `discover` lists at most, in all (more: "too_big").
-- The index entries read, seen or not, are bounded too (4 * MAX_NODES): a
-- hostile source may list the same referrers over and over.
M.MAX_NODES = 10000

-- Counts n more index entries read; nil, message, err past the bound.
local function count_listed(state, n, what)
  state.listed = state.listed + n
  if state.listed > 4 * M.MAX_NODES then
    return util.fail("too_big", ("%s: more than %d entries listed"):format(what, 4 * M.MAX_NODES))
  end
  return true
end

local CONNECT_KEYS = {
  "plain_http", "tls_verify", "ca_file", "username", "password", "auth_file", "retries",
  "retry_delay_ms", "retry_max_delay_ms", "connect_timeout", "low_speed_timeout", "low_speed_limit",
  "chunk_size", "user_agent", "max_fanout", "max_nodes", "max_pages", "max_list_bytes", "progress",
  "allow_cross_host_auth", "allow_insecure_realm", "blob_cache",
}

local function known(...)
  local list = {}
  for _, k in ipairs(CONNECT_KEYS) do list[#list + 1] = k end
  for _, k in ipairs({ ... }) do list[#list + 1] = k end
  return list
end

local function connection(opts)
  if not opts then return nil end
  local o = {}
  for _, k in ipairs(CONNECT_KEYS) do o[k] = opts[k] end
  return o
end

local function is_document(mt)
  return mt == MT.ImageManifest or mt == MT.ImageIndex
end

-- ---------------------------------------------------------------- targets
-- A target is where an image and its artifacts live: a layout or a
-- registry repository, with the same few operations.

local Layout_target = {}
Layout_target.__index = Layout_target

-- The descriptor `ref` (a name or a digest) names in the layout.
function Layout_target:subject()
  local ref = self.ref
  local idx, msg, err = self.L:index()
  if not idx then return nil, msg, err end
  local by_digest = digest.parse(ref) ~= nil
  for _, e in ipairs(idx:manifests()) do
    local ann = e:annotations() or {}
    if (by_digest and e:digest() == ref) or (not by_digest and ann[image.ANNOTATION_REF_NAME] == ref) then
      return assert(image.Descriptor.new(e:media_type(), e:size(), e:digest()))
    end
  end
  if by_digest then
    -- a document of the layout that index.json does not list: its own
    -- mediaType says what it is
    local bytes
    bytes, msg, err = self.L:get_blob(ref)
    if not bytes then return nil, msg, err end
    local m = image.ImageManifest.from_json(bytes)
    local x = not m and image.ImageIndex.from_json(bytes)
    local mt = m and m:media_type() or x and x:media_type()
    if not mt then
      return util.fail("invalid", ("%s: %s is no OCI image manifest or index with a mediaType"):format(self.where, ref))
    end
    return assert(image.Descriptor.new(mt, #bytes, ref))
  end
  return util.fail("invalid", ("%s: no image named %q in index.json"):format(self.where, ref))
end

function Layout_target:put_file(path, media_type)
  return self.L:put_blob_file(path, media_type)
end

function Layout_target:put_bytes(bytes, media_type)
  return self.L:put_blob(bytes, media_type)
end

function Layout_target:put_manifest(m)
  self.dirty = true
  local d, msg, err = self.L:put_document(m)
  if not d then return nil, msg, err end
  local ok
  ok, msg, err = self.L:add(d)
  if not ok then return nil, msg, err end
  return d
end

-- The referrers of every document in index.json, by subject digest (read
-- once per target).
function Layout_target:referrers(dg, artifact_type)
  if not self.by_subject then
    local idx, msg, err = self.L:index()
    if not idx then return nil, msg, err end
    local by = {}
    for _, e in ipairs(idx:manifests()) do
      local mt = e:media_type()
      if is_document(mt) then
        local T = mt == MT.ImageIndex and image.ImageIndex or image.ImageManifest
        local doc, dmsg, derr = self.L:get_document(e, T)
        if not doc then return nil, dmsg, derr end
        local s = doc:subject()
        if s then
          local at = doc:artifact_type()
          if not at and T == image.ImageManifest then at = doc:config():media_type() end
          local t = { mediaType = mt, digest = e:digest(), size = e:size(), artifactType = at,
            annotations = doc:annotations() }
          local list = by[s:digest()] or {}
          by[s:digest()] = list
          local dup = false
          for _, x in ipairs(list) do dup = dup or x.digest == t.digest end
          if not dup then list[#list + 1] = t end
        end
      end
    end
    self.by_subject = by
  end
  local out = {}
  for _, t in ipairs(self.by_subject[dg] or {}) do
    if not artifact_type or t.artifactType == artifact_type then
      out[#out + 1] = assert(image.Descriptor.from_table(t))
    end
  end
  return out
end

function Layout_target:get_manifest(d)
  return self.L:get_document(d, image.ImageManifest)
end

function Layout_target:get_blob(d)
  return self.L:get_blob(d)
end

function Layout_target:put_tagged(m)
  self.dirty = true
  local d, msg, err = self.L:put_document(m)
  if not d then return nil, msg, err end
  local ok
  ok, msg, err = self.L:tag(d, self.ref)
  if not ok then return nil, msg, err end
  return d
end

function Layout_target:close()
  if self.src then self.src:close() end
  self.src = nil
end

-- Writes what changed back: an oci-archive is rewritten (atomically).
function Layout_target:finish()
  if self.dirty and self.src then return self.src:save() end
  return true
end

local Registry_target = {}
Registry_target.__index = Registry_target

function Registry_target:subject()
  local d, msg, err = self.c:head_manifest(self.repo, self.ref)
  if d == nil then return nil, msg, err end
  if not d then
    return util.fail("invalid", ("%s: no manifest %s"):format(self.where, self.ref))
  end
  return d
end

function Registry_target:put_file(path, media_type)
  return self.c:push_blob_file(self.repo, path, media_type)
end

function Registry_target:put_bytes(bytes, media_type)
  return self.c:push_blob(self.repo, bytes, media_type)
end

function Registry_target:put_manifest(m)
  local json = m:to_json()
  return self.c:put_manifest(self.repo, digest.sha256(json), json, MT.ImageManifest)
end

function Registry_target:referrers(dg, artifact_type)
  local idx, msg, err = self.c:referrers(self.repo, dg, artifact_type)
  if not idx then return nil, msg, err end
  return idx:manifests()
end

function Registry_target:get_manifest(d)
  local m, msg, err = self.c:get_manifest(self.repo, d:digest())
  if not m then return nil, msg, err end
  if not pcall(m.layers, m) then -- an index (served as a manifest)
    return util.fail("invalid", ("%s@%s: an index, not an artifact manifest"):format(self.where, d:digest()))
  end
  return m
end

function Registry_target:get_blob(d)
  return self.c:get_blob(self.repo, d, math.max(d:size(), 0))
end

function Registry_target:put_tagged(m)
  local json = m:to_json()
  return self.c:put_manifest(self.repo, self.ref, json, MT.ImageManifest)
end

function Registry_target:close()
  self.c:close()
end

function Registry_target.finish()
  return true
end

-- Opens the target of a reference: `oci:DIR[:NAME|@DIGEST]`,
-- `oci-archive:FILE[:NAME|@DIGEST]` (extracted whole into a temporary
-- layout, rewritten atomically by `finish` when changed; `create`: a
-- missing archive starts empty), `[docker://]HOST/REPO[:TAG|@DIGEST]`
-- (connection options: see `registry.connect`), or `{layout=, ref=}` (an
-- open Layout and a name or digest in it). A docker-archive holds no
-- referrers or artifacts: "unsupported". -> a target, or nil, message, err.
local function open_target(ref, opts, create)
  if type(ref) == "table" and ref.layout then
    assert(type(ref.ref) == "string", "bad argument to 'open' ({layout=, ref=} needs a string ref)")
    return setmetatable({ L = ref.layout, ref = ref.ref, where = ref.layout:path() }, Layout_target)
  end
  assert(type(ref) == "string", "bad argument #1 to 'open' (string expected)")
  local transport = require "ocispec.transport"
  local kind = ref:match("^(oci):") or ref:match("^(oci%-archive):") or ref:match("^(docker%-archive):")
  if kind then
    local r, msg, err = transport.parse(ref)
    if not r then return nil, msg, err end
    if r.index then
      return util.fail("invalid", ("%s: @N is not taken here: name the image or its digest"):format(ref))
    end
    if kind == "docker-archive" then
      return util.fail("unsupported", ("%s: a docker-archive cannot hold referrers or artifacts (use oci:, "
        .. "oci-archive: or a registry)"):format(ref))
    end
    if kind == "oci-archive" and r.path == "-" then
      return util.fail("invalid", ("%s: artifacts need an archive file, not a stream"):format(ref))
    end
    local src
    src, msg, err = transport.open_layout(r, { create = create })
    if not src then return nil, msg, err end
    return setmetatable({ L = src:layout(), src = src, ref = r.digest or r.name or "latest",
      where = kind == "oci" and r.path or (kind .. ":" .. r.path) }, Layout_target)
  end
  local r, msg, err = registry.parse_reference(ref:gsub("^docker://", ""), nil)
  if not r then return nil, msg, err end
  local c
  c, msg, err = registry.connect(r.host, connection(opts))
  if not c then return nil, msg, err end
  return setmetatable({ c = c, repo = r.repository, ref = r.reference,
    where = r.registry .. "/" .. r.repository }, Registry_target)
end

-- ---------------------------------------------------------------- attach

local function basename(path)
  return (path:gsub("/+$", ""):match("([^/]+)$")) or path
end

-- Puts the blobs of files and the artifact manifest (subject: a
-- descriptor or nil) with put(target, manifest); -> its descriptor.
local function put_artifact(t, files, opts, subject, put)
  local layers, titles = {}, {}
  for i, f in ipairs(files) do
    if type(f) == "string" then f = { path = f } end
    assert(type(f) == "table" and type(f.path) == "string", ("files[%d]: a path expected"):format(i))
    local title = f.title or basename(f.path)
    if titles[title] then
      return util.fail("invalid", ("files[%d]: title %q is taken by files[%d]"):format(i, title, titles[title]))
    end
    titles[title] = i
    local d, fmsg, ferr = t:put_file(f.path, f.media_type or opts.media_type or M.FILE_MEDIA_TYPE)
    if not d then return nil, fmsg, ferr end
    local lt = d:to_table()
    lt.annotations = { [image.ANNOTATION_TITLE] = title }
    layers[i] = lt
  end
  local empty = image.Descriptor.empty()
  local d, emsg, eerr = t:put_bytes("{}", MT.EmptyJSON)
  if not d then return nil, emsg, eerr end
  local mt = {
    schemaVersion = 2, mediaType = MT.ImageManifest, artifactType = opts.artifact_type,
    config = empty:to_table(), layers = layers, annotations = opts.annotations,
    subject = subject and { mediaType = subject:media_type(), digest = subject:digest(), size = subject:size() },
  }
  if #layers == 0 then mt.layers = setmetatable({}, require("ocispec").empty_array_mt()) end
  local m, mmsg, merr = image.ImageManifest.from_table(mt)
  if not m then return nil, mmsg, merr end
  local vok, vmsg, verr = m:validate()
  if not vok then return nil, vmsg, verr end
  return put(t, m)
end

-- Runs f(target) on the target of ref, writes what changed back
-- (`finish`) when f succeeded, and closes it; f's results.
local function with_target(ref, opts, f, create)
  local t, msg, err = open_target(ref, opts, create)
  if not t then return nil, msg, err end
  local ok, a, b, c = pcall(f, t)
  if ok and a then
    local fok, f1, f2, f3 = pcall(t.finish, t)
    if not fok then
      t:close()
      error(f1, 0)
    end
    if not f1 then a, b, c = nil, f2, f3 end
  end
  t:close()
  if not ok then error(a, 0) end
  return a, b, c
end

local ARTIFACT_KEYS = { "artifact_type", "annotations", "media_type" }

--- Attaches files to an image as an artifact: a manifest with
-- `artifactType`, the empty config (image-spec's guidance for artifacts),
-- one layer per file titled `org.opencontainers.image.title`, the
-- annotations, and the image as `subject`.
-- @tparam string ref the image (`oci:DIR[:NAME|@DIGEST]` or `[docker://]HOST/REPO[:TAG|@DIGEST]`)
-- @tparam {string|table,...} files paths, or `{path=, title=,
-- media_type=}` (title default: the path's last component; media type
-- default `FILE_MEDIA_TYPE`; two files with one title are "invalid")
-- @tparam table opts `artifact_type` (required), `annotations` (of the
-- manifest), `media_type` (of every file), and connection options
-- @return the artifact manifest's Descriptor and the subject's, or nil,
-- message, err
function M.attach(ref, files, opts)
  assert(type(files) == "table", "bad argument #2 to 'attach' (table expected)")
  util.check_options(opts, known(table.unpack(ARTIFACT_KEYS)), "attach")
  assert(type(opts.artifact_type) == "string", "attach: option artifact_type (a string) is required")
  return with_target(ref, opts, function(t)
    local subject, smsg, serr = t:subject()
    if not subject then return nil, smsg, serr end
    local d, msg, err = put_artifact(t, files, opts, subject, t.put_manifest)
    if not d then return nil, msg, err end
    return d, subject
  end)
end

--- Pushes files as an artifact (as `oras push`): the manifest of `attach`
-- without a subject, tagged with the reference's name or tag.
-- @tparam string ref where (`oci:DIR[:NAME]`, the layout must exist, or
-- `[docker://]HOST/REPO[:TAG]`)
-- @tparam {string|table,...} files as `attach` takes them
-- @tparam table opts as `attach`
-- @return the artifact manifest's Descriptor, or nil, message, err
function M.push(ref, files, opts)
  assert(type(files) == "table", "bad argument #2 to 'push' (table expected)")
  util.check_options(opts, known(table.unpack(ARTIFACT_KEYS)), "push")
  assert(type(opts.artifact_type) == "string", "push: option artifact_type (a string) is required")
  return with_target(ref, opts, function(t)
    if digest.parse(t.ref) then
      return util.fail("invalid", ("push: %s: a tag or name is needed, not a digest"):format(ref))
    end
    return put_artifact(t, files, opts, nil, t.put_tagged)
  end, true)
end

-- A title names a file of the output directory: one plain path component
-- (no "/", not "." or "..", no control character, not empty), so that no
-- title of a hostile manifest can name anything outside it.
local function check_title(title, i)
  if type(title) ~= "string" or title == "" or title == "." or title == ".." or title:find("/", 1, true)
      or title:find("[%z\1-\31\127]") then
    return util.fail("invalid", ("layers[%d]: title %q is not a plain file name (no '/', '.', '..' or control "
      .. "characters)"):format(i, tostring(title)))
  end
  return true
end

--- Writes the titled files of an artifact into a directory (as `oras
-- pull`): each layer with an `org.opencontainers.image.title` becomes
-- `dir/<title>`, verified against its digest; layers without a title are
-- skipped. Titles are untrusted: each must be one plain file name, and two
-- layers may not share one. Nothing is placed until every file is fetched
-- and verified (they are written in a fresh private directory inside
-- `dir`, then renamed into place: an existing symlink of that name is
-- replaced, never followed).
-- @tparam string ref the artifact (`oci:DIR[:NAME|@DIGEST]` or `[docker://]HOST/REPO[:TAG|@DIGEST]`)
-- @tparam string dir the output directory (created when missing)
-- @tparam[opt] table opts connection options
-- @return the list of titles written (in manifest order) and the
-- manifest's Descriptor, or nil, message, err
function M.pull(ref, dir, opts)
  assert(type(dir) == "string", "bad argument #2 to 'pull' (string expected)")
  util.check_options(opts, known(), "pull")
  local unpack = require "ocispec.unpack"
  return with_target(ref, opts, function(t)
    local d, msg, err = t:subject()
    if not d then return nil, msg, err end
    if d:media_type() ~= MT.ImageManifest then
      return util.fail("invalid", ("pull: %s is a %s, not an artifact manifest"):format(ref, d:media_type()))
    end
    local m
    m, msg, err = t:get_manifest(d)
    if not m then return nil, msg, err end
    local todo, seen = {}, {}
    for i, l in ipairs(m:layers()) do
      local title = (l:annotations() or {})[image.ANNOTATION_TITLE]
      if title ~= nil then
        local ok, tmsg, terr = check_title(title, i)
        if not ok then return nil, tmsg, terr end
        if seen[title] then
          return util.fail("invalid", ("layers[%d]: title %q is taken by layers[%d]"):format(i, title, seen[title]))
        end
        seen[title] = i
        todo[#todo + 1] = { title = title, desc = l }
      end
    end
    local state = unpack.dir_state(dir)
    if state == "missing" then
      local ok, mmsg, merr = unpack.mkdir(dir)
      if not ok then return nil, mmsg, merr end
    elseif state == "other" then
      return util.fail("invalid", ("pull: %s is not a directory"):format(dir))
    end
    local tmp, tmsg, terr = unpack.mkdtemp(dir .. "/.ocispec-pull-XXXXXX")
    if not tmp then return nil, tmsg, terr end
    local ok, a, b, c = pcall(function()
      for _, f in ipairs(todo) do
        local bytes, bmsg, berr = t:get_blob(f.desc)
        if not bytes then return nil, bmsg, berr end
        local fh, omsg = io.open(tmp .. "/" .. f.title, "wb")
        if not fh then return util.fail("io", ("pull: %s"):format(omsg)) end
        local wok, wmsg = fh:write(bytes)
        local cok, cmsg = fh:close()
        if not wok or not cok then return util.fail("io", ("pull: %s: %s"):format(f.title, wmsg or cmsg)) end
      end
      local titles = {}
      for i, f in ipairs(todo) do
        local rok, rmsg = os.rename(tmp .. "/" .. f.title, dir .. "/" .. f.title)
        if not rok then return util.fail("io", ("pull: %s"):format(rmsg)) end
        titles[i] = f.title
      end
      return titles, d
    end)
    unpack.remove_tree(tmp)
    if not ok then error(a, 0) end
    return a, b, c
  end)
end

-- ---------------------------------------------------------------- discover

--- The referrers tree of an image: its referrers (filtered by
-- `artifact_type` at every level, as oras does), and theirs, to `depth`.
-- @tparam string ref the image (`oci:DIR[:NAME|@DIGEST]` or `[docker://]HOST/REPO[:TAG|@DIGEST]`)
-- @tparam[opt] table opts `artifact_type`, `depth` (default `MAX_DEPTH`),
-- and connection options
-- @return `{descriptor=, referrers={{descriptor=, referrers={...}},
-- ...}}`, or nil, message, err
function M.discover(ref, opts)
  util.check_options(opts, known("artifact_type", "depth"), "discover")
  opts = opts or {}
  local depth = opts.depth or M.MAX_DEPTH
  assert(math.type(depth) == "integer" and depth >= 1, "discover: depth must be a positive integer")
  local t, msg, err = open_target(ref, opts)
  if not t then return nil, msg, err end
  local ok, a, b, c = pcall(function()
    local subject, smsg, serr = t:subject()
    if not subject then return nil, smsg, serr end
    local seen, count, state = { [subject:digest()] = true }, 0, { listed = 0 }
    local function walk(d, level)
      local node = { descriptor = d, referrers = {} }
      if level > depth then return node end
      local list, lmsg, lerr = t:referrers(d:digest(), opts.artifact_type)
      if not list then return nil, lmsg, lerr end
      local within
      within, lmsg, lerr = count_listed(state, #list, "discover")
      if not within then return nil, lmsg, lerr end
      for _, r in ipairs(list) do
        if not seen[r:digest()] then -- a hostile listing may loop
          seen[r:digest()] = true
          count = count + 1
          if count > M.MAX_NODES then
            return util.fail("too_big", ("discover: more than %d referrers"):format(M.MAX_NODES))
          end
          local child, cmsg, cerr = walk(r, level + 1)
          if not child then return nil, cmsg, cerr end
          node.referrers[#node.referrers + 1] = child
        end
      end
      return node
    end
    return walk(subject, 1)
  end)
  t:close()
  if not ok then error(a, 0) end
  return a, b, c
end

-- ---------------------------------------------------------------- copy

-- Copies blob d of layout A, and what it reaches when it is a manifest or
-- an index (not its subject), into layout B, each verified by digest.
local function copy_layout_graph(A, B, d, depth)
  if depth > 16 then return util.fail("too_big", ("copy: %s: indexes nested too deep"):format(d:digest())) end
  local bytes, msg, err = A:get_blob(d)
  if not bytes then return nil, msg, err end
  local mt = d:media_type()
  local children = {}
  if MT.is_index(mt) then
    local idx
    idx, msg, err = image.ImageIndex.from_json(bytes)
    if not idx then return nil, msg, err end
    children = idx:manifests()
  elseif MT.is_manifest(mt) then
    local m
    m, msg, err = image.ImageManifest.from_json(bytes)
    if not m then return nil, msg, err end
    children = { m:config(), table.unpack(m:layers()) }
  end
  for _, c in ipairs(children) do
    if not B:has_blob(c:digest()) then
      local ok
      ok, msg, err = copy_layout_graph(A, B, c, depth + 1)
      if not ok then return nil, msg, err end
    end
  end
  local put
  put, msg, err = B:put_blob(bytes, mt)
  if not put then return nil, msg, err end
  if put:digest() ~= d:digest() then
    return util.fail("mismatch", ("copy: blob %s arrived as %s"):format(d:digest(), put:digest()))
  end
  return true
end

-- Copies the document d (a referrer) with its blobs from target s to
-- target t; -> true, or nil, message, err.
local function copy_document(s, t, d)
  if s.c and t.c then
    local got, msg, err = s.c:copy(s.repo, d:digest(), t.c, t.repo)
    if not got then return nil, msg, err end
  elseif s.c then
    local got, msg, err = s.c:pull(s.repo, d:digest(), t.L)
    if not got then return nil, msg, err end
    local ok
    ok, msg, err = t.L:add(assert(image.Descriptor.new(d:media_type(), d:size(), d:digest())))
    if not ok then return nil, msg, err end
  elseif t.c then
    local got, msg, err = t.c:push(s.L, d:digest(), t.repo)
    if not got then return nil, msg, err end
  else
    -- layout to layout: the document's graph (children first), then its
    -- index.json entry
    local ok, msg, err = copy_layout_graph(s.L, t.L, d, 0)
    if not ok then return nil, msg, err end
    ok, msg, err = t.L:add(assert(image.Descriptor.new(d:media_type(), d:size(), d:digest())))
    if not ok then return nil, msg, err end
  end
  return true
end

--- Copies the referrers graph of an image (as `oras cp -r` does): every
-- referrer of the source image, and theirs (to `MAX_DEPTH`, each once), is
-- copied to the destination with its blobs, parents before children;
-- the image itself is the caller's to copy (registry.copy, pull, push),
-- before or after. Registry to registry, registry to layout (the
-- referrers get unnamed index.json entries), layout to registry (the
-- destination's tag schema is kept when it has no referrers API), and
-- layout to layout (manifests and indexes with what they reach); each
-- side may be an oci-archive, or `{layout=, ref=}`.
-- @tparam string|table src the image (`oci:DIR[:NAME|@DIGEST]`, `oci-archive:FILE[:NAME]`,
-- `[docker://]HOST/REPO[:TAG|@DIGEST]` or `{layout=, ref=}`)
-- @tparam string|table dst where its copy is (the same forms; a layout or an archive must exist)
-- @tparam[opt] table opts connection options for both sides (`src` and
-- `dst` tables: for one side, over them), `artifact_type` (only those)
-- @return the list of copied referrer Descriptors, or nil, message, err
function M.copy_referrers(src, dst, opts)
  util.check_options(opts, known("src", "dst", "artifact_type"), "copy_referrers")
  local function side(name)
    local o = connection(opts) or {}
    for k, v in pairs(opts and opts[name] or {}) do o[k] = v end
    return o
  end
  local t, msg, err = open_target(dst, side("dst"))
  if not t then return nil, msg, err end
  local ok, a, b, c = pcall(with_target, src, side("src"), function(s)
    local subject, smsg, serr = s:subject()
    if not subject then return nil, smsg, serr end
    local copied, seen, state = {}, { [subject:digest()] = true }, { listed = 0 }
    local function walk(d, level)
      local list, lmsg, lerr = s:referrers(d:digest(), opts and opts.artifact_type)
      if not list then return nil, lmsg, lerr end
      if level > M.MAX_DEPTH and #list > 0 then -- never copied short in silence
        return util.fail("too_big", ("copy_referrers: the graph is deeper than %d"):format(M.MAX_DEPTH))
      end
      local within
      within, lmsg, lerr = count_listed(state, #list, "copy_referrers")
      if not within then return nil, lmsg, lerr end
      for _, r in ipairs(list) do
        if not seen[r:digest()] then
          seen[r:digest()] = true
          if #copied >= M.MAX_NODES then
            return util.fail("too_big", ("copy_referrers: more than %d referrers"):format(M.MAX_NODES))
          end
          local cok, cmsg, cerr = copy_document(s, t, r)
          if not cok then return nil, cmsg, cerr end
          copied[#copied + 1] = r
          cok, cmsg, cerr = walk(r, level + 1)
          if not cok then return nil, cmsg, cerr end
        end
      end
      return true
    end
    local wok, wmsg, werr = walk(subject, 1)
    if not wok then return nil, wmsg, werr end
    wok, wmsg, werr = t:finish()
    if not wok then return nil, wmsg, werr end
    return copied
  end)
  t:close()
  if not ok then error(a, 0) end
  return a, b, c
end

return M
