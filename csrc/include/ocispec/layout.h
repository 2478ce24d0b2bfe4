/** @file
   OCI image layouts on disk (image-spec image-layout.md): a directory with
   `oci-layout` ({"imageLayoutVersion":"1.0.0"}), `index.json` (an image
   index) and content-addressed `blobs/<alg>/<encoded>`.

   Atomicity: every blob and every index.json is first written to a
   temporary file in `<layout>/.ocispec-tmp/` (same file system; a dot
   directory, which skopeo, umoci and oci-image-tool ignore), hashed while
   written, fsynced, then renamed into place and the directory fsynced. A
   blob's final path therefore only ever holds complete, verified content;
   a crash leaves at most a temporary file, which gc removes. index.json
   read-modify-write cycles (tag, untag, gc) hold an flock on
   `.ocispec-tmp/index.lock`, so concurrent writers do not lose updates;
   each temporary file is flock'ed by its writer, and gc removes only those
   nobody holds (creation and locking happen under a shared lock on
   `.ocispec-tmp/tmp.lock`, which gc's sweep takes exclusively).

   Untrusted layouts: nothing below the root directory is followed through
   a symbolic link (blobs/, `blobs/<alg>/`, blobs, index.json, oci-layout,
   .ocispec-tmp/ and its files): reads refuse it, writes replace the link
   (rename) or refuse it, never write through it. Only regular files are
   read. oci_layout_create is race-free: processes creating the same new
   directory at once all end with one layout and every tag they wrote.
   oci_layout_tag checks, under the index lock gc holds, that what it tags
   is present (see there).

   A handle has no global state; one handle is not shared between threads
   while in use. Strings returned through char ** are malloc'd (free());
   descriptors and documents are roots freed with their *_free. */
#ifndef OCISPEC_LAYOUT_H
#define OCISPEC_LAYOUT_H

#include "ocispec/config.h"
#ifndef OCI_WITH_IMAGE
#error "<ocispec/layout.h>: ocispec was built without OCISPEC_WITH_IMAGE"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ocispec/error.h"
#include "ocispec/schema.h"
#include "ocispec/types.h"
#include "ocispec/values.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The layout's version (image-layout.md "oci-layout file"). */
#define OCI_LAYOUT_VERSION "1.0.0"
/** The temporary area, relative to the layout root. */
#define OCI_LAYOUT_TMP_DIR ".ocispec-tmp"
/** image-spec annotations.md: the annotation naming a reference. */
#define OCI_ANNOTATION_REF_NAME OCI_ENUM_STR(ANNOTATION, ANNOTATION_REF_NAME)

/** An open image layout (oci_layout_create, oci_layout_open). */
typedef struct oci_layout oci_layout;
/** A blob being written into a layout (oci_layout_blob_writer). */
typedef struct oci_blob_writer oci_blob_writer;

/** Open the layout at dir, creating it when dir is missing (its parent must
   exist) or empty: writes oci-layout and {"schemaVersion":2,"manifests":[]}
   as index.json. An existing valid layout is opened as is; any other
   non-empty directory is OCI_EINVAL. Concurrent creates of one directory
   are safe: one writes the files, the others open its layout. *out is the
   caller's: close it with oci_layout_close. */
OCI_API int oci_layout_create(const char *dir, oci_layout **out,
                              oci_error *err);

/** Open an existing layout: oci-layout must parse with imageLayoutVersion
   "1.0.0" and index.json must parse as an image index (OCI_EINVAL or the
   parse status otherwise, naming the file and reason; OCI_EIO when unreadable).
   *out is the caller's: close it with oci_layout_close. */
OCI_API int oci_layout_open(const char *dir, oci_layout **out, oci_error *err);

/** Frees the handle; temporary files handed out by oci_layout_temp_path and
   never adopted are removed. NULL is a no-op. */
OCI_API void oci_layout_close(oci_layout *l);

/** The directory the layout was opened with (owned by l). */
OCI_API const char *oci_layout_path(const oci_layout *l);

/** `blobs/<alg>/<encoded>` under the layout for digest (malloc'd: the caller
   free()s *out). The digest
   is validated first (OCI_EINVAL): no path is built from a bad one. A blob
   that exists must be safe to open by that path: a symlink at blobs,
   `blobs/<alg>` or the blob, or a blob that is not a regular file, is
   OCI_EINVAL naming it (the path of a missing blob is given). Readers
   that open the blob themselves should prefer oci_layout_open_blob, which
   has no window between the check and the open. */
OCI_API int oci_layout_blob_path(const oci_layout *l, const char *digest,
                                 char **out, oci_error *err);

