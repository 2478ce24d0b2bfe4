/* The validation engine: walks a document by its declaration, checks
   presence and nullability, and calls the rule functions declared next to
   each field and type (csrc/rules_*.c). Every problem gets a JSON Pointer,
   a rule id from RULES.md and a message. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rules.h"

#define VCTX_MAX_DEPTH 128

struct oci_vctx {
  oci_problems *out;
  size_t cap;
  bool oom;
  char path[OCI_ERROR_POINTER_MAX];
  size_t lens[VCTX_MAX_DEPTH];
  size_t depth;
  const oci_type *type; /* the object being checked */
  const oci_validate_options *opts;
  const oci_type *root_type; /* the document validate() was called on */
  const void *root;
};

const void *oci_vctx_root(const oci_vctx *v, const oci_type **type) {
  *type = v->root_type;
  return v->root;
}

const oci_validate_options *oci_vctx_options(const oci_vctx *v) {
  return v->opts;
}

const oci_type *oci_vctx_type(const oci_vctx *v) {
  return v->type;
}

const char *oci_vctx_pointer(const oci_vctx *v) {
  return v->path;
}

static void push_len(oci_vctx *v) {
  if (v->depth < VCTX_MAX_DEPTH) v->lens[v->depth] = strlen(v->path);
  v->depth++;
}

void oci_vctx_push_key(oci_vctx *v, const char *key) {
  push_len(v);
  oci_pointer_append(v->path, sizeof v->path, key, strlen(key));
}

void oci_vctx_push_index(oci_vctx *v, size_t i) {
  push_len(v);
  oci_pointer_append_index(v->path, sizeof v->path, i);
}

void oci_vctx_pop(oci_vctx *v) {
  v->depth--;
  if (v->depth < VCTX_MAX_DEPTH) v->path[v->lens[v->depth]] = '\0';
}

void oci_report(oci_vctx *v, oci_severity sev, const char *rule,
                const char *suffix, const char *fmt, ...) {
  oci_problems *p = v->out;
  if (p->len == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 8;
    oci_problem *items = realloc(p->items, cap * sizeof *items);
    if (!items) {
      v->oom = true;
      return;
    }
    p->items = items;
    v->cap = cap;
  }
  oci_problem *pr = &p->items[p->len++];
  pr->severity = sev;
  snprintf(pr->rule, sizeof pr->rule, "%s", rule);
  snprintf(pr->pointer, sizeof pr->pointer, "%s", v->path);
  if (suffix)
    oci_pointer_append(pr->pointer, sizeof pr->pointer, suffix, strlen(suffix));
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(pr->message, sizeof pr->message, fmt, ap);
  va_end(ap);
  if (sev == OCI_SEV_ERROR)
    p->errors++;
  else
    p->warnings++;
}

static void check_object(oci_vctx *v, const oci_type *t, const oci_object *o);

static void check_value(oci_vctx *v, const oci_vtype *vt, const void *p) {
  switch (vt->kind) {
  case OCI_K_OBJECT: {
    const oci_object *o = *(const oci_object *const *)p;
    if (o) check_object(v, vt->object, o);
    break;
  }
  case OCI_K_ARRAY: {
    const oci_array *a = p;
    if (vt->elem->kind != OCI_K_OBJECT && vt->elem->kind != OCI_K_ARRAY &&
        vt->elem->kind != OCI_K_MAP)
      break;
    for (size_t i = 0; i < a->len; i++) {
      oci_vctx_push_index(v, i);
      check_value(v, vt->elem, (const char *)a->items + i * vt->elem->size);
      oci_vctx_pop(v);
    }
    break;
  }
  case OCI_K_MAP: {
    const oci_map *m = p;
    if (vt->elem->kind != OCI_K_OBJECT) break;
    for (size_t i = 0; i < m->len; i++) {
      oci_vctx_push_key(v, m->keys[i]);
      check_value(v, vt->elem, (const char *)m->values + i * vt->elem->size);
      oci_vctx_pop(v);
    }
    break;
  }
  default: break;
  }
}

