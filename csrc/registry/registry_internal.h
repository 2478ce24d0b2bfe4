/* Shared by registry*.c (not installed): the client, one HTTP exchange, and
   the pure parsers of registry headers (fuzzed by fuzz/registry.c). */
#ifndef OCISPEC_REGISTRY_INTERNAL_H
#define OCISPEC_REGISTRY_INTERNAL_H

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ocispec/registry.h"

/* Error bodies kept for oci_registry_last_response (and messages). */
#define REG_ERROR_BODY_MAX (64u << 10)

/* One cached bearer token, by the scope string it was asked for. */
typedef struct reg_token {
  char *scope;
  char *token;
  int64_t refresh_at_ms; /* CLOCK_MONOTONIC: fetched again from then on */
} reg_token;

/* What the registry showed it supports (oci_registry_capabilities): an
   oci_registry_cap each, chunk_min -1 until an upload opened. Shared by a
   client and the clones of its workers (reg_clone), hence atomic. */
typedef struct reg_caps {
  atomic_int referrers, range, mount, deletion;
  atomic_llong chunk_min;
} reg_caps;

/* Records a capability; with yes_stays a NO does not replace a YES (a
   mount answered 202 may only mean that the source lacks the blob). */
void reg_cap_set(atomic_int *cap, oci_registry_cap v, bool yes_stays);

struct oci_registry {
  char *host;     /* as given: "127.0.0.1:5000" */
  char *api_host; /* contacted: docker.io -> registry-1.docker.io */
  char *base;     /* "https://host" */
  oci_registry_options o;
  char *username, *password, *ca_file, *user_agent; /* owned copies */
  char *identity_token;  /* from an auth file or a helper: an OAuth2 refresh
                            token for the token realm */
  char *realm, *service; /* of the last Bearer challenge answered: tokens
                            are refreshed there before they expire */
  CURL *curl;
  char curl_err[CURL_ERROR_SIZE];
  bool basic; /* the registry asked for Basic: send it up front */
  reg_token *tokens;
  size_t ntokens;
  oci_registry_stats stats;
  /* the last failed request (oci_registry_last_response) */
  long last_status;
  char last_method[8];
  char *last_url, *last_body, *last_content_type;
  size_t last_body_len;
  /* a worker of reg_parallel (NULL in a client of oci_registry_new): the
     pool's curl share (DNS, TLS sessions) and its cancel flag, checked by
     every transfer at least once a second (nonzero: stop) */
  CURLSH *share;
  atomic_int *cancel;
  /* a streamed copy's own stop flag (copy_blob in registry_image.c, set
     while its download runs on a second thread): nonzero stops this
     client's transfer under way as cancel does; NULL: none */
  atomic_int *stop;
  /* the capabilities learnt: own_caps, or the parent client's (a worker) */
  reg_caps own_caps;
  reg_caps *caps;
  /* the blob-location cache (options.blob_cache; NULL: none), shared with
     the clones; the client that opened it closes it */
  struct reg_bcache *bcache;
  bool owns_bcache;
};

/* Response headers the client reads (NULL when absent; owned by the
   response). */
typedef struct reg_resp {
  long status;
  char *body; /* buffered body (NUL-terminated), NULL when streamed */
  size_t len;
  char *content_type, *location, *content_digest, *link, *www_authenticate,
      *retry_after, *oci_subject, *filters_applied, *content_range, *chunk_min,
      *range; /* Range: of an upload's status (bytes the registry holds) */
  int64_t content_length; /* -1 when absent */
} reg_resp;
void reg_resp_free(reg_resp *p);

/* One request. url is absolute. A body comes from memory (body/body_len)
   or from source (source_len bytes; replayable only with rewind). A 2xx
   response body goes to sink when set, else is buffered up to max_body. */
