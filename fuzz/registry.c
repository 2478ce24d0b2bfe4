/* libFuzzer target: the registry client's parsers of what a server sends
   in headers (csrc/registry/registry_auth.c, csrc/registry/registry_http.c).
   Byte 0 picks: 0: WWW-Authenticate — a failure is EINVAL/EUNSUPPORTED with a
   message and nothing allocated; a success is Basic or Bearer, Bearer with a
      realm;
   1: Link — a failure is EINVAL; a success gives no `last` or a string;
   2: round trip — the rest, split at '\n' into realm, service and scope,
      is quoted (backslash escapes) into a Bearer challenge, which must
      parse back to exactly those values;
   3: origins and escaping — the rest, split at its first NUL into two
      URLs: reg_same_origin is symmetric and implies reg_same_host; the
      escaped text holds no control character and fits its buffer. */
#include "fuzz_common.h"
#include "registry/registry_internal.h"

/* s as an RFC 7230 quoted-string into out (room for 2 * n + 3). */
static void quote(const char *s, size_t n, char *out) {
  *out++ = '"';
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '"' || s[i] == '\\') *out++ = '\\';
    *out++ = s[i];
  }
  *out++ = '"';
  *out = '\0';
}

static void round_trip(const char *s, size_t n) {
  const char *part[3] = {s, NULL, NULL};
  size_t len[3] = {n, 0, 0};
  for (int k = 1; k < 3; k++) {
    const char *nl = memchr(part[k - 1], '\n', len[k - 1]);
    if (!nl) return;
    part[k] = nl + 1;
    len[k] = len[k - 1] - (size_t)(part[k] - part[k - 1]);
    len[k - 1] = (size_t)(nl - part[k - 1]);
  }
  for (int k = 0; k < 3; k++)
    if (memchr(part[k], '\0', len[k])) return; /* C strings cannot hold it */
  char *q[3];
  size_t total = 64;
  for (int k = 0; k < 3; k++) {
    q[k] = malloc(2 * len[k] + 3);
    FUZZ_CHECK(q[k], "malloc");
    quote(part[k], len[k], q[k]);
    total += strlen(q[k]);
  }
  char *h = malloc(total);
  FUZZ_CHECK(h, "malloc");
  int hl = snprintf(h, total, "Bearer realm=%s,service=%s, scope=%s", q[0],
                    q[1], q[2]);
  reg_challenge c;
  oci_error err;
  oci_error_clear(&err);
  int rc = reg_parse_challenge(h, (size_t)hl, &c, &err);
  FUZZ_CHECK(rc == OCI_OK, "\"%s\": %s", h, err.message);
  FUZZ_CHECK(c.scheme == REG_AUTH_BEARER, "scheme");
  FUZZ_CHECK(strlen(c.realm) == len[0] && !memcmp(c.realm, part[0], len[0]),
             "realm of \"%s\" is \"%s\"", h, c.realm);
  FUZZ_CHECK(c.service && strlen(c.service) == len[1] &&
                 !memcmp(c.service, part[1], len[1]),
             "service of \"%s\"", h);
  FUZZ_CHECK(c.scope && strlen(c.scope) == len[2] &&
                 !memcmp(c.scope, part[2], len[2]),
             "scope of \"%s\"", h);
  reg_challenge_free(&c);
  free(h);
  for (int k = 0; k < 3; k++)
    free(q[k]);
}

static char *dupn(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (!d) return NULL;
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const char *s = (const char *)data + 1;
  size_t n = size - 1;
  oci_error err;
  oci_error_clear(&err);
  switch (data[0] % 4) {
  case 0: {
    reg_challenge c;
    int rc = reg_parse_challenge(s, n, &c, &err);
    if (rc) {
      fuzz_check_error(rc, &err);
      FUZZ_CHECK(rc == OCI_EINVAL || rc == OCI_EUNSUPPORTED, "rc %d", rc);
      FUZZ_CHECK(!c.realm && !c.service && !c.scope, "left allocated");
      return 0;
    }
    FUZZ_CHECK(c.scheme == REG_AUTH_BASIC || c.scheme == REG_AUTH_BEARER,
               "scheme %d", (int)c.scheme);
    FUZZ_CHECK(c.scheme != REG_AUTH_BEARER || c.realm, "Bearer without realm");
    reg_challenge_free(&c);
    return 0;
  }
  case 1: {
    char *last = (char *)1;
    int rc = reg_parse_link_next(s, n, &last, &err);
    if (rc) {
      fuzz_check_error(rc, &err);
      FUZZ_CHECK(rc == OCI_EINVAL, "rc %d", rc);
    }
    FUZZ_CHECK(last != (char *)1, "*out not set");
    free(last);
    return 0;
  }
  case 3: {
    /* origins (who gets credentials) and escaping (what reaches a
       terminal): the input split at its first NUL into two URLs */
    char *a = dupn(s, n);
    if (!a) return 0;
    size_t al = strlen(a);
    const char *b = al < n ? s + al + 1 : "";
    char *bb = dupn(b, n - (al < n ? al + 1 : n));
    if (!bb) {
      free(a);
      return 0;
    }
    bool same = reg_same_origin(a, bb);
    FUZZ_CHECK(same == reg_same_origin(bb, a), "origin not symmetric");
    FUZZ_CHECK(!same || reg_same_host(a, bb), "same origin, other host");
    FUZZ_CHECK(!same || reg_same_origin(a, a), "origin not reflexive");
    char out[128];
    size_t k = reg_escape(s, n, out, sizeof out);
    FUZZ_CHECK(k < sizeof out && out[k] == '\0', "escape overran");
    for (size_t i = 0; i < k; i++)
      FUZZ_CHECK((unsigned char)out[i] >= 0x20 && out[i] != 0x7f,
                 "control character left at %zu", i);
    FUZZ_CHECK(reg_url_shown(a) <= (int)al, "shown past the URL");
    free(a);
    free(bb);
    return 0;
  }
  default: round_trip(s, n); return 0;
  }
}
