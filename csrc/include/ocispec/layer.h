/** @file
   ocispec layers: reproducible image layer blobs (image-spec layer.md) built
   in one pass from a directory, from a list of entries, or as the changeset
   between two directories (with whiteouts), and listing a layer's entries.

   One pass: libarchive writes the tar stream into a callback that hashes it
   (diff_id) and feeds it to a second libarchive writer (raw format + gzip or
   zstd filter) whose output callback hashes (digest), counts (size) and
   writes it to the output file descriptor.

   Reproducible: entries sorted bytewise by their tar name (directories end
   with "/"; an opaque whiteout follows its directory), paths relative with
   no "./" prefix and no root entry, mtime in whole seconds and no
   atime/ctime, empty uname/gname, pax (restricted) headers only when ustar
   cannot hold a value, gzip header without timestamp or file name.

   Threads: the compression runs on threads of its own while the calling
   thread reads the files, writes the tar and hashes it. By default
   (oci_layer_options.threads OCI_LAYER_THREADS_AUTO) and with threads
   N >= 1 it is parallel, in a format of its own that is the same for
   every N >= 1: zstd in libzstd's multi-threaded mode (whose output does
   not depend on its worker count), gzip as pigz makes it (128 KiB blocks
   deflated apart, each primed with the 32 KiB before it, joined by sync
   flushes into one gzip member); AUTO is as many threads as CPUs the
   process may run on, so the default bytes are the same on every
   machine. threads 0 keeps the single-threaded bytes (the default until
   options version 4: see NEWS.md).

   From a directory: xattrs of the user., trusted. and security.
   namespaces (not security.selinux, not system.*) go along as sorted PAX
   SCHILY.xattr.NAME records; a file with holes is stored sparse (PAX GNU
   sparse 1.0, its data regions found with SEEK_DATA/SEEK_HOLE). */
#ifndef OCISPEC_LAYER_H
#define OCISPEC_LAYER_H

#include "ocispec/config.h"
#ifndef OCI_WITH_IMAGE
#error "<ocispec/layer.h>: ocispec was built without OCISPEC_WITH_IMAGE"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ocispec/error.h"
#include "ocispec/hash.h"
#include "ocispec/values.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Compression of a built layer blob. */
typedef enum oci_layer_compression {
  OCI_LAYER_GZIP = 0, /**< the default */
  OCI_LAYER_ZSTD = 1, /**< zstd */
  OCI_LAYER_NONE = 2  /**< a plain tar */
} oci_layer_compression;

/* OCI_MEDIA_TYPE_LAYER, _LAYER_GZIP, _LAYER_ZSTD: ocispec/values.h */

/** One range of a user namespace's id mapping (umoci's --uid-map and
   --gid-map, runtime-spec LinuxIDMapping): container ids [container,
   container + size) are host ids [host, host + size). */
typedef struct oci_id_map {
  uint32_t container; /**< first id in the container */
  uint32_t host;      /**< the host id it is */
  uint32_t size;      /**< how many ids (>= 1) */
} oci_id_map;

/** Parses "CONTAINER:HOST[:SIZE]" (decimal, SIZE default 1, as umoci) into
   *out. OCI_EINVAL naming the text when it is not that, SIZE is 0, or a
   range passes 4294967295. */
OCI_API int oci_id_map_parse(const char *s, oci_id_map *out, oci_error *err);

