--- Mirroring one repository to another, as `skopeo sync` does for one
-- repository: every tag (or those a regular expression selects) whose
-- manifest is not already at the destination under the same digest is
-- copied (`client:copy`: manifests byte for byte, blobs mounted or
-- streamed); a tag already there costs one HEAD at each side. Exposed as
-- `ocispec.registry.sync`.
-- @module ocispec.sync
local util = require "ocispec.util"

local M = {}

local SYNC_KEYS = { filter = true, src = true, dst = true }

-- opts without the sync keys, the side's own table laid over the rest.
local function side(opts, name)
  local o = {}
  for k, v in pairs(opts) do
    if not SYNC_KEYS[k] then o[k] = v end
  end
  for k, v in pairs(type(opts[name]) == "table" and opts[name] or {}) do o[k] = v end
  return o
end

--- Copies the tags of `src` ("host/repo") to `dst` ("host/repo").
-- Options: `filter` (a POSIX extended regular expression: only the tags it
-- matches), `src` and `dst` (connection options of one side, laid over the
-- others), and the connection options of `registry.connect`.
-- @tparam string src
-- @tparam string dst
-- @tparam[opt] table opts
-- @return `{copied = {tag,...}, skipped = {tag,...}, failed = {{tag=,
-- message=, err=},...}}` (in tag order), or nil, message, err when the
-- repositories cannot be listed or reached
function M.sync(src, dst, opts)
  local reg = require "ocispec.registry"
  opts = opts or {}
  if type(opts) ~= "table" then error("bad argument #3 to 'sync' (options must be a table)", 2) end
  local rs, msg, err = reg.parse_reference(src)
  if not rs then return nil, msg, err end
  local rd
  rd, msg, err = reg.parse_reference(dst)
  if not rd then return nil, msg, err end
  if src:find("[:@][^/]*$") or dst:find("[:@][^/]*$") then
    return util.fail("invalid", "sync: SRC and DST name repositories (host/repo), without a tag or digest")
  end
  local cs, cd
  cs, msg, err = reg.connect(rs.host, side(opts, "src"))
  if not cs then return nil, msg, err end
  cd, msg, err = reg.connect(rd.host, side(opts, "dst"))
  if not cd then
    cs:close()
    return nil, msg, err
  end
  local function done(...)
    cs:close()
    cd:close()
    return ...
  end
  local tags
  tags, msg, err = cs:tags(rs.repository)
  if not tags then return done(nil, msg, err) end
  if opts.filter then
    tags, msg, err = reg.filter_tags(tags, opts.filter)
    if not tags then return done(nil, msg, err) end
  end
  table.sort(tags)
  local out = { copied = {}, skipped = {}, failed = {} }
  for _, tag in ipairs(tags) do
    local sd, smsg, serr = cs:head_manifest(rs.repository, tag)
    if not sd then
      out.failed[#out.failed + 1] = { tag = tag, message = smsg or "the tag went away at the source", err = serr }
    else
      local dd = cd:head_manifest(rd.repository, tag)
      if dd and dd:digest() == sd:digest() then
        out.skipped[#out.skipped + 1] = tag
      else
        local d, cmsg, cerr = cs:copy(rs.repository, sd:digest(), cd, rd.repository, tag)
        if d then
          out.copied[#out.copied + 1] = tag
        else
          out.failed[#out.failed + 1] = { tag = tag, message = cmsg, err = cerr }
        end
      end
    end
  end
  return done(out)
end

return M
