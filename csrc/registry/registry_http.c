/* The registry client's HTTP exchange over libcurl: one easy handle per
   client (connections reused), response headers captured, bodies buffered
   or streamed, 401 answered once through registry_auth.c, and 429 / 5xx /
   transient network failures retried with exponential backoff
   (distribution-spec does not mandate retries; this is what docker and
   containers/image do). */
#define _GNU_SOURCE /* asprintf, vasprintf */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "ocispec/ocispec.h"
#include "registry_internal.h"

int reg_nomem(oci_error *err) {
  return oci_error_set(err, OCI_ENOMEM, "out of memory");
}

void reg_resp_free(reg_resp *p) {
  if (!p) return;
  free(p->body);
  free(p->content_type);
  free(p->location);
  free(p->content_digest);
  free(p->link);
  free(p->www_authenticate);
  free(p->retry_after);
  free(p->oci_subject);
  free(p->filters_applied);
  free(p->content_range);
  free(p->chunk_min);
  free(p->range);
  memset(p, 0, sizeof *p);
  p->content_length = -1;
}

int reg_progress(oci_registry *r, const char *what, int64_t done, int64_t total,
                 oci_error *err) {
  if (!r->o.progress || !what) return OCI_OK;
  if (r->o.progress(r->o.progress_ud, what, done, total))
    return oci_error_set(err, OCI_ECANCELED,
                         "%s: canceled by the progress callback", what);
  return OCI_OK;
}

int reg_progress_bytes(oci_registry *r, const char *what, int64_t done,
                       int64_t total, oci_error *err) {
  if (total >= 0 && done >= total) return OCI_OK; /* the end: reported once */
  return reg_progress(r, what, done, total, err);
}

/* ---- what crosses the wire and what reaches a message -------------------- */

int reg_check_header_value(const char *what, const char *v, oci_error *err) {
  /* CR and LF end a header line (an injected header follows), NUL cuts it;
     no other C0 control or DEL belongs in a field value either. The value
     is not quoted back: it may be a secret. */
  for (const unsigned char *p = (const unsigned char *)v; *p; p++)
    if (*p < 0x20 || *p == 0x7f)
      return oci_error_set(err, OCI_EINVAL,
                           "%s holds a control character (0x%02x at byte %zu): "
                           "refused, it would inject into an HTTP header",
                           what, *p, (size_t)(p - (const unsigned char *)v));
  return OCI_OK;
}

int reg_check_url(const char *what, const char *url, oci_error *err) {
  for (const unsigned char *p = (const unsigned char *)url; *p; p++)
    if (*p <= 0x20 || *p == 0x7f)
      return oci_error_set(err, OCI_EINVAL,
                           "%s holds a space or control character (0x%02x at "
                           "byte %zu): refused",
                           what, *p, (size_t)(p - (const unsigned char *)url));
  return OCI_OK;
}

int reg_url_shown(const char *url) {
  /* the query (upload state, signatures, scopes) and fragment stay out */
  return url ? (int)strcspn(url, "?#") : 0;
}

size_t reg_escape(const char *s, size_t n, char *out, size_t outsz) {
  size_t k = 0;
  if (!outsz) return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char tmp[5];
    const char *e = tmp;
    if (c == '\n')
      e = "\\n";
    else if (c == '\r')
      e = "\\r";
    else if (c == '\t')
      e = "\\t";
    else if (c < 0x20 || c == 0x7f)
      snprintf(tmp, sizeof tmp, "\\x%02x", c);
    else {
      tmp[0] = (char)c;
      tmp[1] = '\0';
    }
    size_t el = strlen(e);
    if (k + el + 1 > outsz) break;
    memcpy(out + k, e, el);
    k += el;
  }
  out[k] = '\0';
  return k;
}

/* "scheme://host:port" of url, host lowercased, the default port made
   explicit; false when url is not http(s). */
static bool origin_of(const char *url, char *out, size_t outsz) {
  const char *rest;
  const char *port = NULL;
  bool https;
  if (!strncasecmp(url, "https://", 8))
    https = true, rest = url + 8;
  else if (!strncasecmp(url, "http://", 7))
    https = false, rest = url + 7;
  else
    return false;
  size_t alen = strcspn(rest, "/?#");
  const char *a = rest, *end = rest + alen;
  for (const char *p = a; p < end; p++)
    if (*p == '@') a = p + 1; /* userinfo is not part of the origin */
  const char *h = a, *hend = end;
  if (*h == '[') {
    const char *rb = memchr(h, ']', (size_t)(end - h));
    if (!rb) return false;
    hend = rb + 1;
    if (hend < end && *hend == ':') port = hend + 1;
  } else {
    const char *colon = memchr(h, ':', (size_t)(end - h));
    if (colon) hend = colon, port = colon + 1;
  }
  size_t hl = (size_t)(hend - h);
  const char *pt = port && port < end ? port : (https ? "443" : "80");
  size_t pl = port && port < end ? (size_t)(end - port) : strlen(pt);
  int n = snprintf(out, outsz, "%s://%.*s:%.*s", https ? "https" : "http",
                   (int)hl, h, (int)pl, pt);
  if (n < 0 || (size_t)n >= outsz) return false;
  for (char *p = out; *p; p++)
    if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
  return true;
}