typedef struct reg_req {
  const char *method; /* GET HEAD PUT POST PATCH DELETE */
  const char *url;
  const char *scope; /* token scope ("repository:foo:pull"), NULL: none */
  const char *accept;
  const char *authorization; /* sent as is (token requests) */
  bool no_auth;              /* no cached credentials, no 401 handling */
  const char *content_type;
  const char *content_range;
  const char *range; /* the Range header ("bytes=N-"), NULL: none */
  const void *body;
  size_t body_len;
  bool has_body; /* send a body (possibly empty) */
  oci_registry_source_fn source;
  void *source_ud;
  int64_t source_len;
  int (*rewind)(void *source_ud); /* nonzero: cannot rewind */
  oci_registry_sink_fn sink;
  void *sink_ud;
  size_t max_body;
  bool follow;         /* follow redirects (blob GET) */
  bool no_retry;       /* a request that must not be repeated */
  bool net_resume;     /* a network failure is returned at once: neither
                          reg_do nor curl (a reused connection that died)
                          sends the body again; the caller asks the
                          registry how much arrived (a chunk PATCH) */
  bool keep_last;      /* a cleanup: leaves last_* (the failure) alone */
  const char *what;    /* for progress: the digest moved, or NULL */
  int64_t done_before; /* for progress: bytes of `what` moved earlier */
  int64_t total;       /* for progress: the expected size, -1 unknown */
} reg_req;

/* Performs req with auth and retries. OCI_OK for 2xx (and for statuses in
   ok_also, a 0-terminated list: e.g. 404 for HEAD); else OCI_EREGISTRY /
   OCI_ENETWORK / the sink's or source's error, with last_* recorded. */
int reg_do(oci_registry *r, const reg_req *req, const long *ok_also,
           reg_resp *resp, oci_error *err);

/* A NUL-terminated malloc'd copy of the n bytes at s, which need not be
   NUL-terminated (curl's header lines, a slice of one): unlike strndup,
   nothing past s[n - 1] is read. NULL when out of memory. */
char *reg_dupn(const char *s, size_t n);

/* Appends n bytes of src to the growing buffer *buf (*len used, *cap
   allocated), kept NUL-terminated; -1 when out of memory (*buf intact). */
int reg_append(char **buf, size_t *len, size_t *cap, const void *src, size_t n);

/* Whether reg_do would retry an answer with this status (429, 5xx but 501
   and 505), and its pause before retry number attempt (0 first; the
   answer's Retry-After counts): for callers that retry by themselves. */
bool reg_retryable_status(long st);
void reg_backoff(oci_registry *r, unsigned attempt, const reg_resp *p);

/* reg_do for a request whose answer only matters by its status. */
int reg_call(oci_registry *r, const reg_req *q, oci_error *err);

