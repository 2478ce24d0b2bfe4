/** @file
   ocispec image reading: the files of an image of a layout (its merged
   layers, image-spec layer.md) read without unpacking it: stat, read and
   list a path. The layers are streamed newest first, honouring whiteouts
   and opaque whiteouts, and the reading stops at the first layer below
   which nothing can change the answer (a file whose directories the top
   layer names reads the top layer only). */
#ifndef OCISPEC_IMAGE_READ_H
#define OCISPEC_IMAGE_READ_H

#include "ocispec/config.h"
#ifndef OCI_WITH_IMAGE
#error "<ocispec/image_read.h>: ocispec was built without OCISPEC_WITH_IMAGE"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ocispec/error.h"
#include "ocispec/hash.h"
#include "ocispec/layer.h"
#include "ocispec/layout.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An open image: its layers' blobs, opened once (the layout may be closed
   after oci_image_reader_open). Not thread-safe: one caller at a time. */
typedef struct oci_image_reader oci_image_reader;

/** Options of oci_image_reader_open; its pointers stay the caller's (read
   during the call only). */
typedef struct oci_image_reader_options {
  unsigned version; /**< OCI_IMAGE_READER_OPTIONS_VERSION */
  /** The platform chosen from an index (NULL: the host's). */
  const oci_layout_platform *platform;
  /** Limits per layer, as oci_unpack_options (0: the defaults). */
  uint64_t max_bytes;
  uint64_t max_entries; /**< tar entries per layer (0: the default) */
  /** Largest content oci_image_reader_read returns (0: 64 MiB). */
  uint64_t max_read;
} oci_image_reader_options;

/** The version of oci_image_reader_options this header declares. */
#define OCI_IMAGE_READER_OPTIONS_VERSION 1
/** Initializer of oci_image_reader_options: the defaults. */
#define OCI_IMAGE_READER_OPTIONS_INIT                                          \
  { OCI_IMAGE_READER_OPTIONS_VERSION, NULL, 0, 0, 0 }
/** *o = OCI_IMAGE_READER_OPTIONS_INIT. */
OCI_API void oci_image_reader_options_init(oci_image_reader_options *o);

/** One file of the image. info.path is the cleaned path in the image ("" is
   the root), info.target a symbolic link's target as stored, or a hard
   link's target path (type OCI_LAYER_HARDLINK). */
typedef struct oci_image_entry {
  oci_layer_info info; /**< what the layer's tar header says */
  /** The layer that holds it (0 = the base layer); -1: a directory no
     layer names but that a layer writes into (mode 0755, root's). */
  int64_t layer;
} oci_image_entry;

/** Frees e and its strings (NULL is a no-op). */
OCI_API void oci_image_entry_free(oci_image_entry *e);

/** The entries of a directory (oci_image_reader_list). */
typedef struct oci_image_listing {
  oci_image_entry *items; /**< sorted bytewise by path */
  size_t len;             /**< how many */
} oci_image_listing;

/** Frees l and every string in it (NULL is a no-op). */
OCI_API void oci_image_listing_free(oci_image_listing *l);

/** Opens image ref (a name or digest, oci_layout_resolve) of layout l for
   reading: its layer blobs are opened now (never through a symbolic link,
   oci_layout_open_blob). Each layer read is checked against its
   descriptor's size and digest before any answer drawn from it is
   returned (OCI_EMISMATCH). *out is the caller's: free it with
   oci_image_reader_free. */
OCI_API int oci_image_reader_open(const oci_layout *l, const char *ref,
                                  const oci_image_reader_options *opts,
                                  oci_image_reader **out, oci_error *err);

/** Closes the blobs and frees r (NULL is a no-op). */
OCI_API void oci_image_reader_free(oci_image_reader *r);

/** Layer blobs read so far (each pass over one layer counts one). */
OCI_API uint64_t oci_image_reader_layers_read(const oci_image_reader *r);

/** The file at path in the image. Path: absolute or not, "." and empty
   components dropped, ".." stopping at the root; symbolic links in its
   directories are followed inside the image (an absolute target from the
   image's root, at most 40 links: more is OCI_EINVAL), and its last
   component too when follow is true. A missing path is OCI_EIO whose
   message says "no such file or directory"; a file where a directory
   should be, "not a directory". A layer entry written below a name that a
   lower layer made a symbolic link is OCI_EUNSUPPORTED (the unpacker
   writes it through the link: unpack that image to read it). *out is the
   caller's (oci_image_entry_free). */
OCI_API int oci_image_reader_stat(oci_image_reader *r, const char *path,
                                  bool follow, oci_image_entry **out,
                                  oci_error *err);

