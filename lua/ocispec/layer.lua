--- Reproducible image layers (image-spec layer.md).
--
--    local layer = require("ocispec").layer
--    local r = assert(layer.build{ dir = "rootfs", output = "blob.tar.gz" })
--    print(r.diff_id, r.digest, r.size, r.media_type)
--    for _, e in ipairs(assert(layer.entries("blob.tar.gz"))) do print(e.type, e.path) end
--
-- `build{...}` takes exactly one of `dir`, `entries` or `lower` + `upper`
-- (the changeset between two trees, with whiteouts), and `output`,
-- `compression` ("gzip" default, "zstd", "none"), `level`, `threads`
-- ("auto", the default: one compressing thread per CPU this process may
-- run on, see `threads_auto()`; 1 to 64: that many; both in the parallel
-- format whose bytes are the same for every count: zstd's multi-threaded
-- mode, gzip block-parallel as pigz; 0: compressed on one thread beside
-- the tar's, the single-threaded bytes, the default before 2026-12-05,
-- see NEWS.md), `mtime` (clamp;
-- default $SOURCE_DATE_EPOCH), `uid`, `gid` (owner override), `rootless`
-- (owners from umoci's user.rootlesscontainers xattrs, root otherwise; the
-- xattr is not stored), `uid_map`/`gid_map` (lists of
-- "CONTAINER:HOST[:SIZE]": host owners back to the container's). It returns
-- `{diff_id=, digest=, size=, media_type=, path=, uncompressed_size=,
-- entry_count=, skipped=}` or nil, message, err. `entries(path)` lists a
-- blob's entries in tar order: `{path, type, mode, uid, gid, mtime, size,
-- target, major, minor}` each. `decompress(path, out [, max_bytes])`
-- writes a blob's uncompressed stream (gzip, zstd or none, detected) to
-- the new file `out` (nil: nothing written, only hashed) and returns
-- `{diff_id=, size=}`.
--
-- Sources: `dir` (the tree below it; hard links become tar hard links,
-- symlinks are stored, sockets left out and counted in `skipped`; xattrs
-- of the user., trusted. and security. namespaces, not security.selinux,
-- as PAX SCHILY.xattr.* records; a file with holes stored sparse, PAX GNU
-- sparse 1.0);
-- `entries`, a list of `{path=, type=, mode=, uid=, gid=, mtime=}` with
-- `type` one of "file" (`source=` or `content=`), "dir", "symlink"
-- (`target`), "hardlink" (`target`: another entry), "char", "block"
-- (`major`, `minor`), "fifo" (absolute paths, `..`, duplicates and links to
-- missing entries are errors naming the entry); `lower` + `upper`: added
-- and modified entries stored whole, removed ones as `.wh.<name>`
-- whiteouts, a directory emptied of its lower entries as an opaque
-- whiteout.
--
-- Reproducible: two builds of equal trees give equal bytes (entries sorted
-- bytewise, whole-second mtimes clamped to `mtime`, no atime or ctime,
-- empty user and group names, ustar headers with pax only when needed,
-- gzip header without time or name). On failure `output` is not created,
-- and a file already there is left as it was.
-- @module ocispec.layer
local core = require "ocispec.core"
local util = require "ocispec.util"

if not core.layer then return util.unavailable({}, "ocispec.layer", "OCISPEC_WITH_IMAGE") end
local M = setmetatable({}, { __index = core.layer })

--- Media type of each compression name.
M.media_types = core.layer.media_types

--- The most compression threads `build` takes (64).
M.threads_max = core.layer.threads_max

--- The compressing threads `threads = "auto"` (the default) starts in this
-- process: the CPUs it may run on (sched_getaffinity), 1 to 64.
-- @function threads_auto
M.threads_auto = core.layer.threads_auto

--- The compression names `build` accepts.
M.compressions = { "gzip", "zstd", "none" }

local TRANSFORM_OPTS = {
  output = true, layout = true, compression = true, level = true, mtime = true, uid = true,
  gid = true, finish = true, max_bytes = true, max_entries = true, max_read = true, threads = true,
}

--- Rewrite a layer blob entry by entry, in one pass, without unpacking it.
--
-- `blob` is a blob file path, or `{layout = L, descriptor = d}` (a Layout
-- and a Descriptor or table with `digest` and `size`: the blob is opened in
-- the layout, never through a planted link, and checked against the digest
-- and size as it streams). `fn(entry, add)` sees each entry in tar order:
-- `{path, type, mode, uid, gid, uname, gname, mtime, size, linkname, major,
-- minor, xattrs = {name = value}}` (+ `whiteout` = the path a `.wh.` entry
-- hides, `opaque` = true for `.wh..wh..opq`); `entry:read()` returns a
-- file's content whole (at most `max_read` bytes, default 64 MiB). It
-- returns nil or true to keep the entry, false to drop it, or a table of
-- the fields to change: `path`, `mode`, `uid`, `gid`, `uname`, `gname`,
-- `mtime`, `linkname`, `major`, `minor`, `xattrs` (the whole set), and for
-- a file `content` (a string, or `function(write)` calling `write(chunk)`)
-- or `source` (a file path). `add(entry)` writes a new entry (the fields of
-- `layer.build`'s entries, `linkname` for the target) before the current
-- one; `opts.finish(add)` runs after the last entry.
--
-- `opts`: `output` (a file path, written atomically) or `layout` (a Layout:
-- the new blob is stored in it); `compression` ("gzip", "zstd" or "none";
-- default: the input's), `level`, `mtime` (clamp; default
-- $SOURCE_DATE_EPOCH), `uid`, `gid` (owner override), `threads` (as
-- `build`'s: "auto" by default, 0 for the single-threaded bytes),
-- `max_bytes`, `max_entries`, `max_read`. Returns `{mediaType, digest, size, diff_id,
-- entry_count, uncompressed_size, path}` or nil, message, err. An error the
-- callback raises is raised again after the output is cleaned up.
-- @param blob a path or `{layout =, descriptor =}`
-- @param fn the per-entry callback (nil: keep every entry)
-- @param opts options (see above)
function M.transform(blob, fn, opts)
  if fn ~= nil and type(fn) ~= "function" then
    error("layer.transform: fn must be a function, got " .. type(fn), 2)
  end
  opts = opts or {}
  if type(opts) ~= "table" then error("layer.transform: opts must be a table, got " .. type(opts), 2) end
  for k in pairs(opts) do
    if not TRANSFORM_OPTS[k] then error(('layer.transform: unknown option "%s"'):format(tostring(k)), 2) end
  end
  local args = {}
  for k, v in pairs(opts) do
    if k ~= "output" and k ~= "layout" then args[k] = v end
  end
  args.fn = fn
  if type(blob) == "string" then
    args.input = blob
  elseif type(blob) == "table" and blob.layout ~= nil then
    local d = blob.descriptor
    if type(d) == "userdata" then d = d:to_table() end
    if type(d) ~= "table" then
      error("layer.transform: blob.descriptor must be a Descriptor or table, got " .. type(d), 2)
    end
    args.layout, args.digest, args.size = blob.layout, d.digest, d.size
  else
    error("layer.transform: blob must be a path or {layout=, descriptor=}, got " .. type(blob), 2)
  end
  local into = opts.layout
  if (opts.output == nil) == (into == nil) then
    return util.fail("invalid", "layer.transform: give output (a path) or layout")
  end
  args.output = opts.output or into:temp_path()
  local r, msg, err = core.layer.transform(args)
  if not r then
    if into then os.remove(args.output) end
    return nil, msg, err
  end
  local out = {
    mediaType = r.media_type, digest = r.digest, size = r.size, diff_id = r.diff_id,
    entry_count = r.entry_count, uncompressed_size = r.uncompressed_size, path = r.path,
  }
  if into then
    local desc
    desc, msg, err = into:adopt_blob(r.path, r.digest, r.size, r.media_type)
    if not desc then
      os.remove(args.output)
      return nil, msg, err
    end
    out.path = into:blob_path(r.digest)
  end
  return out
end

return M
