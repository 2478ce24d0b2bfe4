--- Mirroring, as `skopeo sync` does: one repository to another (`sync`),
-- or a list of images from several registries (`sync_list`, the form of
-- skopeo's `--src yaml` file). A tag whose manifest is already at the
-- destination under the same digest costs one HEAD at each side; the
-- others are copied (`client:copy`: manifests byte for byte, blobs mounted
-- or streamed, `jobs` at once). Exposed as `ocispec.registry.sync` and
-- `ocispec.registry.sync_list`.
-- @module ocispec.sync
local util = require "ocispec.util"
local tags_lib = require "ocispec.tags"

local M = {}

local SYNC_KEYS = { filter = true, semver = true, src = true, dst = true, scoped = true, referrers = true }

--- How deep a referrers graph is followed (a referrer's referrers...), and
-- how many referrers one image may bring (more: that tag fails). A source
-- is attacker-controlled: a deeper graph fails too (never cut short in
-- silence), and the entries its referrers indexes list are counted, seen
-- or not, up to 4 * REFERRERS_MAX (indexes that list the same referrers
-- over and over cost their parse each time).
M.REFERRERS_DEPTH = 8
M.REFERRERS_MAX = 10000

-- Copies the referrers graph of the image ref (a tag or digest) of
-- cs:src_repo to cd:dst_repo, as `copy --referrers` does (the referrers
-- API, or the tag schema fallback, at each side): each referrer, then its
-- own, to REFERRERS_DEPTH, each once; one the destination has already (a
-- HEAD) is not copied again, but its referrers are still followed. ->
-- the count copied, or nil, message, err.
local function copy_referrers(cs, src_repo, cd, dst_repo, ref)
  local digest = ref
  if not ref:find(":", 1, true) then
    local d, msg, err = cs:head_manifest(src_repo, ref)
    if d == false then return util.fail("registry", ("%s:%s: no such manifest"):format(src_repo, ref)) end
    if not d then return nil, msg, err end
    digest = d:digest()
  end
  local seen, n, count, listed = { [digest] = true }, 0, 0, 0
  local function walk(d, level)
    local idx, msg, err = cs:referrers(src_repo, d)
    if not idx then return nil, msg, err end
    local list = idx:manifests()
    if level > M.REFERRERS_DEPTH and #list > 0 then
      return util.fail("too_big", ("referrers of %s: the graph is deeper than %d"):format(digest,
        M.REFERRERS_DEPTH))
    end
    listed = listed + #list
    if listed > 4 * M.REFERRERS_MAX then
      return util.fail("too_big", ("referrers of %s: more than %d entries listed"):format(digest,
        4 * M.REFERRERS_MAX))
    end
    for _, r in ipairs(list) do
      local rd = r:digest()
      if not seen[rd] then
        seen[rd] = true
        n = n + 1
        if n > M.REFERRERS_MAX then
          return util.fail("too_big", ("referrers of %s: more than %d"):format(digest, M.REFERRERS_MAX))
        end
        local there
        there, msg, err = cd:head_manifest(dst_repo, rd)
        if there == nil then return nil, msg, err end
        if not there then
          local ok
          ok, msg, err = cs:copy(src_repo, rd, cd, dst_repo)
          if not ok then return nil, msg, err end
          count = count + 1
        end
        local ok
        ok, msg, err = walk(rd, level + 1)
        if not ok then return nil, msg, err end
      end
    end
    return true
  end
  local ok, msg, err = walk(digest, 1)
  if not ok then return nil, msg, err end
  return count
end

-- opts without the sync keys, the side's own table laid over the rest.
local function side(opts, name)
  local o = {}
  for k, v in pairs(opts) do
    if not SYNC_KEYS[k] then o[k] = v end
  end
  for k, v in pairs(type(opts[name]) == "table" and opts[name] or {}) do o[k] = v end
  return o
end

-- Copies each of `refs` (tags or digests) of cs:src_repo to cd:dst_repo
-- unless the destination has the same digest, `jobs` images at once
-- (client:sync_refs); records each under `name(ref)` in out.copied /
-- out.skipped / out.failed. With referrers, each image copied or skipped
-- then gets its referrers (counted in out.referrers; a failure there makes
-- the tag a failure). nil, message, err: the progress callback canceled.
local function sync_refs(cs, src_repo, cd, dst_repo, refs, out, name, referrers)
  local res, msg, err = cs:sync_refs(src_repo, refs, cd, dst_repo)
  if not res then return nil, msg, err end
  for _, r in ipairs(res) do
    if referrers and r.result ~= "failed" then
      local n, rmsg, rerr = copy_referrers(cs, src_repo, cd, dst_repo, r.reference)
      if n then
        out.referrers = out.referrers + n
      else
        r = { reference = r.reference, result = "failed", message = "referrers: " .. rmsg, err = rerr }
      end
    end
    if r.result == "copied" then
      out.copied[#out.copied + 1] = name(r.reference)
    elseif r.result == "skipped" then
      out.skipped[#out.skipped + 1] = name(r.reference)
    else
      out.failed[#out.failed + 1] = { tag = name(r.reference), message = r.message, err = r.err }
    end
  end
  return true
end

-- The tags of repo at client c that the selection keeps, sorted.
local function select_tags(c, repo, regex, range)
  local tags, msg, err = c:tags(repo)
  if not tags then return nil, msg, err end
  if regex then
    tags, msg, err = tags_lib.filter(tags, regex)
    if not tags then return nil, msg, err end
  end
  if range then
    tags, msg, err = tags_lib.filter_semver(tags, range)
    if not tags then return nil, msg, err end
  end
  table.sort(tags)
  return tags
end

--- Copies the tags of `src` ("host/repo") to `dst` ("host/repo").
-- Options: `filter` (a POSIX extended regular expression: only the tags it
-- matches), `semver` (a semantic-version range, `ocispec.tags.semver_range`:
-- only the tags inside it; with `filter`, both must hold), `referrers`
-- (`true`: also copy the referrers graph of each image copied or skipped:
-- its signatures, SBOMs and other artifacts, and theirs, through the
-- referrers API or the tag schema fallback; those the destination has
-- cost a HEAD), `src` and `dst` (connection options of one side, laid over
-- the others), and the connection options of `registry.connect`.
-- @tparam string src
-- @tparam string dst
-- @tparam[opt] table opts
-- @return `{copied = {tag,...}, skipped = {tag,...}, failed = {{tag=,
-- message=, err=},...}, referrers = N}` (in tag order; N: referrers
-- copied), or nil, message, err when the repositories cannot be listed or
-- reached
function M.sync(src, dst, opts)
  local reg = require "ocispec.registry"
  opts = opts or {}
  if type(opts) ~= "table" then error("bad argument #3 to 'sync' (options must be a table)", 2) end
  if opts.scoped ~= nil then error('unknown option "scoped" (sync_list only)', 2) end
  if opts.referrers ~= nil and type(opts.referrers) ~= "boolean" then
    error("bad argument #3 to 'sync' (option 'referrers' must be a boolean)", 2)
  end
  local rs, msg, err = reg.parse_reference(src)
  if not rs then return nil, msg, err end
  local rd
  rd, msg, err = reg.parse_reference(dst)
  if not rd then return nil, msg, err end
  if src:find("[:@][^/]*$") or dst:find("[:@][^/]*$") then
    return util.fail("invalid", "sync: SRC and DST name repositories (host/repo), without a tag or digest")
  end
  if opts.semver ~= nil then
    local ok
    ok, msg, err = tags_lib.semver_range(opts.semver)
    if not ok then return nil, msg, err end
  end
  local cs, cd
  cs, msg, err = reg.connect(rs.host, side(opts, "src"))
  if not cs then return nil, msg, err end
  cd, msg, err = reg.connect(rd.host, side(opts, "dst"))
  if not cd then
    cs:close()
    return nil, msg, err
  end
  local tags
  tags, msg, err = select_tags(cs, rs.repository, opts.filter, opts.semver)
  local out = { copied = {}, skipped = {}, failed = {}, referrers = 0 }
  local done = tags
  if tags then
    done, msg, err = sync_refs(cs, rs.repository, cd, rd.repository, tags, out, function(t) return t end,
      opts.referrers)
  end
  cs:close()
  cd:close()
  if not done then return nil, msg, err end
  return out
end

-- ------------------------------------------------------------ lists

local REGISTRY_KEYS = {
  images = "table", ["images-by-tag-regex"] = "table", ["images-by-semver"] = "table",
  credentials = "table", ["tls-verify"] = "boolean", ["cert-dir"] = "string",
  -- ours: skopeo's tls-verify=false also falls back to plain http; the
  -- client does not guess, so plain http is said
  ["plain-http"] = "boolean",
}

-- Checks one registry's entry of the list; returns nil or the reason.
local function check_entry(host, e)
  local reg = require "ocispec.registry"
  if type(host) ~= "string" or not reg.parse_reference(host .. "/x") then
    return ("%q is not a registry host"):format(tostring(host))
  end
  if type(e) ~= "table" then return ("%s: a table of images expected"):format(host) end
  for k, v in pairs(e) do
    if not REGISTRY_KEYS[k] then return ("%s: unknown key %q"):format(host, tostring(k)) end
    if type(v) ~= REGISTRY_KEYS[k] then
      return ("%s: %s: %s expected, got %s"):format(host, k, REGISTRY_KEYS[k], type(v))
    end
  end
  for key, kind in pairs({ images = "list", ["images-by-tag-regex"] = "regex", ["images-by-semver"] = "range" }) do
    for repo, sel in pairs(e[key] or {}) do
      if type(repo) ~= "string" or not reg.parse_reference(host .. "/" .. repo) or repo:find("[:@]") then
        return ("%s: %s: %q is not a repository"):format(host, key, tostring(repo))
      end
      if kind == "list" then
        if type(sel) ~= "table" then return ("%s: images: %s: a list of tags expected"):format(host, repo) end
        for i, t in ipairs(sel) do
          if type(t) ~= "string" then
            return ("%s: images: %s[%d]: %s is not a string (quote tags like \"1.10\" in YAML)"):format(
              host, repo, i, tostring(t))
          end
          local ok = t:find(":", 1, true) and require("ocispec.core").digest.parse(t)
            or require("ocispec.core").check.tag(t)
          if not ok then return ("%s: images: %s: %q is neither a tag nor a digest"):format(host, repo, t) end
        end
      elseif type(sel) ~= "string" then
        return ("%s: %s: %s: a string expected"):format(host, key, repo)
      elseif kind == "regex" then
        local ok, why = require("ocispec.core").check.regex_find(sel, "")
        if ok == nil then return ("%s: %s: %s: %s"):format(host, key, repo, why) end
      else
        local ok, why = tags_lib.semver_range(sel)
        if not ok then return ("%s: %s: %s: %s"):format(host, key, repo, why) end
      end
    end
  end
  if e.credentials then
    for k, v in pairs(e.credentials) do
      if (k ~= "username" and k ~= "password") or type(v) ~= "string" then
        return ("%s: credentials: only username and password (strings)"):format(host)
      end
    end
  end
  return nil
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

--- Mirrors a list of images from one or more registries into `dst`
-- ("host/prefix"), as `skopeo sync --src yaml --dest docker` does. `list`
-- is the content of skopeo's YAML file (`lyaml.load` gives it; the CLI
-- reads YAML and JSON): registry host -> `{images = {repo = {tag or
-- digest, ...}} ({} = every tag), ["images-by-tag-regex"] = {repo =
-- regex}, ["images-by-semver"] = {repo = range}, credentials = {username=,
-- password=}, ["tls-verify"] = false, ["plain-http"] = true}`. Each
-- repository goes to `dst/<last path component>` (skopeo's naming), or
-- with `scoped = true` to `dst/<host>/<repo>`. The whole list is checked
-- before anything is contacted. Options: `scoped`, `referrers` (as
-- `sync`'s), `src` and `dst`
-- connection options laid over the rest, and those of `registry.connect`
-- (a registry's own entry is laid over `src`).
-- @tparam table list
-- @tparam string dst
-- @tparam[opt] table opts
-- @return `{copied = {ref,...}, skipped = {ref,...}, failed = {{tag=ref,
-- message=, err=},...}, referrers = N}` with each `ref` the source "host/repo:tag" (or
-- "@digest"), or nil, message, err (a malformed list, an unreachable
-- destination)
function M.sync_list(list, dst, opts)
  local reg = require "ocispec.registry"
  opts = opts or {}
  if type(list) ~= "table" then error("bad argument #1 to 'sync_list' (table expected)", 2) end
  if type(opts) ~= "table" then error("bad argument #3 to 'sync_list' (options must be a table)", 2) end
  if opts.filter ~= nil or opts.semver ~= nil then
    local key = opts.filter ~= nil and "filter" or "semver"
    error('unknown option "' .. key .. '" (sync only; the list selects tags)', 2)
  end
  if opts.referrers ~= nil and type(opts.referrers) ~= "boolean" then
    error("bad argument #3 to 'sync_list' (option 'referrers' must be a boolean)", 2)
  end
  for host, e in pairs(list) do
    local why = check_entry(host, e)
    if why then return util.fail("invalid", "sync list: " .. why) end
  end
  if next(list) == nil then return util.fail("invalid", "sync list: no registry in the list") end
  local rd = reg.parse_reference(dst)
  if not rd or dst:find("[:@][^/]*$") then
    return util.fail("invalid", ("sync list: destination %q is not host/prefix"):format(dst))
  end
  local prefix = dst:match("^[^/]+/(.*)$")
  local cd, msg, err = reg.connect(rd.host, side(opts, "dst"))
  if not cd then return nil, msg, err end
  local out = { copied = {}, skipped = {}, failed = {}, referrers = 0 }
  local function record_failure(what, m, e) out.failed[#out.failed + 1] = { tag = what, message = m, err = e } end
  for _, host in ipairs(sorted_keys(list)) do
    local e = list[host]
    local o = side(opts, "src")
    if e["tls-verify"] == false then o.tls_verify = false end
    if e["plain-http"] ~= nil then o.plain_http = e["plain-http"] end
    if e.credentials then o.username, o.password = e.credentials.username, e.credentials.password end
    local cs, cmsg, cerr = reg.connect(host, o)
    -- every repository of the list, with what selects its tags
    local repos, order = {}, {}
    local function want(repo)
      if not repos[repo] then
        repos[repo] = { lists = {}, regex = {}, range = {} }
        order[#order + 1] = repo
      end
      return repos[repo]
    end
    for repo, l in pairs(e.images or {}) do want(repo).lists[#want(repo).lists + 1] = l end
    for repo, r in pairs(e["images-by-tag-regex"] or {}) do want(repo).regex[#want(repo).regex + 1] = r end
    for repo, r in pairs(e["images-by-semver"] or {}) do want(repo).range[#want(repo).range + 1] = r end
    table.sort(order)
    for _, repo in ipairs(order) do
      local sel = repos[repo]
      local target = opts.scoped and (host .. "/" .. repo) or repo:match("([^/]+)$")
      local dst_repo = prefix and (prefix .. "/" .. target) or target
      local function name(ref)
        return host .. "/" .. repo .. (ref:find(":", 1, true) and "@" or ":") .. ref
      end
      if not cs then
        record_failure(host .. "/" .. repo, cmsg, cerr)
      elseif opts.scoped and not reg.parse_reference(rd.host .. "/" .. dst_repo) then
        record_failure(host .. "/" .. repo, ("scoped destination %s/%s is not a valid repository"):format(
          rd.host, dst_repo))
      else
        -- the union of what each selector picks, in order, once
        local refs, seen, all = {}, {}, nil
        local function add(r)
          if not seen[r] then
            seen[r] = true
            refs[#refs + 1] = r
          end
        end
        local failed_listing = false
        local function listed()
          if all == nil and not failed_listing then
            local t, lmsg, lerr = select_tags(cs, repo)
            if t then all = t else record_failure(host .. "/" .. repo, lmsg, lerr); failed_listing = true end
          end
          return all
        end
        for _, l in ipairs(sel.lists) do
          if #l == 0 then
            for _, t in ipairs(listed() or {}) do add(t) end
          else
            for _, t in ipairs(l) do add(t) end
          end
        end
        for _, r in ipairs(sel.regex) do
          for _, t in ipairs(assert(tags_lib.filter(listed() or {}, r))) do add(t) end
        end
        for _, r in ipairs(sel.range) do
          for _, t in ipairs(assert(tags_lib.filter_semver(listed() or {}, r))) do add(t) end
        end
        local done, smsg, serr = sync_refs(cs, repo, cd, dst_repo, refs, out, name, opts.referrers)
        if not done then
          cs:close()
          cd:close()
          return nil, smsg, serr
        end
      end
    end
    if cs then cs:close() end
  end
  cd:close()
  return out
end

return M