bool reg_same_origin(const char *a, const char *b) {
  char oa[600], ob[600];
  return origin_of(a, oa, sizeof oa) && origin_of(b, ob, sizeof ob) &&
         !strcmp(oa, ob);
}

bool reg_same_host(const char *a, const char *b) {
  char oa[600], ob[600];
  if (!origin_of(a, oa, sizeof oa) || !origin_of(b, ob, sizeof ob))
    return false;
  /* compare without scheme and port */
  char *ha = strstr(oa, "://") + 3, *hb = strstr(ob, "://") + 3;
  char *pa = strrchr(ha, ':'), *pb = strrchr(hb, ':');
  return pa - ha == pb - hb && !strncmp(ha, hb, (size_t)(pa - ha));
}

int reg_fail(oci_error *err, int code, const char *method, const char *url,
             const char *fmt, ...) {
  char tail[OCI_ERROR_MESSAGE_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tail, sizeof tail, fmt, ap);
  va_end(ap);
  /* the URL without its query; when the message would not fit, its middle
     gives way ("...") so that the status and the registry's words stay */
  int ul = reg_url_shown(url);
  int room = (int)OCI_ERROR_MESSAGE_MAX - 1 - (int)strlen(method) - 3 -
             (int)strlen(tail);
  if (room < 48) room = 48;
  if (ul <= room)
    return oci_error_set(err, code, "%s %.*s: %s", method, ul, url, tail);
  int head = (room - 3) / 2, back = room - 3 - head;
  return oci_error_set(err, code, "%s %.*s...%.*s: %s", method, head, url, back,
                       url + ul - back, tail);
}

/* ---- URLs ---------------------------------------------------------------- */

char *reg_url(const oci_registry *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *tail = NULL;
  int n = vasprintf(&tail, fmt, ap);
  va_end(ap);
  if (n < 0) return NULL;
  char *url = NULL;
  if (asprintf(&url, "%s/v2/%s", r->base, tail) < 0) url = NULL;
  free(tail);
  return url;
}

char *reg_url_add(oci_registry *r, const char *url, const char *name,
                  const char *value) {
  char *v = curl_easy_escape(r->curl, value, 0);
  if (!v) return NULL;
  char *out = NULL;
  if (asprintf(&out, "%s%c%s=%s", url, strchr(url, '?') ? '&' : '?', name, v) <
      0)
    out = NULL;
  curl_free(v);
  return out;
}

/* distribution-spec spec.md "Location" may be relative to the registry. */
char *reg_resolve_location(const oci_registry *r, const char *location) {
  if (!strncmp(location, "http://", 7) || !strncmp(location, "https://", 8))
    return strdup(location);
  char *out = NULL;
  if (asprintf(&out, "%s%s%s", r->base, location[0] == '/' ? "" : "/",
               location) < 0)
    out = NULL;
  return out;
}

/* ---- Link header --------------------------------------------------------- */

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Percent-decodes s[0..len) ('+' is a space in a query) into malloc'd. */
static char *url_decode(const char *s, size_t len) {
  char *o = malloc(len + 1), *p = o;
  if (!o) return NULL;
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 &&
        hexval(s[i + 2]) >= 0) {
      *p++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
      i += 2;
    } else
      *p++ = s[i] == '+' ? ' ' : s[i];
  }
  *p = '\0';
  return o;
}

int reg_parse_link_next(const char *s, size_t len, char **out, oci_error *err) {
  *out = NULL;
  size_t i = 0;
  while (i < len) {
    /* link-value = "<" URI-Reference ">" *( OWS ";" OWS link-param ) */
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
      i++;
    if (i == len) break;
    if (s[i] != '<')
      return oci_error_set(err, OCI_EINVAL,
                           "Link header: expected '<' at byte %zu", i);
    size_t u0 = ++i;
    while (i < len && s[i] != '>')
      i++;
    if (i == len)
      return oci_error_set(err, OCI_EINVAL, "Link header: unterminated <URI>");
    size_t u1 = i++;
    bool next = false;
    /* params up to the next top-level ',' */
    while (i < len && s[i] != ',') {
      while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == ';'))
        i++;
      size_t k0 = i;
      while (i < len && s[i] != '=' && s[i] != ';' && s[i] != ',')
        i++;
      size_t k1 = i;
      const char *v = NULL;
      size_t vl = 0;
      if (i < len && s[i] == '=') {
        i++;
        if (i < len && s[i] == '"') {
          v = s + ++i;
          while (i < len && s[i] != '"')
            i++;
          if (i == len)
            return oci_error_set(err, OCI_EINVAL,
                                 "Link header: unterminated quoted value");
          vl = (size_t)(s + i - v);
          i++;
        } else {
          v = s + i;
          while (i < len && s[i] != ';' && s[i] != ',')
            i++;
          vl = (size_t)(s + i - v);
        }
      }
      while (k1 > k0 && (s[k1 - 1] == ' ' || s[k1 - 1] == '\t'))
        k1--;
      if (k1 - k0 == 3 && !strncasecmp(s + k0, "rel", 3) && v) {
        /* rel is a space-separated list of relation types */
        for (size_t j = 0; j + 4 <= vl; j++)
          if (!strncasecmp(v + j, "next", 4) && (j == 0 || v[j - 1] == ' ') &&
              (j + 4 == vl || v[j + 4] == ' '))
            next = true;
      }
    }
    if (!next) continue;
    /* the query's `last` parameter */
    const char *q = memchr(s + u0, '?', u1 - u0);
    if (!q) return OCI_OK;
    const char *p = q + 1, *end = s + u1;
    while (p < end) {
      const char *amp = memchr(p, '&', (size_t)(end - p));
      if (!amp) amp = end;
      if ((size_t)(amp - p) >= 5 && !memcmp(p, "last=", 5)) {
        if (!(*out = url_decode(p + 5, (size_t)(amp - p - 5))))
          return reg_nomem(err);
        return OCI_OK;
      }
      p = amp + 1;
    }
    return OCI_OK;
  }
  return OCI_OK;
}