/** How a layer is built (start from oci_layer_options_init). */
typedef struct oci_layer_options {
  unsigned version;                  /**< OCI_LAYER_OPTIONS_VERSION */
  oci_layer_compression compression; /**< default gzip */
  int level;       /**< 0: default (gzip 6, zstd 3); gzip 1..9, zstd 1..19 */
  int clamp_mtime; /**< nonzero: every timestamp t becomes min(t, mtime) */
  int64_t mtime;   /**< seconds since the epoch, with clamp_mtime */
  /** >= 0: owner of every entry; -1: keep @{ */
  int64_t uid, gid;
  /** @} */
  /* ---- version 2 ---- */
  /** A tree unpacked rootless (as umoci repack --rootless): every entry is
     owned by root unless its user.rootlesscontainers xattr (which umoci
     and oci_layer_apply with rootless write) records another owner; that
     xattr is not stored. A regular file of this (non-root) process's own
     that its mode makes unreadable (Fedora's /etc/shadow, mode 0000) is
     read by lending the owner's read bit for the open, the mode given
     back at once. Directory sources only. */
  int rootless;
  /** Id mappings (the caller's arrays), as `umoci repack --uid-map
     --gid-map`: each owner read from the directory (not with rootless) is
     the container id its host id maps to; an id no range maps is
     OCI_EINVAL naming the file. None (n 0): ids as they are. @{ */
  const oci_id_map *uid_map;
  size_t n_uid_map;
  const oci_id_map *gid_map;
  size_t n_gid_map;
  /** @} */
  /* ---- version 3 ---- */
  /** Compression threads. OCI_LAYER_THREADS_AUTO (the default from
     version 4 on): as many compressing threads as CPUs this process may
     run on (sched_getaffinity, so taskset and cpusets count; 1 to
     OCI_LAYER_THREADS_MAX), in the parallel format. 1 to
     OCI_LAYER_THREADS_MAX: that many, in the parallel format, whose bytes
     are the same whatever the number: a layer's digest does not depend
     on the machine building it. 0 (the default of versions 1 to 3, and
     what versions 1 and 2 always get): one compressing thread beside the
     caller's, the single-threaded bytes (digests as version 2 gave them).
     OCI_LAYER_THREADS_AUTO needs version 4. */
  int threads;
} oci_layer_options;

/** The version of oci_layer_options this library knows (4: threads may be
   OCI_LAYER_THREADS_AUTO, and is by default; no new field). */
#define OCI_LAYER_OPTIONS_VERSION 4
/** The most compression threads oci_layer_options.threads may ask for. */
#define OCI_LAYER_THREADS_MAX 64
/** oci_layer_options.threads (and oci_layer_transform_options.threads):
   one compressing thread per CPU the process may run on, in the parallel
   format (the default). */
#define OCI_LAYER_THREADS_AUTO (-1)
/** Defaults: gzip, default level, no clamp, owners kept, threads
   OCI_LAYER_THREADS_AUTO. */
#define OCI_LAYER_OPTIONS_INIT                                                 \
  {                                                                            \
    OCI_LAYER_OPTIONS_VERSION, OCI_LAYER_GZIP, 0, 0, 0, -1, -1, 0, NULL, 0,    \
        NULL, 0, OCI_LAYER_THREADS_AUTO                                        \
  }
/** *o = OCI_LAYER_OPTIONS_INIT. */
OCI_API void oci_layer_options_init(oci_layer_options *o);

/** The compressing threads OCI_LAYER_THREADS_AUTO stands for in the
   calling thread now: the CPUs its affinity mask allows
   (sched_getaffinity; the online CPUs if that fails), at least 1, at most
   OCI_LAYER_THREADS_MAX. */
OCI_API int oci_layer_threads_auto(void);

/** Clamp to $SOURCE_DATE_EPOCH when it is set and not empty (reproducible-
   builds.org). OCI_EINVAL when it is not a decimal number of seconds. */
OCI_API int oci_layer_options_from_env(oci_layer_options *o, oci_error *err);

/** "gzip" | "zstd" | "none" -> *out; OCI_EINVAL otherwise. */
OCI_API int oci_layer_compression_from_name(const char *name,
                                            oci_layer_compression *out,
                                            oci_error *err);
/** The layer media type of a compression (static string). */
OCI_API const char *oci_layer_media_type(oci_layer_compression c);

/** Type of a layer entry. */
typedef enum oci_layer_type {
  OCI_LAYER_FILE = 0, /**< regular file */
  OCI_LAYER_DIR,      /**< directory */
  OCI_LAYER_SYMLINK,  /**< symbolic link */
  OCI_LAYER_HARDLINK, /**< hard link to another entry */
  OCI_LAYER_CHAR,     /**< character device */
  OCI_LAYER_BLOCK,    /**< block device */
  OCI_LAYER_FIFO      /**< named pipe */
} oci_layer_type;

/** "file", "dir", "symlink", "hardlink", "char", "block", "fifo" (static). */
OCI_API const char *oci_layer_type_name(oci_layer_type t);
/** The reverse; -1 for an unknown name. */
OCI_API int oci_layer_type_from_name(const char *name);

