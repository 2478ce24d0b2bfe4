--- Unpacking images into runtime bundles.
--
--    local oci = require "ocispec"
--    local L = assert(oci.layout.open("image-layout"))
--    local spec = assert(oci.unpack.image(L, "latest", "bundle"))
--    -- bundle/rootfs holds the layers, bundle/config.json the runtime config
--
-- `layer(blob_path, rootfs [, opts])` (or `layout_layer(layout, digest,
-- rootfs [, opts])`, from the layout's open blob) applies one layer (image-spec
-- layer.md changesets: whiteouts and opaque whiteouts) and returns
-- `{entries=, whiteouts=, opaque_dirs=, skipped=, xattrs=, xattrs_skipped=}`
-- (xattrs set; skipped: other namespaces, or refused for want of
-- privileges when unprivileged). With `rootless`, owners other than root
-- are recorded in user.rootlesscontainers, as umoci does. `uid_map`,
-- `gid_map`: lists of "CONTAINER:HOST[:SIZE]" (umoci's --uid-map), for
-- `layer`, `layout_layer` and `image`. opts: `rootless`,
-- `digest`, `size` (the blob's), `diff_id` (the uncompressed stream's),
-- `max_bytes` (default 64 GiB uncompressed), `max_entries` (default
-- 1,000,000). The whole blob is read and checked (digest, size, diff_id,
-- limits, every entry name) before anything is written; entries never
-- leave rootfs: `..` is refused, and symbolic links in the directories
-- above an entry, a whiteout or a hard link's target resolve inside
-- rootfs as in a chroot (`bin/foo` through `bin -> usr/bin` writes
-- `usr/bin/foo`; an absolute target starts again at rootfs; at most 40
-- links), every create and remove is made relative to a directory
-- descriptor opened without following links, and the entry's own last
-- component is never followed. Whiteouts apply to lower layers only.
--
-- `image(layout, ref, bundle [, opts])` builds `bundle/rootfs` from the
-- image's layers (each checked against the manifest's digest and size and
-- the config's diff_id first) and `bundle/config.json` with
-- `runtime.Spec.from_image_config`; the bundle is made in a 0700 directory
-- beside `bundle` and renamed into place only when complete (`bundle`
-- must be missing or empty), so a failure leaves nothing behind. opts:
-- `rootless`, `platform`, `max_bytes`, `max_entries`.
--
-- File system helpers (C, no shell): `mkdtemp(template)` (mode 0700),
-- `mkdir(path [, mode])` (exactly mode, default 0755),
-- `remove_tree(path)` (never follows a symbolic link), `dir_state(path)`
-- ("missing", "empty", "full" or "other").
-- @module ocispec.unpack
local core = require "ocispec.core"
local util = require "ocispec.util"

if not core.unpack then return util.unavailable({}, "ocispec.unpack", "OCISPEC_WITH_IMAGE") end
local M = {}

--- Apply one layer blob to a root file system.
-- @function layer
M.layer = core.unpack.apply

--- The same for the blob `digest` of `layout`, read from the descriptor
-- the layout opens (never through a symbolic link, no path looked up in
-- between): `layout_layer(layout, digest, rootfs [, opts])`.
-- @function layout_layer
M.layout_layer = core.unpack.apply_blob

--- Make a new directory (mode 0700) from a template ending in XXXXXX.
-- @function mkdtemp
M.mkdtemp = core.unpack.mkdtemp

--- Make a directory with exactly `mode` (default 0755).
-- @function mkdir
M.mkdir = core.unpack.mkdir

--- Remove a path and everything below it, never following a link.
-- @function remove_tree
M.remove_tree = core.unpack.remove_tree

--- "missing", "empty" (directory), "full" (directory) or "other".
-- @function dir_state
M.dir_state = core.unpack.dir_state

--- Unpack image `ref` of `layout` into the runtime bundle `bundle`:
-- `bundle/rootfs` from its layers in order, `bundle/config.json` from its
-- configuration (`runtime.Spec.from_image_config`). opts: `platform`
-- (choose from an index; default the host), `rootless` (no owners, no
-- device nodes, and the config of `runc spec --rootless` for the current
-- user as the base), `max_bytes`, `max_entries` (per layer, as `layer`).
--
-- Each layer's digest and size (from the manifest) and its diff_id (from
-- the config's rootfs.diff_ids) are checked before it is applied. The
-- bundle is built in a new directory beside it (mode 0700, as umoci's)
-- and renamed to `bundle` only when complete; `bundle` must not exist or
-- be an empty directory. On any failure nothing is left behind. The C
-- function oci_unpack_image does the work (ocispec/unpack.h).
-- Returns the runtime Spec, or nil, message, err; an unknown option
-- raises. `image(reference, bundle [, opts])` takes a transport reference
-- instead (`oci:`, `oci-archive:`, `docker-archive:`, `docker://`;
-- `opts.transport`: `ocispec.transport.open`'s options): an archive or
-- registry image goes through a temporary layout, removed afterwards.
-- @function image
function M.image(layout, ref, bundle, opts)
  if type(layout) ~= "string" then
    local spec, msg, err = core.unpack.image(layout, ref, bundle, opts)
    return spec, msg, err
  end
  local reference
  reference, bundle, opts = layout, ref, bundle
  local o, topts = require("ocispec.util").split_option(opts, "transport", 3, "image")
  return require("ocispec.transport").with_image(reference, topts, function(L, dg)
    return core.unpack.image(L, dg, bundle, o)
  end)
end

return M
