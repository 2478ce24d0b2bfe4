--- Registry client (distribution-spec): push, pull and copy images,
-- list tags, read and write manifests and blobs.
--
--    local registry = require("ocispec").registry
--    local desc, stats = assert(registry.push("image-layout", "1.0",
--      "127.0.0.1:5000/demo:1.0", { plain_http = true }))
--
-- `connect(host, opts)` gives a client that keeps its connection and
-- tokens. Its methods: `host()`, `ping()`;
-- `get_manifest(repo, ref [, accept])` (an `ImageManifest` or `ImageIndex`,
-- and its descriptor; the digest is checked), `get_manifest_raw`,
-- `head_manifest` (`false` on 404), `put_manifest(repo, ref, doc [, mt])`
-- (a document with a subject also updates the referrers tag schema index
-- when the registry does not answer OCI-Subject),
-- `delete_manifest`; `has_blob(repo, digest)` (its size, or `false`),
-- `get_blob(repo, digest_or_desc [, max_bytes])` (verified bytes, 64 MiB at
-- most by default), `get_blob_to_layout(repo, desc, layout)`,
-- `push_blob(repo, bytes [, mt])`, `push_blob_file(repo, path [, mt])`,
-- `push_blob_from_layout(repo, layout, desc)`, `mount_blob(repo, from_repo,
-- digest)`, `delete_blob`; `tags(repo)`, `tags_page(repo, n [, last])`,
-- `catalog()`, `catalog_page(n [, last])`, `referrers(repo, digest [,
-- artifact_type])`; whole images with `push(layout, name, repo [, tag])`,
-- `pull(repo, ref, layout [, name [, platform]])` and `copy(src_repo,
-- src_ref, dst_client, dst_repo [, dst_tag])`; `sync_refs(src_repo, refs,
-- dst_client, dst_repo)` (copies each tag or digest of refs that the
-- destination lacks, `jobs` images at once: `{{reference=, result =
-- "copied"|"skipped"|"failed", message=, err=},...}`); `stats()`,
-- `last_response()` and `close()`.
--
-- Failures return `nil, message, err`: `err.code` is the status name
-- (`"registry"`, `"network"`, `"mismatch"`, `"canceled"`, `"invalid"`,
-- `"io"`, ...) and `err.http`, for `"registry"` and `"network"`, describes
-- the failed request: `{status=, method=, url=, body=, content_type=,
-- codes=, response=}` (`response`: the body as a
-- `distribution.ErrorResponse` when it is one). Credentials never appear
-- in messages.
--
-- Classes: TokenResponse (token-spec), AuthConfig and AuthEntry (Docker
-- config.json, containers auth.json), HelperReply (a credential helper's
-- `get` output), each with its `<Name>Builder()`.
-- @module ocispec.registry
local core = require "ocispec.core"
local distribution = require "ocispec.distribution"
local layout = require "ocispec.layout"
local util = require "ocispec.util"

-- Built without OCISPEC_WITH_REGISTRY: the classes, host_of and
-- parse_reference work; the client raises where it is used.
local creg = util.core_part("registry", "ocispec.registry", "OCISPEC_WITH_REGISTRY")

local M = {}
-- The client's own documents, as classes like every other type:
-- TokenResponse (token-spec), AuthConfig and AuthEntry (Docker
-- config.json, containers auth.json), HelperReply (a credential helper's
-- `get` output), each with its `<Name>Builder()`.
util.export_classes(M, "registry")

--- Largest manifest accepted (4 MiB, distribution-spec's limit).
M.MANIFEST_MAX = core.registry and creg.MANIFEST_MAX
--- Default `max_bytes` of `client:get_blob` (64 MiB).
M.GET_BLOB_MAX = core.registry and creg.GET_BLOB_MAX
--- The Accept header of manifest requests (OCI and Docker v2 manifests
-- and indexes).
M.ACCEPT_MANIFESTS = core.registry and creg.ACCEPT_MANIFESTS

-- Hosts contacted for a reference's registry part (values.def's hosts).
local HOSTS = core.values.hosts
local HOST_ALIASES = {
  [HOSTS.docker_hub] = HOSTS.docker_hub_api,
  [HOSTS.docker_hub_index] = HOSTS.docker_hub_api,
}

--- The host a registry name is contacted at: `docker.io` (and
-- `index.docker.io`) is `registry-1.docker.io`, others are themselves.
-- @tparam string registry the registry part of a reference
-- @treturn string
function M.host_of(registry)
  return HOST_ALIASES[registry] or registry
end

