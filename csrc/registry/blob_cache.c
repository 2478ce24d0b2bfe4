/* The blob-location cache (issue 16 "Cross-repository mount", like
   skopeo's blob-info cache): digest -> (host, repository) pairs where a
   blob was seen (pushed, pulled, found by HEAD, mounted), kept in a small
   JSON file (the BlobLocations type of types.def) so that a later process
   pushing to the same host can mount a blob from a repository it knows
   instead of uploading it. The file is input: a missing, unreadable, too
   large, malformed or hostile one is taken as empty (a cache may be
   lost), every entry is checked (digest, host and repository grammar)
   before it is used, and the whole is bounded (REG_BCACHE_PER_DIGEST
   locations per digest, REG_BCACHE_MAX in all, REG_BCACHE_FILE_MAX bytes
   read). It is written atomically (a 0600 temporary file in the same
   directory, renamed over), merged with what other processes wrote since
   it was read. One cache is shared by a client and its worker threads. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "ocispec/ocispec.h"
#include "registry_internal.h"

typedef struct bc_entry {
  char *digest, *host, *repo;
  int64_t time;
} bc_entry;

typedef struct bc_list {
  bc_entry *e;
  size_t n, cap;
} bc_list;

struct reg_bcache {
  pthread_mutex_t mu;
  char *path;
  bc_list live; /* newest first */
  bc_list gone; /* forgotten (a mount refused): not merged back */
  bool dirty;
};

static void entry_free(bc_entry *e) {
  free(e->digest);
  free(e->host);
  free(e->repo);
}

static void list_free(bc_list *l) {
  for (size_t i = 0; i < l->n; i++)
    entry_free(&l->e[i]);
  free(l->e);
  memset(l, 0, sizeof *l);
}

static bool same(const bc_entry *e, const char *digest, const char *host,
                 const char *repo) {
  return !strcmp(e->digest, digest) && !strcmp(e->host, host) &&
         !strcmp(e->repo, repo);
}

static ssize_t find(const bc_list *l, const char *digest, const char *host,
                    const char *repo) {
  for (size_t i = 0; i < l->n; i++)
    if (same(&l->e[i], digest, host, repo)) return (ssize_t)i;
  return -1;
}

static void remove_at(bc_list *l, size_t i) {
  entry_free(&l->e[i]);
  memmove(&l->e[i], &l->e[i + 1], (l->n - i - 1) * sizeof *l->e);
  l->n--;
}

/* Whether the three strings may be used at all: the grammars of
   distribution-spec (which also keep them free of anything JSON would
   escape) and sane lengths. */
static bool valid(const char *digest, const char *host, const char *repo) {
  oci_digest_view v;
  if (!digest || !host || !repo || strlen(digest) > 256 || strlen(host) > 256 ||
      strlen(repo) > 512)
    return false;
  return !oci_digest_parse(digest, strlen(digest), &v, NULL) &&
         !oci_check_registry_host(host, strlen(host), NULL) &&
         !oci_check_repository_name(repo, strlen(repo), NULL);
}

/* Appends (at the end: older than all) unless present, invalid or beyond
   the bounds. 0, or -1 when out of memory. */
static int append(bc_list *l, const char *digest, const char *host,
                  const char *repo, int64_t t) {
  if (l->n >= REG_BCACHE_MAX || !valid(digest, host, repo) ||
      find(l, digest, host, repo) >= 0)
    return 0;
  size_t per = 0;
  for (size_t i = 0; i < l->n; i++)
    if (!strcmp(l->e[i].digest, digest)) per++;
  if (per >= REG_BCACHE_PER_DIGEST) return 0;
  if (l->n == l->cap) {
    size_t ncap = l->cap ? l->cap * 2 : 16;
    bc_entry *ne = realloc(l->e, ncap * sizeof *ne);
    if (!ne) return -1;
    l->e = ne;
    l->cap = ncap;
  }
  bc_entry e = {strdup(digest), strdup(host), strdup(repo), t};
  if (!e.digest || !e.host || !e.repo) {
    entry_free(&e);
    return -1;
  }
  l->e[l->n++] = e;
  return 0;
}

