/* In-root resolution (inroot.h): securejoin's algorithm on directory
   descriptors. The resolved prefix is kept as a clean relative path and,
   while every component of it exists, as an open directory: a component
   is looked up with fstatat(AT_SYMLINK_NOFOLLOW) in that directory, a
   link read with readlinkat and its target put in front of what is left
   to resolve (an absolute one resetting the prefix to the root), ".."
   drops the prefix's last component (never below the root) and the
   directory is opened again from the root without following links. One
   descriptor is open at a time, whatever the depth. */
#include "inroot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

int inroot_open_beneath(int from, const char *path) {
#ifdef SYS_openat2
  struct open_how how = {
      .flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
      .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
  };
  long fd;
  do
    fd = syscall(SYS_openat2, from, path, &how, sizeof how);
  while (fd < 0 && (errno == EINTR || errno == EAGAIN));
  return (int)fd;
#else
  (void)from;
  (void)path;
  errno = ENOSYS;
  return -1;
#endif
}

int inroot_open_dir(int rootfd, const char *rel, size_t len) {
  if (len >= PATH_MAX) {
    errno = ENAMETOOLONG;
    return -1;
  }
  char buf[PATH_MAX];
  memcpy(buf, rel, len);
  buf[len] = '\0';
  if (len) {
    int fd = inroot_open_beneath(rootfd, buf);
    if (fd >= 0 || (errno != ENOSYS && errno != EPERM && errno != E2BIG))
      return fd;
  }
  int cur = fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
  for (char *c = buf; cur >= 0 && *c;) {
    char *slash = strchr(c, '/');
    if (slash) *slash = '\0';
    int fd = openat(cur, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int e = errno;
    close(cur);
    errno = e;
    cur = fd;
    c = slash ? slash + 1 : c + strlen(c);
  }
  return cur;
}

typedef struct state {
  int rootfd;
  char *out;
  size_t len;     /* out[0..len): the resolved prefix */
  size_t missing; /* components of it past the first one that is absent */
  int cur;        /* the prefix's directory when missing == 0; -1: reopen */
} state;

static void pop(state *s) {
  while (s->len && s->out[s->len - 1] != '/')
    s->len--;
  if (s->len) s->len--;
  s->out[s->len] = '\0';
  if (s->missing)
    s->missing--; /* back to where cur still is, once 0 */
  else if (s->cur >= 0) {
    close(s->cur);
    s->cur = -1;
  }
}

static int push(state *s, const char *name, size_t n) {
  if (s->len + (s->len ? 1 : 0) + n >= PATH_MAX) return ENAMETOOLONG;
  if (s->len) s->out[s->len++] = '/';
  memcpy(s->out + s->len, name, n);
  s->len += n;
  s->out[s->len] = '\0';
  return 0;
}

int inroot_resolve(int rootfd, const char *path, bool strict,
                   char out[PATH_MAX], size_t *out_len) {
  return inroot_resolve_at(rootfd, -1, "", 0, path, strict, out, out_len);
}

int inroot_resolve_at(int rootfd, int startfd, const char *start,
                      size_t start_len, const char *path, bool strict,
                      char out[PATH_MAX], size_t *out_len) {
  state s = {.rootfd = rootfd, .out = out, .cur = -1};
  out[0] = '\0';
  *out_len = 0;
  if (start_len >= PATH_MAX) return ENAMETOOLONG;
  memmove(out, start, start_len);
  out[start_len] = '\0';
  s.len = start_len;
  if (startfd >= 0 && (s.cur = fcntl(startfd, F_DUPFD_CLOEXEC, 0)) < 0)
    return errno;
  /* what is left to resolve: at most PATH_MAX bytes of a target in front
     of at most 2 * PATH_MAX left over */
  size_t cap = 3 * PATH_MAX;
  char *pend = malloc(cap), *target = malloc(PATH_MAX);
  int rc = 0;
  unsigned links = 0;
  if (!pend || !target) {
    rc = ENOMEM;
    goto out;
  }
  size_t plen = strlen(path);
  if (plen >= 2 * PATH_MAX) {
    rc = ENAMETOOLONG;
    goto out;
  }
  memcpy(pend, path, plen + 1);
  size_t pos = 0;
  for (;;) {
    while (pend[pos] == '/')
      pos++;
    if (!pend[pos]) break;
    size_t end = pos;
    while (pend[end] && pend[end] != '/')
      end++;
    size_t n = end - pos;
    const char *c = pend + pos;
    pos = end;
    if (n == 1 && c[0] == '.') continue;
    if (n == 2 && c[0] == '.' && c[1] == '.') {
      pop(&s);
      continue;
    }
    if (n > NAME_MAX) {
      rc = ENAMETOOLONG;
      goto out;
    }
    char name[NAME_MAX + 1];
    memcpy(name, c, n);
    name[n] = '\0';
    if (s.missing) { /* below an absent component: a plain name */
      if ((rc = push(&s, name, n))) goto out;
      s.missing++;
      continue;
    }
    if (s.cur < 0 && (s.cur = inroot_open_dir(rootfd, s.out, s.len)) < 0) {
      /* the prefix changed under us (a link or file swapped in) */
      rc = errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? ESTALE
                                                                 : errno;
      goto out;
    }
    struct stat st;
    if (fstatat(s.cur, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT && errno != ENOTDIR) {
        rc = errno;
        goto out;
      }
      if ((rc = push(&s, name, n))) goto out;
      s.missing = 1;
      continue;
    }
    if (S_ISLNK(st.st_mode)) {
      if (++links > INROOT_MAX_LINKS) {
        rc = ELOOP;
        goto out;
      }
      ssize_t tl = readlinkat(s.cur, name, target, PATH_MAX);
      if (tl < 0) {
        rc = errno;
        goto out;
      }
      if (tl >= PATH_MAX) {
        rc = ENAMETOOLONG;
        goto out;
      }
      size_t tail = strlen(pend + pos);
      if ((size_t)tl + 1 + tail >= cap) {
        rc = ENAMETOOLONG;
        goto out;
      }
      memmove(pend + tl + 1, pend + pos, tail + 1);
      memcpy(pend, target, (size_t)tl);
      pend[tl] = '/';
      pos = 0;
      if (tl && target[0] == '/') /* absolute: again from the root */
        while (s.len)
          pop(&s);
      continue;
    }
    if ((rc = push(&s, name, n))) goto out;
    bool more = false;
    for (size_t i = pos; pend[i]; i++)
      if (pend[i] != '/') {
        more = true;
        break;
      }
    if (!more) break;
    if (!S_ISDIR(st.st_mode)) {
      if (strict) {
        rc = ENOTDIR;
        goto out;
      }
      s.missing = 1; /* securejoin: a look-up below it fails, absent */
      continue;
    }
    int fd =
        openat(s.cur, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP) {
        rc = errno;
        goto out;
      }
      s.missing = 1; /* replaced meanwhile: absent from here on */
      continue;
    }
    close(s.cur);
    s.cur = fd;
  }
out:
  if (s.cur >= 0) close(s.cur);
  free(pend);
  free(target);
  *out_len = s.len;
  return rc;
}
