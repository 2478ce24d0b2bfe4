/* libFuzzer target: oci_runtime_spec_from_image_config's Config.User
   resolution against a hostile rootfs. The input: byte 0 = n, then n bytes
   of Config.User (any bytes but NUL, which ends it), then the rootfs's
   /etc/passwd and /etc/group separated by the first "\n--\n" (no
   separator: no /etc/group).

   Properties: the call works or fails with a specific error (no crash, no
   leak, no hang); a failure names /config/User and is OCI_EINVAL, OCI_EIO
   or OCI_ETOOBIG, with *out NULL; a success has the user's ids, its
   additionalGids strictly increasing and without the primary gid, and
   writes as JSON. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "ocispec/conversion.h"

static char dir[64];
static char path_root[80], path_passwd[200], path_group[200];

static void write_file(const char *path, const void *data, size_t len) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  FUZZ_CHECK(fd >= 0, "open %s", path);
  FUZZ_CHECK(len == 0 || write(fd, data, len) == (ssize_t)len, "write %s",
             path);
  close(fd);
}

static void cleanup(void) {
  oci_error err;
  oci_remove_tree(dir, &err);
}

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/ocispec-fuzz-conversion-XXXXXX");
  FUZZ_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
  atexit(cleanup);
  char etc[100];
  snprintf(path_root, sizeof path_root, "%s/root", dir);
  snprintf(etc, sizeof etc, "%s/etc", path_root);
  snprintf(path_passwd, sizeof path_passwd, "%s/passwd", etc);
  snprintf(path_group, sizeof path_group, "%s/group", etc);
  FUZZ_CHECK(mkdir(path_root, 0755) == 0 && mkdir(etc, 0755) == 0, "mkdir");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!dir[0]) setup();
  if (size < 1) return 0;
  size_t n = data[0];
  if (n > size - 1) n = size - 1;
  char user[256];
  size_t ul = 0;
  while (ul < n && data[1 + ul])
    ul++;
  memcpy(user, data + 1, ul);
  user[ul] = '\0';
  const char *rest = (const char *)data + 1 + n;
  size_t rlen = size - 1 - n;
  const char *sep = NULL;
  for (size_t i = 0; !sep && i + 4 <= rlen; i++)
    if (memcmp(rest + i, "\n--\n", 4) == 0) sep = rest + i;
  write_file(path_passwd, rest, sep ? (size_t)(sep - rest) : rlen);
  unlink(path_group);
  if (sep) write_file(path_group, sep + 4, rlen - (size_t)(sep + 4 - rest));

  oci_image_configuration *cfg;
  oci_error err;
  static const char json[] =
      "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},"
      "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";
  FUZZ_CHECK(oci_image_configuration_parse(json, sizeof json - 1, NULL, &cfg,
                                           &err) == OCI_OK,
             "config: %s", err.message);
  /* set directly: the conversion must cope with any bytes */
  cfg->config->user = oci_arena_strdup(cfg->hdr.arena, user);
  FUZZ_CHECK(cfg->config->user != NULL, "strdup");
  oci_mark(cfg->config, OCI_F_image_config_user);

  oci_conversion_options o = OCI_CONVERSION_OPTIONS_INIT;
  o.rootfs = path_root;
  oci_runtime_spec *s = (oci_runtime_spec *)cfg;
  int rc = oci_runtime_spec_from_image_config(cfg, &o, &s, &err);
  if (rc != OCI_OK) {
    fuzz_check_error(rc, &err);
    FUZZ_CHECK(s == NULL, "*out not reset");
    FUZZ_CHECK(rc == OCI_EINVAL || rc == OCI_EIO || rc == OCI_ETOOBIG ||
                   rc == OCI_ENOMEM,
               "unexpected status %d: %s", rc, err.message);
    FUZZ_CHECK(rc == OCI_ENOMEM || strcmp(err.pointer, "/config/User") == 0,
               "pointer \"%s\" for %s", err.pointer, err.message);
  } else {
    const oci_runtime_user *u = s->process->user;
    FUZZ_CHECK(u && oci_is_present(u, OCI_F_runtime_user_uid) &&
                   oci_is_present(u, OCI_F_runtime_user_gid),
               "no user");
    for (size_t i = 0; i < u->additional_gids.len; i++) {
      FUZZ_CHECK(u->additional_gids.items[i] != u->gid, "primary gid listed");
      FUZZ_CHECK(i == 0 || u->additional_gids.items[i - 1] <
                               u->additional_gids.items[i],
                 "additionalGids not strictly increasing");
    }
    char *out;
    size_t len;
    FUZZ_CHECK(oci_runtime_spec_to_json(s, false, &out, &len, &err) == OCI_OK,
               "to_json: %s", err.message);
    free(out);
    oci_free(s);
  }
  oci_free(cfg);
  return 0;
}