/* ---- one transfer -------------------------------------------------------- */

typedef struct xfer {
  oci_registry *r;
  const reg_req *req;
  reg_resp *resp;
  oci_error *err; /* a sink's or source's error */
  int cb_rc;      /* nonzero: a callback failed (err holds why) */
  size_t cap;
  bool too_big;
  int64_t sent, received;
  size_t body_off; /* memory body read position */
  bool streamed;   /* bytes reached the sink: the request cannot be redone */
} xfer;

static char *dup_trim(const char *s, size_t n) {
  while (n && (*s == ' ' || *s == '\t'))
    s++, n--;
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' ||
               s[n - 1] == '\n'))
    n--;
  return reg_dupn(s, n);
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud) {
  xfer *x = ud;
  size_t len = size * n;
  reg_resp *p = x->resp;
  if (len >= 5 && !memcmp(buf, "HTTP/", 5)) {
    /* a new response (after a redirect or 100 Continue): start over */
    long st = 0;
    const char *sp = memchr(buf, ' ', len);
    if (sp) st = strtol(sp + 1, NULL, 10);
    reg_resp_free(p); /* headers and body of the previous response */
    x->cap = 0;
    p->status = st;
    x->received = 0;
    return len;
  }
  const char *colon = memchr(buf, ':', len);
  if (!colon) return len;
  size_t kl = (size_t)(colon - buf);
  const char *v = colon + 1;
  size_t vl = len - kl - 1;
  char **slot = NULL;
#define HDR(name, field)                                                       \
  if (kl == sizeof name - 1 && !strncasecmp(buf, name, kl)) slot = &p->field
  HDR("content-type", content_type);
  HDR("location", location);
  HDR("docker-content-digest", content_digest);
  HDR("link", link);
  HDR("www-authenticate", www_authenticate);
  HDR("retry-after", retry_after);
  HDR("oci-subject", oci_subject);
  HDR("oci-filters-applied", filters_applied);
  HDR("content-range", content_range);
  HDR("oci-chunk-min-length", chunk_min);
  HDR("range", range);
#undef HDR
  if (kl == 14 && !strncasecmp(buf, "content-length", 14)) {
    char *t = dup_trim(v, vl);
    if (!t) return 0;
    char *e;
    long long cl = strtoll(t, &e, 10);
    p->content_length = (*t && !*e && cl >= 0) ? cl : -1;
    free(t);
    return len;
  }
  if (!slot) return len;
  if (*slot && slot == &p->link) {
    /* several Link headers: join them as one list */
    char *t = dup_trim(v, vl), *j = NULL;
    if (!t || asprintf(&j, "%s, %s", *slot, t) < 0) {
      free(t);
      return 0;
    }
    free(t);
    free(*slot);
    *slot = j;
    return len;
  }
  free(*slot);
  if (!(*slot = dup_trim(v, vl))) return 0;
  return len;
}

