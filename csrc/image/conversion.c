/* image-spec conversion.md: image configuration -> runtime configuration
   (oci_runtime_spec_from_image_config, ocispec/conversion.h).

   The result is a copy of the base (or of `runc spec`'s configuration)
   edited in its own arena. Everything the image gives is attacker
   controlled: the rootfs's /etc/passwd and /etc/group are read with
   oci_rootfs_read_file (never leaving the rootfs), parsed by length (a NUL
   byte is data), and no step is quadratic in the image's sizes (labels and
   annotations are merged by sorting). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "ocispec/conversion.h"
#include "ocispec/runtime.h"
#include "ocispec/strcheck.h"

#define FIELD(t, m) (&oci_type_##t.fields[OCI_F_##t##_##m])
#define HAS(obj, t, m) has((obj), OCI_F_##t##_##m)
#define ANN_PREFIX "org.opencontainers.image."
#define USER_POINTER "/config/User"

void oci_conversion_options_init(oci_conversion_options *o) {
  *o = (oci_conversion_options)OCI_CONVERSION_OPTIONS_INIT;
}

static bool has(const void *obj, unsigned i) {
  return obj && oci_is_present(obj, i) && !oci_is_null(obj, i);
}

/* Room for n items of size bytes in a (at least one byte). */
static void *arena_array(oci_arena *a, size_t n, size_t size) {
  if (n && size > SIZE_MAX / n) return NULL;
  return oci_arena_alloc(a, n ? n * size : 1);
}

/* ---- process.env and process.args ---------------------------------------- */

/* Length of an environment entry's name: up to the first '='. */
static size_t env_name_len(const char *e) {
  const char *eq = strchr(e, '=');
  return eq ? (size_t)(eq - e) : strlen(e);
}

/* conversion.md note 1: the image's Env verbatim; a default entry stays
   only when the image does not name the same variable. */
static int merge_env(oci_runtime_process *p, const oci_str_array *img,
                     oci_arena *a) {
  oci_str_array def = {NULL, 0};
  if (HAS(p, runtime_process, env)) def = p->env;
  char **items = arena_array(a, def.len + img->len, sizeof *items);
  if (!items) return OCI_ENOMEM;
  size_t n = 0;
  for (size_t i = 0; i < def.len; i++) {
    size_t dn = env_name_len(def.items[i]);
    bool named = false;
    for (size_t j = 0; j < img->len && !named; j++)
      named = env_name_len(img->items[j]) == dn &&
              memcmp(img->items[j], def.items[i], dn) == 0;
    if (!named) items[n++] = def.items[i]; /* already in the arena */
  }
  for (size_t j = 0; j < img->len; j++)
    if (!(items[n++] = oci_arena_strdup(a, img->items[j]))) return OCI_ENOMEM;
  p->env.items = items;
  p->env.len = n;
  oci_mark(p, OCI_F_runtime_process_env);
  return OCI_OK;
}

/* Entrypoint then Cmd, when they give at least one argument. */
static int set_args(oci_runtime_process *p, const oci_image_config *c,
                    oci_arena *a) {
  oci_str_array none = {NULL, 0};
  const oci_str_array *ep =
      HAS(c, image_config, entrypoint) ? &c->entrypoint : &none;
  const oci_str_array *cmd = HAS(c, image_config, cmd) ? &c->cmd : &none;
  size_t n = ep->len + cmd->len;
  if (!n) return OCI_OK;
  char **items = arena_array(a, n, sizeof *items);
  if (!items) return OCI_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    const char *s = i < ep->len ? ep->items[i] : cmd->items[i - ep->len];
    if (!(items[i] = oci_arena_strdup(a, s))) return OCI_ENOMEM;
  }
  p->args.items = items;
  p->args.len = n;
  oci_mark(p, OCI_F_runtime_process_args);
  return OCI_OK;
}

/* ---- process.user: /etc/passwd and /etc/group of the rootfs -------------- */

typedef struct span {
  const char *p;
  size_t n;
} span;

static bool span_is(span s, const char *str, size_t len) {
  return s.p && s.n == len && memcmp(s.p, str, len) == 0;
}

