/* Entry names of layers and the walk of a root file system by directory
   descriptors: every parent is opened relative to the one before with
   O_NOFOLLOW, so a symbolic link planted by a layer (or anyone) is never
   followed, and removals work on (directory fd, name) pairs instead of
   strings checked first and used later. */
#define _GNU_SOURCE /* O_PATH */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inroot.h"
#include "internal.h"
#include "ocispec/unpack.h"
#include "unpack_internal.h"

bool up_component_ok(const char *c, size_t n) {
  if (n == 0 || (n == 1 && c[0] == '.') ||
      (n == 2 && c[0] == '.' && c[1] == '.'))
    return false;
  return !memchr(c, '/', n) && !memchr(c, '\0', n);
}

int up_clean(const char *name, char out[PATH_MAX], const char *shown,
             oci_error *err) {
  size_t o = 0;
  const char *in = name;
  while (*in) {
    while (*in == '/')
      in++;
    if (!*in) break;
    const char *end = strchr(in, '/');
    size_t n = end ? (size_t)(end - in) : strlen(in);
    if (n == 1 && in[0] == '.') {
      /* "./x", "a/./b": dropped, as Go's filepath.Clean and umoci do */
    } else if (n == 2 && in[0] == '.' && in[1] == '.') {
      return oci_error_set(err, OCI_EINVAL,
                           "layer entry \"%s\": \"..\" would leave the root "
                           "file system",
                           shown);
    } else {
      if (o + (o ? 1 : 0) + n >= PATH_MAX)
        return oci_error_set(err, OCI_EINVAL,
                             "layer entry \"%s\": path longer than %d bytes",
                             shown, PATH_MAX - 1);
      if (o) out[o++] = '/';
      memcpy(out + o, in, n);
      o += n;
    }
    in += n;
  }
  out[o] = '\0';
  return OCI_OK;
}

void up_walk_forget(up_walk *w) {
  if (w->cache_fd >= 0) close(w->cache_fd);
  w->cache_fd = -1;
  w->cache_len = 0;
}

int up_open_dir(up_walk *w, const char *rel, size_t len, bool create, int *out,
                const char *shown, oci_error *err) {
  *out = -1;
  size_t i = 0;
  int from = w->rootfd;
  if (w->cache_fd >= 0 && w->cache_len <= len &&
      memcmp(rel, w->cache, w->cache_len) == 0 &&
      (w->cache_len == len || rel[w->cache_len] == '/')) {
    from = w->cache_fd;
    i = w->cache_len == len ? len : w->cache_len + 1;
  }
  int cur = -1;
  if (i < len && !w->no_openat2) {
    /* the usual case, an existing directory: one call; anything else
       (missing, a link, not a directory) falls to the walk below, which
       creates or names precisely what is wrong */
    char rest[PATH_MAX];
    memcpy(rest, rel + i, len - i);
    rest[len - i] = '\0';
    cur = inroot_open_beneath(from, rest);
    if (cur >= 0)
      i = len;
    else if (errno == ENOSYS || errno == EPERM || errno == E2BIG)
      w->no_openat2 = true;
  }
  if (cur < 0 && (cur = fcntl(from, F_DUPFD_CLOEXEC, 0)) < 0)
    return oci_error_set(err, OCI_EIO, "layer entry \"%s\": %s", shown,
                         strerror(errno));
  while (i < len) {
    const char *c = rel + i;
    const char *slash = memchr(c, '/', len - i);
    size_t n = slash ? (size_t)(slash - c) : len - i;
    char comp[NAME_MAX + 1];
    if (n > NAME_MAX) {
      close(cur);
      return oci_error_set(err, OCI_EINVAL,
                           "layer entry \"%s\": a name is longer than %d "
                           "bytes",
                           shown, NAME_MAX);
    }
    memcpy(comp, c, n);
    comp[n] = '\0';
    if (!up_component_ok(comp, n)) { /* up_clean's output never has one */
      close(cur);
      return oci_error_set(err, OCI_EINVAL,
                           "layer entry \"%s\": bad path component \"%s\"",
                           shown, comp);
    }
    int fd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
      if (mkdirat(cur, comp, 0755) != 0 && errno != EEXIST) {
        int e = errno;
        close(cur);
        return oci_error_set(err, OCI_EIO,
                             "layer entry \"%s\": cannot create \"%.*s\": %s",
                             shown, (int)(i + n), rel, strerror(e));
      }
      fd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
      int e = errno;
      struct stat st;
      bool is_link = fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                     S_ISLNK(st.st_mode);
      close(cur);
      if (!create && (is_link || e == ENOENT || e == ENOTDIR))
        return OCI_OK; /* nothing there reached without a link */
      if (is_link)
        return oci_error_set(err, OCI_EINVAL,
                             "layer entry \"%s\": parent \"%.*s\" became a "
                             "symbolic link after it was resolved",
                             shown, (int)(i + n), rel);
      if (e == ENOTDIR)
        return oci_error_set(err, OCI_EINVAL,
                             "layer entry \"%s\": parent \"%.*s\" is not a "
                             "directory",
                             shown, (int)(i + n), rel);
      return oci_error_set(err, OCI_EIO, "layer entry \"%s\": \"%.*s\": %s",
                           shown, (int)(i + n), rel, strerror(e));
    }
    close(cur);
    cur = fd;
    i += n + (slash ? 1 : 0);
  }
  if (len && (w->cache_fd < 0 || w->cache_len != len ||
              memcmp(w->cache, rel, len) != 0)) {
    int keep = fcntl(cur, F_DUPFD_CLOEXEC, 0);
    up_walk_forget(w);
    if (keep >= 0) { /* else: no cache, still correct */
      w->cache_fd = keep;
      w->cache_len = len;
      memcpy(w->cache, rel, len);
    }
  }
  *out = cur;
  return OCI_OK;
}

