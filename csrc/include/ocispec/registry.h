/** @file
   ocispec registry client: the client side of distribution-spec spec.md
   over HTTP(S) with libcurl.

   A client (oci_registry) talks to one registry host ("127.0.0.1:5000",
   "ghcr.io", "[::1]:5000"). It keeps one curl handle (connection reuse)
   and the bearer tokens it obtained, per scope; it is not shared between
   threads while in use, and it has no global state (curl_global_init runs
   once, under pthread_once).

   Auth: a request answered 401 is retried once with credentials chosen by
   its WWW-Authenticate challenge: Basic sends username:password; Bearer
   fetches a token from the challenge's realm with its service and scope
   (token-spec; the credentials, when any, as Basic auth on that request;
   with an identity token and no username, the OAuth2 refresh_token grant
   POSTed to the realm) and caches it for the scope until shortly before it
   expires (expires_in, default 60 s, less the age given by issued_at),
   when it is fetched again from the same realm before the request. Credentials
   come from the options, else from an auth file (Docker config.json or
   containers auth.json), else none (anonymous).

   Credential sources, when the options name no username: auth_file alone
   when given; else, as podman and skopeo (containers/image) read them,
   $REGISTRY_AUTH_FILE alone when set, else the first of
   $XDG_RUNTIME_DIR/containers/auth.json,
   ${XDG_CONFIG_HOME:-~/.config}/containers/auth.json and
   ${DOCKER_CONFIG:-~/.docker}/config.json that has credentials for the
   host (missing files are skipped, a malformed one is OCI_EINVAL). In one
   file, as docker reads it: credHelpers[host], then credsStore (the
   helper docker-credential-NAME, found on PATH, run with an argv and no
   shell: `get` with the server on stdin, its JSON reply on stdout; a
   helper that has none passes on), then auths[host] (`auth` =
   base64(user:pass), or username/password, or identitytoken). Keys that
   name a namespace ("host/ns") are not used. A helper that fails, prints
   more than 64 KiB or outlives helper_timeout_ms is OCI_EIO (OCI_ETOOBIG)
   with its stderr in the message, at oci_registry_new. Credentials and
   tokens never appear in an error message, and go only to the registry's
   origin and its token realm (see allow_cross_host_auth below). Every
   header value sent (from the options or from a server) is refused when it
   holds a control character (OCI_EINVAL): nothing injects a header.

   Errors: OCI_EREGISTRY when the registry answered with an error status
   (the message names method, URL without its query, and status, and the
   first code and message of its ErrorResponse body, control characters
   escaped; oci_registry_last_response has the details of the failed
   request itself, never of a cleanup after it);
   OCI_ENETWORK for connection, TLS and timeout failures (curl's reason);
   OCI_EMISMATCH when content does not match its digest or size;
   OCI_ECANCELED when the progress callback asked to stop. 429, 5xx (but
   501 and 505) and transient network failures are retried a bounded
   number of times with exponential backoff (Retry-After honoured up to the
   cap), when the request's body can be sent again. */
#ifndef OCISPEC_REGISTRY_H
#define OCISPEC_REGISTRY_H

#include "ocispec/config.h"
#ifndef OCI_WITH_REGISTRY
#error "<ocispec/registry.h>: ocispec was built without OCISPEC_WITH_REGISTRY"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ocispec/error.h"
#include "ocispec/layout.h"
#include "ocispec/types.h"
#include "ocispec/values.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Accept header of manifest requests: OCI and Docker v2 manifests and
   indexes (distribution-spec spec.md "Pulling manifests"), generated from
   values.def (oci_media_type_accept_manifests()). */
#define OCI_REGISTRY_ACCEPT_MANIFESTS (oci_media_type_accept_manifests())

/** Largest manifest (or other JSON body) accepted: 4 MiB, the limit
   distribution-spec spec.md names for registries ("Pushing Manifests"). */
#define OCI_REGISTRY_MANIFEST_MAX (4u << 20)