/* A uint32 in decimal digits only ("0" to "4294967295"). */
static bool span_id(span s, uint32_t *out) {
  if (!s.p || !s.n) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < s.n; i++) {
    if (s.p[i] < '0' || s.p[i] > '9') return false;
    v = v * 10 + (uint64_t)(s.p[i] - '0');
    if (v > UINT32_MAX) return false;
  }
  *out = (uint32_t)v;
  return true;
}

/* The rows of a colon-separated file, one by one: lines split at '\n' (a
   trailing '\r' dropped), empty lines and lines starting with '#'
   skipped; f gets the first four fields (p NULL when the line has fewer). */
typedef struct rows {
  const char *cur, *end;
} rows;

static bool next_row(rows *r, span f[4]) {
  while (r->cur < r->end) {
    const char *s = r->cur;
    const char *nl = memchr(s, '\n', (size_t)(r->end - s));
    const char *e = nl ? nl : r->end;
    r->cur = nl ? nl + 1 : r->end;
    if (e > s && e[-1] == '\r') e--;
    if (e == s || *s == '#') continue;
    const char *q = s;
    for (int i = 0; i < 4; i++) {
      if (!q) {
        f[i] = (span){NULL, 0};
        continue;
      }
      const char *colon = memchr(q, ':', (size_t)(e - q));
      const char *fe = colon ? colon : e;
      f[i] = (span){q, (size_t)(fe - q)};
      q = colon ? colon + 1 : NULL;
    }
    return true;
  }
  return false;
}

/* A file of the rootfs's /etc: *text NULL when it does not exist. */
typedef struct dbfile {
  char *text;
  size_t len;
  bool read;
} dbfile;

static int db_read(const char *rootfs, const char *name, dbfile *db,
                   oci_error *err) {
  if (db->read) return OCI_OK;
  char path[32];
  snprintf(path, sizeof path, "etc/%s", name);
  int rc = oci_rootfs_read_file(rootfs, path, 0, &db->text, &db->len, err);
  if (rc) return rc;
  db->read = true;
  return OCI_OK;
}

static rows db_rows(const dbfile *db) {
  return (rows){db->text, db->text ? db->text + db->len : NULL};
}

typedef struct resolver {
  const char *rootfs;
  dbfile passwd, group;
  oci_error *err;
} resolver;

/* Sets err for the user string, pointer /config/User. */
static int user_fail(resolver *r, int code, const char *fmt, ...)
    OCI_PRINTF(3, 4);