/* Bulk appends in linear time: which locations l holds, and how many per
   digest (open addressing over the entries' strings; FNV-1a). */
typedef struct bc_seen {
  struct {
    const bc_entry *e; /* a location, or the first entry of a digest */
    size_t n;          /* for a digest slot: its count */
  } * loc, *dig;
  size_t cap;
} bc_seen;

static size_t bc_hash(const char *a, const char *b, const char *c) {
  size_t h = 1469598103934665603u;
  for (const char *s = a; s && *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211u;
  h = (h ^ 0xff) * 1099511628211u;
  for (const char *s = b; s && *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211u;
  h = (h ^ 0xff) * 1099511628211u;
  for (const char *s = c; s && *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211u;
  return h;
}

static void seen_free(bc_seen *s) {
  free(s->loc);
  free(s->dig);
  memset(s, 0, sizeof *s);
}

/* The slot of a location (found, or free for it). */
static size_t seen_loc(const bc_seen *s, const char *digest, const char *host,
                       const char *repo) {
  size_t j = bc_hash(digest, host, repo) & (s->cap - 1);
  while (s->loc[j].e && !same(s->loc[j].e, digest, host, repo))
    j = (j + 1) & (s->cap - 1);
  return j;
}

static size_t seen_dig(const bc_seen *s, const char *digest) {
  size_t j = bc_hash(digest, NULL, NULL) & (s->cap - 1);
  while (s->dig[j].e && strcmp(s->dig[j].e->digest, digest))
    j = (j + 1) & (s->cap - 1);
  return j;
}

static void seen_add(bc_seen *s, const bc_entry *e) {
  s->loc[seen_loc(s, e->digest, e->host, e->repo)].e = e;
  size_t j = seen_dig(s, e->digest);
  if (!s->dig[j].e) s->dig[j].e = e;
  s->dig[j].n++;
}

/* Indexes l as it is; its array must not move afterwards (l->cap is made
   REG_BCACHE_MAX). 0, or -1 when out of memory. */
static int seen_init(bc_seen *s, bc_list *l) {
  if (l->cap < REG_BCACHE_MAX) {
    bc_entry *ne = realloc(l->e, REG_BCACHE_MAX * sizeof *ne);
    if (!ne) return -1;
    l->e = ne;
    l->cap = REG_BCACHE_MAX;
  }
  s->cap = 2 * REG_BCACHE_MAX; /* a power of two, at most half full */
  s->loc = calloc(s->cap, sizeof *s->loc);
  s->dig = calloc(s->cap, sizeof *s->dig);
  if (!s->loc || !s->dig) return -1;
  for (size_t i = 0; i < l->n; i++)
    seen_add(s, &l->e[i]);
  return 0;
}

/* append() through the index. */
static int append_seen(bc_list *l, bc_seen *s, const char *digest,
                       const char *host, const char *repo, int64_t t) {
  if (l->n >= REG_BCACHE_MAX || !valid(digest, host, repo) ||
      s->loc[seen_loc(s, digest, host, repo)].e ||
      s->dig[seen_dig(s, digest)].n >= REG_BCACHE_PER_DIGEST)
    return 0;
  bc_entry e = {strdup(digest), strdup(host), strdup(repo), t};
  if (!e.digest || !e.host || !e.repo) {
    entry_free(&e);
    return -1;
  }
  l->e[l->n] = e;
  seen_add(s, &l->e[l->n++]);
  return 0;
}

/* The entries of the file at path appended to l (nothing when the file
   is missing or no good cache file). */
static void load(const char *path, bc_list *l) {
  /* O_NONBLOCK: a FIFO planted at the name must not wait for a writer
     (it is no regular file, so not read); a file another user owns is not
     ours to trust (its entries would pick the repositories we mount from) */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return;
  struct stat st;
  char *buf = NULL;
  if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
      st.st_size <= 0 || st.st_size > REG_BCACHE_FILE_MAX ||
      !(buf = malloc((size_t)st.st_size))) {
    close(fd);
    return;
  }
  size_t got = 0;
  while (got < (size_t)st.st_size) {
    ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
  }
  close(fd);
  oci_registry_blob_locations *doc = NULL;
  if (got == (size_t)st.st_size &&
      !oci_registry_blob_locations_parse(buf, got, NULL, &doc, NULL) &&
      doc->version == 1) {
    bc_seen seen = {0};
    if (!seen_init(&seen, l)) {
      for (size_t i = 0; i < doc->entries.len; i++) {
        const oci_registry_blob_location *e = doc->entries.items[i];
        if (append_seen(l, &seen, e->digest, e->host, e->repository, e->time))
          break;
      }
    }
    seen_free(&seen);
  }
  oci_registry_blob_locations_free(doc);
  free(buf);
}

int reg_bcache_open(const char *path, reg_bcache **out, oci_error *err) {
  *out = NULL;
  reg_bcache *c = calloc(1, sizeof *c);
  if (!c || !(c->path = strdup(path))) {
    free(c);
    return reg_nomem(err);
  }
  pthread_mutex_init(&c->mu, NULL);
  load(path, &c->live);
  *out = c;
  return OCI_OK;
}

void reg_bcache_note(reg_bcache *c, const char *host, const char *repo,
                     const char *digest) {
  if (!c || !valid(digest, host, repo)) return;
  pthread_mutex_lock(&c->mu);
  ssize_t i = find(&c->live, digest, host, repo);
  if (i == 0) goto out; /* the newest already */
  if (i > 0) remove_at(&c->live, (size_t)i);
  if ((i = find(&c->gone, digest, host, repo)) >= 0)
    remove_at(&c->gone, (size_t)i);
  /* room at the front: the oldest of the digest, else the oldest of all */
  size_t per = 0, oldest = 0;
  for (size_t k = 0; k < c->live.n; k++)
    if (!strcmp(c->live.e[k].digest, digest)) {
      per++;
      oldest = k;
    }
  if (per >= REG_BCACHE_PER_DIGEST)
    remove_at(&c->live, oldest);
  else if (c->live.n >= REG_BCACHE_MAX)
    remove_at(&c->live, c->live.n - 1);
  if (c->live.n == c->live.cap) {
    size_t ncap = c->live.cap ? c->live.cap * 2 : 16;
    bc_entry *ne = realloc(c->live.e, ncap * sizeof *ne);
    if (!ne) goto out; /* a cache: an entry less */
    c->live.e = ne;
    c->live.cap = ncap;
  }
  bc_entry e = {strdup(digest), strdup(host), strdup(repo),
                (int64_t)time(NULL)};
  if (!e.digest || !e.host || !e.repo) {
    entry_free(&e);
    goto out;
  }
  memmove(&c->live.e[1], &c->live.e[0], c->live.n * sizeof *c->live.e);
  c->live.e[0] = e;
  c->live.n++;
  c->dirty = true;
out:
  pthread_mutex_unlock(&c->mu);
}

void reg_bcache_forget(reg_bcache *c, const char *host, const char *repo,
                       const char *digest) {
  if (!c) return;
  pthread_mutex_lock(&c->mu);
  ssize_t i = find(&c->live, digest, host, repo);
  if (i >= 0) {
    remove_at(&c->live, (size_t)i);
    (void)append(&c->gone, digest, host, repo, 0);
    c->dirty = true;
  }
  pthread_mutex_unlock(&c->mu);
}

size_t reg_bcache_sources(reg_bcache *c, const char *host, const char *digest,
                          const char *skip1, const char *skip2, char **out,
                          size_t max) {
  size_t n = 0;
  if (!c) return 0;
  pthread_mutex_lock(&c->mu);
  for (size_t i = 0; i < c->live.n && n < max; i++) {
    const bc_entry *e = &c->live.e[i];
    if (strcmp(e->digest, digest) || strcmp(e->host, host) ||
        (skip1 && !strcmp(e->repo, skip1)) ||
        (skip2 && !strcmp(e->repo, skip2)))
      continue;
    if ((out[n] = strdup(e->repo))) n++;
  }
  pthread_mutex_unlock(&c->mu);
  return n;
}

/* mkdir -p of the directory part of path (0700 for what it makes). */
static int make_parent(const char *path) {
  char *d = strdup(path);
  if (!d) return -1;
  char *slash = strrchr(d, '/');
  if (slash && slash != d) {
    *slash = '\0';
    for (char *p = d + 1; *p; p++) {
      if (*p != '/') continue;
      *p = '\0';
      if (mkdir(d, 0700) && errno != EEXIST) {
        free(d);
        return -1;
      }
      *p = '/';
    }
    if (mkdir(d, 0700) && errno != EEXIST) {
      free(d);
      return -1;
    }
  }
  free(d);
  return 0;
}

static int write_all(int fd, const char *s, size_t n) {
  while (n) {
    ssize_t w = write(fd, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    s += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Writes l to path atomically. 0, or -1 (nothing changed then). */
static int save(const char *path, const bc_list *l) {
  if (make_parent(path)) return -1;
  char *tmp = NULL;
  if (asprintf(&tmp, "%s.tmp-XXXXXX", path) < 0) return -1;
  int fd = mkstemp(tmp); /* O_EXCL, mode 0600 */
  if (fd < 0) {
    free(tmp);
    return -1;
  }
  int rc = fchmod(fd, 0600);
  char line[1400];
  int k = snprintf(line, sizeof line, "{\"version\":1,\"entries\":[");
  if (!rc) rc = write_all(fd, line, (size_t)k);
  for (size_t i = 0; i < l->n && !rc; i++) {
    /* valid() kept these to characters JSON writes as they are */
    k = snprintf(line, sizeof line,
                 "%s\n{\"digest\":\"%s\",\"host\":\"%s\",\"repository\":"
                 "\"%s\",\"time\":%lld}",
                 i ? "," : "", l->e[i].digest, l->e[i].host, l->e[i].repo,
                 (long long)l->e[i].time);
    rc =
        k < 0 || (size_t)k >= sizeof line ? -1 : write_all(fd, line, (size_t)k);
  }
  if (!rc) rc = write_all(fd, "]}\n", 3);
  if (!rc) rc = fsync(fd);
  if (close(fd)) rc = -1;
  if (!rc) rc = rename(tmp, path);
  if (rc) unlink(tmp);
  free(tmp);
  return rc;
}

int reg_bcache_close(reg_bcache *c) {
  if (!c) return 0;
  int rc = 0;
  if (c->dirty) {
    /* what others wrote since: after ours (older), unless forgotten here */
    bc_list file = {0};
    load(c->path, &file);
    bc_seen seen = {0};
    if (!seen_init(&seen, &c->live)) {
      for (size_t i = 0; i < file.n; i++) {
        const bc_entry *e = &file.e[i];
        if (find(&c->gone, e->digest, e->host, e->repo) < 0 &&
            append_seen(&c->live, &seen, e->digest, e->host, e->repo, e->time))
          break;
      }
    }
    seen_free(&seen);
    list_free(&file);
    rc = save(c->path, &c->live);
  }
  list_free(&c->live);
  list_free(&c->gone);
  pthread_mutex_destroy(&c->mu);
  free(c->path);
  free(c);
  return rc;
}

int oci_registry_blob_cache_default_path(char **out, oci_error *err) {
  oci_error_reset(err);
  *out = NULL;
  const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
  int n;
  /* XDG Base Directory: a relative XDG_CACHE_HOME is invalid, ignored */
  if (xdg && xdg[0] == '/')
    n = asprintf(out, "%s/ocispec/blob-locations.json", xdg);
  else if (home && home[0] == '/')
    n = asprintf(out, "%s/.cache/ocispec/blob-locations.json", home);
  else
    return oci_error_set(err, OCI_EINVAL,
                         "blob cache: neither XDG_CACHE_HOME nor HOME is an "
                         "absolute path");
  if (n < 0) {
    *out = NULL;
    return reg_nomem(err);
  }
  return OCI_OK;
}
