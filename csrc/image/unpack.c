/* Applying layer changesets (image-spec layer.md) to a root file system.
   libarchive reads the blob (gzip, zstd or plain tar); writing is ours,
   through directory descriptors (unpack_path.c), so that no path string
   is checked first and used later, no symbolic link is followed, and
   every write error is seen.

   A blob is read twice: pass 1 writes nothing and checks the blob's size
   and digest, the uncompressed stream's digest (diff_id), the limits and
   every entry name; pass 2 applies the entries. With one_pass (a rootfs
   the caller throws away on failure: oci_unpack_image's temporary
   bundle) only pass 2 runs, checking each entry before applying it and
   the digests at the end. Both read through the same chain: the file ->
   libarchive "raw" format with the gzip/zstd filters (the uncompressed
   stream, hashed), on a feeder thread -> a second libarchive reader of
   tar format fed by the first, on the calling thread. */
#include "ocispec/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "inroot.h"
#include "internal.h"
#include "ocispec/digest.h"
#include "ocispec/hash.h"
#include "unpack_internal.h"
#include "xattr_internal.h"

#define READ_BLOCK (1 << 20)

/* layer.md "Whiteouts": the prefix, and the opaque marker's full name. */
static const char WH_PREFIX[] = ".wh.";
static const char WH_OPAQUE[] = ".wh..wh..opq";

/* ---- what the layer did to each path -------------------------------------
   One hash table (open addressing over FNV-1a hashes), keyed by the path
   relative to the root, holds two facts per path:

   - upper: the layer wrote it, or something below it. layer.md: whiteouts
     "MUST only apply to resources in lower/parent layers", so a whiteout
     or an opaque marker spares exactly what the same layer wrote, and the
     directories above it (as directories: their lower contents still go).
   - removed: the number of the last entry that removed it (0: none). A
     directory's mode and times are set when the layer ends (see
     fix_dirs); a fix recorded for dir/x must not reach a new dir/x made
     after dir (or dir/x itself) was removed and recreated later in the
     same layer. */

typedef struct path_info {
  char *rel; /* NULL: a free slot */
  uint64_t removed;
  bool upper;
} path_info;

typedef struct path_map {
  path_info *slots;
  size_t cap, len; /* cap: a power of two, or 0 */
  size_t removals; /* entries with removed != 0: none spares fix_dirs a
                      lookup per ancestor of every directory */
} path_map;

static uint64_t fnv1a(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h;
}

/* The slot of p[0..n), or the free slot where it would go (m->cap > 0). */
static path_info *map_slot(const path_map *m, const char *p, size_t n) {
  for (size_t i = fnv1a(p, n) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    path_info *e = &m->slots[i];
    if (!e->rel || (strncmp(e->rel, p, n) == 0 && e->rel[n] == '\0')) return e;
  }
}

static const path_info *map_find(const path_map *m, const char *p, size_t n) {
  if (!m->cap) return NULL;
  const path_info *e = map_slot(m, p, n);
  return e->rel ? e : NULL;
}

/* The entry of p[0..n), added when missing; NULL when out of memory. */
static path_info *map_get(path_map *m, const char *p, size_t n) {
  if ((m->len + 1) * 2 > m->cap) {
    path_map g = {calloc(m->cap ? m->cap * 2 : 256, sizeof(path_info)),
                  m->cap ? m->cap * 2 : 256, m->len, m->removals};
    if (!g.slots) return NULL;
    for (size_t i = 0; i < m->cap; i++)
      if (m->slots[i].rel)
        *map_slot(&g, m->slots[i].rel, strlen(m->slots[i].rel)) = m->slots[i];
    free(m->slots);
    *m = g;
  }
  path_info *e = map_slot(m, p, n);
  if (!e->rel) {
    if (!(e->rel = strndup(p, n))) return NULL;
    m->len++;
  }
  return e;
}

/* Whether the layer wrote p[0..n) or something below it. */
static bool map_upper(const path_map *m, const char *p, size_t n) {
  const path_info *e = map_find(m, p, n);
  return e && e->upper;
}

/* Marks rel and each of its ancestors written. The ancestors of a path
   marked are marked, so the walk up stops at the first one that is (else
   a layer of deep paths would hash a quadratic number of bytes). */
static int map_add_upper(path_map *m, const char *rel) {
  size_t n = strlen(rel);
  for (;;) {
    if (map_upper(m, rel, n)) return 0;
    path_info *e = map_get(m, rel, n);
    if (!e) return -1;
    e->upper = true;
    while (n > 0 && rel[n - 1] != '/')
      n--;
    if (n == 0) return 0;
    n--; /* the parent, without its slash */
  }
}

/* The entry number of the last removal of p[0..n); 0: none. */
static uint64_t map_removed(const path_map *m, const char *p, size_t n) {
  if (!m->removals) return 0;
  const path_info *e = map_find(m, p, n);
  return e ? e->removed : 0;
}

static int map_note_removal(path_map *m, const char *p, uint64_t seq) {
  path_info *e = map_get(m, p, strlen(p));
  if (!e) return -1;
  if (!e->removed) m->removals++;
  e->removed = seq;
  return 0;
}

static void map_free(path_map *m) {
  for (size_t i = 0; i < m->cap; i++)
    free(m->slots[i].rel);
  free(m->slots);
}

/* ---- reading the blob ----------------------------------------------------
   The chain runs on two threads when it can: a feeder thread reads the
   blob, hashes it (the digest) and decompresses it into a ring of blocks;
   the calling thread takes the blocks in order, hashes them (the diff_id)
   and parses the tar from them while it writes the entries. The two halves
   cost about the same (inflate against hashing, tar parsing and the file
   system's work), so a layer takes about half the time of doing both in
   turn. Without a thread (pthread_create failed) the caller does it all. */

#define FEED_BLOCK (256 * 1024)
#define FEED_SLOTS 8

typedef struct feeder {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;    /* filled, taken, stop or done changed */
  unsigned char *slots; /* FEED_SLOTS blocks of FEED_BLOCK bytes */
  size_t len[FEED_SLOTS];
  /* the blocks filled and given back: slot taken % FEED_SLOTS is the
     caller's while filled > taken (handed to libarchive until the next
     read); the feeder fills slot filled % FEED_SLOTS while
     filled - taken < FEED_SLOTS */
  uint64_t filled, taken;
  bool holding;       /* the caller holds slot taken % FEED_SLOTS */
  bool stop;          /* the caller gave up: the feeder ends */
  bool done;          /* the feeder ended: at the stream's end, or failed */
  bool over;          /* it failed at max_bytes (stream.over_limit is the
                         caller's, set when it reaches that failure) */
  int fail_errno;     /* done with an error: its errno (0: none) ... */
  char fail_msg[256]; /* ... and libarchive's message */
} feeder;

typedef struct stream {
  int fd;
  const char *blob;
  unsigned char *cbuf, *ubuf;
  oci_hasher *chash, *uhash; /* NULL when not wanted */
  uint64_t csize, usize, max_bytes;
  bool over_limit, hash_failed;
  bool chash_failed; /* the blob's hasher (the feeder's while it runs) */
  bool read_all;     /* the blob was read (and hashed) to its end */
  bool finished;     /* the hashers gave their digests (stream_finish) */
  struct archive *raw, *tar;
  feeder *feed; /* NULL: no thread, the caller decompresses */
} stream;

static la_ssize_t raw_read_cb(struct archive *a, void *ctx, const void **out) {
  stream *s = ctx;
  ssize_t n;
  do
    n = read(s->fd, s->cbuf, READ_BLOCK);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    archive_set_error(a, errno, "read failed");
    return -1;
  }
  if (s->chash && n > 0 &&
      oci_hasher_update(s->chash, s->cbuf, (size_t)n, NULL) != OCI_OK)
    s->chash_failed = true;
  s->csize += (uint64_t)n;
  if (n == 0) s->read_all = true;
  *out = s->cbuf;
  return n;
}