char *reg_dupn(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (!d) return NULL;
  if (n) memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

int reg_append(char **buf, size_t *len, size_t *cap, const void *src,
               size_t n) {
  if (*len + n + 1 > *cap) {
    size_t c = *cap ? *cap : 4096;
    while (c < *len + n + 1)
      c *= 2;
    char *nb = realloc(*buf, c);
    if (!nb) return -1;
    *buf = nb;
    *cap = c;
  }
  memcpy(*buf + *len, src, n);
  *len += n;
  (*buf)[*len] = '\0';
  return 0;
}

/* curl's receive and send buffer for streamed blob bodies. */
#define REG_XFER_BUFFER (256L << 10)

static bool is_success(long st) {
  return st >= 200 && st < 300;
}

static size_t on_body(char *buf, size_t size, size_t n, void *ud) {
  xfer *x = ud;
  size_t len = size * n;
  reg_resp *p = x->resp;
  const reg_req *q = x->req;
  if (is_success(p->status) && q->sink) {
    x->received += (int64_t)len;
    x->streamed = true;
    if ((x->cb_rc = q->sink(q->sink_ud, buf, len, x->err))) return 0;
    if ((x->cb_rc =
             reg_progress_bytes(x->r, q->what, x->received, q->total, x->err)))
      return 0;
    return len;
  }
  size_t max = is_success(p->status) ? q->max_body : REG_ERROR_BODY_MAX;
  if (!is_success(p->status) && p->len + len > max) {
    len = p->len < max ? max - p->len : 0; /* keep the head of errors */
    if (!len) return size * n;
  }
  if (p->len + len > max) {
    x->too_big = true;
    return 0;
  }
  if (reg_append(&p->body, &p->len, &x->cap, buf, len)) {
    x->cb_rc = reg_nomem(x->err);
    return 0;
  }
  return size * n;
}

static size_t on_read(char *buf, size_t size, size_t n, void *ud) {
  xfer *x = ud;
  const reg_req *q = x->req;
  size_t cap = size * n;
  size_t got;
  if (q->source) {
    ssize_t k = q->source(q->source_ud, buf, cap, x->err);
    if (k < 0) {
      x->cb_rc = x->err->code ? x->err->code : OCI_EIO;
      return CURL_READFUNC_ABORT;
    }
    got = (size_t)k;
  } else {
    got = q->body_len - x->body_off;
    if (got > cap) got = cap;
    memcpy(buf, (const char *)q->body + x->body_off, got);
    x->body_off += got;
  }
  x->sent += (int64_t)got;
  if (q->source && got == 0 && x->sent != q->source_len) {
    x->cb_rc = oci_error_set(x->err, OCI_EMISMATCH,
                             "upload source ended after %lld of %lld bytes",
                             (long long)x->sent, (long long)q->source_len);
    return CURL_READFUNC_ABORT;
  }
  if (got && (x->cb_rc = reg_progress_bytes(
                  x->r, q->what, q->done_before + x->sent, q->total, x->err)))
    return CURL_READFUNC_ABORT;
  return got;
}

static void set_last(oci_registry *r, const reg_req *q, const reg_resp *p) {
  if (q->keep_last) return; /* a cleanup does not hide the failure */
  r->last_status = p ? p->status : 0;
  snprintf(r->last_method, sizeof r->last_method, "%s", q->method);
  free(r->last_url);
  r->last_url = strndup(q->url, (size_t)reg_url_shown(q->url));
  free(r->last_body);
  r->last_body = NULL;
  r->last_body_len = 0;
  free(r->last_content_type);
  r->last_content_type = NULL;
  if (p && p->body && !is_success(p->status)) {
    r->last_body = malloc(p->len + 1);
    if (r->last_body) {
      memcpy(r->last_body, p->body, p->len + 1);
      r->last_body_len = p->len;
    }
  }
  if (p && p->content_type) r->last_content_type = strdup(p->content_type);
}

/* "MANIFEST_UNKNOWN: manifest unknown" from an ErrorResponse body. */
static void describe_body(const reg_resp *p, char *out, size_t outsz) {
  out[0] = '\0';
  if (!p->body || !p->len) return;
  oci_dist_error_response *e = NULL;
  if (oci_dist_error_response_parse(p->body, p->len, NULL, &e, NULL) ==
          OCI_OK &&
      e->errors.len) {
    const oci_dist_error_info *i = e->errors.items[0];
    char code[64], msg[160];
    reg_escape(i->code, strlen(i->code), code, sizeof code);
    reg_escape(i->message ? i->message : "",
               i->message ? strlen(i->message) : 0, msg, sizeof msg);
    snprintf(out, outsz, ": %s%s%s", code, i->message ? ": " : "", msg);
  } else {
    /* not an ErrorResponse: the first line of the body, printable bytes */
    size_t n = 0;
    out[n++] = ':';
    out[n++] = ' ';
    for (size_t i = 0; i < p->len && n + 4 < outsz && i < 120; i++) {
      unsigned char c = (unsigned char)p->body[i];
      if (c == '\n' || c == '\r') break;
      out[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    out[n] = '\0';
    if (n == 2) out[0] = '\0';
  }
  oci_dist_error_response_free(e);
}

static bool retryable_curl(CURLcode c) {
  switch (c) {
  case CURLE_COULDNT_CONNECT:
  case CURLE_OPERATION_TIMEDOUT:
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM: return true;
  default: return false;
  }
}

/* 429 Too Many Requests and 5xx, except the ones that say "never":
   501 Not Implemented, 505 HTTP Version Not Supported. */
static bool retryable_status(long st) {
  return st == 429 || (st >= 500 && st <= 599 && st != 501 && st != 505);
}

/* The pool's cancel flag or a streamed copy's stop flag is up. */
static bool reg_stopped(const oci_registry *r) {
  return (r->cancel && atomic_load(r->cancel)) ||
         (r->stop && atomic_load(r->stop));
}

static void sleep_ms(const oci_registry *r, unsigned ms) {
  /* in slices of 100 ms: a worker's backoff ends when the pool cancels */
  while (ms && !reg_stopped(r)) {
    unsigned d = ms < 100 ? ms : 100;
    struct timespec ts = {0, (long)d * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
    ms -= d;
  }
}

/* curl asks to send the body again from its start (a reused connection
   that the server had closed, an auth round, a redirect). */
static int on_seek(void *ud, curl_off_t off, int origin) {
  xfer *x = ud;
  const reg_req *q = x->req;
  if (origin != SEEK_SET || off != 0) return CURL_SEEKFUNC_CANTSEEK;
  /* a chunk PATCH is not replayed blindly: part of it may have arrived */
  if (q->net_resume) return CURL_SEEKFUNC_CANTSEEK;
  if (q->source) {
    if (!q->rewind || q->rewind(q->source_ud)) return CURL_SEEKFUNC_CANTSEEK;
  } else {
    x->body_off = 0;
  }
  x->sent = 0;
  return CURL_SEEKFUNC_OK;
}

static int on_xferinfo(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut,
                       curl_off_t un) {
  (void)dt, (void)dn, (void)ut, (void)un;
  const oci_registry *r = ud;
  return reg_stopped(r) ? 1 : 0;
}

static int perform_once(oci_registry *r, const reg_req *q, reg_resp *p,
                        oci_error *err, CURLcode *cc, bool *streamed) {
  CURL *c = r->curl;
  if (!q->authorization && !q->no_auth) reg_auth_refresh(r, q->scope);
  curl_easy_reset(c);
  xfer x = {.r = r, .req = q, .resp = p, .err = err};
  reg_resp_free(p);
  struct curl_slist *h = NULL, *t;
  char *auth = NULL, *line = NULL;
  int rc = OCI_OK;
#define ADD(s)                                                                 \
  do {                                                                         \
    if (!(t = curl_slist_append(h, (s)))) {                                    \
      rc = reg_nomem(err);                                                     \
      goto out;                                                                \
    }                                                                          \
    h = t;                                                                     \
  } while (0)
#define ADDF(name, v)                                                          \
  do {                                                                         \
    if ((rc = reg_check_header_value("the " name " header's value", v, err)))  \
      goto out;                                                                \
    free(line);                                                                \
    if (asprintf(&line, name ": %s", v) < 0) {                                 \
      line = NULL;                                                             \
      rc = reg_nomem(err);                                                     \
      goto out;                                                                \
    }                                                                          \
    ADD(line);                                                                 \
  } while (0)
  if ((rc = reg_check_url("request URL", q->url, err))) goto out;
  ADD("Expect:"); /* no 100-continue round trip */
  if (q->accept) ADDF("Accept", q->accept);
  if (q->content_type) ADDF("Content-Type", q->content_type);
  if (q->content_range) ADDF("Content-Range", q->content_range);
  if (q->range) ADDF("Range", q->range);
  if (q->authorization)
    ADDF("Authorization", q->authorization);
  else if (!q->no_auth &&
           (r->o.allow_cross_host_auth || reg_same_origin(q->url, r->base)) &&
           (auth = reg_auth_header(r, q->scope)))
    ADDF("Authorization", auth);
  if (!q->has_body && !strcmp(q->method, "PUT")) ADD("Content-Length: 0");

  curl_easy_setopt(c, CURLOPT_URL, q->url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->curl_err);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_USERAGENT, r->user_agent);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, r->o.connect_timeout_s);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, r->o.low_speed_limit);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, r->o.low_speed_timeout_s);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, r->o.tls_verify ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, r->o.tls_verify ? 2L : 0L);
  if (r->ca_file) curl_easy_setopt(c, CURLOPT_CAINFO, r->ca_file);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
  if (r->share) curl_easy_setopt(c, CURLOPT_SHARE, r->share);
  /* blob bodies in large pieces: curl's 16 KiB receive and 64 KiB send
     buffers cost a recv/write (or read/send) pair, a hash update and a
     progress report per piece (bench/README.md "Registry") */
  if (q->sink) curl_easy_setopt(c, CURLOPT_BUFFERSIZE, REG_XFER_BUFFER);
  if (q->source)
    curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, REG_XFER_BUFFER);
  if (r->cancel || r->stop) {
    /* a worker: the pool's cancel flag (or a streamed copy's stop flag)
       stops a transfer under way (curl calls this at least once a second,
       also when nothing moves) */
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_xferinfo);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, r);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  }
  if (q->follow) {
    /* curl (>= 7.83) drops our Authorization header when a redirect
       changes scheme, host or port; UNRESTRICTED_AUTH would keep it */
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_UNRESTRICTED_AUTH, 0L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
  }
  if (!strcmp(q->method, "HEAD"))
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  else if (!strcmp(q->method, "POST") && !q->has_body) {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
  } else if (q->has_body) {
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &x);
    curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
    curl_easy_setopt(c, CURLOPT_SEEKDATA, &x);
    curl_easy_setopt(
        c, CURLOPT_INFILESIZE_LARGE,
        (curl_off_t)(q->source ? q->source_len : (int64_t)q->body_len));
    if (strcmp(q->method, "PUT"))
      curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
  } else if (strcmp(q->method, "GET"))
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);

  r->curl_err[0] = '\0';
  r->stats.requests++;
  p->content_length = -1;
  *cc = curl_easy_perform(c);
  *streamed = x.streamed;
  if (*cc == CURLE_OK) {
    long st = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    p->status = st;
  }
  if (x.cb_rc) {
    rc = x.cb_rc;
  } else if (*cc == CURLE_ABORTED_BY_CALLBACK && reg_stopped(r)) {
    rc = reg_fail(err, OCI_ECANCELED, q->method, q->url,
                  "canceled (another transfer failed)");
  } else if (x.too_big) {
    rc = reg_fail(err, OCI_ETOOBIG, q->method, q->url,
                  "response larger than %zu bytes", q->max_body);
  } else if (*cc != CURLE_OK) {
    /* OpenSSL's "wrong version number": the server answered in plain
       HTTP, which the caller can fix with one option */
    bool plain = *cc == CURLE_SSL_CONNECT_ERROR &&
                 strstr(r->curl_err, "wrong version number");
    char why[CURL_ERROR_SIZE];
    const char *cw = r->curl_err[0] ? r->curl_err : curl_easy_strerror(*cc);
    /* curl wanted to send the body again on a new connection (the reused
       one died) and on_seek said no */
    if (*cc == CURLE_SEND_FAIL_REWIND && q->net_resume)
      cw = "the connection closed before an answer";
    reg_escape(cw, strlen(cw), why, sizeof why);
    rc = reg_fail(err, OCI_ENETWORK, q->method, q->url, "%s%s", why,
                  plain ? " (the server does not speak TLS: a plain-HTTP "
                          "registry needs plain_http)"
                        : "");
  }
