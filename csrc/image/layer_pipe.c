/* The compression stage of a layer build on threads of its own (see
   layer_pipe.h for the formats and the failure rules).

   Threads and what they own:
   - the building thread (the caller of oci_layer_build): fills `cur`,
     a chunk taken from the free list, and queues it when full (with
     single-threaded gzip, after adding it to `in_crc`, which the
     consumer reads once it has taken the end from the queue);
   - the consumer: takes queued chunks in order, compresses them, hashes
     and writes the blob (the hasher, the fd, `zerr`/`zrc` and the
     compressor are its own while it runs; the building thread reads them
     only after seeing `failed` under the lock, or after joining it);
   - gzip with threads >= 1: N workers, each with its own z_stream,
     deflating the blocks the consumer queues; a block's fields belong to
     the consumer while it fills it, to one worker from B_BUSY to B_DONE,
     and to the consumer again once it reads B_DONE under `gmu`;
   - the writer: takes the consumer's output in slots of W_SLOT bytes, in
     order, hashes it (the digest) and writes it to the fd (the hasher,
     the fd and `w_err` are its own until the consumer joins it), so that
     the compressing thread only compresses. */
#include "layer_pipe.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

/* The queue between the building thread and the consumer: 8 chunks of
   256 KiB (2 MiB in flight at most). */
#define CHUNK (256 * 1024)
#define N_CHUNKS 8
/* The writer's slots: 4 of 256 KiB. */
#define W_SLOT (256 * 1024)
#define W_SLOTS 4
/* deflate's window: the dictionary of each parallel gzip block */
#define PGZ_DICT (32 * 1024)

typedef struct chunk {
  struct chunk *next;
  size_t len;
  unsigned char data[CHUNK];
} chunk;

enum kind { K_GZ, K_ZSTD, K_PGZ };
enum { B_FREE, B_QUEUED, B_BUSY, B_DONE };

typedef struct pgz_block {
  /* PGZ_DICT bytes of room (the dictionary ends where the data starts),
     then OCI_PGZ_BLOCK bytes of data */
  unsigned char *in;
  size_t dict_len, len;
  unsigned char *out;
  size_t out_len, out_cap;
  uint32_t crc; /* CRC-32 of the data */
  int state;    /* B_* */
  int zrc;      /* Z_OK, or the zlib error of its deflate */
} pgz_block;

typedef struct pgz_worker {
  struct oci_layer_pipe *p;
  pthread_t thread;
  z_stream zs;
  int zs_init;
} pgz_worker;

struct oci_layer_pipe {
  /* the queue (mu) */
  pthread_mutex_t mu;
  pthread_cond_t cv_full; /* consumer: a chunk queued, eof or abort */
  pthread_cond_t cv_free; /* builder: a chunk free, or failed */
  int sync_init;
  chunk *all[N_CHUNKS];
  chunk *free_list, *q_head, *q_tail;
  chunk *cur; /* the builder's */
  int eof, abort, failed;
  pthread_t consumer;
  int consumer_started;

  /* the consumer's */
  oci_error zerr;
  int zrc;
  int fd;
  int closing; /* nothing more may reach the fd */
  /* bytes made before the consumer runs (headers), written by it first,
     so that every write to the fd is the consumer's */
  int deferring;
  unsigned char *pending;
  size_t n_pending;
  oci_hasher *hash;
  enum kind kind;
  int level, threads;
  z_stream gz; /* K_GZ */
  int gz_init;
  uint32_t in_crc; /* K_GZ: CRC-32 of the tar, the building thread's */
  ZSTD_CCtx *zc;

  /* the writer (wmu): slot i % W_SLOTS is the consumer's while it fills
     it (i == w_filled), the writer's from w_done to w_filled - 1 */
  pthread_mutex_t wmu;
  pthread_cond_t w_cv; /* w_filled, w_done, w_eof, w_stop or w_failed */
  int w_init;
  unsigned char *w_buf[W_SLOTS];
  size_t w_len[W_SLOTS];
  size_t w_pos; /* bytes in the slot being filled (consumer) */
  uint64_t w_filled, w_done;
  int w_eof, w_stop, w_failed;
  oci_error w_err;
  pthread_t writer;
  int writer_started;