/* Reads (and hashes) what is left of the blob after the compressed
   stream, or after a failure: 0, or an errno value. */
static int drain_blob(stream *s) {
  while (!s->read_all) {
    const void *unused;
    if (raw_read_cb(s->raw, s, &unused) < 0) return errno ? errno : EIO;
  }
  return 0;
}

/* n bytes of the uncompressed stream were produced: counted against the
   limit (-1 with the error set on report when over). */
static int count_plain(stream *s, la_ssize_t n, struct archive *report) {
  s->usize += (uint64_t)n;
  if (s->usize > s->max_bytes) {
    s->over_limit = true;
    archive_set_error(report, EFBIG, "uncompressed size limit");
    return -1;
  }
  return 0;
}

static void hash_plain(stream *s, const void *buf, la_ssize_t n) {
  if (s->uhash && n > 0 &&
      oci_hasher_update(s->uhash, buf, (size_t)n, NULL) != OCI_OK)
    s->hash_failed = true;
}

/* The feeder thread: decompresses into the ring until the stream ends,
   fails or the caller stops it; at the end reads the blob's rest (the
   digest covers every byte). */
static void *feed_main(void *arg) {
  stream *s = arg;
  feeder *f = s->feed;
  int e = 0;
  bool over = false;
  char msg[sizeof f->fail_msg] = "";
  pthread_mutex_lock(&f->mu);
  for (;;) {
    while (!f->stop && f->filled - f->taken >= FEED_SLOTS)
      pthread_cond_wait(&f->cv, &f->mu);
    if (f->stop) break;
    size_t i = (size_t)(f->filled % FEED_SLOTS);
    pthread_mutex_unlock(&f->mu);
    la_ssize_t n =
        archive_read_data(s->raw, f->slots + i * FEED_BLOCK, FEED_BLOCK);
    if (n < 0) {
      const char *m = archive_error_string(s->raw);
      e = archive_errno(s->raw);
      snprintf(msg, sizeof msg, "%s", m ? m : "decompression failed");
      if (!e) e = EINVAL;
    } else if (n > 0 && (s->usize += (uint64_t)n) > s->max_bytes) {
      /* not s->over_limit: the caller reads that, and may fail on an
         earlier block meanwhile (its own error is then the one told) */
      e = EFBIG;
      over = true;
      snprintf(msg, sizeof msg, "uncompressed size limit");
    } else if (n == 0 && (e = drain_blob(s)) != 0) {
      snprintf(msg, sizeof msg, "read failed: %s", strerror(e));
    }
    pthread_mutex_lock(&f->mu);
    if (n <= 0 || e) break;
    f->len[i] = (size_t)n;
    f->filled++;
    pthread_cond_broadcast(&f->cv);
  }
  f->fail_errno = e;
  f->over = over;
  memcpy(f->fail_msg, msg, sizeof msg);
  f->done = true;
  pthread_cond_broadcast(&f->cv);
  pthread_mutex_unlock(&f->mu);
  return NULL;
}

/* The next block from the feeder (the one before is given back): its
   length, 0 at the end, -1 with the error set on report. */
static la_ssize_t feed_next(stream *s, struct archive *report,
                            const void **out) {
  feeder *f = s->feed;
  pthread_mutex_lock(&f->mu);
  if (f->holding) {
    f->holding = false;
    f->taken++;
    pthread_cond_broadcast(&f->cv);
  }
  while (f->filled == f->taken && !f->done)
    pthread_cond_wait(&f->cv, &f->mu);
  la_ssize_t n = 0;
  if (f->filled > f->taken) {
    size_t i = (size_t)(f->taken % FEED_SLOTS);
    f->holding = true;
    n = (la_ssize_t)f->len[i];
    *out = f->slots + i * FEED_BLOCK;
  } else if (f->fail_errno) {
    archive_set_error(report, f->fail_errno, "%s", f->fail_msg);
    if (f->over) s->over_limit = true;
    n = -1;
  }
  pthread_mutex_unlock(&f->mu);
  if (n > 0) hash_plain(s, *out, n);
  return n;
}

/* Stops the feeder (when running) and waits for it. */
static void feed_stop(stream *s) {
  feeder *f = s->feed;
  if (!f) return;
  pthread_mutex_lock(&f->mu);
  f->stop = true;
  pthread_cond_broadcast(&f->cv);
  pthread_mutex_unlock(&f->mu);
  pthread_join(f->thread, NULL);
  pthread_cond_destroy(&f->cv);
  pthread_mutex_destroy(&f->mu);
  free(f->slots);
  free(f);
  s->feed = NULL;
}

/* Starts the feeder: OCI_OK, or OCI_ENOMEM. When the system gives no
   thread, the caller decompresses (next_block): OCI_OK too. */
static int feed_start(stream *s, oci_error *err) {
  feeder *f = calloc(1, sizeof *f);
  if (!f || !(f->slots = malloc((size_t)FEED_SLOTS * FEED_BLOCK))) {
    free(f);
    return oci_error_set(err, OCI_ENOMEM, "out of memory");
  }
  bool mu = pthread_mutex_init(&f->mu, NULL) == 0;
  bool cv = mu && pthread_cond_init(&f->cv, NULL) == 0;
  s->feed = f;
  /* no signal of the application's is handled on our thread */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  bool started = cv && pthread_create(&f->thread, NULL, feed_main, s) == 0;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (started) return OCI_OK;
  if (cv) pthread_cond_destroy(&f->cv);
  if (mu) pthread_mutex_destroy(&f->mu);
  free(f->slots);
  free(f);
  s->feed = NULL;
  return OCI_OK;
}

/* Next block of the uncompressed stream, hashed and counted: its length,
   0 at the end, -1 with the error set on report. */
static la_ssize_t next_block(stream *s, struct archive *report,
                             const void **out) {
  if (s->feed) return feed_next(s, report, out);
  la_ssize_t n = archive_read_data(s->raw, s->ubuf, READ_BLOCK);
  if (n < 0) {
    const char *m = archive_error_string(s->raw);
    archive_set_error(report, archive_errno(s->raw), "%s",
                      m ? m : "decompression failed");
    return -1;
  }
  *out = s->ubuf;
  hash_plain(s, s->ubuf, n);
  if (n > 0 && count_plain(s, n, report) < 0) return -1;
  return n;
}

static la_ssize_t tar_read_cb(struct archive *a, void *ctx, const void **out) {
  return next_block(ctx, a, out);
}

static int limit_error(const stream *s, oci_error *err) {
  return oci_error_set(err, OCI_ETOOBIG,
                       "%s: the layer uncompresses to more than %" PRIu64
                       " bytes (limit max_bytes)",
                       s->blob, s->max_bytes);
}

static int archive_fail(const stream *s, struct archive *a, const char *what,
                        oci_error *err) {
  if (s->over_limit) return limit_error(s, err);
  const char *msg = archive_error_string(a);
  return oci_error_set(
      err, archive_errno(a) == ENOMEM ? OCI_ENOMEM : OCI_EINVAL, "%s: %s%s%s",
      s->blob, what, msg ? ": " : "", msg ? msg : "");
}

static void stream_close(stream *s) {
  feed_stop(s);
  if (s->tar) archive_read_free(s->tar);
  if (s->raw) archive_read_free(s->raw);
  s->tar = s->raw = NULL;
  oci_hasher_free(s->chash);
  oci_hasher_free(s->uhash);
  s->chash = s->uhash = NULL;
}

/* Opens the chain from the start of s->fd; calg/ualg OCI_DIGEST_OTHER =
   no hashing of that stream. */