/** A registry client (oci_registry_new); one thread at a time. */
typedef struct oci_registry oci_registry;

/** Progress of one blob: done of total bytes (total -1 when unknown). It is
   called with done == 0 when a blob starts and with done == total once,
   when it ends (an upload: the registry has the blob; a download: every
   byte arrived, before a layout stores it). Return nonzero to cancel
   (OCI_ECANCELED). */
typedef int (*oci_registry_progress_fn)(void *ud, const char *digest,
                                        int64_t done, int64_t total);

/** Options; start from OCI_REGISTRY_OPTIONS_INIT or
   oci_registry_options_init (the defaults below). */
typedef struct oci_registry_options {
  unsigned version;      /**< OCI_REGISTRY_OPTIONS_VERSION */
  const char *username;  /**< with password: Basic, or token-flow credentials */
  const char *password;  /**< with username */
  const char *auth_file; /**< the auth file (Docker config.json or
                            containers auth.json) read when username is
                            NULL; NULL: the default sources (see "Credential
                            sources" above); "": none */
  bool plain_http;       /**< http:// instead of https:// */
  bool tls_verify;       /**< default true; false accepts any certificate */
  const char *ca_file;   /**< CA bundle (PEM) to verify the registry with,
                            instead of the system's */
  unsigned retries;      /**< retries of 429/5xx/transient (default 3) */
  unsigned retry_delay_ms;     /**< first backoff, doubled per retry (200) */
  unsigned retry_max_delay_ms; /**< backoff cap (default 10000) */
  long connect_timeout_s;      /**< default 30 */
  long low_speed_timeout_s;    /**< abort a transfer that moves fewer than
                                  low_speed_limit bytes/s for this many seconds
                                  (default 60) */
  long low_speed_limit;        /**< bytes per second (default 1024) */
  size_t chunk_size;      /**< 0: monolithic uploads (POST + PUT); else chunked
                             (POST, PATCH chunks of this size, or of the
                             registry's OCI-Chunk-Min-Length when larger,
                             PUT); a chunk the network cuts resumes where
                             the registry says it stopped (see
                             oci_registry_push_blob) */
  const char *user_agent; /**< default `"ocispec/<version>"` */
  oci_registry_progress_fn progress; /**< NULL: no progress reports */
  void *progress_ud;                 /**< passed to progress */
  /** Bounds of one push, pull or copy (0: the default). Each document is
     fetched (or pushed) once per operation, however often indexes name it;
     an index listing more than max_fanout entries, or an operation walking
     more than max_nodes distinct documents, is OCI_ETOOBIG. */
  unsigned max_fanout; /**< default 1000 */
  unsigned max_nodes;  /**< default 10000 */
  /** Bounds of tag and catalog listings (oci_registry_tags, _catalog): at
     most max_pages pages and max_list_bytes bytes of bodies in all
     (OCI_ETOOBIG beyond); a next-page Link that repeats is OCI_EREGISTRY. */
  unsigned max_pages;    /**< default 1000 */
  size_t max_list_bytes; /**< default 64 MiB */
  /** Credentials (Basic, bearer tokens) go only to the registry's own origin
     (scheme, host and port of the client's base URL): a request elsewhere
     (an upload Location on another host or port) carries none unless
     allow_cross_host_auth; a redirect never carries them. The username and
     password go to a token realm only over https, or over http when the
     registry itself is plain HTTP on the realm's host name, unless
     allow_insecure_realm. */
  bool allow_cross_host_auth; /**< see above; default false */
  bool allow_insecure_realm;  /**< see above; default false */
  /** (version 2) A credential helper run (docker-credential-NAME) is stopped,
     and is an error, after this long (default 30000). */
  unsigned helper_timeout_ms;
  /** Blobs moved at once by push, pull and copy (version 2; default 4,
     at most OCI_REGISTRY_JOBS_MAX; 1: one at a time). Each worker is a
     thread with its own connection (DNS cache and TLS sessions shared);
     the progress callback is still called on the calling thread, one call
     at a time. Manifests are written only after all their blobs are in
     place; the first failure cancels the other transfers (a network
     failure only stops new ones: those under way finish, or keep what they
     received for a resumed download). */
  unsigned jobs;
  /** (version 3) The blob-location cache file (JSON; see
     oci_registry_blob_cache_default_path), or NULL for none: where blobs
     were seen (pushed, pulled, found by HEAD, mounted) as digest ->
     (host, repository), read when the client is made and written back
     (merged, atomically, mode 0600) by oci_registry_free. A push or copy
     that lacks a blob in its repository first mounts it (POST
     ?mount=&from=) from a repository of the same host that the cache
     names, never across hosts; a refused mount (202) drops that entry and
     the blob is uploaded. A missing, corrupt or hostile file is taken as
     empty; entries are bounded (4 per digest, 4096 in all). */
  const char *blob_cache;
} oci_registry_options;

