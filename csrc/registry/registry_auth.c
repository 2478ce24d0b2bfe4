/* Registry auth: WWW-Authenticate challenges (RFC 7235), Basic (RFC 7617),
   the bearer token flow of distribution's docs/spec/auth/token.md, and
   credentials from a Docker CLI config.json. Secrets are wiped before they
   are freed and never enter an error message. */
#define _GNU_SOURCE /* asprintf, vasprintf */
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "ocispec/ocispec.h"
#include "registry_internal.h"

static void wipe_free(char *s) {
  if (!s) return;
  volatile char *v = s;
  while (*v)
    *v++ = 0;
  free(s);
}

/* ---- challenges ---------------------------------------------------------- */

static bool is_tchar(char c) {
  /* RFC 7230 token characters */
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void skip_ows(const char *s, size_t len, size_t *i) {
  while (*i < len && (s[*i] == ' ' || s[*i] == '\t'))
    (*i)++;
}

/* "'x'", or "0x1b" for a byte a terminal would act on. */
static const char *shown_byte(char c, char out[8]) {
  unsigned char u = (unsigned char)c;
  if (u >= 0x20 && u < 0x7f)
    snprintf(out, 8, "'%c'", c);
  else
    snprintf(out, 8, "0x%02x", u);
  return out;
}

void reg_challenge_free(reg_challenge *c) {
  free(c->realm);
  free(c->service);
  free(c->scope);
  memset(c, 0, sizeof *c);
}

/* One auth-param value: token or quoted-string (backslash escapes). */
static int param_value(const char *s, size_t len, size_t *i, char **out,
                       oci_error *err) {
  *out = NULL;
  if (*i < len && s[*i] == '"') {
    char *v = malloc(len - *i + 1), *p = v;
    if (!v) return reg_nomem(err);
    for ((*i)++; *i < len && s[*i] != '"'; (*i)++) {
      if (s[*i] == '\\' && *i + 1 < len) (*i)++;
      *p++ = s[*i];
    }
    if (*i == len) {
      free(v);
      return oci_error_set(err, OCI_EINVAL,
                           "WWW-Authenticate: unterminated quoted string");
    }
    (*i)++;
    *p = '\0';
    *out = v;
    return OCI_OK;
  }
  size_t v0 = *i;
  while (*i < len && is_tchar(s[*i]))
    (*i)++;
  if (!(*out = reg_dupn(s + v0, *i - v0))) return reg_nomem(err);
  return OCI_OK;
}

int reg_parse_challenge(const char *s, size_t len, reg_challenge *out,
                        oci_error *err) {
  memset(out, 0, sizeof *out);
  char ch[8];
  size_t i = 0;
  while (i < len) {
    /* challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ] */
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
      i++;
    if (i == len) break;
    size_t k0 = i;
    while (i < len && is_tchar(s[i]))
      i++;
    size_t kl = i - k0;
    if (!kl)
      return oci_error_set(err, OCI_EINVAL,
                           "WWW-Authenticate: unexpected %s at byte %zu",
                           shown_byte(s[i], ch), i);
    int scheme = REG_AUTH_NONE;
    if (kl == 5 && !strncasecmp(s + k0, "Basic", 5)) scheme = REG_AUTH_BASIC;
    if (kl == 6 && !strncasecmp(s + k0, "Bearer", 6)) scheme = REG_AUTH_BEARER;
    out->scheme = scheme;
    size_t nparams = 0;
    /* auth-params until a token that is not followed by '=' (the next
       challenge's scheme) */
    for (;;) {
      skip_ows(s, len, &i);
      size_t n0 = i;
      while (i < len && is_tchar(s[i]))
        i++;
      size_t n1 = i;
      skip_ows(s, len, &i);
      if (n1 == n0 || i == len || s[i] != '=') {
        i = n0;
        break;
      }
      i++;
      skip_ows(s, len, &i);
      if (i == len || s[i] == ',' || s[i] == '=') {
        /* token68 ("abc==") of a scheme we do not use: skip it */
        while (i < len && s[i] != ',')
          i++;
        break;
      }
      char *v;
      int rc = param_value(s, len, &i, &v, err);
      if (rc) {
        reg_challenge_free(out);
        return rc;
      }
      nparams++;
      char **slot = NULL;
      size_t nl = n1 - n0;
      if (scheme != REG_AUTH_NONE) {
        if (nl == 5 && !strncasecmp(s + n0, "realm", 5)) slot = &out->realm;
        if (nl == 7 && !strncasecmp(s + n0, "service", 7)) slot = &out->service;
        if (nl == 5 && !strncasecmp(s + n0, "scope", 5)) slot = &out->scope;
      }
      if (slot) {
        free(*slot);
        *slot = v;
      } else
        free(v);
      skip_ows(s, len, &i);
      if (i < len && s[i] != ',') {
        reg_challenge_free(out);
        return oci_error_set(err, OCI_EINVAL,
                             "WWW-Authenticate: unexpected %s at byte %zu",
                             shown_byte(s[i], ch), i);
      }
      if (i < len) i++; /* the ',' */
    }
    if (scheme != REG_AUTH_NONE) break;
    reg_challenge_free(out);
    /* an unknown scheme: a token68 right after it is skipped */
    if (!nparams)
      while (i < len && s[i] != ',')
        i++;
  }
  if (out->scheme == REG_AUTH_NONE) {
    reg_challenge_free(out);
    return oci_error_set(err, OCI_EUNSUPPORTED,
                         "WWW-Authenticate: no Basic or Bearer challenge");
  }
  if (out->scheme == REG_AUTH_BEARER && !out->realm) {
    reg_challenge_free(out);
    return oci_error_set(err, OCI_EINVAL,
                         "WWW-Authenticate: Bearer challenge without realm");
  }
  return OCI_OK;
}

/* ---- headers ------------------------------------------------------------- */

static char *basic_header(const oci_registry *r) {
  size_t ul = strlen(r->username), pl = strlen(r->password ? r->password : "");
  size_t n = ul + 1 + pl;
  char *plain = malloc(n + 1);
  char *out = malloc(6 + 4 * ((n + 2) / 3) + 1);
  if (!plain || !out) {
    free(plain);
    free(out);
    return NULL;
  }
  memcpy(plain, r->username, ul);
  plain[ul] = ':';
  memcpy(plain + ul + 1, r->password ? r->password : "", pl);
  plain[n] = '\0';
  memcpy(out, "Basic ", 6);
  EVP_EncodeBlock((unsigned char *)out + 6, (const unsigned char *)plain,
                  (int)n);
  wipe_free(plain);
  return out;
}

static reg_token *find_token(oci_registry *r, const char *scope) {
  const char *key = scope ? scope : "";
  for (size_t i = 0; i < r->ntokens; i++)
    if (!strcmp(r->tokens[i].scope, key)) return &r->tokens[i];
  return NULL;
}

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fetch_token(oci_registry *r, const reg_challenge *c,
                       const char *scope, oci_error *err);

void reg_auth_refresh(oci_registry *r, const char *scope) {
  reg_token *t = find_token(r, scope);
  if (!t || mono_ms() < t->refresh_at_ms) return;
  /* expired, or about to: a new one from the realm that gave it, before
     the request; when that fails, none (the 401 answer reports why) */
  reg_challenge c = {
      .scheme = REG_AUTH_BEARER, .realm = r->realm, .service = r->service};
  oci_error e;
  oci_error_clear(&e);
  if (r->realm && !fetch_token(r, &c, scope, &e)) return;
  t = find_token(r, scope);
  if (!t) return;
  wipe_free(t->token);
  free(t->scope);
  *t = r->tokens[--r->ntokens];
}

char *reg_auth_header(oci_registry *r, const char *scope) {
  reg_token *t = find_token(r, scope);
  if (t) {
    char *h = NULL;
    if (asprintf(&h, "Bearer %s", t->token) < 0) return NULL;
    return h;
  }
  if (r->basic && r->username) return basic_header(r);
  return NULL;
}

/* At most a day: expires_in is the server's int64, and its milliseconds
   (store_token) must not overflow; a token kept longer is fetched again. */
#define TOKEN_LIFE_MAX_S (24 * 3600)

/* Seconds a token stays usable: expires_in (token-spec: 60 when absent),
   at most TOKEN_LIFE_MAX_S, less the time since issued_at when that is a
   plausible UTC time. */
static int64_t token_lifetime_s(const oci_registry_token_response *tr) {
  int64_t life = tr->expires_in > 0 ? tr->expires_in : 60;
  if (life > TOKEN_LIFE_MAX_S) life = TOKEN_LIFE_MAX_S;
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  const char *end =
      tr->issued_at ? strptime(tr->issued_at, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
  if (end) {
    if (*end == '.')
      for (end++; *end >= '0' && *end <= '9'; end++)
        ;
    if (!strcmp(end, "Z")) {
      time_t issued = timegm(&tm), now = time(NULL);
      if (issued != (time_t)-1 && issued <= now && now - issued < life)
        life -= now - issued;
    }
  }
  return life;
}

static int store_token(oci_registry *r, const char *scope, const char *tok,
                       int64_t life_s, oci_error *err) {
  reg_token *t = find_token(r, scope);
  /* refreshed a tenth of its life (at most 10 s) before it ends */
  int64_t margin = life_s * 100 < 10000 ? life_s * 100 : 10000;
  int64_t refresh_at = mono_ms() + life_s * 1000 - margin;
  char *copy = strdup(tok);
  if (!copy) return reg_nomem(err);
  if (t) {
    wipe_free(t->token);
    t->token = copy;
    t->refresh_at_ms = refresh_at;
    return OCI_OK;
  }
  reg_token *nt = realloc(r->tokens, (r->ntokens + 1) * sizeof *nt);
  if (!nt) {
    wipe_free(copy);
    return reg_nomem(err);
  }
  r->tokens = nt;
  if (!(nt[r->ntokens].scope = strdup(scope ? scope : ""))) {
    wipe_free(copy);
    return reg_nomem(err);
  }
  nt[r->ntokens].refresh_at_ms = refresh_at;
  nt[r->ntokens++].token = copy;
  return OCI_OK;
}

/* The OAuth2 form of a refresh_token grant (distribution's
   docs/spec/auth/oauth.md): malloc'd, the caller wipes it; NULL when out of
   memory. */
static char *oauth_form(oci_registry *r, const char *service,
                        const char *scopes) {
  const char *names[] = {"service", "scope", "refresh_token"};
  const char *vals[] = {service, scopes, r->identity_token};
  char *body = strdup("grant_type=refresh_token&client_id=ocispec&"
                      "access_type=offline");
  for (int i = 0; body && i < 3; i++) {
    if (!vals[i]) continue;
    char *v = curl_easy_escape(r->curl, vals[i], 0), *nb = NULL;
    if (!v || asprintf(&nb, "%s&%s=%s", body, names[i], v) < 0) nb = NULL;
    if (v) {
      memset(v, 0, strlen(v));
      curl_free(v);
    }
    wipe_free(body);
    body = nb;
  }
  return body;
}

/* GET realm?service=...&scope=...(one per space-separated scope), or, with
   an identity token and no username, the OAuth2 POST of a refresh_token
   grant to the realm. */
static int fetch_token(oci_registry *r, const reg_challenge *c,
                       const char *scope, oci_error *err) {
  int rc;
  if ((rc = reg_check_url("the token realm", c->realm, err)) ||
      (c->service &&
       (rc = reg_check_header_value("the token service", c->service, err))) ||
      (c->scope &&
       (rc = reg_check_header_value("the token scope", c->scope, err))))
    return rc;
  bool https = !strncasecmp(c->realm, "https://", 8);
  if (!https && strncasecmp(c->realm, "http://", 7)) {
    char shown[104];
    reg_escape(c->realm, strlen(c->realm), shown, sizeof shown);
    return oci_error_set(err, OCI_EINVAL,
                         "token realm \"%s\" is not an http(s) URL", shown);
  }
  /* the password goes to the realm: over https only, or over http when the
     registry itself is plain HTTP on the same host (the credentials travel
     in the clear there already), unless the caller allowed more */
  bool oauth = r->identity_token && !r->username;
  if ((r->username || oauth) && !https && !r->o.allow_insecure_realm &&
      !(r->o.plain_http && reg_same_host(c->realm, r->base)))
    return oci_error_set(
        err, OCI_EINVAL,
        "token realm %.*s is plain http: the credentials are not sent "
        "there in the clear (allow_insecure_realm allows it)",
        reg_url_shown(c->realm) > 160 ? 160 : reg_url_shown(c->realm),
        c->realm);
  char *url = strdup(c->realm), *t;
  if (!url) return reg_nomem(err);
  if (c->service) {
    t = reg_url_add(r, url, "service", c->service);
    free(url);
    if (!(url = t)) return reg_nomem(err);
  }
  const char *scopes = c->scope ? c->scope : scope;
  char *sc = scopes ? strdup(scopes) : NULL;
  if (scopes && !sc) {
    free(url);
    return reg_nomem(err);
  }
  char *save = NULL;
  for (char *w = sc ? strtok_r(sc, " ", &save) : NULL; w;
       w = strtok_r(NULL, " ", &save)) {
    t = reg_url_add(r, url, "scope", w);
    free(url);
    if (!(url = t)) {
      free(sc);
      return reg_nomem(err);
    }
  }
  free(sc);
  char *auth = r->username ? basic_header(r) : NULL;
  if (r->username && !auth) {
    free(url);
    return reg_nomem(err);
  }
  reg_req q = {.method = "GET",
               .url = url,
               .authorization = auth,
               .no_auth = true,
               .max_body = 1u << 20};
  char *form = NULL;
  if (oauth) {
    if (!(form = oauth_form(r, c->service, scopes))) {
      free(url);
      return reg_nomem(err);
    }
    q.method = "POST";
    q.url = c->realm;
    q.content_type = "application/x-www-form-urlencoded";
    q.body = form;
    q.body_len = strlen(form);
    q.has_body = true;
  }
  reg_resp p;
  oci_error e;
  oci_error_clear(&e);
  rc = reg_do(r, &q, NULL, &p, &e);
  wipe_free(auth);
  wipe_free(form);
  if (rc) {
    if (rc == OCI_ENOMEM) {
      free(url);
      reg_resp_free(&p);
      return reg_nomem(err);
    }
    oci_error_set(err, rc, "token service: %s", e.message);
    free(url);
    reg_resp_free(&p);
    return rc;
  }
  oci_registry_token_response *tr = NULL;
  oci_error pe;
  rc = oci_registry_token_response_parse(p.body ? p.body : "", p.len, NULL, &tr,
                                         &pe);
  if (rc == OCI_ENOMEM)
    rc = reg_nomem(err);
  else if (rc)
    oci_error_set(err, OCI_EINVAL, "token service %.*s: bad response: %s",
                  reg_url_shown(url), url, pe.message);
  else {
    const char *tok = tr->token ? tr->token : tr->access_token;
    if (!tok || !*tok)
      rc = oci_error_set(err, OCI_EINVAL,
                         "token service %.*s: response has no token",
                         reg_url_shown(url), url);
    else if (reg_check_header_value("the token", tok, &pe))
      rc = oci_error_set(err, OCI_EINVAL, "token service %.*s: %s",
                         reg_url_shown(url), url, pe.message);
    else
      rc = store_token(r, scope, tok, token_lifetime_s(tr), err);
    if (!rc && tr->refresh_token && *tr->refresh_token && r->identity_token &&
        !reg_check_header_value("the refresh token", tr->refresh_token, &pe)) {
      /* the realm may rotate the refresh token */
      char *rt = strdup(tr->refresh_token);
      if (!rt)
        rc = reg_nomem(err);
      else {
        wipe_free(r->identity_token);
        r->identity_token = rt;
      }
    }
  }
  if (tr) {
    if (tr->token) memset(tr->token, 0, strlen(tr->token));
    if (tr->access_token) memset(tr->access_token, 0, strlen(tr->access_token));
    if (tr->refresh_token)
      memset(tr->refresh_token, 0, strlen(tr->refresh_token));
  }
  oci_registry_token_response_free(tr);
  if (p.body) memset(p.body, 0, p.len);
  reg_resp_free(&p);
  free(url);
  return rc;
}

int reg_auth_answer(oci_registry *r, const reg_resp *resp, const char *scope,
                    oci_error *err) {
  reg_challenge c;
  int rc = reg_parse_challenge(resp->www_authenticate,
                               strlen(resp->www_authenticate), &c, err);
  if (rc == OCI_EINVAL) {
    /* a malformed challenge is the registry's fault: report the 401 */
    char why[OCI_ERROR_MESSAGE_MAX];
    memcpy(why, err->message, sizeof why); /* not formatted onto itself */
    return oci_error_set(err, OCI_EUNSUPPORTED, "%s", why);
  }
  if (rc) return rc;
  if (c.scheme == REG_AUTH_BASIC) {
    /* answer once; a second 401 means the credentials were refused */
    bool can = r->username && !r->basic;
    r->basic = true;
    reg_challenge_free(&c);
    return can ? OCI_OK
               : oci_error_set(err, OCI_EUNSUPPORTED, "no credentials to send");
  }
  rc = fetch_token(r, &c, scope, err);
  if (!rc && (!r->realm || strcmp(r->realm, c.realm))) {
    /* kept to refresh this scope's token (or another's) before it ends */
    free(r->realm);
    free(r->service);
    r->realm = c.realm;
    r->service = c.service;
    c.realm = c.service = NULL;
  }
  reg_challenge_free(&c);
  return rc;
}

void reg_auth_free(oci_registry *r) {
  for (size_t i = 0; i < r->ntokens; i++) {
    free(r->tokens[i].scope);
    wipe_free(r->tokens[i].token);
  }
  free(r->tokens);
  r->tokens = NULL;
  r->ntokens = 0;
  free(r->realm);
  free(r->service);
  r->realm = r->service = NULL;
  wipe_free(r->username);
  wipe_free(r->password);
  wipe_free(r->identity_token);
  r->username = r->password = r->identity_token = NULL;
}

/* ---- Docker config.json
 * ------------------------------------------------------- */

/* A config key ("https://index.docker.io/v1/", "127.0.0.1:5000") names host
   when, without scheme and path, it is host (docker/cli ConvertToHostname). */
static bool key_names(const char *key, const char *host) {
  if (!strncmp(key, "https://", 8))
    key += 8;
  else if (!strncmp(key, "http://", 7))
    key += 7;
  size_t n = strcspn(key, "/");
  if (strlen(host) == n && !strncmp(key, host, n)) return true;
  /* Docker Hub's credentials are filed under index.docker.io */
  return oci_host_is_docker_hub(host) &&
         ((n == strlen(OCI_HOST_DOCKER_HUB_INDEX) &&
           !strncmp(key, OCI_HOST_DOCKER_HUB_INDEX, n)) ||
          (n == strlen(OCI_HOST_DOCKER_HUB) &&
           !strncmp(key, OCI_HOST_DOCKER_HUB, n)));
}

static int entry_creds(oci_registry *r, const char *path, const char *key,
                       const oci_registry_auth_entry *e, oci_error *err) {
  if (e->auth && *e->auth) {
    size_t len = strlen(e->auth), n = 0;
    unsigned char *plain = malloc(len / 4 * 3 + 1);
    if (!plain) return reg_nomem(err);
    if (oci_base64_decode(e->auth, len, plain, &n) != OCI_OK) {
      free(plain);
      return oci_error_set(err, OCI_EINVAL,
                           "auth file %s: auths[\"%.100s\"].auth is not base64",
                           path, key);
    }
    plain[n] = '\0';
    char *colon = memchr(plain, ':', n);
    if (!colon || memchr(plain, '\0', n)) {
      memset(plain, 0, n);
      free(plain);
      return oci_error_set(
          err, OCI_EINVAL,
          "auth file %s: auths[\"%.100s\"].auth is not base64 of user:password",
          path, key);
    }
    *colon = '\0';
    r->username = strdup((char *)plain);
    r->password = strdup(colon + 1);
    memset(plain, 0, n);
    free(plain);
  } else if (e->username) {
    r->username = strdup(e->username);
    r->password = strdup(e->password ? e->password : "");
  } else if (e->identity_token && *e->identity_token) {
    if (reg_check_header_value("the identity token", e->identity_token, err))
      return oci_error_set(err, OCI_EINVAL,
                           "auth file %s: auths[\"%.100s\"].identitytoken "
                           "holds a control character",
                           path, key);
    if (!(r->identity_token = strdup(e->identity_token))) return reg_nomem(err);
    return OCI_OK;
  } else
    return OCI_OK; /* empty: anonymous */
  if (!r->username || !r->password) return reg_nomem(err);
  return OCI_OK;
}

/* A key of auths or credHelpers that names a namespace ("host/ns", no
   scheme: containers' auth.json) names a part of a registry; the client,
   which serves a whole host, does not use it. */
static bool key_is_namespace(const char *key) {
  return !strstr(key, "://") && strchr(key, '/');
}

int reg_auth_from_file(oci_registry *r, const char *path, bool required,
                       bool *found, oci_error *err) {
  *found = false;
  /* absent (or unreadable): not a source; O_NONBLOCK: a FIFO planted at
     one of the well-known names is opened without waiting for a writer,
     then refused by the parse as not a regular file, never a hang */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    return required
               ? oci_error_set(err, OCI_EIO, "auth file %s: cannot open", path)
               : OCI_OK;
  }
  close(fd);
  oci_registry_auth_config *c = NULL;
  oci_error pe;
  int rc = oci_registry_auth_config_parse_file(path, NULL, &c, &pe);
  if (rc == OCI_ENOMEM)
    rc = reg_nomem(err);
  else if (rc)
    oci_error_set(err, rc = OCI_EINVAL, "auth file %s: %s%s%s", path,
                  pe.pointer, pe.pointer[0] ? ": " : "", pe.message);
  else {
    /* docker's order: credHelpers[host], credsStore, auths[host]; a
       helper that has none passes on to the next source */
    const char *helper = NULL;
    for (size_t i = 0; i < c->cred_helpers.len; i++)
      if (!key_is_namespace(c->cred_helpers.keys[i]) &&
          key_names(c->cred_helpers.keys[i], r->host)) {
        helper = c->cred_helpers.values[i];
        break;
      }
    if (helper) rc = reg_helper_get(r, helper, found, err);
    if (!rc && !*found && c->creds_store && *c->creds_store)
      rc = reg_helper_get(r, c->creds_store, found, err);
    for (size_t i = 0; !rc && !*found && i < c->auths.len; i++)
      if (!key_is_namespace(c->auths.keys[i]) &&
          key_names(c->auths.keys[i], r->host)) {
        rc = entry_creds(r, path, c->auths.keys[i], c->auths.values[i], err);
        *found = !rc && (r->username || r->identity_token);
        break;
      }
    if (rc && rc != OCI_ENOMEM) {
      /* say which file named the helper */
      char why[OCI_ERROR_MESSAGE_MAX];
      memcpy(why, err->message, sizeof why);
      oci_error_set(err, rc, "auth file %s: %s", path, why);
    }
  }
  if (c) {
    /* wipe the secrets in the parsed copy */
    for (size_t i = 0; i < c->auths.len; i++) {
      oci_registry_auth_entry *e = c->auths.values[i];
      if (e->auth) memset(e->auth, 0, strlen(e->auth));
      if (e->password) memset(e->password, 0, strlen(e->password));
    }
  }
  oci_registry_auth_config_free(c);
  return rc;
}