static int stream_open(stream *s, oci_digest_alg calg, oci_digest_alg ualg,
                       oci_error *err) {
  s->csize = s->usize = 0;
  s->over_limit = s->hash_failed = s->chash_failed = false;
  s->read_all = s->finished = false;
  if (lseek(s->fd, 0, SEEK_SET) != 0)
    return oci_error_set(err, OCI_EIO, "%s: %s", s->blob, strerror(errno));
  int rc;
  if (calg != OCI_DIGEST_OTHER && (rc = oci_hasher_new(calg, &s->chash, err)))
    return rc;
  if (ualg != OCI_DIGEST_OTHER && (rc = oci_hasher_new(ualg, &s->uhash, err)))
    return rc;
  s->raw = archive_read_new();
  s->tar = archive_read_new();
  if (!s->raw || !s->tar)
    return oci_error_set(err, OCI_ENOMEM, "out of memory");
  archive_read_support_filter_gzip(s->raw);
  archive_read_support_filter_zstd(s->raw);
  archive_read_support_format_raw(s->raw);
  struct archive_entry *e;
  if (archive_read_open(s->raw, s, NULL, raw_read_cb, NULL) != ARCHIVE_OK ||
      archive_read_next_header(s->raw, &e) != ARCHIVE_OK)
    return archive_fail(s, s->raw, "not a layer", err);
  if ((rc = feed_start(s, err))) return rc; /* s->raw is the feeder's now */
  archive_read_support_format_tar(s->tar);
  if (archive_read_open(s->tar, s, NULL, tar_read_cb, NULL) != ARCHIVE_OK)
    return archive_fail(s, s->tar, "not a layer", err);
  return OCI_OK;
}

/* After the tar's end: reads (and hashes) the rest of both streams, then
   writes the digests (when hashed) into c and u. */
static int stream_finish(stream *s, char c[OCI_DIGEST_STRING_MAX],
                         char u[OCI_DIGEST_STRING_MAX], oci_error *err) {
  for (;;) {
    const void *unused;
    la_ssize_t n = next_block(s, s->raw, &unused);
    if (n < 0) return archive_fail(s, s->raw, "corrupt layer", err);
    if (n == 0) break;
  }
  feed_stop(s); /* done: it read the blob to its end */
  int e = drain_blob(s);
  if (e)
    return oci_error_set(err, OCI_EIO, "%s: read failed: %s", s->blob,
                         strerror(e));
  if (s->hash_failed || s->chash_failed)
    return oci_error_set(err, OCI_ENOMEM, "hashing failed");
  s->finished = true;
  int rc;
  if (s->chash && (rc = oci_hasher_finish(s->chash, c, err))) return rc;
  if (s->uhash && (rc = oci_hasher_finish(s->uhash, u, err))) return rc;
  return OCI_OK;
}

/* After a failure: the digest of the whole blob (the rest read and
   hashed) into c; false when it cannot be had. */
static bool stream_digest_anyway(stream *s, char c[OCI_DIGEST_STRING_MAX]) {
  feed_stop(s);
  oci_error ignored;
  return s->chash && s->raw && !s->finished && !drain_blob(s) &&
         !s->chash_failed && oci_hasher_finish(s->chash, c, &ignored) == OCI_OK;
}

/* ---- one entry, parsed and checked -----------------------------------------
 */

enum kind { K_ROOT, K_WHITEOUT, K_OPAQUE, K_ENTRY };

typedef struct parsed {
  char shown[160];     /* our own copy of the entry's name, for messages */
  char rel[PATH_MAX];  /* cleaned path */
  char link[PATH_MAX]; /* cleaned hard link target */
  enum kind kind;
  size_t dir_len;   /* rel[0..dir_len) is the parent directory */
  const char *base; /* into rel: the last component */
  bool hard;
} parsed;

/* A symbolic link's target: the bytes as stored, else their UTF-8 form. */
static const char *link_target(struct archive_entry *e) {
  const char *t = archive_entry_symlink(e);
  return t ? t : archive_entry_symlink_utf8(e);
}

/* The entry's xattrs (PAX SCHILY.xattr.*), checked in pass 1: names and
   values within the kernel's limits, and not too many bytes in all. */
static int check_xattrs(struct archive_entry *e, const parsed *p,
                        oci_error *err) {
  const char *name;
  const void *value;
  size_t size, total = 0;
  archive_entry_xattr_reset(e);
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    size_t nl = name ? strlen(name) : 0;
    if (!nl)
      return oci_error_set(err, OCI_EINVAL,
                           "layer entry \"%s\": an xattr without a name",
                           p->shown);
    if (nl > OCI_XATTR_NAME_MAX)
      return oci_error_set(err, OCI_EINVAL,
                           "layer entry \"%s\": xattr name \"%.64s...\" is "
                           "longer than %d bytes",
                           p->shown, name, OCI_XATTR_NAME_MAX);
    if (size > OCI_XATTR_VALUE_MAX)
      return oci_error_set(err, OCI_EINVAL,
                           "layer entry \"%s\": xattr %s has a value of %zu "
                           "bytes (more than %d)",
                           p->shown, name, size, OCI_XATTR_VALUE_MAX);
    total += nl + size;
    if (total > OCI_XATTR_ENTRY_MAX)
      return oci_error_set(err, OCI_EINVAL,
                           "layer entry \"%s\": more than %u bytes of xattrs",
                           p->shown, OCI_XATTR_ENTRY_MAX);
  }
  return OCI_OK;
}

static int parse_entry(struct archive_entry *e, parsed *p, oci_error *err) {
  const char *name = archive_entry_pathname(e);
  if (!name) name = archive_entry_pathname_utf8(e);
  if (!name)
    return oci_error_set(err, OCI_EINVAL, "layer entry without a name");
  size_t nl = strlen(name);
  if (nl < sizeof p->shown)
    memcpy(p->shown, name, nl + 1);
  else
    snprintf(p->shown, sizeof p->shown, "%.*s...", (int)sizeof p->shown - 4,
             name);
  if (nl >= PATH_MAX)
    return oci_error_set(err, OCI_EINVAL,
                         "layer entry \"%s\": name longer than %d bytes",
                         p->shown, PATH_MAX - 1);
  int rc = up_clean(name, p->rel, p->shown, err);
  if (rc || (rc = check_xattrs(e, p, err))) return rc;
  mode_t type = archive_entry_filetype(e);
  const char *hard = archive_entry_hardlink(e);
  if (!hard) hard = archive_entry_hardlink_utf8(e);
  p->hard = hard != NULL;
  if (!p->rel[0]) {
    if (p->hard || type != AE_IFDIR)
      return oci_error_set(err, OCI_EINVAL,
                           "layer entry \"%s\": refusing to replace the root "
                           "directory with something else",
                           p->shown);
    p->kind = K_ROOT;
    return OCI_OK;
  }
  char *slash = strrchr(p->rel, '/');
  p->dir_len = slash ? (size_t)(slash - p->rel) : 0;
  p->base = slash ? slash + 1 : p->rel;
  if (strncmp(p->base, WH_PREFIX, sizeof WH_PREFIX - 1) == 0) {
    if (strcmp(p->base, WH_OPAQUE) == 0) {
      p->kind = K_OPAQUE;
      return OCI_OK;
    }
    const char *target = p->base + sizeof WH_PREFIX - 1;
    if (!up_component_ok(target, strlen(target)))
      return oci_error_set(err, OCI_EINVAL,
                           "layer entry \"%s\": whiteout of \"%s\" names no "
                           "entry",
                           p->shown, target);
    p->kind = K_WHITEOUT;
    return OCI_OK;
  }
  p->kind = K_ENTRY;
  if (hard) {
    if (strlen(hard) >= PATH_MAX)
      return oci_error_set(err, OCI_EINVAL,
                           "layer entry \"%s\": link target longer than %d "
                           "bytes",
                           p->shown, PATH_MAX - 1);
    if ((rc = up_clean(hard, p->link, p->shown, err))) return rc;
    if (!p->link[0])
      return oci_error_set(err, OCI_EINVAL,
                           "layer entry \"%s\": hard link to the root "
                           "directory",
                           p->shown);
  } else if (type == AE_IFLNK) {
    const char *t = link_target(e);
    if (!t || !*t)
      return oci_error_set(err, OCI_EINVAL,
                           "layer entry \"%s\": symbolic link without a "
                           "target",
                           p->shown);
    if (strlen(t) >= PATH_MAX)
      return oci_error_set(err, OCI_EINVAL,
                           "layer entry \"%s\": link target longer than %d "
                           "bytes",
                           p->shown, PATH_MAX - 1);
  } else if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFCHR &&
             type != AE_IFBLK && type != AE_IFIFO) {
    return oci_error_set(err, OCI_EUNSUPPORTED,
                         "layer entry \"%s\": unsupported entry type 0%o",
                         p->shown, (unsigned)type);
  }
  return OCI_OK;
}

