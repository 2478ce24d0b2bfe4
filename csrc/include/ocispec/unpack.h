/** @file
   ocispec unpacking: applying image layers (image-spec layer.md
   changesets) to a root file system, whiteouts included. */
#ifndef OCISPEC_UNPACK_H
#define OCISPEC_UNPACK_H

#include "ocispec/config.h"
#ifndef OCI_WITH_IMAGE
#error "<ocispec/unpack.h>: ocispec was built without OCISPEC_WITH_IMAGE"
#endif

#include <stdbool.h>
#include <stdint.h>

#include "ocispec/error.h"
#include "ocispec/layer.h" /* oci_id_map */
#include "ocispec/layout.h"
#include "ocispec/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Defaults of the limits against decompression bombs (per layer): 64 GiB
   of uncompressed tar stream, and 1,000,000 tar entries (the largest
   public layers hold a few hundred thousand; each entry costs memory for
   the set of paths the layer wrote). */
#define OCI_UNPACK_DEFAULT_MAX_BYTES (UINT64_C(64) << 30) /**< 64 GiB */
#define OCI_UNPACK_DEFAULT_MAX_ENTRIES UINT64_C(1000000)  /**< 1,000,000 */

/** Options of oci_layer_apply; its strings stay the caller's (read during
   the call only). */
typedef struct oci_unpack_options {
  unsigned version; /**< OCI_UNPACK_OPTIONS_VERSION (1 to 4) */
  /** Do not set owners, and skip device nodes (which need root): what an
     unprivileged user can unpack, as `umoci unpack --rootless` does; an
     owner other than root:root is recorded in the xattr
     user.rootlesscontainers as umoci writes it (protobuf Resource, root's
     id as 4294967295), and a layer's own such xattr is ignored. */
  bool rootless;
  /** When set, the blob's bytes must have this digest ("sha256:..." or
     "sha512:..."); OCI_EMISMATCH otherwise, before anything is written. */
  const char *expected_digest;
  /* ---- version 2 ---- */
  /** When >= 0, the blob must be this many bytes (OCI_EMISMATCH). */
  int64_t expected_size;
  /** When set, the uncompressed tar stream must have this digest (the
     config's rootfs.diff_ids entry); OCI_EMISMATCH otherwise. */
  const char *expected_diff_id;
  /** Limits; 0 = the default above, UINT64_MAX = none. Exceeding one is
     OCI_ETOOBIG naming the limit and the option. */
  uint64_t max_bytes;   /**< uncompressed bytes of the tar stream */
  uint64_t max_entries; /**< tar entries, whiteouts included */
  /* ---- version 3 ---- */
  /** Id mappings (the caller's arrays), as `umoci unpack --uid-map
     --gid-map`: an entry's owner (root with rootless) is the host id its
     container id maps to; an id no range maps is OCI_EINVAL naming the
     entry, found in the first pass. None (n 0): ids as they are. @{ */
  const oci_id_map *uid_map;
  size_t n_uid_map;
  const oci_id_map *gid_map;
  size_t n_gid_map;
  /** @} */
  /* ---- version 4 ---- */
  /** Read the blob once: apply each entry as it is read (checked first,
     as in the two-pass mode: names, link targets, owners, limits) and
     check the size, digest and diff_id at the end, when the whole stream
     has been read. A mismatch is still OCI_EMISMATCH, but rootfs then
     holds the layer's entries: only for a rootfs the caller discards on
     any failure (a fresh temporary directory, as oci_unpack_image
     uses). About twice as fast: the blob is decompressed and hashed
     once instead of twice. */
  bool one_pass;
} oci_unpack_options;

/** The version of oci_unpack_options this header declares. */
#define OCI_UNPACK_OPTIONS_VERSION 4
/** Initializer of oci_unpack_options: the defaults. */
#define OCI_UNPACK_OPTIONS_INIT                                                \
  {                                                                            \
    OCI_UNPACK_OPTIONS_VERSION, false, NULL, -1, NULL, 0, 0, NULL, 0, NULL, 0, \
        false                                                                  \
  }
/** *o = OCI_UNPACK_OPTIONS_INIT. */
OCI_API void oci_unpack_options_init(oci_unpack_options *o);

/** What oci_layer_apply did. */
typedef struct oci_unpack_stats {
  uint64_t entries;     /**< tar entries read */
  uint64_t whiteouts;   /**< `.wh.NAME` entries applied */
  uint64_t opaque_dirs; /**< .wh..wh..opq entries applied */
  uint64_t skipped;     /**< device nodes skipped (rootless) */
  uint64_t xattrs;      /**< extended attributes set (PAX SCHILY.xattr.*) */
  /** xattrs not set: of a namespace layers do not carry (system.*,
     security.selinux, unknown), or refused by the file system (ENOTSUP),
     or, unpacking without privileges, refused for want of them (trusted.*,
     security.capability) */
  uint64_t xattrs_skipped;
} oci_unpack_stats;

