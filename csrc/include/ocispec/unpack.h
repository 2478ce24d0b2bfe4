/* ocispec unpacking: applying image layers (image-spec layer.md
   changesets) to a root file system, whiteouts included. */
#ifndef OCISPEC_UNPACK_H
#define OCISPEC_UNPACK_H

#include <stdbool.h>
#include <stdint.h>

#include "ocispec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct oci_unpack_options {
  unsigned version; /* OCI_UNPACK_OPTIONS_VERSION */
  /* Do not set owners, and skip device nodes (which need root): what an
     unprivileged user can unpack, as `umoci unpack --rootless` does. */
  bool rootless;
  /* When set, the blob's bytes are hashed while read and must have this
     digest ("sha256:..." or "sha512:..."); OCI_EMISMATCH otherwise. */
  const char *expected_digest;
} oci_unpack_options;

#define OCI_UNPACK_OPTIONS_VERSION 1
#define OCI_UNPACK_OPTIONS_INIT                                                \
  { OCI_UNPACK_OPTIONS_VERSION, false, NULL }

typedef struct oci_unpack_stats {
  uint64_t entries;     /* tar entries read */
  uint64_t whiteouts;   /* .wh.<name> entries applied */
  uint64_t opaque_dirs; /* .wh..wh..opq entries applied */
  uint64_t skipped;     /* device nodes skipped (rootless) */
} oci_unpack_stats;

/* Applies the layer blob at blob_path (a tar, gzip- or zstd-compressed) to
   the directory rootfs, as image-spec layer.md "Applying Changesets" says:
   entries are created or replaced, `.wh.<name>` removes <name> of lower
   layers, `.wh..wh..opq` empties its directory of lower layers' entries.
   Entries never leave rootfs: paths with "..", absolute paths, and paths
   through symbolic links are errors naming the entry. opts and stats may
   be NULL. On error rootfs may hold part of the layer: unpack into a fresh
   directory and rename it when done (the Lua unpack does). */
OCI_API int oci_layer_apply(const char *blob_path, const char *rootfs,
                            const oci_unpack_options *opts,
                            oci_unpack_stats *stats, oci_error *err);

#ifdef __cplusplus
}
#endif
#endif