/* ---- applying ------------------------------------------------------------ */

typedef struct dir_fix {
  char *rel;
  uint64_t seq; /* the entry that asked for it */
  mode_t mode;
  struct timespec times[2];
} dir_fix;

int oci_id_map_parse(const char *s, oci_id_map *out, oci_error *err) {
  oci_error_reset(err);
  uint64_t v[3] = {0, 0, 1};
  int n = 0;
  const char *c = s;
  while (c && n < 3) {
    if (*c < '0' || *c > '9') { /* also after a ':' */
      c = NULL;
      break;
    }
    uint64_t x = 0;
    while (*c >= '0' && *c <= '9' && x <= UINT32_MAX)
      x = x * 10 + (uint64_t)(*c++ - '0');
    if (x > UINT32_MAX) break;
    v[n++] = x;
    if (*c == ':' && n < 3)
      c++;
    else
      break;
  }
  if (!c || *c || n < 2 || v[2] == 0 || v[0] + v[2] - 1 > UINT32_MAX ||
      v[1] + v[2] - 1 > UINT32_MAX)
    return oci_error_set(err, OCI_EINVAL,
                         "id mapping \"%.64s\" is not CONTAINER:HOST[:SIZE] "
                         "(decimal ids, SIZE at least 1, ranges within "
                         "0..4294967295)",
                         s ? s : "(null)");
  out->container = (uint32_t)v[0];
  out->host = (uint32_t)v[1];
  out->size = (uint32_t)v[2];
  return OCI_OK;
}

typedef struct applier {
  up_walk walk;
  bool rootless, owner;
  const oci_id_map *uid_map, *gid_map;
  size_t n_uid_map, n_gid_map;
  path_map paths; /* what the layer wrote and removed */
  dir_fix *dirs;
  size_t ndirs, capdirs;
  oci_unpack_stats *st;
  stream *s;
  /* the last parent resolved through a link: its name in the layer and
     its resolved path (entries below it resolve from there: a deep tree
     under a link costs linear time); forgotten when a link is made or
     anything removed */
  bool rc_ok;
  size_t rc_rlen, rc_clen;
  char rc_raw[PATH_MAX], rc_canon[PATH_MAX];
} applier;

static void entry_times(struct archive_entry *e, struct timespec t[2]) {
  t[1].tv_sec = archive_entry_mtime(e);
  t[1].tv_nsec = archive_entry_mtime_nsec(e);
  if (archive_entry_atime_is_set(e)) {
    t[0].tv_sec = archive_entry_atime(e);
    t[0].tv_nsec = archive_entry_atime_nsec(e);
  } else {
    t[0] = t[1];
  }
}

static int io_error(const parsed *p, const char *what, oci_error *err) {
  return oci_error_set(err, OCI_EIO, "layer entry \"%s\": %s: %s", p->shown,
                       what, strerror(errno));
}

/* The directory at rel[0..len) (a cleaned entry path's parent) resolved
   inside the root as umoci (securejoin) does: symbolic links on the way
   are followed inside the root, never out of it (inroot.c). Its resolved
   path goes to canon (length *clen), the directory, opened (with create: made
   where missing), to *fd; without create, -1 when there is none. */
static int open_parent(applier *a, const char *rel, size_t len, bool create,
                       char canon[PATH_MAX], size_t *clen, int *fd,
                       const char *shown, oci_error *err) {
  oci_error ignored;
  /* the usual case, an existing directory reached without a link: one
     call (cached), and rel is its resolved path */
  if (up_open_dir(&a->walk, rel, len, false, fd, shown, &ignored) == OCI_OK &&
      *fd >= 0) {
    memcpy(canon, rel, len);
    canon[len] = '\0';
    *clen = len;
    return OCI_OK;
  }
  char tmp[PATH_MAX];
  memcpy(tmp, rel, len);
  tmp[len] = '\0';
  int r = -1;
  if (a->rc_ok && len > a->rc_rlen && rel[a->rc_rlen] == '/' &&
      memcmp(rel, a->rc_raw, a->rc_rlen) == 0) {
    int sfd;
    if (up_open_dir(&a->walk, a->rc_canon, a->rc_clen, false, &sfd, shown,
                    &ignored) == OCI_OK &&
        sfd >= 0) {
      r = inroot_resolve_at(a->walk.rootfd, sfd, a->rc_canon, a->rc_clen,
                            tmp + a->rc_rlen + 1, false, canon, clen);
      close(sfd);
    }
  }
  if (r < 0) r = inroot_resolve(a->walk.rootfd, tmp, false, canon, clen);
  a->rc_ok = r == 0;
  if (!r) {
    memcpy(a->rc_raw, tmp, len + 1);
    memcpy(a->rc_canon, canon, *clen + 1);
    a->rc_rlen = len;
    a->rc_clen = *clen;
  }
  if (r == ELOOP)
    return oci_error_set(err, OCI_EINVAL,
                         "layer entry \"%s\": more than %d symbolic links "
                         "in \"%s\" (ELOOP)",
                         shown, INROOT_MAX_LINKS, tmp);
  if (r == ENAMETOOLONG)
    return oci_error_set(err, OCI_EINVAL,
                         "layer entry \"%s\": \"%s\" resolves to a path "
                         "longer than %d bytes",
                         shown, tmp, PATH_MAX - 1);
  if (r)
    return oci_error_set(err, r == ENOMEM ? OCI_ENOMEM : OCI_EIO,
                         "layer entry \"%s\": cannot resolve \"%s\": %s", shown,
                         tmp, strerror(r));
  return up_open_dir(&a->walk, canon, *clen, create, fd, shown, err);
}

/* canon (length *clen) + "/" + name, if it fits. */
static int join_name(char canon[PATH_MAX], size_t *clen, const char *name,
                     const char *shown, oci_error *err) {
  size_t n = strlen(name);
  if (*clen + 1 + n >= PATH_MAX)
    return oci_error_set(err, OCI_EINVAL,
                         "layer entry \"%s\": resolves to a path longer than "
                         "%d bytes",
                         shown, PATH_MAX - 1);
  if (*clen) canon[(*clen)++] = '/';
  memcpy(canon + *clen, name, n + 1);
  *clen += n;
  return OCI_OK;
}

/* Directories still to clear of lower entries, by path (so that no
   descriptor stays open per level of a deep tree). */
typedef struct rel_stack {
  char **items;
  size_t len, cap;
} rel_stack;

static int push_rel(rel_stack *st, const char *rel, size_t n) {
  if (st->len == st->cap) {
    size_t cap = st->cap ? st->cap * 2 : 16;
    char **items = realloc(st->items, cap * sizeof *items);
    if (!items) return -1;
    st->items = items;
    st->cap = cap;
  }
  if (!(st->items[st->len] = strndup(rel, n))) return -1;
  st->len++;
  return 0;
}

/* Clears the directory at rel of every entry this layer did not write
   (nor lead to): those go whole; written directories are cleared in turn
   (pushed on todo). layer.md: whiteouts apply to lower layers only. */