/** Applies the layer blob at blob_path (a tar, gzip- or zstd-compressed) to
   the directory rootfs, as image-spec layer.md "Applying Changesets" says:
   entries are created or replaced, `.wh.NAME` removes `NAME` of lower
   layers, `.wh..wh..opq` removes every lower entry of its directory (at any
   depth; what this layer writes stays).

   Two passes (one with opts->one_pass). The first reads the whole blob
   without writing anything: it checks the blob's size and digest, the
   uncompressed stream's digest (diff_id), the limits, and every entry's
   name and link target. Only then does the second pass apply the entries
   (and hashes again: a blob changed in between is OCI_EMISMATCH). A
   helper thread decompresses while the calling thread applies. When the
   blob does not have expected_digest, that mismatch is the error
   (OCI_EMISMATCH), even when reading it failed first (a corrupt stream,
   a bad entry: the message says what failed too).

   Safety: blob_path must be a regular file and is opened without
   following a symbolic link. Entry names are normalised (leading "/" and
   "./", empty and "." components dropped); a ".." component, a whiteout of
   "", "." or "..", a name or link target longer than PATH_MAX - 1 and a
   non-directory entry for the root are errors naming the entry; the root
   entry ("./") gives rootfs its mode and times. Symbolic links in the
   parents of an entry, a whiteout or a hard link's target are resolved
   inside rootfs as umoci does (an absolute target from rootfs, ".."
   stopping at it, at most 40 links: more is an error naming the entry),
   never out of it; the resolved directory is opened from rootfs without
   following any link, and an entry's own last component is never
   followed. Removals never follow links. An entry over an existing
   directory (a file, symlink, ...) removes that tree first; a directory
   over a directory keeps its contents. Every write error is an error.
   opts and stats may be NULL. On error after the first pass rootfs may
   hold part of the layer: unpack into a fresh directory and rename it when
   done (oci.unpack.image does). */
OCI_API int oci_layer_apply(const char *blob_path, const char *rootfs,
                            const oci_unpack_options *opts,
                            oci_unpack_stats *stats, oci_error *err);

/** oci_layer_apply from an open blob descriptor (from oci_layout_open_blob,
   say: no path is looked up between the layout's checks and the read),
   read from its start: it must be a regular file. The descriptor stays
   the caller's (not closed); name (NULL: "layer blob") names it in
   messages. */
OCI_API int oci_layer_apply_fd(int blob_fd, const char *name,
                               const char *rootfs,
                               const oci_unpack_options *opts,
                               oci_unpack_stats *stats, oci_error *err);

/* ---- an image into a runtime bundle ------------------------------------ */

/** Options of oci_unpack_image; its pointers stay the caller's (read
   during the call only). */
typedef struct oci_unpack_image_options {
  unsigned version; /**< OCI_UNPACK_IMAGE_OPTIONS_VERSION */
  /** The platform chosen from an index, as oci_layout_resolve takes it
     (NULL: the host's). */
  const oci_layout_platform *platform;
  /** No owners and no device nodes (oci_unpack_options.rootless), and the
     configuration of `runc spec --rootless` as the base of config.json,
     mapping root to uid and gid. */
  bool rootless;
  int64_t uid; /**< rootless: the host uid root maps to; -1: geteuid() */
  int64_t gid; /**< rootless: the host gid root maps to; -1: getegid() */
  /** Limits per layer, as oci_unpack_options (0: the defaults). */
  uint64_t max_bytes;
  uint64_t max_entries; /**< tar entries per layer (0: the default) */
  /* ---- version 2 ---- */
  /** Id mappings for every layer, as oci_unpack_options (config.json is
     not changed by them). @{ */
  const oci_id_map *uid_map;
  size_t n_uid_map;
  const oci_id_map *gid_map;
  size_t n_gid_map;
  /** @} */
} oci_unpack_image_options;

/** The version of oci_unpack_image_options this header declares. */
#define OCI_UNPACK_IMAGE_OPTIONS_VERSION 2
/** Initializer of oci_unpack_image_options: the defaults. */
#define OCI_UNPACK_IMAGE_OPTIONS_INIT                                          \
  {                                                                            \
    OCI_UNPACK_IMAGE_OPTIONS_VERSION, NULL, false, -1, -1, 0, 0, NULL, 0,      \
        NULL, 0                                                                \
  }
/** Sets *o to OCI_UNPACK_IMAGE_OPTIONS_INIT. */
OCI_API void oci_unpack_image_options_init(oci_unpack_image_options *o);

/** Unpacks image ref of layout l (a tag or digest, resolved with
   oci_layout_resolve) into the runtime bundle `bundle`: bundle/rootfs from
   the manifest's layers in order (oci_layer_apply_fd on the blobs
   oci_layout_open_blob opens, each read once (one_pass) and checked
   against its descriptor's digest and size and the config's
   rootfs.diff_ids entry as it is applied: a mismatch, found at the
   layer's end, fails the whole unpack, and nothing of it is ever seen at
   bundle) and bundle/config.json (pretty) from the image
   configuration (oci_runtime_spec_from_image_config with that rootfs).
   bundle must be missing or an empty directory (checked first: OCI_EIO
   otherwise; "", "/", "." or ".." as its last name: OCI_EINVAL). It is
   built in a new directory beside it, ".NAME.unpack-XXXXXX" (mode 0700,
   as umoci's), renamed to bundle only when complete; on any failure that
   directory is removed and nothing is left behind. Errors: those of the
   steps (a layer's prefixed "layer N (DIGEST): "), OCI_EINVAL when the
   config lists a different number of diff_ids than the manifest has
   layers, OCI_EUNSUPPORTED for a manifest whose config is not an image
   configuration (an artifact). opts may be NULL (defaults). *out (may be
   NULL: not wanted) gets the runtime config written, a new document the
   caller frees with oci_runtime_spec_free. */
OCI_API int oci_unpack_image(const oci_layout *l, const char *ref,
                             const char *bundle,
                             const oci_unpack_image_options *opts,
                             oci_runtime_spec **out, oci_error *err);

/** Removes path and everything below it without following any symbolic
   link (a link is removed itself, never its target). A missing path is
   OCI_OK. For cleaning up a partial bundle. */
OCI_API int oci_remove_tree(const char *path, oci_error *err);

#ifdef __cplusplus
}
#endif
#endif