--- Opens a client for `host` ("127.0.0.1:5000", "ghcr.io").
-- Options: `plain_http`, `tls_verify`, `ca_file`, `username`, `password`,
-- `auth_file` (a Docker config.json; `false` or `""`: none), `retries`,
-- `retry_delay_ms`, `retry_max_delay_ms`, `connect_timeout`,
-- `low_speed_timeout` (seconds), `low_speed_limit` (bytes/s), `chunk_size`,
-- `user_agent`, `max_fanout` (1000 entries per index), `max_nodes` (10000
-- documents per push, pull or copy), `max_pages` (1000) and
-- `max_list_bytes` (64 MiB) per listing, `jobs` (blobs moved at once by
-- push, pull and copy: 4; 1 to 64) and `progress`, a
-- function(digest, done, total) whose `false` (or error) cancels (always
-- called on the calling thread, also when worker threads move the blobs).
-- Credentials go only to the registry's own origin (scheme, host, port):
-- never with a redirect, to an upload location on another host only with
-- `allow_cross_host_auth = true`, and to a token realm over plain http
-- only with `allow_insecure_realm = true` (or when the registry itself is
-- plain http on the realm's host name). An unknown key raises (`unknown
-- option "plain_htpp"`), and so does a wrong type.
-- @tparam string host registry host, no scheme
-- @tparam[opt] table opts connection options
-- @return a client, or nil, message, err
function M.connect(host, opts)
  -- not a tail call: argument errors then name `connect`, not this file.
  -- The core maps docker.io to its API host itself, after finding Docker
  -- Hub's credentials (filed under index.docker.io) by the name.
  local c, msg, err = creg.connect(host, opts)
  return c, msg, err
end

--- Parses a reference "host/repo[:tag][@digest]" for the client calls.
-- @tparam string s the reference (docker.io normalisation applies)
-- @treturn table `{registry=, host=, repository=, tag=, digest=,
-- reference=}` where `reference` is the digest when there is one, else
-- the tag, and `host` is what `connect` is given (the registry name:
-- `connect` contacts docker.io at `host_of(host)`); or nil, message, err
function M.parse_reference(s)
  local r, msg, err = distribution.Reference.parse(s)
  if not r then return nil, msg, err end
  local t = {
    registry = r:registry(),
    repository = r:repository(),
    tag = r:tag(),
    digest = r:digest(),
    whole = r:whole(),
  }
  t.host = t.registry
  t.reference = t.digest or t.tag or "latest"
  return t
end

-- The connection options of one side of a copy: opts.src or opts.dst over
-- the common ones.
local function side_options(opts, side)
  if not opts then return opts end
  local o = {}
  for k, v in pairs(opts) do
    if k ~= "src" and k ~= "dst" then o[k] = v end
  end
  for k, v in pairs(type(opts[side]) == "table" and opts[side] or {}) do o[k] = v end
  return o
end

-- opts without the keys that are not connection options.
local function without(opts, ...)
  if not opts then return opts end
  local drop, o = {}, {}
  for _, k in ipairs({ ... }) do drop[k] = true end
  for k, v in pairs(opts) do
    if not drop[k] then o[k] = v end
  end
  return o
end

local function connect_ref(ref, opts)
  local r, msg, err = M.parse_reference(ref)
  if not r then return nil, msg, err end
  local c, cmsg, cerr = creg.connect(r.host, opts)
  if not c then return nil, cmsg, cerr end
  return c, r
end

-- A Layout from a Layout or a directory (create: the core's
-- layout.create, which opens an existing layout and makes a missing or
-- empty directory one); nil, message, err on failure.
local function get_layout(l, create)
  if type(l) ~= "string" then return l end
  return (create and layout.create or layout.open)(l)
end

-- Runs f(client...) and closes what it opened; returns f's results.
local function finish(clients, L, opened, ok, ...)
  if opened then L:close() end
  for _, c in ipairs(clients) do c:close() end
  if not ok then error(..., 0) end
  return ...
end

--- Pushes the image `name` (a ref name in the layout, or a digest) of a
-- layout to a reference: blobs the registry lacks, then manifests, the top
-- one under the reference's tag (a digest reference pushes by digest only).
-- @param layout_or_dir a Layout (ocispec.layout) or a directory
-- @tparam string name the image in the layout
-- @tparam string ref "host/repo[:tag]"
-- @tparam[opt] table opts connection options (see `connect`)
-- @return the pushed top Descriptor and the client's stats table, or nil,
-- message, err
function M.push(layout_or_dir, name, ref, opts)
  assert(type(name) == "string", "bad argument #2 to 'push' (string expected)")
  local opened = type(layout_or_dir) == "string"
  local L, lmsg, lerr = get_layout(layout_or_dir, false)
  if not L then return nil, lmsg, lerr end
  local c, r, err = connect_ref(ref, opts)
  if not c then
    if opened then L:close() end
    return nil, r, err
  end
  return finish({ c }, L, opened, pcall(function()
    local tag = not r.digest and r.tag or nil
    local d, msg, perr = c:push(L, name, r.repository, tag)
    if not d then return nil, msg, perr end
    return d, c:stats()
  end))
end

--- Pulls a reference into a layout: every blob verified as it streams,
-- then the image tagged `name` in the layout.
-- @tparam string ref "host/repo[:tag|@digest]"
-- @param layout_or_dir a Layout, or a directory (created when it holds no
-- layout)
-- @tparam[opt] string name the ref name in the layout (nil: the
-- reference's tag; a digest reference is recorded under its digest)
-- @tparam[opt] table opts connection options (see `connect`) and
-- `platform` ("linux/amd64", "linux/arm/v7" or `{os=, architecture=,
-- variant=}`; nil keeps every manifest of an index)
-- @return the pulled Descriptor and the client's stats table, or nil,
-- message, err
function M.pull(ref, layout_or_dir, name, opts)
  local c, r, err = connect_ref(ref, without(opts, "platform"))
  if not c then return nil, r, err end
  local L, lmsg, lerr = get_layout(layout_or_dir, true)
  if not L then
    c:close()
    return nil, lmsg, lerr
  end
  -- no name: the reference's tag; a digest reference is recorded under its
  -- digest (as skopeo does), so that the next gc keeps what was pulled
  if name == nil then name = r.digest or r.tag end
  return finish({ c }, L, type(layout_or_dir) == "string", pcall(function()
    local d, msg, perr = c:pull(r.repository, r.reference, L, name, opts and opts.platform)
    if not d then return nil, msg, perr end
    return d, c:stats()
  end))
end

local STAT_KEYS = {
  "requests", "blobs_uploaded", "blobs_skipped", "blobs_mounted", "blobs_downloaded",
  "bytes_uploaded", "bytes_downloaded", "manifests_pushed", "manifests_pulled",
}

--- Copies a reference to another, registry to registry: manifests byte
-- for byte; blobs mounted when both are in one registry, else streamed:
-- downloaded into a temporary file while the upload reads it as it
-- arrives, the upload withholding a blob's last byte unless its digest
-- matches.
-- @tparam string src "host/repo[:tag|@digest]"
-- @tparam string dst "host/repo[:tag]" (no tag: the source's tag)
-- @tparam[opt] table opts connection options for both sides; `opts.src`
-- and `opts.dst` hold options for one side over the common ones
-- @return the copied Descriptor and the stats (of both clients, added),
-- or nil, message, err
function M.copy(src, dst, opts)
  local rs, msg, err = M.parse_reference(src)
  if not rs then return nil, msg, err end
  local rd
  rd, msg, err = M.parse_reference(dst)
  if not rd then return nil, msg, err end
  local so, dopt = side_options(opts, "src"), side_options(opts, "dst")
  local cs
  cs, msg, err = creg.connect(rs.host, so)
  if not cs then return nil, msg, err end
  local cd = cs
  if rd.host ~= rs.host or (opts and (opts.src or opts.dst)) then
    cd, msg, err = creg.connect(rd.host, dopt)
    if not cd then
      cs:close()
      return nil, msg, err
    end
  end
  local clients = cd == cs and { cs } or { cs, cd }
  return finish(clients, nil, false, pcall(function()
    local tag = nil
    if rd.digest == nil then
      -- "host/b" takes the source's tag, not the "latest" of normalisation
      tag = dst:match(":[^/]*$") and rd.tag or rs.tag
    end
    local d, emsg, cerr = cs:copy(rs.repository, rs.reference, cd, rd.repository, tag)
    if not d then return nil, emsg, cerr end
    local stats = cs:stats()
    if cd ~= cs then
      local other = cd:stats()
      for _, k in ipairs(STAT_KEYS) do stats[k] = stats[k] + other[k] end
    end
    return d, stats
  end))
end

--- Every tag of a repository.
-- @tparam string repo "host/repo" (a tag or digest in it is ignored)
-- @tparam[opt] table opts connection options (see `connect`)
-- @return a list of tags, or nil, message, err
function M.tags(repo, opts)
  local c, r, err = connect_ref(repo, opts)
  if not c then return nil, r, err end
  return finish({ c }, nil, false, pcall(c.tags, c, r.repository))
end

if not core.registry then return util.unavailable(M, "ocispec.registry", "OCISPEC_WITH_REGISTRY") end
-- Login and logout (docker login/logout), credential helpers
-- (lua/ocispec/credentials.lua).
do
  local credentials = require "ocispec.credentials"
  M.login, M.logout = credentials.login, credentials.logout
end

-- Tag selection (lua/ocispec/tags.lua): filter_tags(tags, regex),
-- sort_tags(tags) (semver order first).
do
  local tags = require "ocispec.tags"
  M.filter_tags, M.sort_tags = tags.filter, tags.sort
  -- semver_range(range) -> function(tag), filter_semver(tags, range)
  M.semver_range, M.filter_semver = tags.semver_range, tags.filter_semver
end

-- Mirroring (lua/ocispec/sync.lua): sync(src_repo, dst_repo [, opts]),
-- sync_list(list, dst_prefix [, opts]).
M.sync = require("ocispec.sync").sync
M.sync_list = require("ocispec.sync").sync_list

--- Runs the credential helper `docker-credential-NAME ACTION` (from PATH,
-- no shell) with `input` on its stdin, bounded in time (`timeout_ms`,
-- default 30000) and output (64 KiB per stream).
-- @tparam string name the helper's name (letters, digits, `-`, `_`, `.`)
-- @tparam string action `get`, `store`, `erase` or `list`
-- @tparam string input its stdin
-- @tparam[opt] integer timeout_ms
-- @return `{status=, stdout=, stderr=}` (whatever its exit status), or
-- nil, message, err
function M.run_helper(name, action, input, timeout_ms)
  local r, msg, err = creg.run_helper(name, action, input, timeout_ms)
  return r, msg, err
end

return M
