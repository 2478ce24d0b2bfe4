/* runtime-spec rules (RULES.md section 2). Enumerations the schema closes
   are errors when a value is outside them, except capabilities: runtimes
   log and ignore unknown ones (config.md), so an unknown capability is a
   warning that keeps the document usable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "ocispec/strcheck.h"
#include "rules.h"

/* Value lists: values.def (OCI_ENUM_*), each named by its enum id. */

static void check_enum(oci_vctx *v, const char *rule, const char *what,
                       oci_enum_id list, const char *s) {
  if (!oci_enum_has(list, s))
    oci_report(v, OCI_SEV_ERROR, rule, NULL, "\"%s\" is not a known %s", s,
               what);
}

/* "a, b or c": the values of enumeration id, for messages. */
static const char *enum_text(char *buf, size_t size, oci_enum_id id) {
  const oci_enum *e = &oci_enums[id];
  size_t n = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < e->count && n < size; i++) {
    const char *sep = i == 0 ? "" : i + 1 == e->count ? " or " : ", ";
    int w = snprintf(buf + n, size - n, "%s%s", sep, e->values[i].value);
    if (w < 0) break;
    n += (size_t)w;
  }
  return buf;
}

static void check_enum_array(oci_vctx *v, const char *rule, const char *what,
                             oci_enum_id list, const oci_str_array *a) {
  for (size_t i = 0; i < a->len; i++) {
    oci_vctx_push_index(v, i);
    check_enum(v, rule, what, list, a->items[i]);
    oci_vctx_pop(v);
  }
}

static const char *str(const void *value) {
  return *(char *const *)value;
}

/* Each enum-valued field: rule id, what it is, and the list. */
#define ENUM_RULE(name, rule, what, list)                                      \
  void oci_chk_##name(oci_vctx *v, const oci_field *f, const void *value) {    \
    (void)f;                                                                   \
    check_enum(v, rule, what, list, str(value));                               \
  }
#define ENUM_ARRAY_RULE(name, rule, what, list)                                \
  void oci_chk_##name(oci_vctx *v, const oci_field *f, const void *value) {    \
    (void)f;                                                                   \
    check_enum_array(v, rule, what, list, value);                              \
  }

ENUM_RULE(rlimit_type, "R-CFG-16", "rlimit type", OCI_ENUM_POSIX_RLIMIT_TYPE)
ENUM_RULE(scheduler_policy, "R-CFG-18", "scheduler policy",
          OCI_ENUM_SCHEDULER_POLICY)
ENUM_ARRAY_RULE(scheduler_flags, "R-CFG-18", "scheduler flag",
                OCI_ENUM_SCHEDULER_FLAG)
ENUM_RULE(ioprio_class, "R-CFG-19", "I/O priority class",
          OCI_ENUM_IO_PRIORITY_CLASS)
ENUM_RULE(namespace_type, "R-LNX-1", "namespace type",
          OCI_ENUM_LINUX_NAMESPACE_TYPE)
ENUM_ARRAY_RULE(namespace_types, "R-FT-6", "namespace type",
                OCI_ENUM_LINUX_NAMESPACE_TYPE)
ENUM_RULE(rootfs_propagation, "R-LNX-25", "rootfs propagation",
          OCI_ENUM_MOUNT_PROPAGATION)
ENUM_RULE(seccomp_action, "R-LNX-21", "seccomp action", OCI_ENUM_SECCOMP_ACTION)
ENUM_ARRAY_RULE(seccomp_actions, "R-FT-6", "seccomp action",
                OCI_ENUM_SECCOMP_ACTION)
ENUM_RULE(seccomp_operator, "R-LNX-24", "seccomp operator",
          OCI_ENUM_SECCOMP_OPERATOR)
ENUM_ARRAY_RULE(seccomp_operators, "R-FT-6", "seccomp operator",
                OCI_ENUM_SECCOMP_OPERATOR)
ENUM_ARRAY_RULE(seccomp_arches, "R-LNX-21", "seccomp architecture",
                OCI_ENUM_SECCOMP_ARCH)
ENUM_ARRAY_RULE(seccomp_flags, "R-LNX-21", "seccomp filter flag",
                OCI_ENUM_SECCOMP_FILTER_FLAG)
ENUM_RULE(mpol_mode, "R-LNX-20", "memory policy mode",
          OCI_ENUM_MEMORY_POLICY_MODE)
ENUM_ARRAY_RULE(mpol_modes, "R-LNX-20", "memory policy mode",
                OCI_ENUM_MEMORY_POLICY_MODE)
ENUM_ARRAY_RULE(mpol_flags, "R-LNX-20", "memory policy flag",
                OCI_ENUM_MEMORY_POLICY_FLAG)