/** One entry of an explicit list (the caller owns every pointer). */
typedef struct oci_layer_entry {
  const char *path;    /**< relative; "./" and "//" are normalised, "/x" and
                          ".." refused */
  oci_layer_type type; /**< what the entry is */
  int mode;            /**< permission bits 07777; -1: 0644 files, 0755 dirs,
                          0777 symlinks, 0644 devices and fifos */
  /** owner; -1: 0 @{ */
  int64_t uid, gid;
  /** @} */
  int has_mtime;       /**< else: the source file's mtime, or 0 */
  int64_t mtime;       /**< seconds */
  const char *source;  /**< file: read the content from this file, or */
  const void *content; /**< file: these bytes (content_len of them); */
  size_t content_len;  /**< neither: an empty file */
  const char *target;  /**< symlink: target as is; hardlink: an entry path */
  /** device number of char and block entries @{ */
  unsigned major, minor;
  /** @} */
} oci_layer_entry;

/** What to build: exactly one of dir, entries (n_entries of them, n_entries
   may be 0 with a non-NULL entries), or lower and upper. */
typedef struct oci_layer_source {
  const char *dir;                /**< the tree below this directory */
  const oci_layer_entry *entries; /**< an explicit list of entries */
  size_t n_entries;               /**< how many entries */
  /** the changeset from lower to upper (image-spec layer.md) @{ */
  const char *lower, *upper;
  /** @} */
} oci_layer_source;

/** What oci_layer_build wrote. */
typedef struct oci_layer_result {
  char diff_id[OCI_DIGEST_STRING_MAX]; /**< sha256 of the uncompressed tar */
  char digest[OCI_DIGEST_STRING_MAX];  /**< sha256 of the blob */
  uint64_t size;                       /**< blob bytes */
  uint64_t uncompressed_size;          /**< tar bytes */
  const char *media_type;              /**< static string */
  size_t entries;                      /**< tar entries written */
  size_t skipped;                      /**< sockets left out (tar has none) */
} oci_layer_result;

/** Build the blob and write it to fd (not closed; written from its current
   offset). On failure fd holds a partial blob: use oci_layer_build_file to
   never leave one behind. opts may be NULL (defaults, no environment). */
OCI_API int oci_layer_build(const oci_layer_source *src,
                            const oci_layer_options *opts, int fd,
                            oci_layer_result *res, oci_error *err);

/** Same into path, atomically: written to a temporary file beside it, then
   renamed over it (mode 0644). On failure path is not created, and an
   existing file at path is left untouched. */
OCI_API int oci_layer_build_file(const oci_layer_source *src,
                                 const oci_layer_options *opts,
                                 const char *path, oci_layer_result *res,
                                 oci_error *err);

/** One entry of a layer blob, as read back. */
typedef struct oci_layer_info {
  char *path;          /**< as stored (directories end with "/") */
  oci_layer_type type; /**< what the entry is */
  uint32_t mode;       /**< permission bits */
  /** owner and modification time (seconds) @{ */
  int64_t uid, gid, mtime;
  /** @} */
  uint64_t size; /**< content bytes (files) */
  char *target;  /**< symlink or hardlink target; NULL otherwise */
  /** device number (char, block) @{ */
  unsigned major, minor;
  /** @} */
} oci_layer_info;

/** The entries of a layer blob (oci_layer_list). */
typedef struct oci_layer_listing {
  oci_layer_info *items; /**< in tar order */
  size_t len;            /**< how many */
} oci_layer_listing;

/** Entries of a layer blob (tar, gzip or zstd, detected) in tar order.
   *out (and every string in it) is the caller's: free it with
   oci_layer_listing_free. */
OCI_API int oci_layer_list(const char *path, oci_layer_listing **out,
                           oci_error *err);
/** Frees a listing and its strings (NULL is a no-op). */
OCI_API void oci_layer_listing_free(oci_layer_listing *l);

/** Decompresses the layer blob at path (gzip, zstd or none, detected from
   its content) into a new file out_path (created exclusively, mode 0644,
   fsynced; removed again on failure, so it holds the whole stream or is
   absent). max_bytes bounds the output (0: 64 GiB; OCI_ETOOBIG beyond).
   diff_id (may be NULL) receives the sha256 digest of the uncompressed
   stream, *size (may be NULL) its length. out_path NULL: nothing is
   written, the stream is only hashed and measured (checking a diff_id).
   Neither path is followed through a final symbolic link. */