/** Largest oci_registry_options.jobs (more is OCI_EINVAL). */
#define OCI_REGISTRY_JOBS_MAX 64

/** The version of oci_registry_options this library knows (1: without
   helper_timeout_ms and jobs, which then take their defaults; 2: without
   blob_cache). */
#define OCI_REGISTRY_OPTIONS_VERSION 3
/** The defaults (every member named here; the others 0). */
#define OCI_REGISTRY_OPTIONS_INIT                                              \
  {                                                                            \
    .version = OCI_REGISTRY_OPTIONS_VERSION, .tls_verify = true, .retries = 3, \
    .retry_delay_ms = 200, .retry_max_delay_ms = 10000,                        \
    .connect_timeout_s = 30, .low_speed_timeout_s = 60,                        \
    .helper_timeout_ms = 30000, .low_speed_limit = 1024, .max_fanout = 1000,   \
    .max_nodes = 10000, .max_pages = 1000, .max_list_bytes = (size_t)64 << 20, \
    .jobs = 4                                                                  \
  }
/** *o = OCI_REGISTRY_OPTIONS_INIT. */
OCI_API void oci_registry_options_init(oci_registry_options *o);

/** A client for host (no scheme, no path; validated like a reference's
   registry part). Options are copied (o may be NULL: defaults). The Docker
   config file is read here: a malformed one is OCI_EINVAL naming the file.
   *out is the caller's: free it with oci_registry_free. */
OCI_API int oci_registry_new(const char *host, const oci_registry_options *o,
                             oci_registry **out, oci_error *err);
/** Frees the client (NULL is a no-op), saving its blob-location cache
   (options.blob_cache) first; a cache that cannot be written is left as
   it was (a cache: no error). */
OCI_API void oci_registry_free(oci_registry *r);

/** The default blob-location cache file:
   $XDG_CACHE_HOME/ocispec/blob-locations.json, else
   $HOME/.cache/ocispec/blob-locations.json (OCI_EINVAL when neither is an
   absolute path). *out is malloc'd: the caller free()s it. */
OCI_API int oci_registry_blob_cache_default_path(char **out, oci_error *err);
/** The host the client talks to (owned by r). */
OCI_API const char *oci_registry_host(const oci_registry *r);

/** What the last failed request got (valid until the next request): HTTP
   status (0 for a network failure), the URL (never with credentials), and
   the body when it was an error body (else NULL / 0). */
typedef struct oci_registry_response {
  long status;              /**< HTTP status; 0: network failure */
  const char *method;       /**< "GET", "PUT", ... */
  const char *url;          /**< without credentials */
  const char *body;         /**< the error body, or NULL */
  size_t body_len;          /**< its bytes */
  const char *content_type; /**< of the body, or NULL */
} oci_registry_response;
/** Fills *out with the last failed request (strings owned by r). */
OCI_API void oci_registry_last_response(const oci_registry *r,
                                        oci_registry_response *out);