/* One directory being emptied by up_remove_at: its name in its parent,
   the parent's identity (checked when climbing back through ".."), and
   the names of its subdirectories still to empty. */
typedef struct level {
  char self[NAME_MAX + 1];
  dev_t parent_dev;
  ino_t parent_ino;
  char **dirs;
  size_t ndirs, next;
} level;

static void level_free(level *l) {
  for (size_t i = 0; i < l->ndirs; i++)
    free(l->dirs[i]);
  free(l->dirs);
}

/* Removes every entry of the directory fd that is not a directory, and
   lists its subdirectories in l. Consumes nothing: fd stays open. */
static int scan_level(int fd, level *l, const char *shown, oci_error *err) {
  int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
  if (!d) {
    int e = errno;
    if (dfd >= 0) close(dfd);
    return oci_error_set(err, OCI_EIO, "%s: cannot read %s: %s", shown, l->self,
                         strerror(e));
  }
  size_t cap = 0;
  int rc = OCI_OK;
  struct dirent *e;
  while (!rc && (e = readdir(d))) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    struct stat st;
    if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT)
        rc = oci_error_set(err, OCI_EIO, "%s: %s: %s", shown, e->d_name,
                           strerror(errno));
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {
      if (unlinkat(fd, e->d_name, 0) != 0 && errno != ENOENT)
        rc = oci_error_set(err, OCI_EIO, "%s: cannot remove %s: %s", shown,
                           e->d_name, strerror(errno));
      continue;
    }
    if (l->ndirs == cap) {
      size_t ncap = cap ? cap * 2 : 8;
      char **nd = realloc(l->dirs, ncap * sizeof *nd);
      if (!nd) {
        rc = oci_error_set(err, OCI_ENOMEM, "out of memory");
        break;
      }
      l->dirs = nd;
      cap = ncap;
    }
    if (!(l->dirs[l->ndirs] = strdup(e->d_name)))
      rc = oci_error_set(err, OCI_ENOMEM, "out of memory");
    else
      l->ndirs++;
  }
  closedir(d);
  return rc;
}

/* chmod u+rwx of the directory that fd (O_PATH or open) is, through
   /proc/self/fd (the inode itself, no path followed again). */
static int chmod_fd_dir(int fd, mode_t mode) {
  char p[64];
  snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
  return chmod(p, (mode & 07777) | 0700);
}

/* A directory of ours (a rootless build's tree) that the command left
   without owner rwx (chmod 0555, 000): removing its entries needs them.
   0, or -1 with errno. Other owners' directories are left as they are. */
static int own_dir_writable(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return -1;
  if (st.st_uid != geteuid() || (st.st_mode & 0700) == 0700) return 0;
  return fchmod(fd, (st.st_mode & 07777) | 0700);
}

/* openat(from, child, flags) refused (EACCES): when child is a directory
   of ours without owner r-x, give them and open it again. -1 with errno
   EACCES otherwise. */