static int clear_dir(applier *a, const char *rel, rel_stack *todo,
                     const parsed *p, oci_error *err) {
  size_t rel_len = strlen(rel);
  int fd;
  oci_error ignored;
  /* a written directory replaced since by a link or file: nothing below */
  if (up_open_dir(&a->walk, rel, rel_len, false, &fd, p->shown, &ignored) ||
      fd < 0)
    return OCI_OK;
  int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
  if (!d) {
    int e = errno;
    if (dfd >= 0) close(dfd);
    close(fd);
    errno = e;
    return io_error(p, "cannot read a directory", err);
  }
  char sub[PATH_MAX];
  memcpy(sub, rel, rel_len);
  int rc = OCI_OK;
  struct dirent *de;
  while (!rc && (de = readdir(d))) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
    size_t n = strlen(de->d_name);
    size_t sl = rel_len + (rel_len ? 1 : 0) + n;
    bool written = false; /* longer than PATH_MAX: not by this layer */
    if (sl < PATH_MAX) {
      if (rel_len) sub[rel_len] = '/';
      memcpy(sub + rel_len + (rel_len ? 1 : 0), de->d_name, n);
      written = map_upper(&a->paths, sub, sl);
    }
    if (!written) {
      rc = up_remove_at(fd, de->d_name, p->shown, err);
      continue;
    }
    struct stat st;
    if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISDIR(st.st_mode) && push_rel(todo, sub, sl))
      rc = oci_error_set(err, OCI_ENOMEM, "out of memory");
  }
  closedir(d);
  close(fd);
  return rc;
}

static int apply_whiteout(applier *a, const parsed *p, oci_error *err) {
  int dfd;
  char rel[PATH_MAX];
  size_t len;
  int rc =
      open_parent(a, p->rel, p->dir_len, false, rel, &len, &dfd, p->shown, err);
  if (rc || dfd < 0) return rc; /* missing parent: nothing below to hide */
  up_walk_forget(&a->walk);     /* what it names may go */
  a->rc_ok = false;
  rel_stack todo = {0};
  if (p->kind == K_OPAQUE) {
    a->st->opaque_dirs++;
    if (push_rel(&todo, rel, len))
      rc = oci_error_set(err, OCI_ENOMEM, "out of memory");
  } else {
    const char *target = p->base + sizeof WH_PREFIX - 1;
    a->st->whiteouts++;
    struct stat st;
    if ((rc = join_name(rel, &len, target, p->shown, err))) {
      /* nothing this long exists to be hidden */
    } else if (!map_upper(&a->paths, rel, len))
      rc = up_remove_at(dfd, target, p->shown, err);
    else if (fstatat(dfd, target, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
             S_ISDIR(st.st_mode) && push_rel(&todo, rel, len))
      rc = oci_error_set(err, OCI_ENOMEM, "out of memory");
  }
  close(dfd);
  while (!rc && todo.len) {
    char *next = todo.items[--todo.len];
    rc = clear_dir(a, next, &todo, p, err);
    free(next);
  }
  for (size_t i = 0; i < todo.len; i++)
    free(todo.items[i]);
  free(todo.items);
  up_walk_forget(&a->walk);
  return rc;
}

static int write_data(applier *a, int fd, struct archive_entry *e,
                      const parsed *p, oci_error *err) {
  const void *buf;
  size_t len;
  la_int64_t off;
  int r;
  while ((r = archive_read_data_block(a->s->tar, &buf, &len, &off)) ==
         ARCHIVE_OK) {
    const char *b = buf;
    while (len) {
      ssize_t w = pwrite(fd, b, len, (off_t)off);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        if (w == 0) errno = EIO;
        return io_error(p, "write failed", err);
      }
      b += w;
      len -= (size_t)w;
      off += w;
    }
  }
  if (r != ARCHIVE_EOF)
    return archive_fail(a->s, a->s->tar, "truncated or corrupt layer", err);
  /* sparse files end in a hole: give the file its full size */
  la_int64_t size = archive_entry_size(e);
  struct stat st;
  if (fstat(fd, &st) != 0) return io_error(p, "fstat", err);
  if (st.st_size < size && ftruncate(fd, (off_t)size) != 0)
    return io_error(p, "write failed", err);
  return OCI_OK;
}

/* The host owner of an entry (umoci's unmapHeader): rootless, root (the
   real owner goes to user.rootlesscontainers); through the maps. */
static int host_owner(const applier *a, struct archive_entry *e,
                      const parsed *p, uid_t *u, gid_t *g, oci_error *err) {
  uint32_t cu = a->rootless ? 0 : (uint32_t)archive_entry_uid(e);
  uint32_t cg = a->rootless ? 0 : (uint32_t)archive_entry_gid(e);
  uint32_t hu, hg;
  if (oci_map_id(a->uid_map, a->n_uid_map, true, cu, &hu))
    return oci_error_set(err, OCI_EINVAL,
                         "layer entry \"%s\": uid %" PRIu32
                         " cannot be mapped to a host id (uid_map)",
                         p->shown, cu);
  if (oci_map_id(a->gid_map, a->n_gid_map, true, cg, &hg))
    return oci_error_set(err, OCI_EINVAL,
                         "layer entry \"%s\": gid %" PRIu32
                         " cannot be mapped to a host id (gid_map)",
                         p->shown, cg);
  *u = (uid_t)hu;
  *g = (gid_t)hg;
  return OCI_OK;
}

static int set_owner(applier *a, int dirfd, const char *name, int fd,
                     struct archive_entry *e, const parsed *p, oci_error *err) {
  if (!a->owner) return OCI_OK;
  uid_t u;
  gid_t g;
  int rc = host_owner(a, e, p, &u, &g, err);
  if (rc) return rc;
  int r = fd >= 0 ? fchown(fd, u, g)
                  : fchownat(dirfd, name, u, g, AT_SYMLINK_NOFOLLOW);
  return r == 0 ? OCI_OK : io_error(p, "cannot set the owner", err);
}

/* One xattr call on the object: fd when >= 0, else name in the directory
   dirfd, reached through /proc/self/fd/DIRFD/NAME without following NAME
   (there is no *xattrat call; the magic link is the open directory
   itself, so nothing on the way is looked up again). op: 's' set
   (value, size), 'r' remove, 'l' list into value (size bytes). */