/** Requests and bytes since the client was made (monotonic counters). */
typedef struct oci_registry_stats {
  uint64_t requests;       /**< HTTP requests sent, retries and auth included */
  uint64_t blobs_uploaded; /**< blobs sent by push_blob */
  uint64_t blobs_skipped;  /**< blobs push found present (HEAD) */
  uint64_t blobs_mounted;  /**< blobs mounted from another repository */
  uint64_t blobs_downloaded; /**< blobs fetched and verified */
  uint64_t bytes_uploaded;   /**< blob and manifest bytes sent */
  uint64_t bytes_downloaded; /**< blob and manifest bytes received */
  uint64_t manifests_pushed; /**< manifests and indexes PUT */
  uint64_t manifests_pulled; /**< manifests and indexes fetched */
} oci_registry_stats;
/** Copies the counters into *out. */
OCI_API void oci_registry_get_stats(const oci_registry *r,
                                    oci_registry_stats *out);

/** What a registry supports, as far as the client has seen: each is
   learnt from the first request that needs it (no extra request). */
typedef enum oci_registry_cap {
  OCI_REGISTRY_CAP_UNKNOWN = 0, /**< nothing needed it yet */
  OCI_REGISTRY_CAP_YES = 1,     /**< supported */
  OCI_REGISTRY_CAP_NO = 2       /**< not supported: not asked again */
} oci_registry_cap;

/** The capabilities a client has learnt (oci_registry_get_capabilities),
   shared by the client and the workers of its parallel transfers, kept for
   the client's life (one client, one registry host). Start from
   OCI_REGISTRY_CAPABILITIES_INIT or oci_registry_capabilities_init. */
typedef struct oci_registry_capabilities {
  unsigned version; /**< OCI_REGISTRY_CAPABILITIES_VERSION */
  /** GET `/v2/<repo>/referrers/<digest>`: 200 yes; 404 no (but a 404
     NAME_UNKNOWN, which says nothing of the API): oci_registry_referrers
     then reads the referrers tag schema without asking the API again */
  oci_registry_cap referrers;
  /** a blob GET with Range: 206 yes; 200 (the whole blob) no: a cut
     download is then fetched again whole, without Range */
  oci_registry_cap range;
  /** POST ?mount=&from=: 201 yes; 202 (an upload session instead) no,
     unless a mount succeeded before: oci_registry_copy within one
     registry then uploads without trying to mount */
  oci_registry_cap mount;
  /** DELETE of a manifest or blob: 2xx yes; 405 no */
  oci_registry_cap deletion;
  /** the OCI-Chunk-Min-Length of the last upload session opened (0: none
     given; -1: no session opened yet). distribution-spec names no maximum
     chunk size header, so there is none here. */
  int64_t chunk_min;
} oci_registry_capabilities;

/** The version of oci_registry_capabilities this library knows. */
#define OCI_REGISTRY_CAPABILITIES_VERSION 1
/** Every capability unknown. */
#define OCI_REGISTRY_CAPABILITIES_INIT                                         \
  { .version = OCI_REGISTRY_CAPABILITIES_VERSION, .chunk_min = -1 }
/** *c = OCI_REGISTRY_CAPABILITIES_INIT. */
OCI_API void oci_registry_capabilities_init(oci_registry_capabilities *c);
/** Fills *out (whose version the caller set: another one is OCI_EINVAL)
   with what r has learnt. No request is made. */
OCI_API int oci_registry_get_capabilities(const oci_registry *r,
                                          oci_registry_capabilities *out,
                                          oci_error *err);

/** GET /v2/: OCI_OK when the registry answers 200 (after auth). */
OCI_API int oci_registry_ping(oci_registry *r, oci_error *err);

/* ---- manifests ---------------------------------------------------------- */