ENUM_RULE(personality_domain, "R-LNX-27", "personality domain",
          OCI_ENUM_PERSONALITY_DOMAIN)
ENUM_RULE(zos_namespace_type, "R-ZOS-1", "z/OS namespace type",
          OCI_ENUM_ZOS_NAMESPACE_TYPE)
ENUM_RULE(container_state, "R-ST-2", "container status",
          OCI_ENUM_CONTAINER_STATE)

static bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
         (c >= 'A' && c <= 'F');
}

/* A volume GUID path: \\?\Volume{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}\ */
static bool is_volume_guid_path(const char *p) {
  static const char prefix[] = "\\\\?\\Volume{";
  size_t n = sizeof prefix - 1;
  if (strncmp(p, prefix, n) != 0) return false;
  p += n;
  static const int groups[] = {8, 4, 4, 4, 12};
  for (int g = 0; g < 5; g++) {
    for (int i = 0; i < groups[g]; i++)
      if (!is_hex(*p++)) return false;
    if (*p++ != (g < 4 ? '-' : '}')) return false;
  }
  return strcmp(p, "\\") == 0;
}

/* Windows absolute paths: a drive (C:\ or C:/) or a UNC / device path
   (\\server\share, \\?\..., \\.\pipe\...). */
static bool is_windows_absolute(const char *p) {
  bool drive = ((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z')) &&
               p[1] == ':' && (p[2] == '\\' || p[2] == '/');
  return drive || (p[0] == '\\' && p[1] == '\\');
}

static bool is_sep(char c) {
  return c == '\\' || c == '/';
}

/* The target platform: the caller's (oci_validate_options.platform), else
   the platform object the config being validated carries (config.md: each
   platform's object is set for that target). A config with a `linux`
   object, or with none, is for Linux: runc and crun read `linux` and
   ignore the others. Parts validated on their own are for Linux. */
static const char *target_platform(oci_vctx *v) {
  const char *given = oci_vctx_options(v)->platform;
  if (given && *given) return given;
  const oci_type *t;
  const oci_runtime_spec *s = oci_vctx_root(v, &t);
  if (t != &oci_type_runtime_spec) return "linux";
  if (oci_is_present(s, OCI_F_runtime_spec_linux_) && s->linux_) return "linux";
  if (oci_is_present(s, OCI_F_runtime_spec_windows) && s->windows)
    return "windows";
  if (oci_is_present(s, OCI_F_runtime_spec_solaris) && s->solaris)
    return "solaris";
  if (oci_is_present(s, OCI_F_runtime_spec_zos) && s->zos) return "zos";
  if (oci_is_present(s, OCI_F_runtime_spec_freebsd) && s->freebsd)
    return "freebsd";
  return "linux";
}

static bool is_windows_target(oci_vctx *v) {
  return strcmp(target_platform(v), "windows") == 0;
}

/* config.md:17 "MUST be in SemVer v2.0.0 format" (R-CFG-2; also state and
   features versions) */
void oci_chk_semver(oci_vctx *v, const oci_field *f, const void *value) {
  (void)f;
  oci_error e;
  const char *s = str(value);
  if (oci_check_semver(s, strlen(s), &e) != OCI_OK)
    oci_report(v, OCI_SEV_ERROR, "R-CFG-2", NULL, "%s", e.message);
}

static void report_relative(oci_vctx *v, const char *rule, const char *s) {
  if (s[0] != '/')
    oci_report(v, OCI_SEV_ERROR, rule, NULL, "\"%s\" MUST be an absolute path",
               s);
}

/* config.md:249 cwd, config-linux.md:39 namespace path, config-vm.md paths,
   runtime.md:28 bundle */
void oci_chk_absolute_path(oci_vctx *v, const oci_field *f, const void *value) {
  const char *rule =
      strcmp(f->key, "cwd") == 0                              ? "R-CFG-14"
      : strcmp(f->key, "bundle") == 0                         ? "R-ST-4"
      : oci_vctx_type(v) == &oci_type_runtime_zos_namespace   ? "R-ZOS-1"
      : oci_vctx_type(v) == &oci_type_runtime_linux_namespace ? "R-LNX-2"
                                                              : "R-VM-2";
  const char *path = str(value);
  /* config.md:249 cwd on Windows: a Windows absolute path (C:\, \\?\) */
  if (strcmp(f->key, "cwd") == 0 && is_windows_target(v)) {
    if (!is_windows_absolute(path))
      oci_report(v, OCI_SEV_ERROR, rule, NULL,
                 "\"%s\" MUST be an absolute path", path);
    return;
  }
  report_relative(v, rule, path);
}

/* config-linux.md:1068, 1081 masked and read-only paths (R-LNX-26) */
void oci_chk_absolute_paths(oci_vctx *v, const oci_field *f,
                            const void *value) {
  (void)f;
  const oci_str_array *a = value;
  for (size_t i = 0; i < a->len; i++) {
    oci_vctx_push_index(v, i);
    report_relative(v, "R-LNX-26", a->items[i]);
    oci_vctx_pop(v);
  }
}

/* config.md:556 hooks "path ... MUST be absolute" (R-CFG-23) */
void oci_chk_hook_path(oci_vctx *v, const oci_field *f, const void *value) {
  (void)f;
  report_relative(v, "R-CFG-23", str(value));
}

/* config.md:560 "If set, timeout MUST be greater than zero." (R-CFG-24) */
void oci_chk_hook_timeout(oci_vctx *v, const oci_field *f, const void *value) {
  (void)f;
  int64_t t = *(const int64_t *)value;
  if (t <= 0)
    oci_report(v, OCI_SEV_ERROR, "R-CFG-24", NULL,
               "hook timeout MUST be greater than zero, got %lld",
               (long long)t);
}

/* Environment entries: NAME=value (config.md:254 "same as the environ
   array of execve"; image-spec's rule I-CFG-7 has the same shape). */
void oci_chk_runtime_env(oci_vctx *v, const oci_field *f, const void *value) {
  (void)f;
  const oci_str_array *a = value;
  for (size_t i = 0; i < a->len; i++) {
    oci_error e;
    oci_vctx_push_index(v, i);
    if (oci_check_env_entry(a->items[i], strlen(a->items[i]), &e) != OCI_OK)
      oci_report(v, OCI_SEV_ERROR, "R-CFG-ENV", NULL, "%s", e.message);
    oci_vctx_pop(v);
  }
}

/* The org.opencontainers keys a runtime document may carry: the eight
   config.md lists, exposedPorts (image-spec conversion.md writes it), and
   image-spec annotations.md's keys (conversion.md copies Config.Labels,
   where images keep them, into annotations). */
static bool known_oci_annotation(const char *k) {
  return oci_enum_has(OCI_ENUM_CONFIG_ANNOTATION, k) ||
         oci_enum_has(OCI_ENUM_ANNOTATION, k);
}

/* config.md:723-744 "Keys MUST NOT be an empty string" (R-CFG-26; state
   R-ST-6 and features R-FT-5 alike). The org.opencontainers namespace "is
   reserved for use by this specification" (R-CFG-27): other keys in it are
   a warning (images carry them in labels that conversion copies), and
   the listed keys "MUST have a valid value for the ... property" of the
   image config, which is checkable for created (RFC 3339). */
void oci_chk_runtime_annotations(oci_vctx *v, const oci_field *f,
                                 const void *value) {
  (void)f;
  const oci_str_map *m = value;
  for (size_t i = 0; i < m->len; i++) {
    const char *k = m->keys[i];
    if (!k[0]) {
      oci_report(v, OCI_SEV_ERROR, "R-CFG-26", "",
                 "annotation keys MUST NOT be an empty string");
      continue;
    }
    if (strncmp(k, "org.opencontainers", 18) != 0) continue;
    if (!known_oci_annotation(k)) {
      oci_report(v, OCI_SEV_WARNING, "R-CFG-27", k,
                 "\"%s\" is in the reserved org.opencontainers namespace "
                 "but no OCI specification defines it",
                 k);
    } else if (strcmp(k, OCI_ENUM_STR(ANNOTATION, ANNOTATION_CREATED)) == 0) {
      oci_error e;
      const char *val = m->values[i];
      if (oci_check_rfc3339(val, strlen(val), &e) != OCI_OK)
        oci_report(v, OCI_SEV_ERROR, "R-CFG-27", k,
                   "not a valid image config created value: %s", e.message);
    }
  }
}

/* config.md:278 "If rlimits contains duplicated entries with same type,
   the runtime MUST generate an error." (R-CFG-17) */
void oci_chk_rlimits(oci_vctx *v, const oci_field *f, const void *value) {
  (void)f;
  const oci_array *a = value;
  oci_runtime_posix_rlimit *const *r = a->items;
  for (size_t i = 0; i < a->len; i++)
    for (size_t j = 0; j < i; j++)
      if (r[i]->typ && r[j]->typ && strcmp(r[i]->typ, r[j]->typ) == 0) {
        char idx[24];
        snprintf(idx, sizeof idx, "%zu", i);
        oci_report(v, OCI_SEV_ERROR, "R-CFG-17", idx,
                   "rlimit %s appears twice (entries %zu and %zu)", r[i]->typ,
                   j, i);
        break;
      }
}

/* Unknown capabilities: runtimes log and ignore them (config.md), so a
   warning; features.json capabilities follow ^CAP_[A-Z_]+$ (R-FT-6). */
void oci_chk_capabilities(oci_vctx *v, const oci_field *f, const void *value) {
  (void)f;
  const oci_str_array *a = value;
  for (size_t i = 0; i < a->len; i++) {
    const char *c = a->items[i];
    oci_vctx_push_index(v, i);
    if (strncmp(c, "CAP_", 4) != 0 ||
        strspn(c + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") != strlen(c + 4) || !c[4])
      oci_report(v, OCI_SEV_ERROR, "R-FT-6", NULL,
                 "\"%s\" is not a capability name (CAP_ followed by "
                 "uppercase letters and underscores)",
                 c);
    else if (!oci_enum_has(OCI_ENUM_CAPABILITY, c))
      oci_report(v, OCI_SEV_WARNING, "R-CAP-UNKNOWN", NULL,
                 "unknown capability \"%s\": runtimes ignore it", c);
    oci_vctx_pop(v);
  }
}

/* config.md:346-354: a comma-separated list of CPUs and ranges
   ("0-3,7"), R-CFG-21. */
void oci_chk_cpu_list(oci_vctx *v, const oci_field *f, const void *value) {
  (void)f;
  const char *s = str(value);
  const char *p = s;
  bool ok = *p != '\0';
  while (ok && *p) {
    size_t n = strspn(p, "0123456789");
    if (!n) {
      ok = false;
      break;
    }
    unsigned long lo = strtoul(p, NULL, 10);
    p += n;
    if (*p == '-') {
      p++;
      n = strspn(p, "0123456789");
      if (!n || strtoul(p, NULL, 10) < lo) ok = false;
      p += n;
    }
    if (*p == ',') {
      p++;
      if (!*p) ok = false;
    } else if (*p)
      ok = false;
  }
  if (!ok)
    oci_report(v, OCI_SEV_ERROR, "R-CFG-21", NULL,
               "\"%s\" is not a CPU list such as \"0-3,7\"", s);
}

/* config-linux.md:132 devices type c, b, u or p (R-LNX-6) */
void oci_chk_device_type(oci_vctx *v, const oci_field *f, const void *value) {
  (void)f;
  const char *t = str(value);
  char list[64];
  if (!oci_enum_has(OCI_ENUM_LINUX_DEVICE_TYPE, t))
    oci_report(v, OCI_SEV_ERROR, "R-LNX-6", NULL,
               "device type MUST be %s; got \"%s\"",
               enum_text(list, sizeof list, OCI_ENUM_LINUX_DEVICE_TYPE), t);
}

/* config-linux.md:138 fileMode; the schema allows only permission bits
   (R-LNX-8): we follow the prose (uint32) and warn above 0777. */
void oci_chk_file_mode(oci_vctx *v, const oci_field *f, const void *value) {
  (void)f;
  uint32_t m = *(const uint32_t *)value;
  if (m > 0777)
    oci_report(v, OCI_SEV_WARNING, "R-LNX-8", NULL,
               "fileMode %o has bits beyond the permissions (the schema "
               "allows 0..0777)",
               (unsigned)m);
}

/* config-linux.md:413-415 cgroup device type a, c or b; access of r, w, m
   (R-LNX-10) */
void oci_chk_device_cgroup_type(oci_vctx *v, const oci_field *f,
                                const void *value) {
  (void)f;
  const char *t = str(value);
  char list[64];
  if (!oci_enum_has(OCI_ENUM_LINUX_DEVICE_CGROUP_TYPE, t))
    oci_report(v, OCI_SEV_ERROR, "R-LNX-10", NULL,
               "device cgroup type MUST be %s; got \"%s\"",
               enum_text(list, sizeof list, OCI_ENUM_LINUX_DEVICE_CGROUP_TYPE),
               t);
}

void oci_chk_device_access(oci_vctx *v, const oci_field *f, const void *value) {
  (void)f;
  const char *a = str(value);
  if (strspn(a, "rwm") != strlen(a))
    oci_report(v, OCI_SEV_ERROR, "R-LNX-10", NULL,
               "device access MUST be composed of r, w and m; got \"%s\"", a);
}

/* config-linux.md:608 pageSize <size><unit-prefix>B (R-LNX-14) */
void oci_chk_page_size(oci_vctx *v, const oci_field *f, const void *value) {
  (void)f;
  const char *s = str(value);
  size_t n = strspn(s, "0123456789");
  if (!n || s[0] == '0' || !s[n] || !strchr("KMG", s[n]) || s[n + 1] != 'B' ||
      s[n + 2])
    oci_report(v, OCI_SEV_ERROR, "R-LNX-14", NULL,
               "pageSize MUST be like 64KB, 2MB or 1GB; got \"%s\"", s);
}

/* config-linux.md:946 syscall names "MUST contain at least one entry"
   (R-LNX-23) */
void oci_chk_syscall_names(oci_vctx *v, const oci_field *f, const void *value) {
  (void)f;
  if (((const oci_str_array *)value)->len == 0)
    oci_report(v, OCI_SEV_ERROR, "R-LNX-23", NULL,
               "names MUST contain at least one entry");
}

/* config-linux.md:754 schemata "MUST NOT contain newlines" (R-LNX-19) */
void oci_chk_schemata(oci_vctx *v, const oci_field *f, const void *value) {
  (void)f;
  const oci_str_array *a = value;
  for (size_t i = 0; i < a->len; i++)
    if (strchr(a->items[i], '\n')) {
      oci_vctx_push_index(v, i);
      oci_report(v, OCI_SEV_ERROR, "R-LNX-19", NULL,
                 "schemata entries MUST NOT contain newlines");
      oci_vctx_pop(v);
    }
}

/* config-linux.md:753 memBwSchema "MUST start with MB: and MUST NOT contain
   newlines" (R-LNX-18) */
void oci_chk_mem_bw_schema(oci_vctx *v, const oci_field *f, const void *value) {
  (void)f;
  const char *s = str(value);
  if (strncmp(s, "MB:", 3) != 0 || strchr(s, '\n'))
    oci_report(v, OCI_SEV_ERROR, "R-LNX-18", NULL,
               "memBwSchema MUST start with \"MB:\" and hold no newline");
}

/* config-windows.md:8-9 layerFolders "MUST contain at least one entry"
   (R-WIN-1) */
void oci_chk_layer_folders(oci_vctx *v, const oci_field *f, const void *value) {
  (void)f;
  if (((const oci_str_array *)value)->len == 0)
    oci_report(v, OCI_SEV_ERROR, "R-WIN-1", NULL,
               "layerFolders MUST contain at least one entry");
}

/* config-windows.md:31 idType: only "class" (R-WIN-2) */
void oci_chk_windows_id_type(oci_vctx *v, const oci_field *f,
                             const void *value) {
  (void)f;
  char list[64];
  if (!oci_enum_has(OCI_ENUM_WINDOWS_DEVICE_ID_TYPE, str(value)))
    oci_report(v, OCI_SEV_ERROR, "R-WIN-2", NULL,
               "idType MUST be %s; got \"%s\"",
               enum_text(list, sizeof list, OCI_ENUM_WINDOWS_DEVICE_ID_TYPE),
               str(value));
}

/* config-vm.md:46 image format: the schema closes the set the prose calls
   "commonly supported" (R-VM-3); other formats are a warning. */
void oci_chk_vm_image_format(oci_vctx *v, const oci_field *f,
                             const void *value) {
  (void)f;
  char list[128];
  if (!oci_enum_has(OCI_ENUM_VM_IMAGE_FORMAT, str(value)))
    oci_report(v, OCI_SEV_WARNING, "R-VM-3", NULL,
               "\"%s\" is not one of the commonly supported formats %s",
               str(value),
               enum_text(list, sizeof list, OCI_ENUM_VM_IMAGE_FORMAT));
}

/* config-freebsd.md sharing modes (R-BSD-1) */
void oci_chk_sharing(oci_vctx *v, const oci_field *f, const void *value) {
  (void)f;
  check_enum(v, "R-BSD-1", "sharing mode", OCI_ENUM_FREEBSD_SHARING,
             str(value));
}

void oci_chk_sharing_no_disable(oci_vctx *v, const oci_field *f,
                                const void *value) {
  (void)f;
  check_enum(v, "R-BSD-1", "sharing mode (new or inherit)",
             OCI_ENUM_FREEBSD_SHARING_NO_DISABLE, str(value));
}

void oci_chk_enforce_statfs(oci_vctx *v, const oci_field *f,
                            const void *value) {
  (void)f;
  if (*(const uint16_t *)value > 2)
    oci_report(v, OCI_SEV_ERROR, "R-BSD-1", NULL,
               "enforceStatfs MUST be 0, 1 or 2");
}

/* runtime.md:25 pid; the schema wants pid >= 0 */
void oci_chk_pid(oci_vctx *v, const oci_field *f, const void *value) {
  (void)f;
  if (*(const int32_t *)value < 0)
    oci_report(v, OCI_SEV_ERROR, "R-ST-3", NULL, "pid MUST NOT be negative");
}

/* ---- cross-field rules ------------------------------------------------- */

/* Windows paths compare without case and with either separator; a path
   nests within another when it continues it after a separator. */
static bool windows_nested(const char *outer, const char *inner) {
  size_t n = strlen(outer);
  while (n > 0 && is_sep(outer[n - 1]))
    n--;
  for (size_t i = 0; i < n; i++) {
    char a = outer[i], b = inner[i];
    if (!b) return false;
    if (is_sep(a) && is_sep(b)) continue;
    if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
    if (b >= 'A' && b <= 'Z') b = (char)(b - 'A' + 'a');
    if (a != b) return false;
  }
  return is_sep(inner[n]) && inner[n + 1] != '\0';
}

/* config.md:71-78 mount destinations (R-CFG-8): absolute on every
   platform; on Linux a relative one is deprecated ("SHOULD", interpreted
   relative to /), so only a warning. config.md:75 on Windows "One mount
   destination MUST NOT be nested within another mount" (R-CFG-9). */
static void check_mount_destinations(oci_vctx *v, const oci_runtime_spec *s,
                                     const char *platform) {
  if (!oci_is_present(s, OCI_F_runtime_spec_mounts)) return;
  bool windows = strcmp(platform, "windows") == 0;
  bool on_linux = strcmp(platform, "linux") == 0;
  oci_runtime_mount *const *m = s->mounts.items;
  oci_vctx_push_key(v, "mounts");
  for (size_t i = 0; i < s->mounts.len; i++) {
    const char *d = m[i]->destination;
    if (!d) continue;
    oci_vctx_push_index(v, i);
    bool absolute = windows ? is_windows_absolute(d) : d[0] == '/';
    if (!absolute && on_linux)
      oci_report(v, OCI_SEV_WARNING, "R-CFG-8", "destination",
                 "\"%s\" is relative: runtime-spec deprecates relative "
                 "destinations on Linux (read as relative to /)",
                 d);
    else if (!absolute)
      oci_report(v, OCI_SEV_ERROR, "R-CFG-8", "destination",
                 "\"%s\" MUST be an absolute path on %s", d, platform);
    if (windows)
      for (size_t j = 0; j < s->mounts.len; j++) {
        const char *o = m[j]->destination;
        if (j != i && o && windows_nested(o, d)) {
          oci_report(v, OCI_SEV_ERROR, "R-CFG-9", "destination",
                     "\"%s\" is nested within the destination \"%s\" of "
                     "mount %zu; Windows mounts MUST NOT nest",
                     d, o, j);
          break;
        }
      }
    oci_vctx_pop(v);
  }
  oci_vctx_pop(v);
}

/* config.md:29-33 root REQUIRED except on Windows, where Hyper-V containers
   MUST NOT set it (R-CFG-3, R-WIN-3); config.md:36, 44 Windows root path
   and readonly (R-CFG-5, R-CFG-6); config.md:240 process for start
   (R-CFG-11); config.md:530 windows for a Windows target (R-CFG-25). */
void oci_tchk_spec(oci_vctx *v, const void *obj) {
  const oci_runtime_spec *s = obj;
  const char *platform = target_platform(v);
  bool has_root = oci_is_present(s, OCI_F_runtime_spec_root) && s->root;
  bool has_windows =
      oci_is_present(s, OCI_F_runtime_spec_windows) && s->windows;
  bool windows = strcmp(platform, "windows") == 0;
  bool hyperv =
      has_windows && oci_is_present(s->windows, OCI_F_runtime_windows_hyperv);
  bool has_process =
      oci_is_present(s, OCI_F_runtime_spec_process) && s->process;
  if (windows && !has_windows)
    oci_report(v, OCI_SEV_ERROR, "R-CFG-25", "windows",
               "windows MUST be set when the target platform is windows");
  if (oci_vctx_options(v)->for_start && !has_process)
    oci_report(v, OCI_SEV_ERROR, "R-CFG-11", "process",
               "process is REQUIRED for a container that will be started");
  if (hyperv && has_root)
    oci_report(v, OCI_SEV_ERROR, "R-WIN-3", "root",
               "root MUST NOT be set for Hyper-V containers");
  if (!windows && !has_root && !oci_is_present(s, OCI_F_runtime_spec_vm))
    oci_report(v, OCI_SEV_ERROR, "R-CFG-3", "root",
               "root is REQUIRED on this platform");
  if (windows && has_root) {
    oci_vctx_push_key(v, "root");
    if (s->root->path && !is_volume_guid_path(s->root->path))
      oci_report(v, OCI_SEV_ERROR, "R-CFG-5", "path",
                 "\"%s\" is not a volume GUID path "
                 "(\\\\?\\Volume{GUID}\\), which Windows requires",
                 s->root->path);
    if (oci_is_present(s->root, OCI_F_runtime_root_readonly) &&
        s->root->readonly)
      oci_report(v, OCI_SEV_ERROR, "R-CFG-6", "readonly",
                 "root.readonly MUST be omitted or false on Windows");
    oci_vctx_pop(v);
  }
  check_mount_destinations(v, s, platform);
  /* config.md:370-371 user uid and gid REQUIRED on POSIX (R-CFG-20). A
     process without a user object is only a warning: runtime-spec's own
     good example config (FreeBSD) has none. */
  if (!windows && has_process) {
    const oci_runtime_user *u = s->process->user;
    if (!oci_is_present(s->process, OCI_F_runtime_process_user) || !u)
      oci_report(v, OCI_SEV_WARNING, "R-CFG-20", "process",
                 "process.user is missing; POSIX platforms need uid and gid");
    else if (!oci_is_present(u, OCI_F_runtime_user_uid) ||
             !oci_is_present(u, OCI_F_runtime_user_gid)) {
      oci_vctx_push_key(v, "process");
      oci_report(v, OCI_SEV_ERROR, "R-CFG-20", "user",
                 "process.user.uid and gid are REQUIRED on POSIX platforms");
      oci_vctx_pop(v);
    }
  }
}

/* config.md:252 "at least one entry is REQUIRED" in args (non-Windows), or
   commandLine on Windows (R-CFG-15). */
void oci_tchk_process(oci_vctx *v, const void *obj) {
  const oci_runtime_process *p = obj;
  bool args = oci_is_present(p, OCI_F_runtime_process_args) && p->args.len > 0;
  bool cmdline = oci_is_present(p, OCI_F_runtime_process_command_line);
  if (!args && !cmdline)
    oci_report(v, OCI_SEV_ERROR, "R-CFG-15", "args",
               "args MUST have at least one entry (or commandLine on "
               "Windows)");
  /* config.md:341 ioPriority priority REQUIRED (R-CFG-19) */
  if (p->io_priority && oci_is_present(p, OCI_F_runtime_process_io_priority) &&
      !oci_is_present(p->io_priority, OCI_F_runtime_linux_io_priority_priority))
    oci_report(v, OCI_SEV_ERROR, "R-CFG-19", "ioPriority",
               "ioPriority.priority is REQUIRED");
}

/* config.md:192, 197 uidMappings and gidMappings go together (R-CFG-10) */
void oci_tchk_mount(oci_vctx *v, const void *obj) {
  const oci_runtime_mount *m = obj;
  bool u = oci_is_present(m, OCI_F_runtime_mount_uid_mappings) &&
           m->uid_mappings.len;
  bool g = oci_is_present(m, OCI_F_runtime_mount_gid_mappings) &&
           m->gid_mappings.len;
  if (u != g)
    oci_report(v, OCI_SEV_ERROR, "R-CFG-10", u ? "gidMappings" : "uidMappings",
               "uidMappings and gidMappings MUST be specified together");
}

/* config-linux.md:46 duplicated namespace types (R-LNX-3); :1068 paths */
void oci_tchk_linux(oci_vctx *v, const void *obj) {
  const oci_runtime_linux *l = obj;
  if (!oci_is_present(l, OCI_F_runtime_linux_namespaces)) return;
  for (size_t i = 0; i < l->namespaces.len; i++)
    for (size_t j = 0; j < i; j++) {
      const char *a = l->namespaces.items[i]->typ;
      const char *b = l->namespaces.items[j]->typ;
      if (a && b && strcmp(a, b) == 0) {
        oci_vctx_push_key(v, "namespaces");
        oci_vctx_push_index(v, i);
        oci_report(v, OCI_SEV_ERROR, "R-LNX-3", NULL,
                   "namespace type \"%s\" appears twice", a);
        oci_vctx_pop(v);
        oci_vctx_pop(v);
        break;
      }
    }
}

/* config-linux.md:137 major and minor "REQUIRED unless type is p"
   (R-LNX-7) */
void oci_tchk_device(oci_vctx *v, const void *obj) {
  const oci_runtime_linux_device *d = obj;
  if (!d->typ || strcmp(d->typ, OCI_ENUM_STR(LINUX_DEVICE_TYPE, P)) == 0)
    return;
  if (!oci_is_present(d, OCI_F_runtime_linux_device_major) ||
      !oci_is_present(d, OCI_F_runtime_linux_device_minor))
    oci_report(v, OCI_SEV_ERROR, "R-LNX-7", NULL,
               "major and minor are REQUIRED unless type is p");
}

/* config-linux.md:494-496 a positive quota MUST be no smaller than burst
   (R-LNX-11) */
void oci_tchk_cpu(oci_vctx *v, const void *obj) {
  const oci_runtime_linux_cpu *c = obj;
  if (oci_is_present(c, OCI_F_runtime_linux_cpu_quota) &&
      oci_is_present(c, OCI_F_runtime_linux_cpu_burst) && c->quota > 0 &&
      (uint64_t)c->quota < c->burst)
    oci_report(v, OCI_SEV_ERROR, "R-LNX-11", "burst",
               "burst %llu is larger than quota %lld",
               (unsigned long long)c->burst, (long long)c->quota);
}

/* config-linux.md:538 "You MUST specify at least one of weight or
   leafWeight" (R-LNX-12) */
void oci_tchk_weight_device(oci_vctx *v, const void *obj) {
  if (!oci_is_present(obj, OCI_F_runtime_linux_weight_device_weight) &&
      !oci_is_present(obj, OCI_F_runtime_linux_weight_device_leaf_weight))
    oci_report(v, OCI_SEV_ERROR, "R-LNX-12", NULL,
               "at least one of weight or leafWeight MUST be specified");
}

/* config-linux.md:546 throttle devices: rate is REQUIRED (R-LNX-13; the
   schema does not require it) */
void oci_tchk_throttle_device(oci_vctx *v, const void *obj) {
  if (!oci_is_present(obj, OCI_F_runtime_linux_throttle_device_rate))
    oci_report(v, OCI_SEV_ERROR, "R-LNX-13", "rate", "rate is REQUIRED");
}

/* config-linux.md:689-692 "at least one of hcaHandles or hcaObjects"
   (R-LNX-17) */
void oci_tchk_rdma(oci_vctx *v, const void *obj) {
  if (!oci_is_present(obj, OCI_F_runtime_linux_rdma_hca_handles) &&
      !oci_is_present(obj, OCI_F_runtime_linux_rdma_hca_objects))
    oci_report(v, OCI_SEV_ERROR, "R-LNX-17", NULL,
               "at least one of hcaHandles or hcaObjects MUST be specified");
}

/* config-linux.md:939 listenerMetadata "MUST NOT be set if listenerPath is
   not set" (R-LNX-22) */
void oci_tchk_seccomp(oci_vctx *v, const void *obj) {
  if (oci_is_present(obj, OCI_F_runtime_linux_seccomp_listener_metadata) &&
      !oci_is_present(obj, OCI_F_runtime_linux_seccomp_listener_path))
    oci_report(v, OCI_SEV_ERROR, "R-LNX-22", "listenerMetadata",
               "listenerMetadata MUST NOT be set without listenerPath");
}

/* config-zos.md:36 duplicated namespaces (R-ZOS-1) */
void oci_tchk_zos(oci_vctx *v, const void *obj) {
  const oci_runtime_zos *z = obj;
  for (size_t i = 0; i < z->namespaces.len; i++)
    for (size_t j = 0; j < i; j++)
      if (z->namespaces.items[i]->typ && z->namespaces.items[j]->typ &&
          strcmp(z->namespaces.items[i]->typ, z->namespaces.items[j]->typ) ==
              0) {
        oci_report(v, OCI_SEV_ERROR, "R-ZOS-1", "namespaces",
                   "namespace type \"%s\" appears twice",
                   z->namespaces.items[i]->typ);
        return;
      }
}

/* runtime.md:25 pid "REQUIRED when status is created or running" on Linux
   (R-ST-3) */
void oci_tchk_state(oci_vctx *v, const void *obj) {
  const oci_runtime_state *s = obj;
  if (s->status &&
      (!strcmp(s->status, OCI_ENUM_STR(CONTAINER_STATE, Created)) ||
       !strcmp(s->status, OCI_ENUM_STR(CONTAINER_STATE, Running))) &&
      !oci_is_present(s, OCI_F_runtime_state_pid))
    oci_report(v, OCI_SEV_ERROR, "R-ST-3", "pid",
               "pid is REQUIRED when status is \"%s\"", s->status);
}

/* features.md:19 ociVersionMax "MUST NOT be less than" ociVersionMin
   (R-FT-2); features.md:20 no properties beyond this version's (R-FT-3). */
void oci_tchk_features(oci_vctx *v, const void *obj) {
  const oci_runtime_features *f = obj;
  if (f->oci_version_min && f->oci_version_max &&
      oci_check_semver(f->oci_version_min, strlen(f->oci_version_min), NULL) ==
          OCI_OK &&
      oci_check_semver(f->oci_version_max, strlen(f->oci_version_max), NULL) ==
          OCI_OK &&
      oci_semver_compare(f->oci_version_max, strlen(f->oci_version_max),
                         f->oci_version_min, strlen(f->oci_version_min)) < 0)
    oci_report(v, OCI_SEV_ERROR, "R-FT-2", "ociVersionMax",
               "ociVersionMax %s is less than ociVersionMin %s",
               f->oci_version_max, f->oci_version_min);
  for (size_t i = 0; i < oci_extra_len(f); i++)
    oci_report(v, OCI_SEV_ERROR, "R-FT-3", f->hdr.extra->keys[i],
               "\"%s\" is not a property of features.json in this version",
               f->hdr.extra->keys[i]);
}