static ssize_t xattr_op(int fd, int dirfd, const char *name, char op,
                        const char *xname, void *value, size_t size) {
  if (fd >= 0)
    return op == 's'   ? fsetxattr(fd, xname, value, size, 0)
           : op == 'r' ? fremovexattr(fd, xname)
                       : flistxattr(fd, value, size);
  char path[64 + NAME_MAX];
  if ((size_t)snprintf(path, sizeof path, "/proc/self/fd/%d/%s", dirfd, name) >=
      sizeof path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  return op == 's'   ? lsetxattr(path, xname, value, size, 0)
         : op == 'r' ? lremovexattr(path, xname)
                     : llistxattr(path, value, size);
}

/* Sets the entry's xattrs (after its owner: a chown drops
   security.capability) on the object made for it (see xattr_op). clear: an
   existing directory kept, whose xattrs of the namespaces layers carry go
   first, so that it ends with exactly the entry's (as umoci). Names of
   other namespaces are skipped; without privileges (rootless, or not
   root) so are the xattrs the kernel refuses for want of them, and
   ENOTSUP (a file system without xattrs) is skipped in every case; both
   are counted in xattrs_skipped. */
static int set_xattrs(applier *a, struct archive_entry *e, const parsed *p,
                      int fd, int dirfd, const char *name, bool clear,
                      oci_error *err) {
  if (clear) {
    /* Linux XATTR_LIST_MAX: no list is longer */
    char *list = malloc(65536);
    if (!list) return oci_error_set(err, OCI_ENOMEM, "out of memory");
    ssize_t n = xattr_op(fd, dirfd, name, 'l', NULL, list, 65536);
    int rc = OCI_OK;
    if (n < 0 && errno != ENOTSUP)
      rc = io_error(p, "cannot list the xattrs of the directory", err);
    for (ssize_t i = 0; !rc && i < n; i += (ssize_t)strlen(list + i) + 1)
      if (oci_xattr_kept(list + i) &&
          xattr_op(fd, dirfd, name, 'r', list + i, NULL, 0) != 0 &&
          errno != ENODATA && (a->owner || (errno != EPERM && errno != EACCES)))
        rc = io_error(p, "cannot remove an xattr", err);
    free(list);
    if (rc) return rc;
  }
  const char *xname;
  const void *value;
  size_t size;
  /* rootless, as umoci's unmapHeader: the owner no unprivileged user can
     give is recorded in user.rootlesscontainers (root's ids as "unchanged";
     none when both are root), and a layer's own such xattr is ignored */
  unsigned char rl[12];
  size_t rl_len = 0;
  uint32_t uid = (uint32_t)archive_entry_uid(e),
           gid = (uint32_t)archive_entry_gid(e);
  if (a->rootless && (uid || gid))
    rl_len = oci_rootless_encode(uid ? uid : OCI_ROOTLESS_NOOP,
                                 gid ? gid : OCI_ROOTLESS_NOOP, rl);
  archive_entry_xattr_reset(e);
  for (int more = 1; more;) {
    if (archive_entry_xattr_next(e, &xname, &value, &size) != ARCHIVE_OK) {
      if (!rl_len) break;
      xname = OCI_XATTR_ROOTLESS; /* last: ours */
      value = rl;
      size = rl_len;
      more = 0;
    } else if (a->rootless && !strcmp(xname, OCI_XATTR_ROOTLESS)) {
      a->st->xattrs_skipped++;
      continue;
    }
    if (!oci_xattr_kept(xname)) {
      a->st->xattrs_skipped++;
      continue;
    }
    if (xattr_op(fd, dirfd, name, 's', xname, (void *)value, size) == 0) {
      a->st->xattrs++;
      continue;
    }
    if (errno == ENOTSUP ||
        (!a->owner && (errno == EPERM || errno == EACCES))) {
      a->st->xattrs_skipped++;
      continue;
    }
    return oci_error_set(err, OCI_EIO,
                         "layer entry \"%s\": cannot set xattr %s: %s",
                         p->shown, xname, strerror(errno));
  }
  return OCI_OK;
}

static int push_dir(applier *a, const char *rel, struct archive_entry *e,
                    oci_error *err) {
  if (a->ndirs == a->capdirs) {
    size_t cap = a->capdirs ? a->capdirs * 2 : 64;
    dir_fix *d = realloc(a->dirs, cap * sizeof *d);
    if (!d) return oci_error_set(err, OCI_ENOMEM, "out of memory");
    a->dirs = d;
    a->capdirs = cap;
  }
  dir_fix *f = &a->dirs[a->ndirs];
  if (!(f->rel = strdup(rel)))
    return oci_error_set(err, OCI_ENOMEM, "out of memory");
  f->mode = archive_entry_perm(e) & 07777;
  f->seq = a->st->entries;
  entry_times(e, f->times);
  a->ndirs++;
  return OCI_OK;
}

static int apply_entry(applier *a, struct archive_entry *e, const parsed *p,
                       oci_error *err) {
  mode_t type = archive_entry_filetype(e);
  if (!p->hard && a->rootless && (type == AE_IFCHR || type == AE_IFBLK)) {
    a->st->skipped++;
    return OCI_OK;
  }
  int pfd;
  char canon[PATH_MAX]; /* p->rel resolved in the root, but its last name */
  size_t clen;
  int rc = open_parent(a, p->rel, p->dir_len, true, canon, &clen, &pfd,
                       p->shown, err);
  if (rc) return rc;
  const char *base = p->base;
  if ((rc = join_name(canon, &clen, base, p->shown, err))) goto out;
  bool is_dir = !p->hard && type == AE_IFDIR;
  struct stat old;
  bool exists = fstatat(pfd, base, &old, AT_SYMLINK_NOFOLLOW) == 0;
  if (!exists && errno != ENOENT) {
    rc = io_error(p, "stat", err);
    goto out;
  }
  /* anything but a directory over a directory: the old tree goes first */
  if (p->hard || type == AE_IFLNK) a->rc_ok = false; /* may make a link */
  if (exists && !(is_dir && S_ISDIR(old.st_mode))) {
    up_walk_forget(&a->walk); /* the cached directory may be below */
    a->rc_ok = false;
    if ((rc = up_remove_at(pfd, base, p->shown, err))) goto out;
    if (S_ISDIR(old.st_mode) &&
        map_note_removal(&a->paths, canon, a->st->entries)) {
      rc = oci_error_set(err, OCI_ENOMEM, "out of memory");
      goto out;
    }
  }
  struct timespec t[2];
  entry_times(e, t);
  mode_t perm = archive_entry_perm(e) & 07777;
  if (p->hard) {
    /* umoci: the target's directory is resolved in the root, its last
       name is not followed (a link to a symbolic link links to it) */
    int tfd;
    const char *slash = strrchr(p->link, '/');
    size_t tlen = slash ? (size_t)(slash - p->link) : 0;
    const char *tbase = slash ? slash + 1 : p->link;
    char tcanon[PATH_MAX];
    size_t tclen;
    if ((rc = open_parent(a, p->link, tlen, false, tcanon, &tclen, &tfd,
                          p->shown, err)))
      goto out;
    struct stat ts;
    if (tfd < 0 || fstatat(tfd, tbase, &ts, AT_SYMLINK_NOFOLLOW) != 0) {
      if (tfd >= 0) close(tfd);
      rc = oci_error_set(err, OCI_EINVAL,
                         "layer entry \"%s\": hard link target \"%s\" does "
                         "not exist",
                         p->shown, p->link);
      goto out;
    }
    if (S_ISDIR(ts.st_mode)) {
      close(tfd);
      rc = oci_error_set(err, OCI_EINVAL,
                         "layer entry \"%s\": hard link to a directory",
                         p->shown);
      goto out;
    }
    int r = linkat(tfd, tbase, pfd, base, 0); /* 0: a link is not followed */
    close(tfd);
    if (r != 0) rc = io_error(p, "cannot create the hard link", err);
  } else if (type == AE_IFREG) {
    int fd = openat(pfd, base,
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
      rc = io_error(p, "cannot create", err);
      goto out;
    }
    if (!(rc = write_data(a, fd, e, p, err)) &&
        !(rc = set_owner(a, -1, NULL, fd, e, p, err)) &&
        !(rc = set_xattrs(a, e, p, fd, -1, NULL, false, err))) {
      if (fchmod(fd, perm) != 0)
        rc = io_error(p, "cannot set the mode", err);
      else if (futimens(fd, t) != 0)
        rc = io_error(p, "cannot set the times", err);
    }
    if (close(fd) != 0 && !rc) rc = io_error(p, "write failed", err);
  } else if (is_dir) {
    if (!exists || !S_ISDIR(old.st_mode)) {
      if (mkdirat(pfd, base, 0700) != 0) {
        rc = io_error(p, "cannot create the directory", err);
        goto out;
      }
    }
    /* The owner, then the mode now, with the owner's rwx so that the layer
       can still write below it (rootless), and exactly at the end with the
       times (writing below changes them): the directories this layer
       creates below inherit setgid as they would have on the author's
       system (a chown may clear setgid: it comes first). */
    if ((rc = set_owner(a, pfd, base, -1, e, p, err))) goto out;
    int dfd =
        openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
      rc = io_error(p, "cannot open the directory", err);
      goto out;
    }
    if (!(rc = set_xattrs(a, e, p, dfd, -1, NULL,
                          exists && S_ISDIR(old.st_mode), err)) &&
        fchmod(dfd, perm | 0700) != 0)
      rc = io_error(p, "cannot set the mode", err);
    close(dfd);
    if (!rc) rc = push_dir(a, canon, e, err); /* mode and times at the end */
  } else if (type == AE_IFLNK) {
    if (symlinkat(link_target(e), pfd, base) != 0)
      rc = io_error(p, "cannot create the symbolic link", err);
    else if (!(rc = set_owner(a, pfd, base, -1, e, p, err)) &&
             !(rc = set_xattrs(a, e, p, -1, pfd, base, false, err)) &&
             utimensat(pfd, base, t, AT_SYMLINK_NOFOLLOW) != 0)
      rc = io_error(p, "cannot set the times", err);
  } else { /* fifo, character or block device */
    mode_t kind = type == AE_IFIFO   ? S_IFIFO
                  : type == AE_IFCHR ? S_IFCHR
                                     : S_IFBLK;
    dev_t dev = makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
    if (mknodat(pfd, base, kind | 0600, kind == S_IFIFO ? 0 : dev) != 0)
      rc = io_error(p, "cannot create the node", err);
    else if (!(rc = set_owner(a, pfd, base, -1, e, p, err)) &&
             !(rc = set_xattrs(a, e, p, -1, pfd, base, false, err))) {
      /* just made in a directory held open, and not a link */
      if (fchmodat(pfd, base, perm, 0) != 0)
        rc = io_error(p, "cannot set the mode", err);
      else if (utimensat(pfd, base, t, AT_SYMLINK_NOFOLLOW) != 0)
        rc = io_error(p, "cannot set the times", err);
    }
  }
  /* umoci's upperPaths: the path written, as resolved */
  if (!rc && map_add_upper(&a->paths, canon))
    rc = oci_error_set(err, OCI_ENOMEM, "out of memory");
out:
  close(pfd);
  return rc;
}