/** A fetched manifest (free with oci_registry_manifest_free). */
typedef struct oci_registry_manifest {
  char *media_type; /**< Content-Type (parameters removed) */
  char *digest;     /**< sha256 of body, or the algorithm of the requested
                       digest; checked against the request and against
                       Docker-Content-Digest when the server sends one */
  char *body;       /**< NUL-terminated */
  size_t len;       /**< bytes of body */
} oci_registry_manifest;
/** Frees m's strings and m (NULL is a no-op). */
OCI_API void oci_registry_manifest_free(oci_registry_manifest *m);

/** GET `/v2/<repo>/manifests/<reference>` (a tag or a digest). accept NULL:
   OCI_REGISTRY_ACCEPT_MANIFESTS. Bodies above OCI_REGISTRY_MANIFEST_MAX
   are OCI_ETOOBIG. A digest reference must match the body (OCI_EMISMATCH).
   *out's strings are the caller's: free them with oci_registry_manifest_free.
 */
OCI_API int oci_registry_get_manifest(oci_registry *r, const char *repo,
                                      const char *reference, const char *accept,
                                      oci_registry_manifest *out,
                                      oci_error *err);

/** HEAD of the same: *found false (OCI_OK) on 404; else *out gets mediaType,
   digest (Docker-Content-Digest) and size (Content-Length), a root the
   caller frees with oci_image_descriptor_free. out may be NULL. */
OCI_API int oci_registry_head_manifest(oci_registry *r, const char *repo,
                                       const char *reference,
                                       const char *accept, bool *found,
                                       oci_image_descriptor **out,
                                       oci_error *err);

/** PUT `/v2/<repo>/manifests/<reference>` with Content-Type media_type. *out
   (may be NULL) gets the descriptor {media_type, sha256 of body, len}, the
   caller's (oci_image_descriptor_free).
   *subject_handled (may be NULL) tells whether the registry answered with
   OCI-Subject (it indexed the manifest's subject itself). When it did not
   and the body is an OCI manifest or index with a subject, its descriptor
   (artifactType, else the config's mediaType; annotations) is added, once,
   to the referrers tag schema index (tag `<alg>-<encoded>` of the subject;
   distribution-spec "Pushing Manifests with Subject"): a failure there is
   returned (the manifest itself is stored, *out is NULL), and a tag that
   names no OCI index is left alone (OCI_EREGISTRY "not an image index"). */
OCI_API int oci_registry_put_manifest(oci_registry *r, const char *repo,
                                      const char *reference,
                                      const char *media_type, const void *body,
                                      size_t len, oci_image_descriptor **out,
                                      bool *subject_handled, oci_error *err);

/** DELETE `/v2/<repo>/manifests/<reference>`. */
OCI_API int oci_registry_delete_manifest(oci_registry *r, const char *repo,
                                         const char *reference, oci_error *err);

/* ---- blobs -------------------------------------------------------------- */

/** HEAD `/v2/<repo>/blobs/<digest>`: *found, and *size (may be NULL). */
OCI_API int oci_registry_has_blob(oci_registry *r, const char *repo,
                                  const char *digest, bool *found,
                                  int64_t *size, oci_error *err);

/** Receives blob bytes as they arrive; nonzero return aborts with its err. */
typedef int (*oci_registry_sink_fn)(void *ud, const void *buf, size_t len,
                                    oci_error *err);

/** GET `/v2/<repo>/blobs/<digest>`, following redirects, streaming to sink
   while hashing. size >= 0 is the expected size: more bytes abort early.
   At the end size and digest are checked (OCI_EMISMATCH). The sink has
   seen the bytes by then: a sink that publishes must wait for OCI_OK (the
   layout writers below do). */
OCI_API int oci_registry_get_blob(oci_registry *r, const char *repo,
                                  const char *digest, int64_t size,
                                  oci_registry_sink_fn sink, void *ud,
                                  oci_error *err);

/** The same into memory (malloc'd, NUL-terminated: the caller free()s
 *buf); at most max bytes (OCI_ETOOBIG beyond). */
