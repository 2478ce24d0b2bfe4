/* The image reader's parts that image_diff.c shares (image_read.c): the
   opened layers and the one-pass scan of a layer. */
#ifndef OCISPEC_IMAGE_READ_INTERNAL_H
#define OCISPEC_IMAGE_READ_INTERNAL_H

#include <archive.h>
#include <archive_entry.h>
#include <stdint.h>

#include "ocispec/image_read.h"

typedef struct rlayer {
  int fd;
  char *digest;
  int64_t size;
} rlayer;

struct oci_image_reader {
  rlayer *layers; /* [0] = the base */
  size_t n;
  uint64_t max_bytes, max_entries, max_read, layers_read;
};

enum ekind { E_ENTRY, E_WHITEOUT, E_OPAQUE };

typedef struct scan_entry {
  enum ekind kind;
  const char *rel; /* cleaned path; for whiteouts, the path whited out;
                      for opaque markers, the directory */
  struct archive_entry *e;
  struct archive *a; /* to read the entry's data */
} scan_entry;

typedef int (*visit_fn)(void *ctx, const scan_entry *se, oci_error *err);

/* Reads layer i (0 = the base) whole, calling visit for each entry (names
   checked as the unpacker checks them; the visitor may read the entry's
   data), then checks the blob's size and digest. */
int ir_scan_layer(oci_image_reader *r, size_t i, visit_fn visit, void *ctx,
                  oci_error *err);

/* *it from the tar entry e at the cleaned path rel (its old strings
   freed first). */
int ir_fill_info(struct archive_entry *e, const char *rel, oci_layer_info *it,
                 oci_error *err);

/* Frees it's strings and zeroes it. */
void ir_info_clear(oci_layer_info *it);

#endif