/* Modes and times of the layer's directories, once nothing more is
   written into them (in entry order: a later entry for the same
   directory wins). */
static int fix_dirs(applier *a, oci_error *err) {
  for (size_t i = 0; i < a->ndirs; i++) {
    dir_fix *f = &a->dirs[i];
    int fd;
    oci_error ignored;
    /* removed (itself or a directory above it) after the fix was asked
       for: the directory there now is another one */
    bool stale = false;
    for (size_t n = strlen(f->rel); n > 0 && !stale;) {
      stale = map_removed(&a->paths, f->rel, n) > f->seq;
      while (n > 0 && f->rel[n - 1] != '/')
        n--;
      if (n > 0) n--;
    }
    if (stale) continue;
    /* no longer a directory reached without links (replaced later in the
       layer): nothing to fix */
    if (up_open_dir(&a->walk, f->rel, strlen(f->rel), false, &fd, f->rel,
                    &ignored) ||
        fd < 0)
      continue;
    if (fchmod(fd, f->mode) != 0 || futimens(fd, f->times) != 0) {
      int e = errno;
      close(fd);
      return oci_error_set(err, OCI_EIO, "layer entry \"%s\": %s", f->rel,
                           strerror(e));
    }
    close(fd);
  }
  return OCI_OK;
}

/* ---- the two passes --------------------------------------------------- */

static int next_entry(stream *s, uint64_t max_entries, oci_unpack_stats *st,
                      struct archive_entry **e, oci_error *err) {
  int r = archive_read_next_header(s->tar, e);
  if (r == ARCHIVE_EOF) return 1;
  /* ARCHIVE_WARN: the entry is usable (for instance a PAX UTF-8 name that
     the C locale cannot convert: parse_entry takes the UTF-8 form) */
  if (r < ARCHIVE_WARN) return archive_fail(s, s->tar, "not a layer", err);
  if (++st->entries > max_entries)
    return oci_error_set(err, OCI_ETOOBIG,
                         "%s: the layer has more than %" PRIu64
                         " entries (limit max_entries)",
                         s->blob, max_entries);
  return 0;
}

static int check_digest(const char *what, const char *got, const char *want,
                        const char *blob, oci_error *err) {
  if (strcmp(got, want) == 0) return OCI_OK;
  return oci_error_set(err, OCI_EMISMATCH,
                       "%s mismatch: expected %s, got %s (%s)", what, want, got,
                       blob);
}

static int parse_alg(const char *digest, oci_digest_alg *alg, oci_error *err) {
  *alg = OCI_DIGEST_OTHER;
  if (!digest) return OCI_OK;
  oci_digest_view v;
  int rc = oci_digest_parse(digest, strlen(digest), &v, err);
  if (rc) return rc;
  *alg = v.alg;
  return OCI_OK;
}

/* Entry names are the layer's bytes: a message must not carry its control
   characters (terminal escapes) to whoever prints it. Escapes them as
   \xNN in place, cutting the message where it no longer fits. */
static void escape_controls(oci_error *err) {
  if (!err) return;
  char out[sizeof err->message];
  size_t o = 0;
  for (const unsigned char *c = (const unsigned char *)err->message; *c; c++) {
    bool ctl = *c < 0x20 || *c == 0x7f;
    size_t need = ctl ? 4 : 1;
    if (o + need >= sizeof out) break;
    if (ctl)
      o += (size_t)snprintf(out + o, sizeof out - o, "\\x%02x", *c);
    else
      out[o++] = (char)*c;
  }
  out[o] = '\0';
  memcpy(err->message, out, o + 1);
}

/* The blob's size, digest and diff_id against the options (c and u:
   what stream_finish wrote). */
static int check_blob(const stream *s, const oci_unpack_options *opts,
                      const char *want_diff, const char *c, const char *u,
                      oci_error *err) {
  int64_t want_size = opts->version >= 2 ? opts->expected_size : -1;
  if (want_size >= 0 && s->csize != (uint64_t)want_size)
    return oci_error_set(err, OCI_EMISMATCH,
                         "size mismatch: expected %" PRId64 ", got %" PRIu64
                         " (%s)",
                         want_size, s->csize, s->blob);
  int rc;
  if ((opts->expected_digest &&
       (rc = check_digest("digest", c, opts->expected_digest, s->blob, err))) ||
      (want_diff && (rc = check_digest("uncompressed digest (diff_id)", u,
                                       want_diff, s->blob, err))))
    return rc;
  return OCI_OK;
}

static int layer_apply(int fd, const char *blob_path, const char *rootfs,
                       const oci_unpack_options *opts, oci_unpack_stats *stats,
                       oci_error *err);

void oci_unpack_options_init(oci_unpack_options *o) {
  *o = (oci_unpack_options)OCI_UNPACK_OPTIONS_INIT;
}

int oci_layer_apply(const char *blob_path, const char *rootfs,
                    const oci_unpack_options *opts, oci_unpack_stats *stats,
                    oci_error *err) {
  oci_error_reset(err);
  int rc = layer_apply(-1, blob_path, rootfs, opts, stats, err);
  if (rc) escape_controls(err);
  return rc;
}

int oci_layer_apply_fd(int blob_fd, const char *name, const char *rootfs,
                       const oci_unpack_options *opts, oci_unpack_stats *stats,
                       oci_error *err) {
  oci_error_reset(err);
  if (blob_fd < 0)
    return oci_error_set(err, OCI_EINVAL, "oci_layer_apply_fd: no descriptor");
  int rc = layer_apply(blob_fd, name ? name : "layer blob", rootfs, opts, stats,
                       err);
  if (rc) escape_controls(err);
  return rc;
}

/* fd < 0: open blob_path; else read fd (the caller's, not closed here),
   blob_path naming it in messages. */