/** *out: whether the blob file exists (OCI_EINVAL for a bad digest, and
   for a blob that is a symlink or not a regular file, see open_blob). */
OCI_API int oci_layout_has_blob(const oci_layout *l, const char *digest,
                                bool *out, oci_error *err);

/** Opens a blob for reading, component by component from the layout root
   and never through a symbolic link: blobs/ and `blobs/<alg>/` must be real
   directories and the blob a regular file (a symlink, FIFO, device, socket
   or directory there is OCI_EINVAL naming the blob; a FIFO does not block).
   A missing blob is OCI_EIO. The content is NOT verified: hash what you
   read. *fd (O_RDONLY, offset 0) is the caller's to close; *size (may be
   NULL) gets the file's size. */
OCI_API int oci_layout_open_blob(const oci_layout *l, const char *digest,
                                 int *fd, int64_t *size, oci_error *err);

/** Store len bytes as a sha256 blob; *out gets {mediaType (NULL:
   application/octet-stream), digest, size}, a root the caller frees with
   oci_image_descriptor_free. An existing blob is kept. */
OCI_API int oci_layout_put_blob(oci_layout *l, const void *buf, size_t len,
                                const char *media_type,
                                oci_image_descriptor **out, oci_error *err);

/** Same, copying a file while hashing it (*out: the caller's, as above). */
OCI_API int oci_layout_put_blob_file(oci_layout *l, const char *path,
                                     const char *media_type,
                                     oci_image_descriptor **out,
                                     oci_error *err);

/** A streaming blob writer, the caller's until commit or abort frees it. It
   does not point into l (either may be freed first). Feed with
   oci_blob_writer_write; finish with commit or abort. */
OCI_API int oci_layout_blob_writer(oci_layout *l, const char *media_type,
                                   oci_blob_writer **out, oci_error *err);
/** Appends len bytes. A failure is latched: later writes and commit fail. */
OCI_API int oci_blob_writer_write(oci_blob_writer *w, const void *buf,
                                  size_t len, oci_error *err);
/** Bytes written so far. */
OCI_API uint64_t oci_blob_writer_size(const oci_blob_writer *w);
/** Finishes the blob and frees w (always). expected_digest (may be NULL)
   must match, else OCI_EMISMATCH and nothing is left behind. *out: the
   blob's descriptor, a root the caller frees with oci_image_descriptor_free. */
OCI_API int oci_blob_writer_commit(oci_blob_writer *w,
                                   const char *expected_digest,
                                   oci_image_descriptor **out, oci_error *err);
/** Removes the temporary file and frees w. NULL is a no-op. */
OCI_API void oci_blob_writer_abort(oci_blob_writer *w);

/** A fresh, empty file in the layout's temporary area (malloc'd path: the
   caller free()s *out), for
   producers that write a blob themselves and then call
   oci_layout_adopt_blob. It is locked for l, so gc leaves it alone until it
   is adopted or l is closed. */
OCI_API int oci_layout_temp_path(oci_layout *l, char **out, oci_error *err);

/** Moves tmp_path (same file system) to the blob path of digest without
   re-hashing: the caller computed digest and size while writing it. The size
   is checked with stat (OCI_EMISMATCH, tmp_path left in place); the file is
   fsynced and renamed. When the blob exists already, tmp_path is removed.
   *out: a root the caller frees with oci_image_descriptor_free. */
OCI_API int oci_layout_adopt_blob(oci_layout *l, const char *tmp_path,
                                  const char *digest, int64_t size,
                                  const char *media_type,
                                  oci_image_descriptor **out, oci_error *err);

/** Reads a blob whole (malloc'd, NUL-terminated for convenience: the caller
   free()s *buf) and checks
   its size (when size >= 0, against the file before reading it) and
   digest: OCI_EMISMATCH names the blob. A missing blob is OCI_EIO; it is
   opened as oci_layout_open_blob does. */
OCI_API int oci_layout_get_blob(const oci_layout *l, const char *digest,
                                int64_t size, char **buf, size_t *len,
                                oci_error *err);

/** Options of oci_layout_put_document (both pointers may be NULL; what
   they point to stays the caller's). */
typedef struct oci_layout_put_options {
  unsigned version;                   /**< OCI_LAYOUT_PUT_OPTIONS_VERSION */
  const oci_str_map *annotations;     /**< set on the returned descriptor */
  const oci_image_platform *platform; /**< idem */
} oci_layout_put_options;
/** The version of oci_layout_put_options this library knows. */
#define OCI_LAYOUT_PUT_OPTIONS_VERSION 1
/** Defaults: no annotations, no platform. */
#define OCI_LAYOUT_PUT_OPTIONS_INIT                                            \
  { OCI_LAYOUT_PUT_OPTIONS_VERSION, NULL, NULL }
