/* libFuzzer target: applying a layer (the input: a tar, or a gzip or zstd
   stream of one) with oci_layer_apply to a root file system that holds
   traps: symbolic links out of it (relative and absolute), a directory
   with a file, and a file.

   Properties: the call works or fails with a specific error, never a
   crash or a leak; nothing outside the root changes (a sentinel folder
   beside it keeps exactly its one file and that file its bytes, and the
   scratch folder holds only what it held); the root stays a directory.
   rootless, so that neither owners nor device nodes need privileges. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "ocispec/unpack.h"

static char dir[64];
static char path_blob[128], path_root[128], path_out[128], path_secret[128];

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
  snprintf(dir, sizeof dir, "/tmp/ocispec-fuzz-unpack-XXXXXX");
  FUZZ_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
  atexit(cleanup);
  snprintf(path_blob, sizeof path_blob, "%s/blob", dir);
  snprintf(path_root, sizeof path_root, "%s/root", dir);
  snprintf(path_out, sizeof path_out, "%s/outside", dir);
  snprintf(path_secret, sizeof path_secret, "%s/outside/secret", dir);
  FUZZ_CHECK(mkdir(path_out, 0755) == 0, "mkdir outside");
  write_file(path_secret, "secret", 6);
}

/* The root with its traps, fresh for every input. */
static void make_root(void) {
  char p[256];
  FUZZ_CHECK(mkdir(path_root, 0755) == 0, "mkdir root");
  snprintf(p, sizeof p, "%s/rel", path_root);
  FUZZ_CHECK(symlink("../outside", p) == 0, "symlink");
  snprintf(p, sizeof p, "%s/abs", path_root);
  FUZZ_CHECK(symlink(path_out, p) == 0, "symlink");
  snprintf(p, sizeof p, "%s/d", path_root);
  FUZZ_CHECK(mkdir(p, 0755) == 0, "mkdir d");
  snprintf(p, sizeof p, "%s/d/f", path_root);
  write_file(p, "f", 1);
  snprintf(p, sizeof p, "%s/file", path_root);
  write_file(p, "x", 1);
}

static size_t count_entries(const char *path) {
  DIR *d = opendir(path);
  FUZZ_CHECK(d != NULL, "opendir %s", path);
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
  closedir(d);
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!dir[0]) setup();
  write_file(path_blob, data, size);
  make_root();
  oci_unpack_options o = OCI_UNPACK_OPTIONS_INIT;
  o.rootless = true;
  o.max_bytes = 8u << 20;
  o.max_entries = 2000;
  oci_unpack_stats st;
  oci_error err;
  oci_error_clear(&err);
  int rc = oci_layer_apply(path_blob, path_root, &o, &st, &err);
  if (rc != OCI_OK) fuzz_check_error(rc, &err);

  struct stat s;
  FUZZ_CHECK(lstat(path_root, &s) == 0 && S_ISDIR(s.st_mode),
             "the root is no longer a directory");
  FUZZ_CHECK(count_entries(dir) == 3, "the scratch folder changed");
  FUZZ_CHECK(count_entries(path_out) == 1, "the outside folder changed");
  char buf[16] = "";
  int fd = open(path_secret, O_RDONLY | O_CLOEXEC);
  FUZZ_CHECK(fd >= 0, "the secret is gone");
  ssize_t n = read(fd, buf, sizeof buf);
  close(fd);
  FUZZ_CHECK(n == 6 && memcmp(buf, "secret", 6) == 0, "the secret changed");
  FUZZ_CHECK(oci_remove_tree(path_root, &err) == OCI_OK, "cleanup: %s",
             err.message);
  return 0;
}
