/* Shared by layout.c and layout_walk.c (not installed). */
#ifndef OCISPEC_LAYOUT_INTERNAL_H
#define OCISPEC_LAYOUT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "internal.h"
#include "ocispec/layout.h"
#include "ocispec/values.h"

/* Temporary files: .ocispec-tmp/tmp-XXXXXX; the index lock beside them. */
#define OL_TMP_PREFIX "tmp-"
#define OL_LOCK_NAME "index.lock"
#define OL_TMP_LOCK_NAME "tmp.lock"

/* A blob writer whose file survives a failed transfer: the temporary area's
   tmp-part-<alg>-<hex>, kept for digest (a resumed download continues it).
   *have gets the bytes already there (0 when new, or when the file held more
   than max bytes, max >= 0: then it starts over); the writer's hash covers
   them (read back from the file: hash states are not saved). The file is
   flock'ed while the writer lives (gc removes a partial file only when no
   writer holds it). When another writer holds it, this one is a plain
   writer (*have 0, nothing kept). Commit, or a failed commit (a digest
   mismatch: the partial bytes are not trusted again), removes the file;
   ol_blob_writer_keep ends the writer and keeps the file;
   oci_blob_writer_abort removes it. */
int ol_blob_writer_resume(oci_layout *l, const char *media_type,
                          const char *digest, int64_t max,
                          oci_blob_writer **out, uint64_t *have,
                          oci_error *err);
/* Drops what w holds (the next write is byte 0): a server that answered a
   range request with the whole blob. */
int ol_blob_writer_restart(oci_blob_writer *w, oci_error *err);
/* Ends w without committing; a resumable writer's file stays when it holds
   bytes and no write failed (else, and for a plain writer, it is removed
   as by oci_blob_writer_abort). */
void ol_blob_writer_keep(oci_blob_writer *w);

typedef struct ol_pending {
  char *path;
  int fd; /* holds the flock that keeps gc away */
} ol_pending;

struct oci_layout {
  char *root; /* without trailing "/" */
  ol_pending *pending;
  size_t npending, cap;
};

/* Public entry points accept err == NULL: messages then go to a local.
   Either way err is reset first (oci_error_reset). */
#define OL_ERR(err)                                                            \
  oci_error ol_local_err_;                                                     \
  if (!(err)) (err) = &ol_local_err_;                                          \
  oci_error_reset(err)

int ol_nomem(oci_error *err);
char *ol_join(const char *a, const char *b);
int ol_write_all(int fd, const void *buf, size_t len);
int ol_read_fd(int fd, const char *what, size_t max, char **buf, size_t *len,
               oci_error *err);
int ol_read_rel(const char *root, const char *name, size_t max, char **buf,
                size_t *len, oci_error *err);
int ol_root_fd(const char *root, int *fd, oci_error *err);
int ol_open_dir(int dirfd, const char *name, const char *shown, bool create,
                int *fd, bool *missing, oci_error *err);
int ol_open_regular(int dirfd, const char *name, const char *shown, int *fd,
                    struct stat *st, bool *missing, oci_error *err);
/* Opens a blob for reading from the root without following a symlink
   (blobs, blobs/<alg>, the blob); regular files only; errors name it. */
int ol_open_blob(const char *root, const char *digest, int *fd, struct stat *st,
                 bool *missing, oci_error *err);
int ol_wrap(oci_error *err, const char *what);
bool ol_str_eq(const char *a, const char *b);
const char *ol_ref_name(const oci_image_descriptor *d);
int ol_digest_path(const char *root, const char *digest, char **out,
                   oci_error *err);
int ol_tmp_create(const char *root, char **path, int *fd, oci_error *err);
int ol_install(const char *root, const char *tmp, const char *digest,
               oci_error *err);
int ol_read_index(const char *root, oci_image_index **out, oci_error *err);
int ol_lock_index(const char *root, int *fd, oci_error *err);
/* Replaces index.json (atomically); call it under the index lock. */
int ol_write_index(const char *root, const oci_image_index *idx,
                   oci_error *err);
/* what names the operation in messages ("tag NAME", "add"). */
int ol_check_taggable(const oci_layout *l, const oci_image_descriptor *d,
                      const char *what, oci_error *err);
int ol_strings_add(oci_layout_strings *s, const char *v, oci_error *err);

#endif