/** *o = OCI_LAYOUT_PUT_OPTIONS_INIT. */
OCI_API void oci_layout_put_options_init(oci_layout_put_options *o);

/** Stores obj:to_json() (compact) of type t as a blob. mediaType: the
   document's own mediaType field when present, else the type's OCI media
   type (oci_layout_media_type_of); a manifest's or index's artifactType is
   copied. opts may be NULL. *out: a root the caller frees with
   oci_image_descriptor_free. */
OCI_API int oci_layout_put_document(oci_layout *l, const oci_type *t,
                                    const void *obj,
                                    const oci_layout_put_options *opts,
                                    oci_image_descriptor **out, oci_error *err);

/** The OCI media type of documents of type t (application/json for types
   image-spec gives none): a static string. */
OCI_API const char *oci_layout_media_type_of(const oci_type *t);

/** Reads, verifies (size when >= 0, digest) and parses a blob as type t.
   A size that differs from the file's is OCI_EMISMATCH, and a blob over
   the parser's default max_size OCI_ETOOBIG, before anything is read.
   *out: a document root the caller frees with oci_free. */
OCI_API int oci_layout_get_document(const oci_layout *l, const char *digest,
                                    int64_t size, const oci_type *t, void **out,
                                    oci_error *err);

/** A copy of index.json: *out is a root the caller frees with
   oci_image_index_free. */
OCI_API int oci_layout_index(const oci_layout *l, oci_image_index **out,
                             oci_error *err);

/** Adds a copy of d to index.json with annotation ref.name = name, replacing
   any entry with that name (annotations.md ref.name grammar, else
   OCI_EINVAL; a string of d that is not UTF-8: OCI_EUTF8 naming its JSON
   Pointer). index.json is replaced atomically. Under the index lock (the
   one gc holds), the blob d names must be in the layout, and when it is a
   manifest, index or artifact manifest, every document gc would read from
   it (nested manifests and indexes) too: a blob a concurrent gc removed is
   an error (OCI_EIO "missing", or the document's own error), never a tag
   that breaks every later gc; so must every config and layer they name,
   except those whose descriptor lists urls (an external store's blobs). */
OCI_API int oci_layout_tag(oci_layout *l, const oci_image_descriptor *d,
                           const char *name, oci_error *err);

/** Adds a copy of d to index.json without a ref.name, as oras's oci:
   store keeps every manifest it is given (an artifact attached to an image,
   a referrer): gc then keeps it. Nothing is added when an entry of d's
   digest without a ref.name is there already; a d carrying a ref.name
   annotation is OCI_EINVAL (tag it instead). The checks of oci_layout_tag
   apply (valid descriptor, blobs present under the index lock). */
OCI_API int oci_layout_add(oci_layout *l, const oci_image_descriptor *d,
                           oci_error *err);

/** Removes the entries named name (OCI_EINVAL when there is none). */
OCI_API int oci_layout_untag(oci_layout *l, const char *name, oci_error *err);

/** The descriptor a name stands for: the index.json entry with that
   ref.name, else (a digest) the entry with that digest, else a blob of the
   layout whose media type is read from the document. OCI_EINVAL naming the
   tags there are when nothing matches. *out: a copy, a root the caller
   frees with oci_image_descriptor_free. */
OCI_API int oci_layout_lookup(const oci_layout *l, const char *name_or_digest,
                              oci_image_descriptor **out, oci_error *err);

/** The platform resolve looks for; NULL members: the host's (os and
   architecture) or any (variant). */
typedef struct oci_layout_platform {
  const char *os;           /**< GOOS value: "linux", ... */
  const char *architecture; /**< GOARCH value: "amd64", ... */
  const char *variant;      /**< "v7", "v8", ... */
} oci_layout_platform;

/** What a name or digest resolves to: the caller's, freed whole (its four
   documents too) with oci_layout_resolved_free. */
typedef struct oci_layout_resolved {
  oci_image_descriptor *descriptor; /**< of the manifest */
  oci_image_manifest *manifest;     /**< layers: manifest->layers */
  oci_image_configuration *config;  /**< parsed config blob */
  oci_image_index *index;           /**< the index the ref named, or NULL */
} oci_layout_resolved;

/** Resolves a ref.name in index.json (or a digest) to an image manifest,
   following indexes (nested too) to the manifest for the platform (NULL:
   the host). OCI_EINVAL when nothing matches, listing what is there. *out
   is the caller's: free it with oci_layout_resolved_free. */