OCI_API int oci_registry_get_blob_buffer(oci_registry *r, const char *repo,
                                         const char *digest, int64_t size,
                                         size_t max, char **buf, size_t *len,
                                         oci_error *err);

/** The same into layout l: the blob appears in l only once verified; a
   present blob is not fetched again. A download the network cuts keeps
   its bytes in the layout's temporary area (by digest) and continues with
   Range (up to retries times, and in a later call); a 200 answer starts
   over, a 206 with another Content-Range is OCI_EREGISTRY. Kept bytes are
   trusted only through the final digest check (a mismatch drops them and
   fetches the blob whole once more). */
OCI_API int oci_registry_get_blob_to_layout(oci_registry *r, const char *repo,
                                            const oci_image_descriptor *d,
                                            oci_layout *l, oci_error *err);

/** Produces upload bytes: returns the count put in buf (0 at the end), or
   -1 with err set. */
typedef ssize_t (*oci_registry_source_fn)(void *ud, void *buf, size_t cap,
                                          oci_error *err);

/** Uploads size bytes that hash to digest: POST then PUT ?digest= (one
   request when chunk_size is 0), or POST, PATCH chunks with Content-Range,
   PUT. The source is read once; a source that yields a different length is
   OCI_EMISMATCH (the registry checks the digest). A source that can seek
   (_push_blob_buffer, _file, _from_layout; the blobs of push and copy) makes
   a chunked upload resumable: a PATCH the network cuts (or answered 416)
   is never replayed blindly; GET on the upload URL gives the bytes the
   registry holds (Range: 0-N, at most those sent, else OCI_EREGISTRY) and
   its Location, and the upload continues from byte N+1, up to retries
   times per blob; a 404 there (the session lost) starts a new session from
   byte 0. The closing PUT is not replayed blindly either: when its answer
   is lost (network, 429/5xx, 404) a HEAD of the blob says whether it
   landed (with size: done, nothing sent again, retries or not); else the
   upload URL's status says what the registry kept of a monolithic PUT cut
   mid-body, and the rest goes in one PATCH (or a new session from byte 0).
   This function's own source does not seek: not resumed (the HEAD still
   applies). */
OCI_API int oci_registry_push_blob(oci_registry *r, const char *repo,
                                   const char *digest, int64_t size,
                                   oci_registry_source_fn source, void *ud,
                                   oci_error *err);

/** Uploads a buffer; *out (may be NULL) gets its descriptor (media_type
   NULL: application/octet-stream; an invalid one is OCI_EINVAL before
   anything is sent, here and in _push_blob_file), a root the caller frees
   with oci_image_descriptor_free, as every descriptor returned below. */
OCI_API int oci_registry_push_blob_buffer(oci_registry *r, const char *repo,
                                          const void *buf, size_t len,
                                          const char *media_type,
                                          oci_image_descriptor **out,
                                          oci_error *err);

/** Uploads the file at path: hashed (sha256) first, then streamed (a
   retried request reads it again); *out (may be NULL) gets its descriptor
   (media_type NULL: application/octet-stream), the caller's to free. */
OCI_API int oci_registry_push_blob_file(oci_registry *r, const char *repo,
                                        const char *path,
                                        const char *media_type,
                                        oci_image_descriptor **out,
                                        oci_error *err);

/** Uploads blob d from layout l (unless the registry has it): a file whose
   size is not d->size is OCI_EMISMATCH before any upload starts, and the
   bytes are hashed as they stream (a mismatch is never committed). */
OCI_API int oci_registry_push_blob_from_layout(oci_registry *r,
                                               const char *repo,
                                               const oci_layout *l,
                                               const oci_image_descriptor *d,
                                               oci_error *err);

/** POST `/v2/<repo>/blobs/uploads/?mount=<digest>&from=<from_repo>`:
   *mounted true on 201; false when the registry opened an upload session
   instead (202; the session is cancelled). */
