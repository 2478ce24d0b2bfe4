/* Parallel blob transfers: a pool of worker threads, each with its own
   clone of the client(s) (own curl easy handle, so its own connections,
   kept across the jobs it runs), sharing DNS and TLS sessions through one
   curl share. The connection cache itself is not shared: curl does not
   support sharing connections between concurrent threads. Progress
   reports of the workers are relayed to the calling thread, which alone
   calls the user's callback (a Lua callback must run on its own state's
   thread); the first failure sets the cancel flag every worker checks. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocispec/ocispec.h"
#include "registry_internal.h"

#define POOL_DIGEST_MAX 200 /* a digest's text; longer ones are cut */

typedef struct pool pool;

typedef struct worker {
  pool *p;
  pthread_t th;
  bool started;
  oci_registry *c[2];
  /* the latest progress report (under p->mu): number seq; delivered is the
     number of the last one the calling thread handed to the callback */
  uint64_t seq, delivered;
  bool must_deliver;
  char digest[POOL_DIGEST_MAX];
  int64_t done, total;
} worker;

struct pool {
  pthread_mutex_t mu;
  pthread_cond_t wake_main;   /* a report, or a worker ended */
  pthread_cond_t wake_worker; /* a report was delivered, or cancel */
  pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];
  CURLSH *share;
  atomic_int cancel;
  reg_job_fn fn;
  void *ctx;
  size_t next, n;
  unsigned running;
  bool stop_new;  /* a failure: no job starts any more */
  int rc;         /* the first failure */
  oci_error err;  /* its error */
  worker *failed; /* whose it was (NULL: the callback's cancel) */
  worker *w;
  unsigned nw;
};

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access a,
                       void *ud) {
  (void)h, (void)a;
  pool *p = ud;
  pthread_mutex_lock(&p->share_mu[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud) {
  (void)h;
  pool *p = ud;
  pthread_mutex_unlock(&p->share_mu[data]);
}

/* A worker's progress: kept for the calling thread. The first and last
   report of a blob (done 0, done == total) are never overwritten, and the
   worker waits until the callback has seen them (so a callback that
   cancels on a blob's last report keeps that blob from being committed);
   reports between may be coalesced. */
static int relay(void *ud, const char *digest, int64_t done, int64_t total) {
  worker *w = ud;
  pool *p = w->p;
  pthread_mutex_lock(&p->mu);
  while (w->seq != w->delivered && w->must_deliver && !atomic_load(&p->cancel))
    pthread_cond_wait(&p->wake_worker, &p->mu);
  if (!atomic_load(&p->cancel)) {
    snprintf(w->digest, sizeof w->digest, "%s", digest);
    w->done = done;
    w->total = total;
    w->must_deliver = done == 0 || done == total;
    uint64_t mine = ++w->seq;
    pthread_cond_signal(&p->wake_main);
    while (w->must_deliver && w->delivered < mine && !atomic_load(&p->cancel))
      pthread_cond_wait(&p->wake_worker, &p->mu);
  }
  int stop = atomic_load(&p->cancel);
  pthread_mutex_unlock(&p->mu);
  return stop;
}

/* Records the first failure and cancels the rest (p->mu held). */
static void fail_locked(pool *p, worker *w, int rc, const oci_error *err) {
  if (!p->rc) {
    p->rc = rc;
    p->err = *err;
    p->failed = w;
  }
  /* the network failed: no new transfer starts, those under way go on
     (what they receive is kept for a resumed download, or completes);
     any other failure stops them all */
  p->stop_new = true;
  if (rc != OCI_ENETWORK && !atomic_load(&p->cancel))
    atomic_store(&p->cancel, 1);
  pthread_cond_broadcast(&p->wake_worker);
}

static void *work(void *ud) {
  worker *w = ud;
  pool *p = w->p;
  oci_error err;
  for (;;) {
    pthread_mutex_lock(&p->mu);
    if (p->stop_new || atomic_load(&p->cancel) || p->next == p->n) {
      pthread_mutex_unlock(&p->mu);
      break;
    }
    size_t i = p->next++;
    pthread_mutex_unlock(&p->mu);
    oci_error_clear(&err);
    int rc = p->fn(w->c, p->ctx, i, &err);
    if (rc) {
      pthread_mutex_lock(&p->mu);
      fail_locked(p, w, rc, &err);
      pthread_mutex_unlock(&p->mu);
      break;
    }
  }
  pthread_mutex_lock(&p->mu);
  p->running--;
  pthread_cond_signal(&p->wake_main);
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

/* The calling thread: delivers reports until every worker ended (p->mu
   held on entry and exit). */
static void deliver(pool *p, oci_registry *parent) {
  for (;;) {
    bool any = false;
    for (unsigned k = 0; k < p->nw; k++) {
      worker *w = &p->w[k];
      if (w->seq == w->delivered) continue;
      any = true;
      char digest[POOL_DIGEST_MAX];
      memcpy(digest, w->digest, sizeof digest);
      int64_t done = w->done, total = w->total;
      uint64_t seq = w->seq;
      if (!atomic_load(&p->cancel)) {
        pthread_mutex_unlock(&p->mu);
        oci_error err;
        oci_error_clear(&err);
        int rc = reg_progress(parent, digest, done, total, &err);
        pthread_mutex_lock(&p->mu);
        if (rc) fail_locked(p, NULL, rc, &err);
      }
      w->delivered = seq; /* a newer report (seq moved on) comes next */
      pthread_cond_broadcast(&p->wake_worker);
    }
    if (!any) {
      if (!p->running) return;
      pthread_cond_wait(&p->wake_main, &p->mu);
    }
  }
}

int reg_parallel(oci_registry *const *parents, size_t np, size_t n,
                 reg_job_fn fn, void *ctx, oci_error *err) {
  unsigned jobs = parents[0]->o.jobs;
  if (jobs <= 1 || n <= 1) {
    for (size_t i = 0; i < n; i++) {
      int rc = fn(parents, ctx, i, err);
      if (rc) return rc;
    }
    return OCI_OK;
  }
  if (jobs > n) jobs = (unsigned)n;
  pool *p = calloc(1, sizeof *p);
  if (!p) return reg_nomem(err);
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->wake_main, NULL);
  pthread_cond_init(&p->wake_worker, NULL);
  for (int k = 0; k < CURL_LOCK_DATA_LAST; k++)
    pthread_mutex_init(&p->share_mu[k], NULL);
  atomic_init(&p->cancel, 0);
  p->fn = fn;
  p->ctx = ctx;
  p->n = n;
  int rc = OCI_OK;
  if (!(p->w = calloc(jobs, sizeof *p->w))) {
    rc = reg_nomem(err);
    goto out;
  }
  p->nw = jobs;
  if ((p->share = curl_share_init())) {
    curl_share_setopt(p->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(p->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(p->share, CURLSHOPT_USERDATA, p);
    curl_share_setopt(p->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(p->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  } else {
    rc = reg_nomem(err);
    goto out;
  }
  for (unsigned k = 0; k < jobs; k++) {
    worker *w = &p->w[k];
    w->p = p;
    for (size_t j = 0; j < np; j++) {
      if (j && parents[j] == parents[0]) {
        w->c[j] = w->c[0]; /* one client on both sides (mounts need it) */
        continue;
      }
      if (!(w->c[j] = reg_clone(parents[j]))) {
        rc = reg_nomem(err);
        goto out;
      }
      w->c[j]->share = p->share;
      w->c[j]->cancel = &p->cancel;
      w->c[j]->o.progress = parents[0]->o.progress ? relay : NULL;
      w->c[j]->o.progress_ud = w;
    }
  }
  pthread_mutex_lock(&p->mu);
  for (unsigned k = 0; k < jobs; k++) {
    if (pthread_create(&p->w[k].th, NULL, work, &p->w[k])) {
      /* fewer threads than asked: those started do the work; none at
         all is a failure */
      if (!k) {
        atomic_store(&p->cancel, 1);
        rc = oci_error_set(err, OCI_ENOMEM, "cannot start a transfer thread");
      }
      break;
    }
    p->w[k].started = true;
    p->running++;
  }
  deliver(p, parents[0]);
  pthread_mutex_unlock(&p->mu);
  for (unsigned k = 0; k < jobs; k++)
    if (p->w[k].started) pthread_join(p->w[k].th, NULL);
  if (!rc && p->rc) {
    rc = p->rc;
    *err = p->err;
    if (p->failed)
      for (size_t j = 0; j < np; j++)
        if (!j || parents[j] != parents[0])
          reg_last_move(parents[j], p->failed->c[j]);
  }
out:
  for (unsigned k = 0; k < p->nw; k++)
    for (size_t j = 0; j < np; j++) {
      oci_registry *c = p->w[k].c[j];
      if (!c || (j && parents[j] == parents[0])) continue;
      reg_stats_add(parents[j], c);
      c->share = NULL;
      oci_registry_free(c);
    }
  free(p->w);
  /* the easy handles that used the share are gone: it can go too */
  if (p->share) curl_share_cleanup(p->share);
  for (int k = 0; k < CURL_LOCK_DATA_LAST; k++)
    pthread_mutex_destroy(&p->share_mu[k]);
  pthread_cond_destroy(&p->wake_worker);
  pthread_cond_destroy(&p->wake_main);
  pthread_mutex_destroy(&p->mu);
  free(p);
  return rc;
}