/* "<base>/v2/<fmt...>" (malloc'd); NULL on allocation failure. */
char *reg_url(const oci_registry *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* url with "?"/"&" name=escaped(value) appended (malloc'd). */
char *reg_url_add(oci_registry *r, const char *url, const char *name,
                  const char *value);
/* Location resolved against the registry base (malloc'd). */
char *reg_resolve_location(const oci_registry *r, const char *location);

int reg_nomem(oci_error *err);
/* Stores blob d in l unless present: fill writes its bytes to w; the blob
   appears only when they match d's digest. */
int reg_layout_store(oci_layout *l, const oci_image_descriptor *d,
                     int (*fill)(void *ud, oci_blob_writer *w, oci_error *err),
                     void *ud, oci_error *err);
/* An upload session that a refused mount opened (POST ?mount=&from=
   answered 202 with a Location, spec.md "Mounting a blob from another
   repository"): the upload that follows uses it instead of DELETEing it
   and POSTing again. url NULL: none; chunk_min: the POST's
   OCI-Chunk-Min-Length (0: none). */
typedef struct reg_session {
  char *url;
  int64_t chunk_min;
} reg_session;
#define REG_SESSION_INIT                                                       \
  { NULL, 0 }
/* Cancels s's session, if any (DELETE, best effort), and empties s. */
void reg_session_drop(oci_registry *r, const char *repo, reg_session *s);
/* Uploads size bytes of fd from its start, which hash to digest (what
   names fd in messages); the upload can be retried (the fd is seeked).
   Unless trusted (a private file this library verified), the bytes are
   hashed as they are sent and a mismatch aborts before the final PUT.
   s (may be NULL): a session to upload into, taken (s is emptied). */
int reg_push_blob_fd(oci_registry *r, const char *repo, const char *digest,
                     int64_t size, int fd, const char *what, bool trusted,
                     reg_session *s, oci_error *err);
/* oci_registry_get_blob without the digest check (the size is checked):
   for a sink that hashes what it gets itself, or feeds an upload that
   does (a streamed copy). */
int reg_get_blob_unverified(oci_registry *r, const char *repo,
                            const char *digest, int64_t size,
                            oci_registry_sink_fn sink, void *ud,
                            oci_error *err);
/* push_blob of a caller's source that can go back to any offset (seek
   returns nonzero when it cannot): the bytes are hashed as they are read,
   and the last one is not sent unless the whole matches digest. s as for
   reg_push_blob_fd. */
int reg_push_blob_source(oci_registry *r, const char *repo, const char *digest,
                         int64_t size, oci_registry_source_fn source, void *ud,
                         int (*seek)(void *ud, int64_t off), const char *what,
                         reg_session *s, oci_error *err);
/* {"schemaVersion":2,"mediaType":<OCI index>,"manifests":[]} */
int reg_empty_index(oci_image_index **out, oci_error *err);
/* The index of the referrers tag schema's tag (distribution-spec
   "Referrers Tag Schema"): an empty one when the tag does not exist;
   OCI_EREGISTRY "not an image index" when the tag names anything else (a
   manifest, a Docker list, a body that is no OCI index), which the caller
   must then leave alone. *out: the caller frees it. */
int reg_tag_schema_index(oci_registry *r, const char *repo, const char *tag,
                         oci_image_index **out, oci_error *err);
/* oci_registry_put_manifest without the referrers fallback (and without
   resetting err): the PUT alone. */
int reg_put_manifest(oci_registry *r, const char *repo, const char *reference,
                     const char *media_type, const void *body, size_t len,
                     oci_image_descriptor **out, bool *subject_handled,
                     oci_error *err);
/* The referrers tag schema fallback (registry_referrers.c) for a document
   PUT as media_type whose digest is digest: when it is an OCI manifest or
   index with a subject, its descriptor (artifactType, annotations) is added
   to the index tagged <alg>-<encoded> of the subject, once; anything else
   is left alone (OCI_OK). */
int reg_add_referrer(oci_registry *r, const char *repo, const char *media_type,
                     const void *body, size_t len, const char *digest,
                     oci_error *err);
/* The progress callback (OCI_ECANCELED when it asks to stop). A blob's
   end (done == total) is reported once, by the operation when the blob is
   in place (pushed, or downloaded and checked): reports made as bytes move
   and the start of a transfer go through reg_progress_bytes, which leaves
   out done == total (so an empty blob's one report is its end). */
int reg_progress(oci_registry *r, const char *what, int64_t done, int64_t total,
                 oci_error *err);
int reg_progress_bytes(oci_registry *r, const char *what, int64_t done,
                       int64_t total, oci_error *err);

/* OCI_EINVAL when v holds a C0 control character or DEL (what names it;
   the value is never quoted: it may be a secret). Every header value sent
   passes here, whoever gave it. */
int reg_check_header_value(const char *what, const char *v, oci_error *err);
/* The same for a URL (spaces refused too). */
int reg_check_url(const char *what, const char *url, oci_error *err);
/* How much of url a message shows: everything before its query. */
int reg_url_shown(const char *url);
/* s[0..n) with control characters escaped (\n, \x01) into out (always
   NUL-terminated, cut at outsz); returns the length written. */
size_t reg_escape(const char *s, size_t n, char *out, size_t outsz);
/* Same scheme, host (case-insensitive) and port (the default made
   explicit); same host name only. */
bool reg_same_origin(const char *a, const char *b);
bool reg_same_host(const char *a, const char *b);
/* oci_error_set of "METHOD URL: <fmt...>", the URL without its query and
   shortened in its middle when the whole would not fit the message. */
int reg_fail(oci_error *err, int code, const char *method, const char *url,
             const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* ---- blob-location cache (blob_cache.c) ---------------------------------- */

/* Bounds of the cache: locations kept per digest and in all, and the
   largest file read (a larger one is taken as empty). */
#define REG_BCACHE_PER_DIGEST 4
#define REG_BCACHE_MAX 4096
#define REG_BCACHE_FILE_MAX (4 << 20)

typedef struct reg_bcache reg_bcache;
/* The cache of the file at path (its entries when it is a good cache
   file, else empty); fails only when out of memory. */
int reg_bcache_open(const char *path, reg_bcache **out, oci_error *err);
/* Records that host/repo has blob digest (the newest location); invalid
   strings are ignored. Thread-safe, as the two below. NULL c: nothing. */
void reg_bcache_note(reg_bcache *c, const char *host, const char *repo,
                     const char *digest);
/* Drops the location (a mount from it was refused). */
void reg_bcache_forget(reg_bcache *c, const char *host, const char *repo,
                       const char *digest);
/* Up to max repositories of host known to hold digest, newest first, but
   skip1 and skip2 (may be NULL): malloc'd copies in out, their count. */
size_t reg_bcache_sources(reg_bcache *c, const char *host, const char *digest,
                          const char *skip1, const char *skip2, char **out,
                          size_t max);
/* Saves (when changed: merged with the file as it is now, written
   atomically, mode 0600) and frees; -1 when the file could not be
   written. NULL c: 0. */
int reg_bcache_close(reg_bcache *c);
/* Tries to mount blob digest into repo from the repositories of r's host
   that the cache knows (at most 3, never skip); *mounted tells. A refused
   or failed mount only drops that location; OCI_ENOMEM and OCI_ECANCELED
   are returned. keep (may be NULL): gets the session of the last refused
   mount (an earlier one is cancelled), for the upload that follows. */
int reg_mount_known(oci_registry *r, const char *repo, const char *digest,
                    const char *skip, bool *mounted, reg_session *keep,
                    oci_error *err);
/* oci_registry_mount_blob, but a refused mount's session goes to keep (as
   for reg_mount_known) instead of being cancelled. */
int reg_mount_blob(oci_registry *r, const char *repo, const char *from_repo,
                   const char *digest, bool *mounted, reg_session *keep,
                   oci_error *err);

/* ---- parallel transfers (registry_pool.c) -------------------------------- */

/* A copy of r for a worker thread (registry_http.c): same host, options,
   credentials and cached tokens; its own curl handle and counters; no
   last response. NULL when out of memory. */
oci_registry *reg_clone(const oci_registry *r);
/* Adds the counters of w to those of r. */
void reg_stats_add(oci_registry *r, const oci_registry *w);
/* Moves w's last failed request into r. */
void reg_last_move(oci_registry *r, oci_registry *w);

/* One job of reg_parallel: job i with the clients c (c[k] stands for
   parents[k]; the parents themselves when run on the calling thread). */
typedef int (*reg_job_fn)(oci_registry *const *c, void *ctx, size_t i,
                          oci_error *err);
/* Runs jobs 0..n-1 on up to parents[0]->o.jobs worker threads, each with
   clones of the np (1 or 2) parents (one clone when both are the same
   client). Progress reports of the workers reach parents[0]'s callback on
   the calling thread. The first failure (or a cancel by the callback)
   stops the others: no new job starts, transfers under way abort; its err
   is returned and its last response moved into the parent. With jobs 1 or
   n 1 the jobs run one after another on the calling thread. A network
   failure (OCI_ENETWORK) only stops new jobs: those under way finish. */
int reg_parallel(oci_registry *const *parents, size_t np, size_t n,
                 reg_job_fn fn, void *ctx, oci_error *err);

/* ---- auth (registry_auth.c) ---------------------------------------------- */

/* A parsed WWW-Authenticate challenge (pointers into a private copy). */
typedef struct reg_challenge {
  enum { REG_AUTH_NONE, REG_AUTH_BASIC, REG_AUTH_BEARER } scheme;
  char *realm, *service, *scope; /* malloc'd, NULL when absent */
} reg_challenge;
/* Parses the first Basic or Bearer challenge of a header value (RFC 7235
   auth-params: token or quoted-string values). OCI_EINVAL when malformed,
   OCI_EUNSUPPORTED when no Basic/Bearer challenge is there. */
int reg_parse_challenge(const char *s, size_t len, reg_challenge *out,
                        oci_error *err);
void reg_challenge_free(reg_challenge *c);

/* The Authorization header value for scope (malloc'd "Bearer ..." or
   "Basic ..."), or NULL for none. */
char *reg_auth_header(oci_registry *r, const char *scope);
/* Before a request (and before the client's curl handle is set up for it:
   this may make a request of its own): a token of scope that is expired or
   about to be is fetched again from the last challenge's realm, or dropped
   when that fails. */
void reg_auth_refresh(oci_registry *r, const char *scope);
/* Handles a 401: obtains credentials for the challenge (token fetch for
   Bearer). OCI_OK when a retry can succeed. */
int reg_auth_answer(oci_registry *r, const reg_resp *resp, const char *scope,
                    oci_error *err);
/* Fills username/password (or identity_token) from one auth file (Docker
   config.json or containers auth.json): its credHelpers[host], credsStore,
   then auths[host]. *found tells whether it had any; a missing file is
   OCI_EIO when required, else OCI_OK with nothing found. */
int reg_auth_from_file(oci_registry *r, const char *path, bool required,
                       bool *found, oci_error *err);
void reg_auth_free(oci_registry *r);

/* ---- credentials (credentials.c) --------------------------------------- */

/* Most a credential helper may print on stdout or on stderr. */
#define REG_HELPER_OUT_MAX (64u << 10)

/* What a helper run gave: its exit status (128 + signal when killed by
   one), stdout (wiped when freed: it holds secrets), stderr. */
typedef struct reg_helper_result {
  int status;
  char *out, *errtxt;
  size_t outlen, errlen;
} reg_helper_result;
void reg_helper_result_free(reg_helper_result *h);
/* A helper name is letters, digits, '-', '_', '.' (no path, no option). */
bool reg_helper_name_ok(const char *name);
/* Runs docker-credential-NAME ACTION (found on PATH, argv, no shell) with
   in on its stdin; the whole run is bounded by timeout_ms (0: 30 s) and
   REG_HELPER_OUT_MAX per stream (the helper is killed beyond). OCI_OK when
   it ran, whatever its exit status; res is the caller's to free. */
int reg_helper_run(const char *name, const char *action, const char *in,
                   size_t inlen, unsigned timeout_ms, reg_helper_result *res,
                   oci_error *err);
/* Asks helper NAME for r->host's credentials (username/password, or the
   identity token for Username "<token>"); *found false when it has none. */
int reg_helper_get(oci_registry *r, const char *name, bool *found,
                   oci_error *err);
/* The credentials of the options' auth_file (that file only), else of the
   first of the default sources that has some (credentials.c). */
int reg_credentials_find(oci_registry *r, const char *auth_file,
                         oci_error *err);

/* ---- headers (registry_http.c) --------------------------------------------
 */

/* The `last` query parameter of a Link header's rel="next" URL (RFC 8288;
   distribution-spec "Listing Tags"), URL-decoded, malloc'd; *out NULL when
   there is no next link. OCI_EINVAL when malformed. */
int reg_parse_link_next(const char *s, size_t len, char **out, oci_error *err);

#endif