OCI_API int oci_registry_mount_blob(oci_registry *r, const char *repo,
                                    const char *from_repo, const char *digest,
                                    bool *mounted, oci_error *err);

/** DELETE `/v2/<repo>/blobs/<digest>`. */
OCI_API int oci_registry_delete_blob(oci_registry *r, const char *repo,
                                     const char *digest, oci_error *err);

/* ---- listings ----------------------------------------------------------- */

/** One page of GET `/v2/<repo>/tags/list?n=&last=` (n 0: the server's
   default, last NULL: from the start). *next (malloc'd, may be NULL when
   out is the last page) is the `last` of the next page, from the Link
   header. Items are appended to out (free with oci_layout_strings_free). */
OCI_API int oci_registry_tags_page(oci_registry *r, const char *repo,
                                   unsigned n, const char *last,
                                   oci_layout_strings *out, char **next,
                                   oci_error *err);
/** Every tag, following Link pages of n (0: server default). */
OCI_API int oci_registry_tags(oci_registry *r, const char *repo, unsigned n,
                              oci_layout_strings *out, oci_error *err);

/** The same for GET /v2/_catalog (*next: the caller free()s it). */
OCI_API int oci_registry_catalog_page(oci_registry *r, unsigned n,
                                      const char *last, oci_layout_strings *out,
                                      char **next, oci_error *err);
/** Every repository name, following Link pages of n (0: server default). */
OCI_API int oci_registry_catalog(oci_registry *r, unsigned n,
                                 oci_layout_strings *out, oci_error *err);

/** GET `/v2/<repo>/referrers/<digest>[?artifactType=]`; when the registry
   does not support it (it answers 404: spec.md "Listing Referrers"), the
   referrers tag schema: the index tagged `<alg>-<encoded>` (no such tag:
   an empty index). Filtered by artifact_type (NULL: all) on our side when
   the registry did not (OCI-Filters-Applied). *out is an image index, a
   root the caller frees with oci_image_index_free. */
OCI_API int oci_registry_referrers(oci_registry *r, const char *repo,
                                   const char *digest,
                                   const char *artifact_type,
                                   oci_image_index **out, oci_error *err);

/* ---- whole images ------------------------------------------------------- */

/** Which manifest pull keeps from an index (NULL members match anything). */
typedef struct oci_registry_platform {
  const char *os;           /**< GOOS value: "linux", ... */
  const char *architecture; /**< GOARCH value: "amd64", ... */
  const char *variant;      /**< "v7", "v8", ... */
} oci_registry_platform;

/** Pushes what name (a ref.name in l's index.json, or a digest) names:
   blobs first (those the registry has are skipped), then manifests
   children before parents, the top one under tag (NULL: by digest only). A
   manifest with a subject is added to the referrers tag schema index when
   the registry does not answer OCI-Subject. *out (may be NULL): the pushed
   top descriptor, a root the caller frees with oci_image_descriptor_free. */
OCI_API int oci_registry_push(oci_registry *r, const oci_layout *l,
                              const char *name, const char *repo,
                              const char *tag, oci_image_descriptor **out,
                              oci_error *err);

/** Pulls repo:reference (tag or digest) into l: every blob verified while
   it streams, documents before the index entry that names them; then
   tags it in l as name (NULL: not tagged; the descriptor is in *out).
   platform NULL: the whole index (every manifest) is kept; else the
   matching manifest is chosen from an index (OCI_EINVAL listing what the
   index offers when none matches) and only it is pulled. *out (may be
   NULL): the pulled descriptor, the caller's (oci_image_descriptor_free). */
OCI_API int oci_registry_pull(oci_registry *r, const char *repo,
                              const char *reference, oci_layout *l,
                              const char *name,
                              const oci_registry_platform *platform,
                              oci_image_descriptor **out, oci_error *err);