out:
#undef ADD
#undef ADDF
  curl_slist_free_all(h);
  if (auth) {
    /* the header held a secret: do not leave it in freed memory */
    volatile char *v = auth;
    while (*v)
      *v++ = 0;
    free(auth);
  }
  if (line) {
    volatile char *v = line;
    while (*v)
      *v++ = 0;
    free(line);
  }
  return rc;
}

static unsigned backoff_ms(const oci_registry *r, unsigned attempt,
                           const reg_resp *p) {
  unsigned long d = r->o.retry_delay_ms;
  for (unsigned i = 0; i < attempt && d < r->o.retry_max_delay_ms; i++)
    d *= 2;
  if (p && p->retry_after) {
    /* Retry-After: delay-seconds (an HTTP-date is taken as no hint) */
    char *e;
    unsigned long s = strtoul(p->retry_after, &e, 10);
    if (e != p->retry_after && !*e && s * 1000 > d) d = s * 1000;
  }
  if (d > r->o.retry_max_delay_ms) d = r->o.retry_max_delay_ms;
  return (unsigned)d;
}

bool reg_retryable_status(long st) {
  return retryable_status(st);
}

void reg_backoff(oci_registry *r, unsigned attempt, const reg_resp *p) {
  sleep_ms(r, backoff_ms(r, attempt, p));
}