  /* parallel gzip (gmu) */
  pthread_mutex_t gmu;
  pthread_cond_t g_work; /* workers: a block queued, or stop */
  pthread_cond_t g_done; /* consumer: a block done */
  int g_init;
  pgz_block *b; /* ring: block s is b[s % nb] */
  size_t nb;
  uint64_t queued;  /* blocks 0 .. queued-1 are queued (or further) */
  uint64_t taken;   /* the next block a worker takes */
  uint64_t written; /* blocks 0 .. written-1 are written */
  int filling;      /* block `queued` is being filled (consumer) */
  pgz_worker *w;
  size_t n_workers; /* started */
  int g_stop;
  uint32_t crc;
  uint64_t isize;
};

/* ---- the consumer's failures -------------------------------------------- */

/* Records the first failure of the consumer side; returns its code. */
static int zfail(oci_layer_pipe *p, int code, const char *fmt, ...)
    OCI_PRINTF(3, 4);
static int zfail(oci_layer_pipe *p, int code, const char *fmt, ...) {
  if (!p->zrc) {
    char msg[OCI_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->zrc = oci_error_set(&p->zerr, code, "%s", msg);
  }
  return p->zrc;
}

/* The consumer's failure, for the building thread. */
static int take_error(oci_layer_pipe *p, oci_error *err) {
  int rc = p->zrc ? p->zrc : OCI_EIO;
  if (err) {
    if (p->zrc)
      *err = p->zerr;
    else
      oci_error_set(err, rc, "layer: the compression stopped");
  }
  return rc;
}

static int write_all(oci_layer_pipe *p, const void *buf, size_t len,
                     oci_error *err);

/* The writer thread: hashes and writes the slots in order until the end
   (w_eof, every slot written) or w_stop. */
static void *writer_main(void *arg) {
  oci_layer_pipe *p = arg;
  pthread_mutex_lock(&p->wmu);
  for (;;) {
    while (p->w_done == p->w_filled && !p->w_eof && !p->w_stop)
      pthread_cond_wait(&p->w_cv, &p->wmu);
    if (p->w_stop || p->w_done == p->w_filled) break;
    size_t i = (size_t)(p->w_done % W_SLOTS);
    pthread_mutex_unlock(&p->wmu);
    int rc = oci_hasher_update(p->hash, p->w_buf[i], p->w_len[i], &p->w_err);
    if (!rc) rc = write_all(p, p->w_buf[i], p->w_len[i], &p->w_err);
    pthread_mutex_lock(&p->wmu);
    if (rc) {
      if (!p->w_err.code) oci_error_set(&p->w_err, rc, "layer: hashing failed");
      p->w_failed = 1;
      break;
    }
    p->w_done++;
    pthread_cond_broadcast(&p->w_cv);
  }
  pthread_cond_broadcast(&p->w_cv);
  pthread_mutex_unlock(&p->wmu);
  return NULL;
}

/* The writer's failure, as the consumer's. */
static int writer_fail(oci_layer_pipe *p) {
  if (!p->zrc) {
    p->zerr = p->w_err;
    p->zrc = p->w_err.code ? p->w_err.code : OCI_EIO;
  }
  return p->zrc;
}

/* Hands the slot being filled to the writer, and waits for a free one. */
static int writer_submit(oci_layer_pipe *p) {
  pthread_mutex_lock(&p->wmu);
  p->w_len[p->w_filled % W_SLOTS] = p->w_pos;
  p->w_filled++;
  p->w_pos = 0;
  pthread_cond_broadcast(&p->w_cv);
  while (p->w_filled - p->w_done >= W_SLOTS && !p->w_failed)
    pthread_cond_wait(&p->w_cv, &p->wmu);
  int failed = p->w_failed;
  pthread_mutex_unlock(&p->wmu);
  return failed ? writer_fail(p) : OCI_OK;
}

/* Stops the writer (at the end: after every slot was written, with
   `drain`) and joins it. */
static int writer_stop(oci_layer_pipe *p, int drain) {
  if (!p->writer_started) return OCI_OK;
  pthread_mutex_lock(&p->wmu);
  if (drain)
    p->w_eof = 1;
  else
    p->w_stop = 1;
  pthread_cond_broadcast(&p->w_cv);
  pthread_mutex_unlock(&p->wmu);
  pthread_join(p->writer, NULL);
  p->writer_started = 0;
  return p->w_failed ? writer_fail(p) : OCI_OK;
}

/* len bytes of the blob, to the writer (which hashes and writes them). */
static int out_put(oci_layer_pipe *p, const void *buf, size_t len) {
  const unsigned char *c = buf;
  while (len) {
    size_t n = W_SLOT - p->w_pos;
    if (n > len) n = len;
    memcpy(p->w_buf[p->w_filled % W_SLOTS] + p->w_pos, c, n);
    p->w_pos += n;
    c += n;
    len -= n;
    int rc;
    if (p->w_pos == W_SLOT && (rc = writer_submit(p))) return rc;
  }
  return OCI_OK;
}

/* len bytes of the blob: to the writer, or kept until the consumer runs
   (the headers the setup writes). */
static int sink_write(oci_layer_pipe *p, const void *buf, size_t len) {
  if (p->zrc) return p->zrc;
  if (p->closing) return zfail(p, OCI_EIO, "layer: the blob was abandoned");
  if (p->deferring) {
    unsigned char *g = realloc(p->pending, p->n_pending + len);
    if (!g) return zfail(p, OCI_ENOMEM, "out of memory");
    memcpy(g + p->n_pending, buf, len);
    p->pending = g;
    p->n_pending += len;
    return OCI_OK;
  }
  return out_put(p, buf, len);
}

static int write_all(oci_layer_pipe *p, const void *buf, size_t len,
                     oci_error *err) {
  const char *c = buf;
  while (len) {
    ssize_t w = write(p->fd, c, len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0)
      return oci_error_set(err, OCI_EIO, "layer: cannot write the blob: %s",
                           w < 0 ? strerror(errno) : "nothing written");
    c += w;
    len -= (size_t)w;
  }
  return OCI_OK;
}

/* ---- the blob's bytes, compressed straight into the writer's slots ------ */

/* Room for at least `need` bytes at the end of the slot being filled
   (handing it to the writer first, partly full, when it has less): where
   a compressor writes its output without a copy. */
static int out_room(oci_layer_pipe *p, size_t need, unsigned char **at,
                    size_t *room) {
  int rc;
  if (p->zrc) return p->zrc;
  if (W_SLOT - p->w_pos < need && (rc = writer_submit(p))) return rc;
  *at = p->w_buf[p->w_filled % W_SLOTS] + p->w_pos;
  *room = W_SLOT - p->w_pos;
  return OCI_OK;
}

/* The first n bytes of the room out_room gave are the blob's. */
static int out_commit(oci_layer_pipe *p, size_t n) {
  p->w_pos += n;
  return p->w_pos == W_SLOT ? writer_submit(p) : OCI_OK;
}

/* RFC 1952's header as libarchive's gzip filter writes it (the bytes of
   every gzip layer built before 2026-12-05's own deflate, and of the
   parallel format): deflate, no flags, MTIME 0, XFL 2 for level 9
   ("maximum compression"), 4 for level 1 ("fastest") and 0 otherwise,
   OS 3 (Unix). */
static int gzip_header(oci_layer_pipe *p) {
  const unsigned char head[10] = {
      0x1f, 0x8b, 8,
      0,    0,    0,
      0,    0,    (unsigned char)(p->level == 9 ? 2 : p->level == 1 ? 4 : 0),
      3};
  return sink_write(p, head, sizeof head);
}

static void put_le32(unsigned char *o, uint32_t v) {
  for (int i = 0; i < 4; i++)
    o[i] = (unsigned char)(v >> (8 * i));
}

/* ---- gzip, threads 0: one raw deflate stream, the single-threaded bytes -- */

/* What libarchive's gzip filter made (every single-threaded gzip layer
   since the first): the header above, zlib's raw deflate at the level
   with its defaults (window 15, memLevel 8, default strategy) fed with
   Z_NO_FLUSH and ended with Z_FINISH, then CRC-32 and ISIZE. zlib's
   deflate output does not depend on how its input and output are cut
   (with Z_NO_FLUSH it decides only with a full lookahead), so this
   thread deflates into the writer's slots without a copy; the CRC-32 is
   the building thread's (push), off this thread. */
static int gz_open(oci_layer_pipe *p, oci_error *err) {
  int r =
      deflateInit2(&p->gz, p->level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
  if (r != Z_OK)
    return oci_error_set(err, r == Z_MEM_ERROR ? OCI_ENOMEM : OCI_EIO,
                         "layer: cannot start gzip compression (level %d): "
                         "zlib status %d",
                         p->level, r);
  p->gz_init = 1;
  p->in_crc = (uint32_t)crc32(0, Z_NULL, 0);
  return gzip_header(p) ? take_error(p, err) : OCI_OK;
}

/* Deflates what is in p->gz's input (all of it; with Z_FINISH, to the
   end of the stream) into the writer's slots. */
static int gz_run(oci_layer_pipe *p, int flush) {
  for (;;) {
    unsigned char *at;
    size_t room;
    int rc = out_room(p, 1, &at, &room);
    if (rc) return rc;
    p->gz.next_out = at;
    p->gz.avail_out = (uInt)room;
    int r = deflate(&p->gz, flush);
    if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR)
      return zfail(p, r == Z_MEM_ERROR ? OCI_ENOMEM : OCI_EIO,
                   "layer: gzip compression failed (zlib status %d)", r);
    if ((rc = out_commit(p, room - p->gz.avail_out))) return rc;
    if (flush == Z_FINISH ? r == Z_STREAM_END
                          : !p->gz.avail_in && p->gz.avail_out)
      return OCI_OK;
  }
}

static int gz_data(oci_layer_pipe *p, const unsigned char *buf, size_t len) {
  p->gz.next_in = (unsigned char *)buf;
  p->gz.avail_in = (uInt)len; /* a chunk: at most CHUNK bytes */
  return gz_run(p, Z_NO_FLUSH);
}

static int gz_end(oci_layer_pipe *p) {
  p->gz.next_in = NULL;
  p->gz.avail_in = 0;
  int rc = gz_run(p, Z_FINISH);
  if (rc) return rc;
  /* RFC 1952 CRC32 (the building thread's, complete once it queued the
     end) and ISIZE, the length modulo 2^32 */
  unsigned char t[8];
  put_le32(t, p->in_crc);
  put_le32(t + 4, (uint32_t)p->gz.total_in);
  return sink_write(p, t, sizeof t);
}

/* ---- zstd: libzstd, single-threaded (threads 0) or multi-threaded -------- */

static int zstd_open(oci_layer_pipe *p, oci_error *err) {
  if (!(p->zc = ZSTD_createCCtx()))
    return oci_error_set(err, OCI_ENOMEM, "out of memory");
  size_t r = ZSTD_CCtx_setParameter(p->zc, ZSTD_c_compressionLevel, p->level);
  if (ZSTD_isError(r))
    return oci_error_set(err, OCI_EIO, "layer: zstd level %d: %s", p->level,
                         ZSTD_getErrorName(r));
  r = ZSTD_CCtx_setParameter(p->zc, ZSTD_c_nbWorkers, p->threads);
  if (ZSTD_isError(r) && p->threads)
    return oci_error_set(err, OCI_EUNSUPPORTED,
                         "layer: this libzstd cannot compress with %d "
                         "threads: %s",
                         p->threads, ZSTD_getErrorName(r));
  return OCI_OK;
}

/* One call of libzstd, writing into the writer's slot: with room for a
   whole compressed block there (ZSTD_CStreamOutSize) libzstd compresses
   into it directly instead of into its own buffer and copying (the
   frame's bytes do not depend on where they are written). */
static int zstd_step(oci_layer_pipe *p, ZSTD_inBuffer *in,
                     ZSTD_EndDirective end, size_t *left) {
  unsigned char *at;
  size_t room;
  int rc = out_room(p, ZSTD_CStreamOutSize(), &at, &room);
  if (rc) return rc;
  ZSTD_outBuffer out = {at, room, 0};
  size_t r = ZSTD_compressStream2(p->zc, &out, in, end);
  if (ZSTD_isError(r))
    return zfail(p, OCI_EIO, "layer: zstd compression: %s",
                 ZSTD_getErrorName(r));
  *left = r;
  return out_commit(p, out.pos);
}

static int zstd_data(oci_layer_pipe *p, const unsigned char *buf, size_t len) {
  /* ZSTD_e_continue only: a flush would cut a job short and make the
     output depend on when it came */
  ZSTD_inBuffer in = {buf, len, 0};
  size_t left;
  int rc = OCI_OK;
  while (!rc && in.pos < in.size)
    rc = zstd_step(p, &in, ZSTD_e_continue, &left);
  return rc;
}

static int zstd_end(oci_layer_pipe *p) {
  ZSTD_inBuffer in = {NULL, 0, 0};
  size_t left = 1;
  int rc = OCI_OK;
  while (!rc && left)
    rc = zstd_step(p, &in, ZSTD_e_end, &left);
  return rc;
}

/* ---- threads >= 1, gzip: block-parallel deflate (pigz's way) ------------- */

/* Deflates block b raw, primed with its dictionary, ending with a sync
   flush; its CRC-32. A zlib status. */
static int pgz_deflate(z_stream *zs, pgz_block *b) {
  const unsigned char *data = b->in + PGZ_DICT;
  int r = deflateReset(zs);
  if (r == Z_OK && b->dict_len)
    r = deflateSetDictionary(zs, data - b->dict_len, (uInt)b->dict_len);
  if (r != Z_OK) return r;
  zs->next_in = (unsigned char *)data;
  zs->avail_in = (uInt)b->len;
  b->out_len = 0;
  for (;;) {
    zs->next_out = b->out + b->out_len;
    zs->avail_out = (uInt)(b->out_cap - b->out_len);
    r = deflate(zs, Z_SYNC_FLUSH);
    b->out_len = b->out_cap - zs->avail_out;
    if (r != Z_OK && r != Z_BUF_ERROR) return r;
    /* done when the input is used and the flush fitted */
    if (!zs->avail_in && zs->avail_out) break;
    unsigned char *g = realloc(b->out, b->out_cap * 2);
    if (!g) return Z_MEM_ERROR;
    b->out = g;
    b->out_cap *= 2;
  }
  b->crc = (uint32_t)crc32(crc32(0, Z_NULL, 0), data, (uInt)b->len);
  return Z_OK;
}

static void *pgz_work(void *arg) {
  pgz_worker *w = arg;
  oci_layer_pipe *p = w->p;
  pthread_mutex_lock(&p->gmu);
  for (;;) {
    while (!p->g_stop && p->taken == p->queued)
      pthread_cond_wait(&p->g_work, &p->gmu);
    if (p->g_stop) break;
    pgz_block *b = &p->b[p->taken++ % p->nb];
    b->state = B_BUSY;
    pthread_mutex_unlock(&p->gmu);
    int zrc = pgz_deflate(&w->zs, b);
    pthread_mutex_lock(&p->gmu);
    b->zrc = zrc;
    b->state = B_DONE;
    pthread_cond_broadcast(&p->g_done);
  }
  pthread_mutex_unlock(&p->gmu);
  return NULL;
}

/* Writes the finished blocks in order: waits until blocks before `upto`
   are written, then writes those already done without waiting. */
static int pgz_drain(oci_layer_pipe *p, uint64_t upto) {
  for (;;) {
    pthread_mutex_lock(&p->gmu);
    while (p->written < upto && p->b[p->written % p->nb].state != B_DONE)
      pthread_cond_wait(&p->g_done, &p->gmu);
    pgz_block *b = p->written < p->queued ? &p->b[p->written % p->nb] : NULL;
    if (b && b->state != B_DONE) b = NULL;
    pthread_mutex_unlock(&p->gmu);
    if (!b) return OCI_OK;
    if (b->zrc)
      return zfail(p, b->zrc == Z_MEM_ERROR ? OCI_ENOMEM : OCI_EIO,
                   "layer: gzip compression failed (zlib status %d)", b->zrc);
    int rc = sink_write(p, b->out, b->out_len);
    if (rc) return rc;
    p->crc = (uint32_t)crc32_combine(p->crc, b->crc, (z_off_t)b->len);
    p->isize += b->len;
    pthread_mutex_lock(&p->gmu);
    b->state = B_FREE;
    p->written++;
    pthread_mutex_unlock(&p->gmu);
  }
}

static void pgz_queue(oci_layer_pipe *p) {
  pthread_mutex_lock(&p->gmu);
  p->b[p->queued % p->nb].state = B_QUEUED;
  p->queued++;
  p->filling = 0;
  pthread_cond_signal(&p->g_work);
  pthread_mutex_unlock(&p->gmu);
}

/* Starts filling block `queued` once its slot is free, with the last
   PGZ_DICT bytes of the block before it as its dictionary. */
static int pgz_begin(oci_layer_pipe *p) {
  uint64_t s = p->queued;
  if (s >= p->nb) {
    int rc = pgz_drain(p, s - p->nb + 1);
    if (rc) return rc;
  }
  pgz_block *b = &p->b[s % p->nb];
  b->len = 0;
  b->dict_len = 0;
  b->zrc = Z_OK;
  if (s > 0) {
    /* its slot is reused only after this one's: the data is still there */
    const pgz_block *prev = &p->b[(s - 1) % p->nb];
    size_t d = prev->len < PGZ_DICT ? prev->len : PGZ_DICT;
    memcpy(b->in + PGZ_DICT - d, prev->in + PGZ_DICT + prev->len - d, d);
    b->dict_len = d;
  }
  p->filling = 1;
  return OCI_OK;
}

static int pgz_data(oci_layer_pipe *p, const unsigned char *buf, size_t len) {
  while (len) {
    int rc;
    if (!p->filling && (rc = pgz_begin(p))) return rc;
    pgz_block *b = &p->b[p->queued % p->nb];
    size_t n = OCI_PGZ_BLOCK - b->len;
    if (n > len) n = len;
    memcpy(b->in + PGZ_DICT + b->len, buf, n);
    b->len += n;
    buf += n;
    len -= n;
    if (b->len == OCI_PGZ_BLOCK) pgz_queue(p);
  }
  return pgz_drain(p, 0);
}

static int pgz_end(oci_layer_pipe *p) {
  if (p->filling) pgz_queue(p); /* never empty: begun for data */
  int rc = pgz_drain(p, p->queued);
  if (rc) return rc;
  /* an empty final fixed-Huffman block (BFINAL 1, BTYPE 01, end-of-block
     code: what zlib emits for Z_FINISH with no input), then RFC 1952's
     CRC32 and ISIZE (the length modulo 2^32) */
  unsigned char t[10] = {0x03, 0x00};
  put_le32(t + 2, p->crc);
  put_le32(t + 6, (uint32_t)p->isize);
  return sink_write(p, t, sizeof t);
}

/* Starts fn(arg) on a new thread with every signal blocked: signals stay
   with the caller's threads, and a write to a closed pipe is EPIPE. */
static int start_thread(pthread_t *t, void *(*fn)(void *), void *arg,
                        oci_error *err) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int r = pthread_create(t, NULL, fn, arg);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (r)
    return oci_error_set(err, OCI_ENOMEM,
                         "layer: cannot start a compression thread: %s",
                         strerror(r));
  return OCI_OK;
}