/** Copies src_repo:src_reference from src to dst_repo (tag dst_tag, NULL:
   by digest only), manifests byte for byte; blobs stream from one registry
   to the other (mounted when src and dst are the same client): a second
   thread downloads each blob into a temporary file while the upload reads
   it from there as it arrives; the upload hashes what it sends and never
   sends a blob's last byte unless the whole matches its digest. Progress
   is reported for those uploads only (not twice per blob). *out (may be
   NULL): the copied descriptor, the caller's (oci_image_descriptor_free). */
OCI_API int oci_registry_copy(oci_registry *src, const char *src_repo,
                              const char *src_reference, oci_registry *dst,
                              const char *dst_repo, const char *dst_tag,
                              oci_image_descriptor **out, oci_error *err);

/** What oci_registry_sync_refs did with one reference. */
typedef enum oci_registry_sync_result {
  OCI_SYNC_FAILED = 0,  /**< not copied: the item's err says why */
  OCI_SYNC_COPIED = 1,  /**< copied */
  OCI_SYNC_SKIPPED = 2, /**< the destination had the same manifest digest */
} oci_registry_sync_result;

/** One reference for oci_registry_sync_refs: set reference (a tag, copied
   to the same tag, or a digest, copied by digest); result and err are
   written by the call. */
typedef struct oci_registry_sync_item {
  const char *reference;           /**< tag or digest at the source */
  oci_registry_sync_result result; /**< out */
  oci_error err;                   /**< out: why, when result is FAILED */
} oci_registry_sync_item;

/** Copies each item's reference of src_repo (at src) to dst_repo (at dst)
   unless dst already has a manifest of the same digest there (one HEAD on
   each side then), as `skopeo sync` does, with up to src's `jobs` images
   at once (each image's blobs one after another). A reference that fails
   is recorded in its item and the others go on. Returns OCI_OK once every
   item has its result; an error only for bad arguments, OCI_ENOMEM or the
   progress callback's cancel (OCI_ECANCELED: items not reached are
   FAILED with an empty err). src and dst may be the same client. */
OCI_API int oci_registry_sync_refs(oci_registry *src, const char *src_repo,
                                   oci_registry *dst, const char *dst_repo,
                                   oci_registry_sync_item *items, size_t n,
                                   oci_error *err);

/** What a credential helper printed (oci_registry_run_helper): its exit
   status (128 + the signal when one killed it), stdout and stderr, each
   NUL-terminated (possibly NULL when empty); owned by the struct, freed
   (stdout wiped first: it may hold a secret) by
   oci_registry_helper_output_free. */
typedef struct oci_registry_helper_output {
  int status;     /**< exit status, or 128 + the signal that ended it */
  char *out;      /**< stdout, NUL-terminated; NULL when empty */
  size_t out_len; /**< bytes of out */
  char *err;      /**< stderr, NUL-terminated; NULL when empty */
  size_t err_len; /**< bytes of err */
} oci_registry_helper_output;

/** Runs the Docker credential helper `docker-credential-NAME ACTION`
   (found on PATH; posix_spawnp with an argv, never a shell) with input on
   its stdin: ACTION is `get` (input: the server), `store` (input:
   `{"ServerURL","Username","Secret"}`), `erase` (the server) or `list`.
   name must be letters, digits, '-', '_', '.' (OCI_EINVAL). The run is
   bounded by timeout_ms (0: 30000) and 64 KiB per output stream: beyond,
   the helper is killed and the call fails (OCI_EIO, OCI_ETOOBIG); a helper
   missing from PATH is OCI_EIO. OCI_OK when it ran, whatever its exit
   status (out->status): the caller reads its verdict. */
OCI_API int oci_registry_run_helper(const char *name, const char *action,
                                    const char *input, size_t input_len,
                                    unsigned timeout_ms,
                                    oci_registry_helper_output *out,
                                    oci_error *err);
/** Frees what oci_registry_run_helper gave (stdout wiped), and zeroes *o. */
OCI_API void oci_registry_helper_output_free(oci_registry_helper_output *o);

#ifdef __cplusplus
}
#endif

#endif