OCI_API int oci_layer_decompress(const char *path, const char *out_path,
                                 uint64_t max_bytes,
                                 char diff_id[OCI_DIGEST_STRING_MAX],
                                 uint64_t *size, oci_error *err);

/* ---- transforming a layer blob ------------------------------------------ */

/** One extended attribute of a layer entry (a PAX SCHILY.xattr.NAME
   record); the pointers belong to whoever filled it. */
typedef struct oci_layer_xattr {
  const char *name;  /**< e.g. "security.capability" (1 to 255 bytes) */
  const void *value; /**< len bytes (at most 65536) */
  size_t len;        /**< value bytes */
} oci_layer_xattr;

/** Where the content of a file entry of a transform comes from. */
typedef enum oci_layer_content {
  OCI_LAYER_CONTENT_KEEP = 0, /**< the input entry's content (new: empty) */
  OCI_LAYER_CONTENT_BYTES,    /**< bytes, len */
  OCI_LAYER_CONTENT_FILE,     /**< the regular file at source (no link
                                 followed at its last component) */
  OCI_LAYER_CONTENT_PRODUCER  /**< produce() writes it (spooled to a
                                 temporary file, the tar needs the size
                                 first) */
} oci_layer_content;

/** Appends len bytes to the content being produced (given to produce). */
typedef int (*oci_layer_write_fn)(void *wctx, const void *buf, size_t len,
                                  oci_error *err);

/** An entry as a transform's callback sees it and edits it in place. On
   the way in every pointer is the transform's, valid during the callback;
   the callback may point any of them at its own memory, which must stay
   valid until the callback is called again or the transform returns. */
typedef struct oci_layer_tentry {
  const char *path;    /**< cleaned (no "./", no trailing "/"); "." is the
                          layer root's own entry */
  oci_layer_type type; /**< what the entry is (a callback may not change
                          it: drop the entry and add another) */
  uint32_t mode;       /**< permission bits */
  /** owner and modification time (seconds) @{ */
  int64_t uid, gid, mtime;
  /** @} */
  /** owner names ("" when none) @{ */
  const char *uname, *gname;
  /** @} */
  uint64_t size;        /**< content bytes of a file (read only) */
  const char *linkname; /**< symlink target; hardlink target path; else NULL */
  /** device number (char, block) @{ */
  unsigned major, minor;
  /** @} */
  const oci_layer_xattr *xattrs; /**< extended attributes */
  size_t n_xattrs;               /**< how many */
  oci_layer_content content;     /**< a file's content: where from */
  const void *bytes;             /**< OCI_LAYER_CONTENT_BYTES */
  size_t len;                    /**< OCI_LAYER_CONTENT_BYTES */
  const char *source;            /**< OCI_LAYER_CONTENT_FILE */
  /** OCI_LAYER_CONTENT_PRODUCER: called once, with pctx, to write the
     content through write(wctx, ...). */
  int (*produce)(void *pctx, oci_layer_write_fn write, void *wctx,
                 oci_error *err);
  void *pctx; /**< produce's context */
} oci_layer_tentry;

/** A transform in progress (given to the callbacks). */
typedef struct oci_layer_transform oci_layer_transform;

/** The per-entry callback: e is filled from the input entry; set *keep to
   false to drop it, or edit e to rewrite it. Return OCI_OK, or an error
   (filled into err), which stops the transform. */
typedef int (*oci_layer_transform_fn)(void *ctx, oci_layer_transform *t,
                                      oci_layer_tentry *e, bool *keep,
                                      oci_error *err);

/** How a layer is transformed (start from oci_layer_transform_options_init).
   The reproducibility options are the layer builder's. */