/* Stops and joins the workers. */
static void pgz_stop(oci_layer_pipe *p) {
  if (!p->g_init) return;
  pthread_mutex_lock(&p->gmu);
  p->g_stop = 1;
  pthread_cond_broadcast(&p->g_work);
  pthread_mutex_unlock(&p->gmu);
  for (size_t i = 0; i < p->n_workers; i++)
    pthread_join(p->w[i].thread, NULL);
  p->n_workers = 0;
}

static void pgz_free(oci_layer_pipe *p) {
  pgz_stop(p);
  for (size_t i = 0; p->w && i < (size_t)p->threads; i++)
    if (p->w[i].zs_init) deflateEnd(&p->w[i].zs);
  free(p->w);
  for (size_t i = 0; p->b && i < p->nb; i++) {
    free(p->b[i].in);
    free(p->b[i].out);
  }
  free(p->b);
  if (p->g_init) {
    pthread_mutex_destroy(&p->gmu);
    pthread_cond_destroy(&p->g_work);
    pthread_cond_destroy(&p->g_done);
  }
}

static int pgz_open(oci_layer_pipe *p, oci_error *err) {
  if (pthread_mutex_init(&p->gmu, NULL)) goto nomem;
  if (pthread_cond_init(&p->g_work, NULL)) {
    pthread_mutex_destroy(&p->gmu);
    goto nomem;
  }
  if (pthread_cond_init(&p->g_done, NULL)) {
    pthread_cond_destroy(&p->g_work);
    pthread_mutex_destroy(&p->gmu);
    goto nomem;
  }
  p->g_init = 1;
  /* two blocks per worker and two more: every worker busy while the
     consumer fills one and writes another */
  p->nb = 2 * (size_t)p->threads + 2;
  if (!(p->b = calloc(p->nb, sizeof *p->b)) ||
      !(p->w = calloc((size_t)p->threads, sizeof *p->w)))
    goto nomem;
  size_t cap = 0;
  for (int i = 0; i < p->threads; i++) {
    pgz_worker *w = &p->w[i];
    w->p = p;
    /* raw deflate (no zlib header), 32 KiB window, zlib's defaults */
    if (deflateInit2(&w->zs, p->level, Z_DEFLATED, -15, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
      goto nomem;
    w->zs_init = 1;
    /* a block deflated whole, plus the sync flush's empty stored block */
    if (!cap) cap = deflateBound(&w->zs, OCI_PGZ_BLOCK) + 64;
  }
  for (size_t i = 0; i < p->nb; i++)
    if (!(p->b[i].in = malloc(PGZ_DICT + OCI_PGZ_BLOCK)) ||
        !(p->b[i].out = malloc(p->b[i].out_cap = cap)))
      goto nomem;
  if (gzip_header(p)) return take_error(p, err);
  p->crc = (uint32_t)crc32(0, Z_NULL, 0);
  for (int i = 0; i < p->threads; i++) {
    int rc = start_thread(&p->w[i].thread, pgz_work, &p->w[i], err);
    if (rc) return rc;
    p->n_workers++;
  }
  return OCI_OK;
nomem:
  return oci_error_set(err, OCI_ENOMEM, "out of memory");
}

/* ---- the consumer -------------------------------------------------------- */

static int compress_data(oci_layer_pipe *p, const unsigned char *buf,
                         size_t len) {
  switch (p->kind) {
  case K_GZ: return gz_data(p, buf, len);
  case K_ZSTD: return zstd_data(p, buf, len);
  case K_PGZ: return pgz_data(p, buf, len);
  }
  return OCI_EINVAL;
}

static int compress_end(oci_layer_pipe *p) {
  switch (p->kind) {
  case K_GZ: return gz_end(p);
  case K_ZSTD: return zstd_end(p);
  case K_PGZ: return pgz_end(p);
  }
  return OCI_EINVAL;
}

static void *consume(void *arg) {
  oci_layer_pipe *p = arg;
  p->deferring = 0;
  int rc = OCI_OK;
  for (;;) {
    pthread_mutex_lock(&p->mu);
    while (!p->q_head && !p->eof && !p->abort)
      pthread_cond_wait(&p->cv_full, &p->mu);
    if (p->abort) {
      pthread_mutex_unlock(&p->mu);
      writer_stop(p, 0);
      return NULL;
    }
    chunk *c = p->q_head;
    if (c && !(p->q_head = c->next)) p->q_tail = NULL;
    pthread_mutex_unlock(&p->mu);
    if (p->n_pending) { /* the headers, once there is more to write */
      rc = out_put(p, p->pending, p->n_pending);
      p->n_pending = 0;
      if (rc) {
        if (c) { /* back on the queue's free list */
          pthread_mutex_lock(&p->mu);
          c->next = p->free_list;
          p->free_list = c;
          pthread_mutex_unlock(&p->mu);
        }
        break;
      }
    }
    if (!c) { /* the end, everything before it compressed */
      rc = compress_end(p);
      if (!rc && p->w_pos) rc = writer_submit(p);
      if (!rc) rc = writer_stop(p, 1);
      break;
    }
    rc = compress_data(p, c->data, c->len);
    pthread_mutex_lock(&p->mu);
    c->next = p->free_list;
    p->free_list = c;
    pthread_cond_signal(&p->cv_free);
    pthread_mutex_unlock(&p->mu);
    if (rc) break;
  }
  if (rc) {
    writer_stop(p, 0);
    pthread_mutex_lock(&p->mu);
    p->failed = 1;
    pthread_cond_broadcast(&p->cv_free);
    pthread_mutex_unlock(&p->mu);
  }
  return NULL;
}

/* ---- the building thread's side ------------------------------------------ */

int oci_layer_pipe_start(const oci_layer_options *o, int threads, int fd,
                         oci_layer_pipe **out, oci_error *err) {
  *out = NULL;
  oci_layer_pipe *p = calloc(1, sizeof *p);
  if (!p) return oci_error_set(err, OCI_ENOMEM, "out of memory");
  p->fd = fd;
  p->threads = threads;
  p->level = o->level ? o->level : o->compression == OCI_LAYER_GZIP ? 6 : 3;
  /* zstd with threads 0 is libzstd's single-threaded streaming: the
     bytes libarchive's zstd filter made (and `zstd --single-thread
     --no-check`), with every parameter ours rather than the filter's */
  p->kind = o->compression == OCI_LAYER_ZSTD ? K_ZSTD : !threads ? K_GZ : K_PGZ;
  p->deferring = 1;
  int rc = OCI_OK;
  if (pthread_mutex_init(&p->mu, NULL) == 0) {
    if (pthread_cond_init(&p->cv_full, NULL) == 0) {
      if (pthread_cond_init(&p->cv_free, NULL) == 0)
        p->sync_init = 1;
      else
        pthread_cond_destroy(&p->cv_full);
    }
    if (!p->sync_init) pthread_mutex_destroy(&p->mu);
  }
  if (!p->sync_init) rc = oci_error_set(err, OCI_ENOMEM, "out of memory");
  if (!rc) rc = oci_hasher_new(OCI_DIGEST_SHA256, &p->hash, err);
  for (int i = 0; !rc && i < N_CHUNKS; i++) {
    if (!(p->all[i] = malloc(sizeof *p->all[i]))) {
      rc = oci_error_set(err, OCI_ENOMEM, "out of memory");
      break;
    }
    p->all[i]->next = p->free_list;
    p->free_list = p->all[i];
  }
  if (!rc) switch (p->kind) {
    case K_GZ: rc = gz_open(p, err); break;
    case K_ZSTD: rc = zstd_open(p, err); break;
    case K_PGZ: rc = pgz_open(p, err); break;
    }
  if (!rc) {
    if (pthread_mutex_init(&p->wmu, NULL) == 0) {
      if (pthread_cond_init(&p->w_cv, NULL) == 0)
        p->w_init = 1;
      else
        pthread_mutex_destroy(&p->wmu);
    }
    if (!p->w_init) rc = oci_error_set(err, OCI_ENOMEM, "out of memory");
  }
  for (int i = 0; !rc && i < W_SLOTS; i++)
    if (!(p->w_buf[i] = malloc(W_SLOT)))
      rc = oci_error_set(err, OCI_ENOMEM, "out of memory");
  if (!rc && !(rc = start_thread(&p->writer, writer_main, p, err)))
    p->writer_started = 1;
  if (!rc && !(rc = start_thread(&p->consumer, consume, p, err)))
    p->consumer_started = 1;
  if (rc) {
    oci_layer_pipe_free(p);
    return rc;
  }
  *out = p;
  return OCI_OK;
}

/* Queues the builder's full chunk (single-threaded gzip: its CRC-32 first,
   here, so that the deflating thread only deflates). */
static int push(oci_layer_pipe *p, oci_error *err) {
  if (p->kind == K_GZ)
    p->in_crc = (uint32_t)crc32_z(p->in_crc, p->cur->data, p->cur->len);
  pthread_mutex_lock(&p->mu);
  if (p->failed) {
    pthread_mutex_unlock(&p->mu);
    return take_error(p, err);
  }
  p->cur->next = NULL;
  if (p->q_tail)
    p->q_tail->next = p->cur;
  else
    p->q_head = p->cur;
  p->q_tail = p->cur;
  p->cur = NULL;
  pthread_cond_signal(&p->cv_full);
  pthread_mutex_unlock(&p->mu);
  return OCI_OK;
}

int oci_layer_pipe_write(oci_layer_pipe *p, const void *buf, size_t len,
                         oci_error *err) {
  const unsigned char *c = buf;
  while (len) {
    if (!p->cur) {
      pthread_mutex_lock(&p->mu);
      while (!p->free_list && !p->failed)
        pthread_cond_wait(&p->cv_free, &p->mu);
      if (p->failed) {
        pthread_mutex_unlock(&p->mu);
        return take_error(p, err);
      }
      p->cur = p->free_list;
      p->free_list = p->cur->next;
      pthread_mutex_unlock(&p->mu);
      p->cur->len = 0;
    }
    size_t n = CHUNK - p->cur->len;
    if (n > len) n = len;
    memcpy(p->cur->data + p->cur->len, c, n);
    p->cur->len += n;
    c += n;
    len -= n;
    if (p->cur->len == CHUNK) {
      int rc = push(p, err);
      if (rc) return rc;
    }
  }
  return OCI_OK;
}

int oci_layer_pipe_finish(oci_layer_pipe *p, char digest[OCI_DIGEST_STRING_MAX],
                          uint64_t *size, oci_error *err) {
  int rc;
  if (p->cur && p->cur->len && (rc = push(p, err))) return rc;
  pthread_mutex_lock(&p->mu);
  p->eof = 1;
  pthread_cond_signal(&p->cv_full);
  pthread_mutex_unlock(&p->mu);
  pthread_join(p->consumer, NULL);
  p->consumer_started = 0;
  if (p->failed) return take_error(p, err);
  *size = oci_hasher_size(p->hash);
  return oci_hasher_finish(p->hash, digest, err);
}

void oci_layer_pipe_free(oci_layer_pipe *p) {
  if (!p) return;
  if (p->consumer_started) {
    pthread_mutex_lock(&p->mu);
    p->abort = 1;
    pthread_cond_signal(&p->cv_full);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->consumer, NULL);
  }
  writer_stop(p, 0); /* the consumer's, unless it never ran */
  /* from here on nothing reaches the fd */
  p->closing = 1;
  pgz_free(p);
  if (p->gz_init) deflateEnd(&p->gz);
  ZSTD_freeCCtx(p->zc); /* waits for its workers */
  free(p->pending);
  for (int i = 0; i < N_CHUNKS; i++)
    free(p->all[i]);
  for (int i = 0; i < W_SLOTS; i++)
    free(p->w_buf[i]);
  if (p->w_init) {
    pthread_mutex_destroy(&p->wmu);
    pthread_cond_destroy(&p->w_cv);
  }
  oci_hasher_free(p->hash);
  if (p->sync_init) {
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv_full);
    pthread_cond_destroy(&p->cv_free);
  }
  free(p);
}