static int user_fail(resolver *r, int code, const char *fmt, ...) {
  char msg[OCI_ERROR_MESSAGE_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  oci_error_set(r->err, code, "%s", msg);
  oci_error_set_pointer(r->err, USER_POINTER);
  return code;
}

/* The row of /etc/<db> whose first field is key (f filled), for a name
   that needs it: no rootfs, a refused file and a missing file are errors
   ("cannot resolve ..."); *found false when no row has it. */
static int lookup(resolver *r, const char *dbname, dbfile *db, span key,
                  span f[4], bool *found) {
  char q[OCI_QUOTE_SIZE];
  *found = false;
  oci_quote(q, sizeof q, key.p, key.n);
  if (!r->rootfs)
    return user_fail(r, OCI_EINVAL,
                     "cannot resolve %s: no rootfs given to look it up in "
                     "/etc/%s",
                     q, dbname);
  int rc = db_read(r->rootfs, dbname, db, r->err);
  if (rc) {
    if (rc == OCI_ENOMEM) return rc;
    char why[OCI_ERROR_MESSAGE_MAX];
    snprintf(why, sizeof why, "%s", r->err->message);
    return user_fail(r, rc, "cannot resolve %s: %s", q, why);
  }
  if (!db->text)
    return user_fail(r, OCI_EINVAL,
                     "cannot resolve %s: the rootfs has no /etc/%s", q, dbname);
  rows it = db_rows(db);
  while (next_row(&it, f))
    if (span_is(f[0], key.p, key.n)) {
      *found = true;
      return OCI_OK;
    }
  return OCI_OK;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* The gids of the groups of /etc/group listing user as a member, except
   gid; sorted, without duplicates. *ids malloc'd (NULL when none). */
static int additional_gids(resolver *r, span user, uint32_t gid, uint32_t **ids,
                           size_t *n) {
  *ids = NULL;
  *n = 0;
  int rc = db_read(r->rootfs, "group", &r->group, r->err);
  if (rc) {
    if (rc != OCI_ENOMEM) oci_error_set_pointer(r->err, USER_POINTER);
    return rc;
  }
  size_t cap = 0;
  uint32_t *v = NULL;
  span f[4];
  rows it = db_rows(&r->group);
  while (next_row(&it, f)) {
    uint32_t gg;
    if (!span_id(f[2], &gg) || gg == gid || !f[3].p) continue;
    const char *m = f[3].p, *end = f[3].p + f[3].n;
    bool member = false;
    while (m < end && !member) {
      const char *comma = memchr(m, ',', (size_t)(end - m));
      const char *me = comma ? comma : end;
      member = span_is((span){m, (size_t)(me - m)}, user.p, user.n);
      m = comma ? comma + 1 : end;
    }
    if (!member) continue;
    if (*n == cap) {
      size_t ncap = cap ? cap * 2 : 8;
      uint32_t *nv =
          ncap < SIZE_MAX / sizeof *nv ? realloc(v, ncap * sizeof *nv) : NULL;
      if (!nv) {
        free(v);
        *n = 0;
        return oci_error_set(r->err, OCI_ENOMEM, "out of memory");
      }
      v = nv;
      cap = ncap;
    }
    v[(*n)++] = gg;
  }
  if (*n) {
    qsort(v, *n, sizeof *v, cmp_u32);
    size_t k = 1;
    for (size_t i = 1; i < *n; i++)
      if (v[i] != v[k - 1]) v[k++] = v[i];
    *n = k;
  }
  *ids = v;
  return OCI_OK;
}

/* A numeric user or group given in Config.User: digits only; over
   4294967295 is an error. *numeric false for a name. */
static int given_id(resolver *r, span s, const char *what, uint32_t *id,
                    bool *numeric) {
  *numeric = s.n > 0;
  for (size_t i = 0; i < s.n && *numeric; i++)
    *numeric = s.p[i] >= '0' && s.p[i] <= '9';
  if (!*numeric) return OCI_OK;
  if (span_id(s, id)) return OCI_OK;
  char q[OCI_QUOTE_SIZE];
  return user_fail(r, OCI_EINVAL, "%s %s is out of range (at most %u)", what,
                   oci_quote(q, sizeof q, s.p, s.n), (unsigned)UINT32_MAX);
}

/* conversion.md "Config.User" into *u (uid, gid, additional gids). */
static int resolve_user(resolver *r, const char *spec_user, uint32_t *uid,
                        uint32_t *gid, uint32_t **extra, size_t *nextra) {
  *extra = NULL;
  *nextra = 0;
  const char *colon = strchr(spec_user, ':');
  span user = {spec_user,
               colon ? (size_t)(colon - spec_user) : strlen(spec_user)};
  span group = {colon ? colon + 1 : NULL, colon ? strlen(colon + 1) : 0};
  if (!user.n) user = (span){"0", 1};
  char q[OCI_QUOTE_SIZE];
  bool numeric;
  int rc = given_id(r, user, "uid", uid, &numeric);
  if (rc) return rc;
  span entry[4];
  bool found = false;
  if (numeric) {
    /* the default group of the uid, when its passwd entry says one */
    if (r->rootfs && !colon) {
      if ((rc = db_read(r->rootfs, "passwd", &r->passwd, r->err))) {
        if (rc != OCI_ENOMEM) oci_error_set_pointer(r->err, USER_POINTER);
        return rc;
      }
      rows it = db_rows(&r->passwd);
      uint32_t v;
      while (!found && next_row(&it, entry))
        found = span_id(entry[2], &v) && v == *uid;
    }
  } else {
    if ((rc = lookup(r, "passwd", &r->passwd, user, entry, &found))) return rc;
    oci_quote(q, sizeof q, user.p, user.n);
    if (!found)
      return user_fail(r, OCI_EINVAL,
                       "user %s not found in the rootfs's /etc/passwd", q);
    if (!span_id(entry[2], uid))
      return user_fail(r, OCI_EINVAL,
                       "/etc/passwd entry of %s has no numeric uid", q);
  }
  if (group.n) {
    if ((rc = given_id(r, group, "gid", gid, &numeric))) return rc;
    if (numeric) return OCI_OK;
    span g[4];
    bool gfound;
    if ((rc = lookup(r, "group", &r->group, group, g, &gfound))) return rc;
    oci_quote(q, sizeof q, group.p, group.n);
    if (!gfound)
      return user_fail(r, OCI_EINVAL,
                       "group %s not found in the rootfs's /etc/group", q);
    if (!span_id(g[2], gid))
      return user_fail(r, OCI_EINVAL,
                       "/etc/group entry of %s has no numeric gid", q);
    return OCI_OK;
  }
  /* the passwd entry's group, 0 without one */
  if (!found || !span_id(entry[3], gid)) *gid = 0;
  if (found && !numeric) return additional_gids(r, user, *gid, extra, nextra);
  return OCI_OK;
}

static int set_user(oci_runtime_process *p, const char *spec_user,
                    const char *rootfs, oci_arena *a, oci_error *err) {
  resolver r = {rootfs, {NULL, 0, false}, {NULL, 0, false}, err};
  uint32_t uid = 0, gid = 0, *extra = NULL;
  size_t nextra = 0;
  int rc = resolve_user(&r, spec_user, &uid, &gid, &extra, &nextra);
  free(r.passwd.text);
  free(r.group.text);
  if (rc) return rc;
  oci_runtime_user *u = oci_new_in(&oci_type_runtime_user, a);
  uint32_t *ids = nextra ? arena_array(a, nextra, sizeof *ids) : NULL;
  if (!u || (nextra && !ids)) {
    free(extra);
    return oci_error_set(err, OCI_ENOMEM, "out of memory");
  }
  u->uid = uid;
  u->gid = gid;
  oci_mark(u, OCI_F_runtime_user_uid);
  oci_mark(u, OCI_F_runtime_user_gid);
  if (nextra) {
    memcpy(ids, extra, nextra * sizeof *ids);
    u->additional_gids.items = ids;
    u->additional_gids.len = nextra;
    oci_mark(u, OCI_F_runtime_user_additional_gids);
  }
  free(extra);
  p->user = u;
  oci_mark(p, OCI_F_runtime_process_user);
  return OCI_OK;
}

/* ---- annotations ----------------------------------------------------------
 */

typedef struct ann {
  const char *key, *value;
  size_t order; /* later entries win over earlier ones with the same key */
} ann;

typedef struct anns {
  ann *items;
  size_t len, cap;
} anns;

static bool ann_add(anns *v, const char *key, const char *value) {
  if (v->len == v->cap) {
    size_t ncap = v->cap ? v->cap * 2 : 16;
    ann *n = ncap < SIZE_MAX / sizeof *n ? realloc(v->items, ncap * sizeof *n)
                                         : NULL;
    if (!n) return false;
    v->items = n;
    v->cap = ncap;
  }
  v->items[v->len] = (ann){key, value, v->len};
  v->len++;
  return true;
}

static int ann_cmp(const void *a, const void *b) {
  const ann *x = a, *y = b;
  int c = strcmp(x->key, y->key);
  if (c) return c;
  return x->order < y->order ? -1 : x->order > y->order;
}

/* s[0] s[1] ... joined by ',' into a; NULL when out of memory. */
static char *join(oci_arena *a, char *const *s, size_t n) {
  size_t total = 1;
  for (size_t i = 0; i < n; i++) {
    size_t l = strlen(s[i]) + 1;
    if (l > SIZE_MAX - total) return NULL;
    total += l;
  }
  char *out = oci_arena_alloc_chars(a, total), *o = out;
  if (!out) return NULL;
  for (size_t i = 0; i < n; i++) {
    size_t l = strlen(s[i]);
    if (i) *o++ = ',';
    memcpy(o, s[i], l);
    o += l;
  }
  *o = '\0';
  return out;
}

/* conversion.md "Annotations": implicit ones from the configuration, then
   Config.Labels, which take precedence; on top of the base's. */
static int set_annotations(oci_runtime_spec *spec,
                           const oci_image_configuration *cfg,
                           const oci_image_config *c, oci_arena *a) {
  anns v = {NULL, 0, 0};
  int rc = OCI_ENOMEM;
  bool ok = true;
  if (HAS(spec, runtime_spec, annotations))
    for (size_t i = 0; ok && i < spec->annotations.len; i++)
      ok = ann_add(&v, spec->annotations.keys[i], spec->annotations.values[i]);
#define IMPLICIT(present, name, value)                                         \
  if (ok && (present) && (value)) ok = ann_add(&v, ANN_PREFIX name, (value))
  IMPLICIT(HAS(cfg, image_configuration, os), "os", cfg->os);
  IMPLICIT(HAS(cfg, image_configuration, architecture), "architecture",
           cfg->architecture);
  IMPLICIT(HAS(cfg, image_configuration, variant), "variant", cfg->variant);
  IMPLICIT(HAS(cfg, image_configuration, os_version), "os.version",
           cfg->os_version);
  if (ok && HAS(cfg, image_configuration, os_features)) {
    char *f = join(a, cfg->os_features.items, cfg->os_features.len);
    ok = f && ann_add(&v, ANN_PREFIX "os.features", f);
  }
  IMPLICIT(HAS(cfg, image_configuration, author), "author", cfg->author);
  IMPLICIT(HAS(cfg, image_configuration, created), "created", cfg->created);
  IMPLICIT(HAS(c, image_config, stop_signal), "stopSignal", c->stop_signal);
#undef IMPLICIT
  if (ok && HAS(c, image_config, exposed_ports) && c->exposed_ports.len) {
    char *ports = join(a, c->exposed_ports.keys, c->exposed_ports.len);
    ok = ports && ann_add(&v, ANN_PREFIX "exposedPorts", ports);
  }
  if (HAS(c, image_config, labels))
    for (size_t i = 0; ok && i < c->labels.len; i++)
      ok = ann_add(&v, c->labels.keys[i], c->labels.values[i]);
  if (!ok) goto out;
  rc = OCI_OK;
  if (!v.len) goto out;
  /* sorted by key, the last of equal keys kept */
  qsort(v.items, v.len, sizeof *v.items, ann_cmp);
  size_t n = 0;
  for (size_t i = 0; i < v.len; i++) {
    if (n && strcmp(v.items[n - 1].key, v.items[i].key) == 0) n--;
    v.items[n++] = v.items[i];
  }
  char **keys = arena_array(a, n, sizeof *keys);
  char **values = arena_array(a, n, sizeof *values);
  rc = OCI_ENOMEM;
  if (!keys || !values) goto out;
  for (size_t i = 0; i < n; i++)
    if (!(keys[i] = oci_arena_strdup(a, v.items[i].key)) ||
        !(values[i] = oci_arena_strdup(a, v.items[i].value)))
      goto out;
  spec->annotations.keys = keys;
  spec->annotations.values = values;
  spec->annotations.len = n;
  oci_mark(spec, OCI_F_runtime_spec_annotations);
  rc = OCI_OK;
out:
  free(v.items);
  return rc;
}

/* ---- mounts for Config.Volumes --------------------------------------------
 */

static int add_volumes(oci_runtime_spec *spec, const oci_set *volumes,
                       oci_arena *a) {
  size_t base = HAS(spec, runtime_spec, mounts) ? spec->mounts.len : 0;
  if (volumes->len > SIZE_MAX / 2 - base) return OCI_ENOMEM;
  oci_runtime_mount **items =
      arena_array(a, base + volumes->len, sizeof *items);
  if (!items) return OCI_ENOMEM;
  if (base) memcpy(items, spec->mounts.items, base * sizeof *items);
  static const char *const options[] = {"nosuid", "nodev", "mode=755"};
  for (size_t i = 0; i < volumes->len; i++) {
    oci_runtime_mount *m = oci_new_in(&oci_type_runtime_mount, a);
    char **opt = arena_array(a, 3, sizeof *opt);
    if (!m || !opt ||
        !(m->destination = oci_arena_strdup(a, volumes->keys[i])) ||
        !(m->typ = oci_arena_strdup(a, "tmpfs")) ||
        !(m->source = oci_arena_strdup(a, "tmpfs")))
      return OCI_ENOMEM;
    for (size_t k = 0; k < 3; k++)
      if (!(opt[k] = oci_arena_strdup(a, options[k]))) return OCI_ENOMEM;
    m->options.items = opt;
    m->options.len = 3;
    oci_mark(m, OCI_F_runtime_mount_destination);
    oci_mark(m, OCI_F_runtime_mount_typ);
    oci_mark(m, OCI_F_runtime_mount_source);
    oci_mark(m, OCI_F_runtime_mount_options);
    items[base + i] = m;
  }
  spec->mounts.items = items;
  spec->mounts.len = base + volumes->len;
  oci_mark(spec, OCI_F_runtime_spec_mounts);
  return OCI_OK;
}

/* ---- the conversion -------------------------------------------------------
 */

static int convert(oci_runtime_spec *spec, const oci_image_configuration *cfg,
                   const oci_conversion_options *o, oci_error *err) {
  oci_arena *a = spec->hdr.arena;
  const oci_image_config *c =
      HAS(cfg, image_configuration, config) ? cfg->config : NULL;
  oci_runtime_process *p =
      HAS(spec, runtime_spec, process) ? spec->process : NULL;
  if (!p) {
    if (!(p = oci_new_in(&oci_type_runtime_process, a))) return OCI_ENOMEM;
    spec->process = p;
    oci_mark(spec, OCI_F_runtime_spec_process);
  }
  int rc;
  if (HAS(c, image_config, env) && (rc = merge_env(p, &c->env, a))) return rc;
  if (c && (rc = set_args(p, c, a))) return rc;
  const char *cwd = HAS(c, image_config, working_dir) && c->working_dir[0]
                        ? c->working_dir
                        : "/";
  if (!(p->cwd = oci_arena_strdup(a, cwd))) return OCI_ENOMEM;
  oci_mark(p, OCI_F_runtime_process_cwd);
  p->terminal = false;
  oci_mark(p, OCI_F_runtime_process_terminal);
  if (HAS(c, image_config, user) &&
      (rc = set_user(p, c->user, o->rootfs, a, err)))
    return rc;
  if ((rc = set_annotations(spec, cfg, c, a))) return rc;
  if (o->volumes && HAS(c, image_config, volumes) &&
      (rc = add_volumes(spec, &c->volumes, a)))
    return rc;
  return OCI_OK;
}

int oci_runtime_spec_from_image_config(const oci_image_configuration *cfg,
                                       const oci_conversion_options *opts,
                                       oci_runtime_spec **out, oci_error *err) {
  oci_error_clear(err);
  *out = NULL;
  oci_conversion_options defaults = OCI_CONVERSION_OPTIONS_INIT;
  const oci_conversion_options *o = opts ? opts : &defaults;
  if (o->version != OCI_CONVERSION_OPTIONS_VERSION)
    return oci_error_set(err, OCI_EINVAL,
                         "oci_conversion_options: unknown version %u",
                         o->version);
  if (!cfg)
    return oci_error_set(err, OCI_EINVAL, "no image configuration to convert");
  oci_runtime_spec *spec;
  int rc = o->base
               ? oci_clone(&oci_type_runtime_spec, o->base, (void **)&spec, err)
               : oci_runtime_spec_default(&spec, err);
  if (rc) return rc;
  oci_error e;
  oci_error_clear(&e);
  rc = convert(spec, cfg, o, &e);
  if (rc) {
    oci_free(spec);
    if (rc == OCI_ENOMEM)
      return oci_error_set(err, OCI_ENOMEM, "out of memory");
    if (err) *err = e;
    return rc;
  }
  *out = spec;
  return OCI_OK;
}