typedef struct oci_layer_transform_options {
  unsigned version; /**< OCI_LAYER_TRANSFORM_OPTIONS_VERSION */
  /** an oci_layer_compression, or -1 (the default): the input's */
  int compression;
  int level;       /**< as oci_layer_options */
  int clamp_mtime; /**< nonzero: every mtime t becomes min(t, mtime) */
  int64_t mtime;   /**< seconds, with clamp_mtime */
  /** >= 0: owner of every entry; -1: as the entries say @{ */
  int64_t uid, gid;
  /** @} */
  oci_layer_transform_fn fn; /**< per input entry, in tar order (may be
                                NULL: every entry kept) */
  /** After the last entry (may be NULL): the place to add entries at the
     end. */
  int (*finish)(void *ctx, oci_layer_transform *t, oci_error *err);
  void *ctx; /**< given to fn and finish */
  /** The input must have this digest (NULL: not checked) and size (-1:
     not checked): OCI_EMISMATCH, and no output, otherwise. */
  const char *expected_digest;
  int64_t expected_size; /**< see expected_digest */
  /** Limits (0: the unpacker's defaults; 64 MiB for max_read): bytes of
     the uncompressed input, its entries, and what
     oci_layer_transform_read returns. @{ */
  uint64_t max_bytes, max_entries, max_read;
  /** @} */
  /* ---- version 2 ---- */
  /** Compression threads of the output, as oci_layer_options.threads:
     OCI_LAYER_THREADS_AUTO (the default), 0 (the single-threaded bytes;
     what version 1 always gets) or 1 to OCI_LAYER_THREADS_MAX. */
  int threads;
} oci_layer_transform_options;

/** The version of oci_layer_transform_options this header declares. */
#define OCI_LAYER_TRANSFORM_OPTIONS_VERSION 2
/** Defaults: the input's compression, no clamp, owners kept, no callback,
   threads OCI_LAYER_THREADS_AUTO. */
#define OCI_LAYER_TRANSFORM_OPTIONS_INIT                                       \
  {                                                                            \
    OCI_LAYER_TRANSFORM_OPTIONS_VERSION, -1, 0, 0, 0, -1, -1, NULL, NULL,      \
        NULL, NULL, -1, 0, 0, 0, OCI_LAYER_THREADS_AUTO                        \
  }
/** *o = OCI_LAYER_TRANSFORM_OPTIONS_INIT. */
OCI_API void oci_layer_transform_options_init(oci_layer_transform_options *o);

/** Rewrites the layer blob read from in_fd (gzip, zstd or a plain tar,
   detected; from its current offset) into a new blob written to out_fd,
   in one pass, without unpacking: each entry goes through opts->fn in tar
   order and is written as the callback leaves it, in the same place, with
   the layer builder's reproducible headers (the same input and callback
   give the same bytes; a layer the builder made and a callback keeping
   everything give it back byte for byte).

   Names from the blob are cleaned as the unpacker cleans them (leading
   "/" and "./" dropped), ".." refused; paths a callback sets or adds are
   refused when absolute, holding "..", or naming the root; two output
   entries of one path, where the callback made one of them, are refused.
   A hard link follows its target: renamed, it is retargeted to the new
   name; dropped, it is an error (drop the link too). Whiteouts are entries
   like any other. res is filled as oci_layer_build fills it (entries:
   written). On failure out_fd holds a partial blob: see
   oci_layer_transform_file. */
OCI_API int oci_layer_transform_fd(int in_fd,
                                   const oci_layer_transform_options *opts,
                                   int out_fd, oci_layer_result *res,
                                   oci_error *err);

/** Same into path, atomically (a temporary file beside it, renamed over
   it): on failure path is not created and a file there is left as it was. */
OCI_API int oci_layer_transform_file(int in_fd,
                                     const oci_layer_transform_options *opts,
                                     const char *path, oci_layer_result *res,
                                     oci_error *err);

/** During a callback: the current input entry's content, whole (a file's;
   more than max_read: OCI_ETOOBIG). *data (malloc'd, NUL-terminated for
   convenience) is the caller's to free(). The entry, if kept with its
   content, is written with these bytes. */
OCI_API int oci_layer_transform_read(oci_layer_transform *t, char **data,
                                     size_t *len, oci_error *err);

/** During a callback (or finish): writes the new entry e now, before the
   current entry (after every input entry, from finish). e->path must be
   relative; mode (as given), owner, mtime as given; a hardlink's linkname
   must name an entry already written. */
OCI_API int oci_layer_transform_add(oci_layer_transform *t,
                                    const oci_layer_tentry *e, oci_error *err);

#ifdef __cplusplus
}
#endif
#endif
