--- OCI image layouts on disk (image-spec image-layout.md).
--
--    local L = assert(oci.layout.create("dir"))
--    local d = assert(L:put_blob("hello", "text/plain"))
--    assert(L:tag(d, "v1"))
--    assert(L:verify())
--
-- `create(dir)` makes a layout (or opens the one there), `open(dir)` opens
-- one; the handle has:
--
-- * `L:path()`, `L:blob_path(digest)`, `L:has_blob(digest)`
-- * `L:put_blob(bytes [, media_type])`, `L:put_blob_file(path [,
--   media_type])`, `L:blob_writer([media_type])` (`w:write(s)`, `w:size()`,
--   `w:commit([digest])`, `w:abort()`): each gives a `Descriptor`
-- * `L:temp_path()` and `L:adopt_blob(tmp, digest, size [, media_type])`
--   for producers that write blobs themselves (the layer builder)
-- * `L:get_blob(d)`, `L:get_document(d, Type)`: size and digest verified
-- * `L:put_document(obj [, {annotations=, platform=}])`: the `Descriptor`
--   of `obj:to_json()`
-- * `L:tag(desc, name)`, `L:untag(name)`, `L:list()`, `L:index()`
-- * `L:add(desc)`: an index.json entry without a name (an attached
--   artifact: gc keeps it), once per digest
-- * `L:resolve(name_or_digest [, {platform=}])`: `{descriptor=, manifest=,
--   config=, layers=, index=}`, following indexes to the platform's manifest
-- * `L:gc([{drop_referrers=}])`: removes blobs unreachable from index.json
--   (the referrers of what stays are kept unless `drop_referrers`), gives
--   their digests
-- * `L:verify()`: `true, warnings` or `nil, message, err` with
--   `err.problems` (every blob, document, diff_id and layer compression
--   checked)
-- * `L:close()` (also `<close>` and garbage collection; a closed handle
--   raises `attempt to use a closed ocispec.layout.Layout`)
--
-- Every blob and index.json is written to a temporary file, fsynced and
-- renamed: a blob's path only ever holds the whole, verified content.
-- `tag`, `untag` and `gc` hold a lock, so concurrent writers lose no tag.
-- Everything below the layout's root is untrusted: nothing there is
-- followed through a symbolic link, only regular files are read, and
-- digests pass the digest grammar before a path is built from them.
-- Failures return nil, message, err (`err.code`, `err.message`).
-- @module ocispec.layout
local core = require "ocispec.core"
local util = require "ocispec.util"

if not core.layout then return util.unavailable({}, "ocispec.layout", "OCISPEC_WITH_IMAGE") end
return setmetatable({}, { __index = core.layout })