OCI_API int oci_layout_resolve(const oci_layout *l, const char *name_or_digest,
                               const oci_layout_platform *platform,
                               oci_layout_resolved **out, oci_error *err);
/** Frees r and the documents in it (NULL is a no-op). */
OCI_API void oci_layout_resolved_free(oci_layout_resolved *r);

/** A list of malloc'd strings (free with oci_layout_strings_free). */
typedef struct oci_layout_strings {
  char **items; /**< malloc'd strings */
  size_t len;   /**< how many */
} oci_layout_strings;
/** Frees the strings and the list; s itself is the caller's. */
OCI_API void oci_layout_strings_free(oci_layout_strings *s);

/** Removes blobs unreachable from index.json (index -> manifests -> config,
   layers, nested indexes; a subject alone does not keep its target; the
   referrers of what is kept stay: see oci_layout_gc_opts) and
   stale temporary files (not locked by a live writer). *removed gets the
   removed digests. When a reachable document is missing or unreadable,
   nothing is removed (its references are unknown): OCI_EINVAL. After an
   OCI_EIO while removing, *removed lists what was removed before it; free
   *removed with oci_layout_strings_free in every case. */
OCI_API int oci_layout_gc(oci_layout *l, oci_layout_strings *removed,
                          oci_error *err);

/** Options of oci_layout_gc_opts; start from OCI_LAYOUT_GC_OPTIONS_INIT. */
typedef struct oci_layout_gc_options {
  unsigned version; /**< OCI_LAYOUT_GC_OPTIONS_VERSION */
  /** false (default): the referrers of what is kept stay too (blobs that
     are OCI manifests or indexes, 4 MiB at most, whose subject is kept,
     and theirs). true: referrers are dropped: index.json entries without a
     ref.name whose document has a subject (oci_layout_add's attached
     artifacts) leave index.json, and what only they reached is removed. */
  bool drop_referrers;
} oci_layout_gc_options;
/** The version of oci_layout_gc_options this library knows. */
#define OCI_LAYOUT_GC_OPTIONS_VERSION 1
/** Defaults: referrers kept. */
#define OCI_LAYOUT_GC_OPTIONS_INIT                                             \
  { OCI_LAYOUT_GC_OPTIONS_VERSION, false }
/** *o = OCI_LAYOUT_GC_OPTIONS_INIT. */
OCI_API void oci_layout_gc_options_init(oci_layout_gc_options *o);
/** oci_layout_gc with options (o NULL: the defaults, which oci_layout_gc
   uses): the referrers of kept manifests and indexes are kept unless
   o->drop_referrers. *removed as for oci_layout_gc. */
OCI_API int oci_layout_gc_opts(oci_layout *l, const oci_layout_gc_options *o,
                               oci_layout_strings *removed, oci_error *err);

/** Room for a problem's message: two full digests and a reason. */
#define OCI_LAYOUT_MESSAGE_MAX 512

/** One problem found by oci_layout_verify. */
typedef struct oci_layout_problem {
  oci_severity severity;                /**< error or warning */
  int code;                             /**< an oci_status */
  char digest[OCI_ERROR_POINTER_MAX];   /**< the blob, or "" */
  char path[OCI_ERROR_MESSAGE_MAX];     /**< file concerned, relative to root */
  char message[OCI_LAYOUT_MESSAGE_MAX]; /**< names the blob and the reason */
} oci_layout_problem;

/** Every problem oci_layout_verify found. */
typedef struct oci_layout_problems {
  oci_layout_problem *items; /**< malloc'd */
  size_t len;                /**< how many */
  size_t errors;             /**< problems with severity error */
  size_t warnings;           /**< problems with severity warning */
} oci_layout_problems;
/** Frees the items; p itself is the caller's. */
OCI_API void oci_layout_problems_free(oci_layout_problems *p);

/** Checks the whole layout and lists EVERY problem: oci-layout and
   index.json; every reachable blob present with its size and digest; every
   document parses and validates; configs' rootfs.diff_ids against their
   layers (count, and each layer decompressed hashes to its diff_id); each
   layer's compression against its media type; an index.json entry named
   like a referrers tag (`<alg>-<encoded>`, distribution-spec "Referrers
   Tag Schema") that is an image index must list documents whose subject
   is that digest (an error otherwise; a different artifactType, or a
   referrer the layout lacks, is a warning). Returns OCI_OK (warnings
   allowed), OCI_EVALIDATE when out holds errors, or OCI_ENOMEM. */
OCI_API int oci_layout_verify(const oci_layout *l, oci_layout_problems *out,
                              oci_error *err);

#ifdef __cplusplus
}
#endif
#endif
