--- Reading an image's files without unpacking it.
--
--    local oci = require "ocispec"
--    local L = assert(oci.layout.open("image-layout"))
--    local img = assert(oci.image_reader(L, "latest"))
--    print(assert(img:read("/etc/os-release")))
--    for _, e in ipairs(assert(img:list("/etc"))) do print(e.type, e.path) end
--    img:close()
--
-- `oci.image_reader(layout, ref [, opts])` (also `reader.open`) opens image
-- `ref` (a tag or digest; an index resolves to the host's platform, or
-- `opts.platform`) of an open layout; its layer blobs are opened at once,
-- so the layout may be closed afterwards. opts: `platform`, `max_bytes`,
-- `max_entries` (per layer, as `oci.unpack.layer`), `max_read` (the largest
-- content `read` returns, default 64 MiB).
--
-- Methods (each returns `nil, message, err` on failure):
--
-- * `img:stat(path)`, `img:lstat(path)`: the entry at path, symbolic links
--   followed inside the image (`lstat`: not the last one): `{path=, type=,
--   mode=, uid=, gid=, mtime=, size=, target=, major=, minor=, layer=}`,
--   `path` the resolved path without a leading "/" ("" is the root), `type`
--   as `layer.entries` names it, `layer` the index (1 = base) of the layer
--   that holds it (nil: a directory that no layer names but a layer writes
--   into). A missing path is an error whose message says "no such file or
--   directory" (err.code "io").
-- * `img:read(path)`: the content of a regular file (links followed, hard
--   links to their target).
-- * `img:list(path)`: the entries of a directory, sorted by path.
-- * `img:layers_read()`: how many layer blobs were read so far.
--
-- The layers are streamed newest first (nothing is written to disk) with
-- the unpacker's rules: whiteouts and opaque whiteouts hide what lower
-- layers hold, and a layer's own entries survive its whiteouts. Reading
-- stops at the first layer below which nothing can change the answer: a
-- file that the top layer holds, together with its directories, reads the
-- top layer only. Each layer read is checked against its descriptor's
-- digest and size before an answer drawn from it is returned; names with
-- `..` are refused as the unpacker refuses them; symbolic links resolve
-- inside the image (at most 40). A layer entry below a name that a lower
-- layer made a symbolic link (which the unpacker would write through the
-- link) is an "unsupported" error.
-- @module ocispec.reader
local core = require "ocispec.core"
local util = require "ocispec.util"

if not core.image_reader then
  return util.unavailable({}, "ocispec.reader", "OCISPEC_WITH_IMAGE")
end
local M = {}

--- Open image `ref` of `layout` for reading: an ImageReader, or nil,
-- message, err.
-- @function open
M.open = core.image_reader.open

return M