/** The content of the regular file at path (symbolic links followed as
   oci_image_reader_stat does with follow, hard links to their target):
   *data (malloc'd, NUL-terminated for convenience, *len bytes) is the
   caller's to free(). Not a regular file: OCI_EINVAL; larger than
   max_read: OCI_ETOOBIG. */
OCI_API int oci_image_reader_read(oci_image_reader *r, const char *path,
                                  char **data, size_t *len, oci_error *err);

/** The entries of the directory at path (symbolic links followed), whiteouts
   applied, sorted by path. Not a directory: OCI_EINVAL. *out is the
   caller's (oci_image_listing_free). */
OCI_API int oci_image_reader_list(oci_image_reader *r, const char *path,
                                  oci_image_listing **out, oci_error *err);

/* ---- comparing two images' file trees (image_diff.c) ------------------- */

/** One extended attribute of an image file (PAX SCHILY.xattr.NAME). */
typedef struct oci_image_xattr {
  char *name;  /**< the attribute's name */
  char *value; /**< its bytes (NUL-terminated for convenience) */
  size_t len;  /**< how many bytes value holds */
} oci_image_xattr;

/** One file of an image's merged tree (every layer applied). */
typedef struct oci_image_file {
  /** info.path: the cleaned path without a leading "/"; info.target: a
     symbolic link's target, or a hard link's target path. A hard link
     carries its target's mode, owner, size, content digest and xattrs (one
     inode once unpacked). */
  oci_layer_info info;
  /** The content's digest (sha256, sparse holes as zeros) of a regular
     file or hard link; "" otherwise. */
  char digest[OCI_DIGEST_STRING_MAX];
  oci_image_xattr *xattrs; /**< sorted by name */
  size_t n_xattrs;         /**< how many */
  /** The layer that wrote it (0 = the base); -1: a directory that no layer
     names but a layer writes into (mode 0755, root's). */
  int64_t layer;
} oci_image_file;

/** What changed in a file present in both images (bits of
   oci_image_change.what). */
enum {
  OCI_CHANGE_TYPE = 1 << 0,    /**< file, directory, symlink, ... */
  OCI_CHANGE_CONTENT = 1 << 1, /**< content digest (files, hard links) */
  OCI_CHANGE_TARGET = 1 << 2,  /**< symbolic or hard link target */
  OCI_CHANGE_MODE = 1 << 3,    /**< permission bits */
  OCI_CHANGE_OWNER = 1 << 4,   /**< uid or gid */
  OCI_CHANGE_XATTRS = 1 << 5,  /**< extended attributes */
  OCI_CHANGE_DEVICE = 1 << 6   /**< major or minor (devices) */
};

/** One difference: a added (only in b), removed (only in a) or changed. */
typedef struct oci_image_change {
  char kind;               /**< 'A' added, 'D' removed (deleted), 'C' changed */
  unsigned what;           /**< OCI_CHANGE_* bits (kind 'C') */
  const oci_image_file *a; /**< the file in a (NULL when added) */
  const oci_image_file *b; /**< the file in b (NULL when removed) */
} oci_image_change;

/** The file differences of two images (oci_image_diff_files). */
typedef struct oci_image_diff {
  oci_image_change *items; /**< sorted bytewise by path */
  size_t len;              /**< how many */
  /** Layers the two images share at the bottom (equal blob digests, in
     order): read once, for both. */
  size_t layers_shared;
  void *trees; /**< the files the changes point into (private) */
} oci_image_diff;

/** Compares the file trees of images a and b (each: its layers applied
   base first with the unpacker's rules: whiteouts and opaque whiteouts
   hide only what lower layers hold, a non-directory replaces a lower
   directory's contents). Nothing is written to disk: the layers are
   streamed and file contents hashed as they pass. Layers the images share
   at the bottom (the same blob digests in the same order) are read once;
   when all layers are shared no layer is read at all. Files are compared
   by type, content digest, link target, mode bits, owner, xattrs and
   device numbers, not by mtime; the root directory is not compared. Each
   layer is checked against its digest and size before the result is
   returned (OCI_EMISMATCH); a layer entry below a name that a lower layer
   made a symbolic link is OCI_EUNSUPPORTED. *out is the caller's
   (oci_image_diff_free). */
OCI_API int oci_image_diff_files(oci_image_reader *a, oci_image_reader *b,
                                 oci_image_diff **out, oci_error *err);

/** Frees d, its changes and the files they point to (NULL is a no-op). */
OCI_API void oci_image_diff_free(oci_image_diff *d);

#ifdef __cplusplus
}
#endif

#endif