static bool ok_status(long st, const long *ok_also) {
  if (is_success(st)) return true;
  for (; ok_also && *ok_also; ok_also++)
    if (*ok_also == st) return true;
  return false;
}

int reg_do(oci_registry *r, const reg_req *q, const long *ok_also, reg_resp *p,
           oci_error *err) {
  oci_error local;
  if (!err) err = &local;
  memset(p, 0, sizeof *p);
  p->content_length = -1;
  bool replayable = !q->source || q->rewind;
  bool auth_tried = false;
  unsigned attempt = 0;
  for (;;) {
    CURLcode cc = CURLE_OK;
    bool streamed = false;
    int rc = perform_once(r, q, p, err, &cc, &streamed);
    if (rc == OCI_ENETWORK && retryable_curl(cc) && !q->no_retry &&
        !q->net_resume && attempt < r->o.retries && replayable && !streamed) {
      if (q->source && q->rewind && q->rewind(q->source_ud)) {
        set_last(r, q, NULL);
        return rc;
      }
      sleep_ms(r, backoff_ms(r, attempt++, NULL));
      continue;
    }
    if (rc) {
      set_last(r, q, rc == OCI_ENETWORK ? NULL : p);
      return rc;
    }
    if (ok_status(p->status, ok_also)) return OCI_OK;
    if (p->status == 401 && !auth_tried && !q->no_auth && p->www_authenticate &&
        (replayable || !q->source)) {
      auth_tried = true;
      oci_error aerr;
      oci_error_clear(&aerr);
      if (reg_auth_answer(r, p, q->scope, &aerr) == OCI_OK) {
        if (q->source && q->rewind && q->rewind(q->source_ud)) {
          set_last(r, q, p);
          return reg_fail(err, OCI_EIO, q->method, q->url,
                          "cannot replay the body");
        }
        continue;
      }
      if (aerr.code != OCI_EUNSUPPORTED) {
        /* the token service failed: say so, keeping the registry's 401 */
        set_last(r, q, p);
        return reg_fail(
            err, aerr.code == OCI_ENOMEM ? OCI_ENOMEM : OCI_EREGISTRY,
            q->method, q->url, "401 Unauthorized; %s", aerr.message);
      }
    }
    if (retryable_status(p->status) && !q->no_retry && attempt < r->o.retries &&
        replayable) {
      if (q->source && q->rewind && q->rewind(q->source_ud)) break;
      sleep_ms(r, backoff_ms(r, attempt++, p));
      continue;
    }
    break;
  }
  set_last(r, q, p);
  char detail[240]; /* ": " code (64) ": " message (160) */
  describe_body(p, detail, sizeof detail);
  const char *hint = p->status == 401   ? " (credentials missing or refused)"
                     : p->status == 403 ? " (access denied)"
                                        : "";
  return reg_fail(err, OCI_EREGISTRY, q->method, q->url, "HTTP %ld%s%s",
                  p->status, hint, detail);
}

int reg_call(oci_registry *r, const reg_req *q, oci_error *err) {
  reg_resp p;
  int rc = reg_do(r, q, NULL, &p, err);
  reg_resp_free(&p);
  return rc;
}