static int layer_apply(int fd, const char *blob_path, const char *rootfs,
                       const oci_unpack_options *opts, oci_unpack_stats *stats,
                       oci_error *err) {
  static const oci_unpack_options defaults = OCI_UNPACK_OPTIONS_INIT;
  if (!opts) opts = &defaults;
  oci_unpack_stats local;
  if (!stats) stats = &local;
  memset(stats, 0, sizeof *stats);
  oci_error_clear(err);
  if (!blob_path || !rootfs)
    return oci_error_set(err, OCI_EINVAL, "oci_layer_apply: NULL path");
  int vrc = oci_options_check(err, "oci_unpack_options", opts->version,
                              OCI_UNPACK_OPTIONS_VERSION);
  if (vrc) return vrc;
  bool v2 = opts->version >= 2;
  int64_t want_size = v2 ? opts->expected_size : -1;
  const char *want_diff = v2 ? opts->expected_diff_id : NULL;
  uint64_t max_bytes =
      v2 && opts->max_bytes ? opts->max_bytes : OCI_UNPACK_DEFAULT_MAX_BYTES;
  uint64_t max_entries = v2 && opts->max_entries
                             ? opts->max_entries
                             : OCI_UNPACK_DEFAULT_MAX_ENTRIES;
  oci_digest_alg calg, ualg;
  int rc;
  if ((rc = parse_alg(opts->expected_digest, &calg, err)) ||
      (rc = parse_alg(want_diff, &ualg, err)))
    return rc;

  /* the blob: never through a symbolic link, a regular file only (a FIFO
     must not block the open: O_NONBLOCK, then fstat) */
  stream s = {.blob = blob_path, .max_bytes = max_bytes, .fd = fd};
  bool own_fd = fd < 0;
  if (own_fd) {
    s.fd = open(blob_path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (s.fd < 0)
      return oci_error_set(err, OCI_EIO, "%s: cannot open: %s", blob_path,
                           errno == ELOOP ? "a symbolic link (refused)"
                                          : strerror(errno));
  }
  struct stat bst;
  if (fstat(s.fd, &bst) != 0 || !S_ISREG(bst.st_mode)) {
    if (own_fd) close(s.fd);
    return oci_error_set(err, OCI_EIO, "%s: not a regular file", blob_path);
  }
  applier a = {.walk = {.rootfd = -1, .cache_fd = -1},
               .rootless = opts->rootless,
               .st = stats,
               .s = &s};
  if (opts->version >= 3) {
    a.uid_map = opts->uid_map;
    a.n_uid_map = opts->uid_map ? opts->n_uid_map : 0;
    a.gid_map = opts->gid_map;
    a.n_gid_map = opts->gid_map ? opts->n_gid_map : 0;
  }
  a.owner = !opts->rootless && geteuid() == 0;
  s.cbuf = malloc(READ_BLOCK);
  s.ubuf = malloc(READ_BLOCK);
  if (!s.cbuf || !s.ubuf) {
    rc = oci_error_set(err, OCI_ENOMEM, "out of memory");
    goto done;
  }
  if (want_size >= 0 && bst.st_size != want_size) {
    rc = oci_error_set(err, OCI_EMISMATCH,
                       "size mismatch: expected %" PRId64 ", got %" PRId64
                       " (%s)",
                       want_size, (int64_t)bst.st_size, blob_path);
    goto done;
  }
  a.walk.rootfd = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (a.walk.rootfd < 0) {
    rc = oci_error_set(err, OCI_EIO, "%s: %s", rootfs,
                       errno == ENOTDIR ? "not a directory" : strerror(errno));
    goto done;
  }

  /* pass 1 (unless one_pass): verify, write nothing */
  bool one_pass = opts->version >= 4 && opts->one_pass;
  char c1[OCI_DIGEST_STRING_MAX] = "", u1[OCI_DIGEST_STRING_MAX] = "";
  struct archive_entry *e;
  parsed *p = malloc(sizeof *p);
  if (!p) {
    rc = oci_error_set(err, OCI_ENOMEM, "out of memory");
    goto done;
  }
  if (!one_pass) {
    if ((rc = stream_open(&s, calg, ualg, err))) goto free_p;
    while (!(rc = next_entry(&s, max_entries, stats, &e, err))) {
      uid_t hu;
      gid_t hg;
      if ((rc = parse_entry(e, p, err)) ||
          ((p->kind == K_ENTRY || p->kind == K_ROOT) &&
           (rc = host_owner(&a, e, p, &hu, &hg, err))))
        goto free_p;
    }
    if (rc < 0 || (rc = stream_finish(&s, c1, u1, err)) ||
        (rc = check_blob(&s, opts, want_diff, c1, u1, err)))
      goto free_p;
    stream_close(&s);
  }

  /* pass 2 (one_pass: the only one): apply, each entry checked first as
     in pass 1 */
  memset(stats, 0, sizeof *stats);
  if ((rc = stream_open(&s, calg, ualg, err))) goto free_p;
  while (!(rc = next_entry(&s, max_entries, stats, &e, err))) {
    uid_t hu;
    gid_t hg;
    if ((rc = parse_entry(e, p, err)) ||
        (one_pass && (p->kind == K_ENTRY || p->kind == K_ROOT) &&
         (rc = host_owner(&a, e, p, &hu, &hg, err))))
      goto free_p;
    if (p->kind == K_ROOT) { /* as umoci: the root takes its metadata */
      /* as for any directory: the mode now (for setgid to be inherited),
         with the owner's rwx, and exactly at the end with the times */
      if ((rc = set_owner(&a, -1, NULL, a.walk.rootfd, e, p, err)) ||
          (rc = set_xattrs(&a, e, p, a.walk.rootfd, -1, NULL, true, err)))
        goto free_p;
      if (fchmod(a.walk.rootfd, (archive_entry_perm(e) & 07777) | 0700) != 0) {
        rc = io_error(p, "cannot set the mode", err);
        goto free_p;
      }
      if ((rc = push_dir(&a, "", e, err))) goto free_p;
      continue;
    }
    rc = p->kind == K_ENTRY ? apply_entry(&a, e, p, err)
                            : apply_whiteout(&a, p, err);
    if (rc) goto free_p;
  }
  char c2[OCI_DIGEST_STRING_MAX] = "", u2[OCI_DIGEST_STRING_MAX] = "";
  if (rc < 0 || (rc = fix_dirs(&a, err)) ||
      (rc = stream_finish(&s, c2, u2, err)))
    goto free_p;
  if (one_pass)
    rc = check_blob(&s, opts, want_diff, c2, u2, err);
  else if (strcmp(c1, c2) != 0 || strcmp(u1, u2) != 0)
    rc = oci_error_set(err, OCI_EMISMATCH, "%s changed while it was applied",
                       blob_path);
free_p:
  /* a blob that is not the one named fails whatever its bytes make us do
     (a corrupt stream, a bad entry, a limit): the mismatch is the cause,
     and what the error says */
  if (rc < 0 && rc != OCI_ENOMEM && rc != OCI_EMISMATCH &&
      opts->expected_digest) {
    char c[OCI_DIGEST_STRING_MAX];
    if (stream_digest_anyway(&s, c) && strcmp(c, opts->expected_digest) != 0) {
      char was[OCI_ERROR_MESSAGE_MAX];
      snprintf(was, sizeof was, "%s", err ? err->message : "");
      rc = oci_error_set(err, OCI_EMISMATCH,
                         "digest mismatch: expected %s, got %s (%s; reading "
                         "it failed: %s)",
                         opts->expected_digest, c, blob_path, was);
    }
  }
  free(p);
done:
  stream_close(&s);
  for (size_t i = 0; i < a.ndirs; i++)
    free(a.dirs[i].rel);
  free(a.dirs);
  map_free(&a.paths);
  free(s.cbuf);
  free(s.ubuf);
  up_walk_forget(&a.walk);
  if (a.walk.rootfd >= 0) close(a.walk.rootfd);
  if (own_fd) close(s.fd);
  return rc;
}
