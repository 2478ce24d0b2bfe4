/* Shared by layer.c (building layers) and layer_transform.c (rewriting
   one): the one-pass writer (tar -> diff_id hash -> compressor -> digest
   hash -> fd), the header conventions that make a layer reproducible, the
   path rule for caller-given entry paths, and the atomic file output. */
#ifndef OCISPEC_LAYER_INTERNAL_H
#define OCISPEC_LAYER_INTERNAL_H

#include <archive.h>
#include <archive_entry.h>

#include "layer_pipe.h"
#include "ocispec/layer.h"

/* The writer of one layer blob. */
typedef struct layer_sink {
  oci_hasher *tar_hash;
  oci_layer_pipe *pipe; /* the compression stage; NULL: the blob is the tar */
  struct archive *t;    /* the tar writer (layer_writer_open) */
  int fd;
  int failed;
  oci_error *err;
  int rc;
} layer_sink;

/* Checks o (version, compression, level, owner override, threads). */
int layer_check_options(const oci_layer_options *o, oci_error *err);

/* The compressing threads o asks for (checked): 0 before version 3,
   OCI_LAYER_THREADS_AUTO resolved (oci_layer_threads_auto). */
int layer_threads(const oci_layer_options *o);

/* Starts the writer into fd (s zeroed by the caller; e a scratch entry,
   unused now): the diff_id hasher, the compression stage (layer_pipe.h,
   layer_threads(o) threads), pax-restricted tar writer in s->t. */
int layer_writer_open(layer_sink *s, const oci_layer_options *o, int fd,
                      struct archive_entry *e, oci_error *err);

/* Ends the tar and the compressed stream; fills res's digests, sizes and
   media type. */
int layer_writer_finish(layer_sink *s, const oci_layer_options *o,
                        oci_layer_result *res, oci_error *err);

/* Frees what layer_writer_open made (after a failure nothing more reaches
   the fd). */
void layer_writer_free(layer_sink *s, int failed);

/* The error of a failed libarchive call on a: ours when a callback failed. */
int layer_archive_fail(layer_sink *s, struct archive *a, const char *what,
                       const char *name);

/* One tar header as every layer writes it: mtime in whole seconds clamped
   by o, no atime/ctime, owner override of o, xattrs (sorted by name) as
   PAX SCHILY.xattr records (none on a hard link). uname/gname may be NULL
   (empty). */
typedef struct layer_header {
  const char *name; /* tar name, no trailing "/" */
  oci_layer_type type;
  uint32_t mode;
  int64_t uid, gid, mtime;
  const char *uname, *gname;
  uint64_t size;      /* content bytes (files) */
  const char *target; /* symlink target, hardlink target name */
  unsigned major, minor;
  const oci_layer_xattr *xattrs;
  size_t n_xattrs;
} layer_header;

void layer_set_header(struct archive_entry *e, const layer_header *h,
                      const oci_layer_options *o);

/* Caller-given entry paths: relative, "." and empty components dropped,
   ".." refused, the root refused. *out malloc'd. Errors name `shown` (a
   printf-ready prefix such as "layer entry #3"). */
int layer_norm_path(const char *in, const char *shown, const char *what,
                    char **out, oci_error *err);

/* Writes path atomically: fn writes into a temporary file beside it, which
   is renamed over path (mode 0644) on success and removed on failure. */
int layer_write_atomic(const char *path,
                       int (*fn)(void *ctx, int fd, oci_error *err), void *ctx,
                       oci_error *err);

#endif