/* ---- client
 * ------------------------------------------------------------------ */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void) {
  curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void oci_registry_options_init(oci_registry_options *o) {
  *o = (oci_registry_options)OCI_REGISTRY_OPTIONS_INIT;
}

static char *dup_or_null(const char *s, bool *fail) {
  if (!s) return NULL;
  char *d = strdup(s);
  if (!d) *fail = true;
  return d;
}

int oci_registry_new(const char *host, const oci_registry_options *o,
                     oci_registry **out, oci_error *err) {
  oci_error_reset(err);
  *out = NULL;
  if (!host || !*host)
    return oci_error_set(err, OCI_EINVAL, "registry host is empty");
  int rc = oci_check_registry_host(host, strlen(host), err);
  if (rc) return rc;
  if (o && (rc = oci_options_check(err, "oci_registry_options", o->version,
                                   OCI_REGISTRY_OPTIONS_VERSION)))
    return rc;
  pthread_once(&curl_once, curl_init);
  if (curl_init_rc != CURLE_OK)
    return oci_error_set(err, OCI_ENETWORK, "curl_global_init: %s",
                         curl_easy_strerror(curl_init_rc));
  oci_registry *r = calloc(1, sizeof *r);
  if (!r) return reg_nomem(err);
  oci_registry_options_init(&r->o);
  if (o && o->version >= 3)
    r->o = *o;
  else if (o && o->version == 2) /* ends before blob_cache */
    memcpy(&r->o, o, offsetof(oci_registry_options, blob_cache));
  else if (o) /* a version 1 struct ends before helper_timeout_ms and jobs */
    memcpy(&r->o, o, offsetof(oci_registry_options, helper_timeout_ms));
  if (!r->o.connect_timeout_s) r->o.connect_timeout_s = 30;
  if (!r->o.low_speed_timeout_s) r->o.low_speed_timeout_s = 60;
  if (!r->o.retry_max_delay_ms) r->o.retry_max_delay_ms = 10000;
  if (r->o.low_speed_limit <= 0) r->o.low_speed_limit = 1024;
  if (!r->o.max_fanout) r->o.max_fanout = 1000;
  if (!r->o.max_nodes) r->o.max_nodes = 10000;
  if (!r->o.max_pages) r->o.max_pages = 1000;
  if (!r->o.max_list_bytes) r->o.max_list_bytes = 64u << 20;
  if (!r->o.helper_timeout_ms) r->o.helper_timeout_ms = 30000;
  if (!r->o.jobs) r->o.jobs = 4;
  if (r->o.jobs > OCI_REGISTRY_JOBS_MAX) {
    rc = oci_error_set(err, OCI_EINVAL, "jobs: %u is more than %u", r->o.jobs,
                       OCI_REGISTRY_JOBS_MAX);
    free(r);
    return rc;
  }
  /* what the user gives goes into headers: no control characters */
  if (o && ((o->user_agent &&
             (rc = reg_check_header_value("user agent", o->user_agent, err))) ||
            (o->username &&
             (rc = reg_check_header_value("username", o->username, err))) ||
            (o->password &&
             (rc = reg_check_header_value("password", o->password, err))))) {
    free(r);
    return rc;
  }
  bool fail = false;
  r->host = dup_or_null(host, &fail);
  /* docker.io is a name; its API lives at registry-1.docker.io */
  r->api_host = dup_or_null(!strcmp(host, OCI_HOST_DOCKER_HUB) ||
                                    !strcmp(host, OCI_HOST_DOCKER_HUB_INDEX)
                                ? OCI_HOST_DOCKER_HUB_API
                                : host,
                            &fail);
  r->ca_file = dup_or_null(r->o.ca_file, &fail);
  r->user_agent = dup_or_null(
      r->o.user_agent ? r->o.user_agent : "ocispec/" OCI_VERSION_STRING, &fail);
  r->username = dup_or_null(r->o.username, &fail);
  r->password = dup_or_null(r->o.password, &fail);
  if (!fail && asprintf(&r->base, "%s://%s", r->o.plain_http ? "http" : "https",
                        r->api_host) < 0) {
    r->base = NULL;
    fail = true;
  }
  if (!fail && !(r->curl = curl_easy_init())) fail = true;
  atomic_init(&r->own_caps.referrers, OCI_REGISTRY_CAP_UNKNOWN);
  atomic_init(&r->own_caps.range, OCI_REGISTRY_CAP_UNKNOWN);
  atomic_init(&r->own_caps.mount, OCI_REGISTRY_CAP_UNKNOWN);
  atomic_init(&r->own_caps.deletion, OCI_REGISTRY_CAP_UNKNOWN);
  atomic_init(&r->own_caps.chunk_min, -1);
  r->caps = &r->own_caps;
  /* the copies are the ones used; do not keep the caller's pointers */
  r->o.username = r->o.password = r->o.ca_file = r->o.user_agent = NULL;
  r->o.auth_file = NULL;
  if (!fail && r->o.blob_cache) {
    if ((rc = reg_bcache_open(r->o.blob_cache, &r->bcache, err))) {
      oci_registry_free(r);
      return rc;
    }
    r->owns_bcache = true;
  }
  r->o.blob_cache = NULL;
  if (fail) {
    oci_registry_free(r);
    return reg_nomem(err);
  }
  if (!r->username && !(o && o->auth_file && !*o->auth_file)) {
    if ((rc = reg_credentials_find(r, o ? o->auth_file : NULL, err))) {
      oci_registry_free(r);
      return rc;
    }
  }
  *out = r;
  return OCI_OK;
}

oci_registry *reg_clone(const oci_registry *r) {
  oci_registry *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->o = r->o;
  c->basic = r->basic;
  c->share = r->share;
  c->cancel = r->cancel;
  c->caps = r->caps;     /* what a worker learns, the client knows */
  c->bcache = r->bcache; /* shared; r closes it */
  bool fail = false;
  c->host = dup_or_null(r->host, &fail);
  c->api_host = dup_or_null(r->api_host, &fail);
  c->base = dup_or_null(r->base, &fail);
  c->ca_file = dup_or_null(r->ca_file, &fail);
  c->user_agent = dup_or_null(r->user_agent, &fail);
  c->username = dup_or_null(r->username, &fail);
  c->password = dup_or_null(r->password, &fail);
  if (!fail && r->ntokens) {
    if (!(c->tokens = calloc(r->ntokens, sizeof *c->tokens))) fail = true;
    for (size_t i = 0; !fail && i < r->ntokens; i++, c->ntokens++) {
      c->tokens[i].scope = dup_or_null(r->tokens[i].scope, &fail);
      c->tokens[i].token = dup_or_null(r->tokens[i].token, &fail);
    }
  }
  if (!fail && !(c->curl = curl_easy_init())) fail = true;
  if (fail) {
    oci_registry_free(c);
    return NULL;
  }
  return c;
}

void reg_stats_add(oci_registry *r, const oci_registry *w) {
  r->stats.requests += w->stats.requests;
  r->stats.blobs_uploaded += w->stats.blobs_uploaded;
  r->stats.blobs_skipped += w->stats.blobs_skipped;
  r->stats.blobs_mounted += w->stats.blobs_mounted;
  r->stats.blobs_downloaded += w->stats.blobs_downloaded;
  r->stats.bytes_uploaded += w->stats.bytes_uploaded;
  r->stats.bytes_downloaded += w->stats.bytes_downloaded;
  r->stats.manifests_pushed += w->stats.manifests_pushed;
  r->stats.manifests_pulled += w->stats.manifests_pulled;
}

void reg_last_move(oci_registry *r, oci_registry *w) {
  if (!w->last_url) return;
  free(r->last_url);
  free(r->last_body);
  free(r->last_content_type);
  r->last_status = w->last_status;
  memcpy(r->last_method, w->last_method, sizeof r->last_method);
  r->last_url = w->last_url;
  r->last_body = w->last_body;
  r->last_body_len = w->last_body_len;
  r->last_content_type = w->last_content_type;
  w->last_url = w->last_body = w->last_content_type = NULL;
  w->last_body_len = 0;
}

void oci_registry_free(oci_registry *r) {
  if (!r) return;
  if (r->owns_bcache) (void)reg_bcache_close(r->bcache);
  if (r->curl) curl_easy_cleanup(r->curl);
  reg_auth_free(r);
  free(r->host);
  free(r->api_host);
  free(r->base);
  free(r->ca_file);
  free(r->user_agent);
  free(r->last_url);
  free(r->last_body);
  free(r->last_content_type);
  free(r);
}

const char *oci_registry_host(const oci_registry *r) {
  return r->host;
}

void oci_registry_last_response(const oci_registry *r,
                                oci_registry_response *out) {
  out->status = r->last_status;
  out->method = r->last_method;
  out->url = r->last_url;
  out->body = r->last_body;
  out->body_len = r->last_body_len;
  out->content_type = r->last_content_type;
}

void oci_registry_get_stats(const oci_registry *r, oci_registry_stats *out) {
  *out = r->stats;
}

void reg_cap_set(atomic_int *cap, oci_registry_cap v, bool yes_stays) {
  if (v == OCI_REGISTRY_CAP_NO && yes_stays) {
    int unknown = OCI_REGISTRY_CAP_UNKNOWN;
    atomic_compare_exchange_strong(cap, &unknown, (int)v);
    return;
  }
  atomic_store(cap, (int)v);
}

void oci_registry_capabilities_init(oci_registry_capabilities *c) {
  *c = (oci_registry_capabilities)OCI_REGISTRY_CAPABILITIES_INIT;
}

int oci_registry_get_capabilities(const oci_registry *r,
                                  oci_registry_capabilities *out,
                                  oci_error *err) {
  oci_error_reset(err);
  int rc = oci_options_check(err, "oci_registry_capabilities", out->version,
                             OCI_REGISTRY_CAPABILITIES_VERSION);
  if (rc) return rc;
  out->referrers = (oci_registry_cap)atomic_load(&r->caps->referrers);
  out->range = (oci_registry_cap)atomic_load(&r->caps->range);
  out->mount = (oci_registry_cap)atomic_load(&r->caps->mount);
  out->deletion = (oci_registry_cap)atomic_load(&r->caps->deletion);
  out->chunk_min = (int64_t)atomic_load(&r->caps->chunk_min);
  return OCI_OK;
}
