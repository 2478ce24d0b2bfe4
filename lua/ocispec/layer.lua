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
-- (0, the default: compressed on one thread beside the tar's, the
-- single-threaded bytes; 1 to 64: that many compressing threads, in the
-- parallel format whose bytes are the same for every count: zstd's
-- multi-threaded mode, gzip block-parallel as pigz), `mtime` (clamp;
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

--- The compression names `build` accepts.
M.compressions = { "gzip", "zstd", "none" }

return M