static void check_object(oci_vctx *v, const oci_type *t, const oci_object *o) {
  const oci_type *outer = v->type;
  v->type = t;
  for (size_t i = 0; i < t->nfields; i++) {
    const oci_field *f = &t->fields[i];
    bool present = o->present >> f->index & 1;
    bool null = o->nulls >> f->index & 1;
    if (!present) {
      if (f->flags & OCI_F_REQUIRED)
        oci_report(v, OCI_SEV_ERROR, "required", f->key,
                   "%s is missing its required field \"%s\"", t->name, f->key);
      continue;
    }
    if (null) {
      if (f->flags & OCI_F_REQUIRED)
        oci_report(v, OCI_SEV_ERROR, "required", f->key,
                   "required field \"%s\" must not be null", f->key);
      else if (!(f->flags & OCI_F_NULLABLE) &&
               f->vt->kind != OCI_K_RAW) /* null is a JSON value too */
        oci_report(v, OCI_SEV_ERROR, "null", f->key,
                   "\"%s\" must not be null: the schema allows only %s %s here",
                   f->key,
                   strchr("aeiou", oci_kind_name(f->vt->kind)[0]) ? "an" : "a",
                   oci_kind_name(f->vt->kind));
      continue;
    }
    const void *p = (const char *)o + f->offset;
    oci_kind k = f->vt->kind;
    if ((k == OCI_K_STRING || k == OCI_K_RAW || k == OCI_K_OBJECT) &&
        !*(void *const *)p) {
      /* only reachable from C: a bit set by oci_mark without a value */
      oci_report(v, OCI_SEV_ERROR, "required", f->key,
                 "\"%s\" is marked present but holds no value", f->key);
      continue;
    }
    oci_vctx_push_key(v, f->key);
    f->check(v, f, p);
    check_value(v, f->vt, p);
    v->type = t;
    oci_vctx_pop(v);
  }
  t->check(v, o);
  v->type = outer;
}

int oci_validate(const oci_type *t, const void *obj, oci_problems *out) {
  return oci_validate_ex(t, obj, NULL, out);
}

void oci_validate_options_init(oci_validate_options *o) {
  *o = (oci_validate_options)OCI_VALIDATE_OPTIONS_INIT;
}

int oci_validate_ex(const oci_type *t, const void *obj,
                    const oci_validate_options *opts, oci_problems *out) {
  static const oci_validate_options defaults = OCI_VALIDATE_OPTIONS_INIT;
  oci_vctx v;
  memset(&v, 0, sizeof v);
  memset(out, 0, sizeof *out);
  v.out = out;
  if (opts && oci_options_check(NULL, "oci_validate_options", opts->version,
                                OCI_VALIDATE_OPTIONS_VERSION)) {
    oci_report(&v, OCI_SEV_ERROR, "options", NULL,
               "oci_validate_options: unknown version %u (this library "
               "knows 1 to %u; start from oci_validate_options_init() or "
               "its _INIT macro)",
               opts->version, OCI_VALIDATE_OPTIONS_VERSION);
    return v.oom ? OCI_ENOMEM : OCI_EINVAL;
  }
  v.opts = opts ? opts : &defaults;
  v.root_type = t;
  v.root = obj;
  check_object(&v, t, obj);
  if (v.oom) return OCI_ENOMEM;
  return out->errors ? OCI_EVALIDATE : OCI_OK;
}

void oci_problems_free(oci_problems *p) {
  if (!p) return;
  free(p->items);
  memset(p, 0, sizeof *p);
}

/* Rule placeholders for fields and types with nothing to check. */
void oci_chk_none(oci_vctx *v, const oci_field *f, const void *value) {
  (void)v;
  (void)f;
  (void)value;
}

void oci_tchk_none(oci_vctx *v, const void *obj) {
  (void)v;
  (void)obj;
}