static int open_own_dir(int from, const char *child, int flags) {
  int p = openat(from, child, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
  struct stat st;
  int ok = p >= 0 && fstat(p, &st) == 0 && st.st_uid == geteuid() &&
           chmod_fd_dir(p, st.st_mode) == 0;
  if (p >= 0) close(p);
  if (!ok) {
    errno = EACCES;
    return -1;
  }
  return openat(from, child, flags);
}

/* Iterative, with one directory descriptor open whatever the depth (a
   layer can nest 2000 directories, more than a usual descriptor limit):
   down by openat(O_NOFOLLOW), back up by "..", checked against the
   device and inode the parent had on the way down. */
int up_remove_at(int parent, const char *name, const char *shown,
                 oci_error *err) {
  if (!up_component_ok(name, strlen(name)) || strlen(name) > NAME_MAX)
    return oci_error_set(err, OCI_EINVAL,
                         "%s: refusing to remove \"%s\" (not a name)", shown,
                         name);
  struct stat st;
  if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
    return errno == ENOENT ? OCI_OK
                           : oci_error_set(err, OCI_EIO, "%s: %s: %s", shown,
                                           name, strerror(errno));
  if (!S_ISDIR(st.st_mode)) {
    if (unlinkat(parent, name, 0) != 0 && errno != ENOENT)
      return oci_error_set(err, OCI_EIO, "%s: cannot remove %s: %s", shown,
                           name, strerror(errno));
    return OCI_OK;
  }
  level *stack = NULL;
  size_t depth = 0, cap = 0;
  int rc = OCI_OK, cur = -1;
  const int dflags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  int from = parent;
  const char *child = name;
  for (;;) {
    if (child) { /* down into from/child */
      struct stat ps;
      if (fstat(from, &ps) != 0) {
        rc = oci_error_set(err, OCI_EIO, "%s: %s", shown, strerror(errno));
        break;
      }
      int fd = openat(from, child, dflags);
      if (fd < 0 && errno == EACCES) fd = open_own_dir(from, child, dflags);
      if (fd >= 0 && own_dir_writable(fd) != 0) {
        rc = oci_error_set(err, OCI_EIO, "%s: cannot make %s writable: %s",
                           shown, child, strerror(errno));
        close(fd);
        break;
      }
      if (fd < 0) {
        if (errno == ENOENT) {
          child = NULL;
          if (depth == 0) break; /* gone meanwhile */
          continue;
        }
        if (errno == ENOTDIR || errno == ELOOP) { /* replaced meanwhile */
          if (unlinkat(from, child, 0) != 0 && errno != ENOENT)
            rc = oci_error_set(err, OCI_EIO, "%s: cannot remove %s: %s", shown,
                               child, strerror(errno));
          child = NULL;
          if (rc || depth == 0) break;
          continue;
        }
        rc = oci_error_set(err, OCI_EIO, "%s: %s: %s", shown, child,
                           strerror(errno));
        break;
      }
      if (depth == cap) {
        size_t ncap = cap ? cap * 2 : 16;
        level *ns = realloc(stack, ncap * sizeof *ns);
        if (!ns) {
          close(fd);
          rc = oci_error_set(err, OCI_ENOMEM, "out of memory");
          break;
        }
        stack = ns;
        cap = ncap;
      }
      level *l = &stack[depth++];
      memset(l, 0, sizeof *l);
      snprintf(l->self, sizeof l->self, "%s", child);
      l->parent_dev = ps.st_dev;
      l->parent_ino = ps.st_ino;
      if (cur >= 0) close(cur);
      cur = fd;
      child = NULL;
      if ((rc = scan_level(cur, l, shown, err))) break;
    }
    level *l = &stack[depth - 1];
    if (l->next < l->ndirs) {
      from = cur;
      child = l->dirs[l->next++];
      continue;
    }
    /* l is empty now: climb to its parent and remove it */
    char self[NAME_MAX + 1];
    memcpy(self, l->self, sizeof self);
    dev_t pdev = l->parent_dev;
    ino_t pino = l->parent_ino;
    level_free(l);
    depth--;
    if (depth == 0) {
      close(cur);
      cur = -1;
      if (unlinkat(parent, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
        rc = oci_error_set(err, OCI_EIO, "%s: cannot remove %s: %s", shown,
                           name, strerror(errno));
      break;
    }
    int up = openat(cur, "..", dflags);
    struct stat us;
    if (up < 0 || fstat(up, &us) != 0 || us.st_dev != pdev ||
        us.st_ino != pino) {
      if (up >= 0) close(up);
      rc = oci_error_set(err, OCI_EIO,
                         "%s: a directory moved while it was removed", shown);
      break;
    }
    close(cur);
    cur = up;
    if (unlinkat(cur, self, AT_REMOVEDIR) != 0 && errno != ENOENT) {
      rc = oci_error_set(err, OCI_EIO, "%s: cannot remove %s: %s", shown, self,
                         strerror(errno));
      break;
    }
  }
  for (size_t i = 0; i < depth; i++)
    level_free(&stack[i]);
  free(stack);
  if (cur >= 0) close(cur);
  return rc;
}

int oci_remove_tree(const char *path, oci_error *err) {
  oci_error_reset(err);
  if (!path || !*path)
    return oci_error_set(err, OCI_EINVAL, "remove_tree: empty path");
  /* split into the parent (followed: the caller's own path) and the last
     name (never followed) */
  size_t n = strlen(path);
  while (n > 1 && path[n - 1] == '/')
    n--;
  if (n >= PATH_MAX)
    return oci_error_set(err, OCI_EINVAL, "%s: path too long", path);
  char buf[PATH_MAX];
  memcpy(buf, path, n);
  buf[n] = '\0';
  char *slash = strrchr(buf, '/');
  const char *name = slash ? slash + 1 : buf;
  const char *dir = slash ? (slash == buf ? "/" : buf) : ".";
  if (slash) *slash = '\0';
  if (!up_component_ok(name, strlen(name)))
    return oci_error_set(err, OCI_EINVAL,
                         "%s: refusing to remove (the last component must be "
                         "a name, not \".\", \"..\" or \"/\")",
                         path);
  int pfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (pfd < 0)
    return errno == ENOENT
               ? OCI_OK
               : oci_error_set(err, OCI_EIO, "%s: %s", path, strerror(errno));
  int rc = up_remove_at(pfd, name, path, err);
  close(pfd);
  return rc;
}
