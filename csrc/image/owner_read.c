/* See owner_read.h. */
#define _GNU_SOURCE /* O_PATH */
#include "owner_read.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

int owner_read_open(int dirfd, const char *name, int flags) {
  int fd = openat(dirfd, name, flags);
  if (fd >= 0 || errno != EACCES || geteuid() == 0) return fd;
  int p = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (p < 0) {
    errno = EACCES;
    return -1;
  }
  struct stat st;
  if (fstat(p, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
      (st.st_mode & S_IRUSR)) {
    close(p);
    errno = EACCES;
    return -1;
  }
  mode_t mode = st.st_mode & 07777;
  char self[64];
  snprintf(self, sizeof self, "/proc/self/fd/%d", p);
  /* the magic link names the inode p holds, not a path to look up */
  if (chmod(self, mode | S_IRUSR) != 0) {
    close(p);
    errno = EACCES;
    return -1;
  }
  fd = open(self, (flags & ~O_NOFOLLOW) | O_CLOEXEC);
  int open_errno = errno;
  /* the mode given back: through the descriptor when there is one, else
     through the magic link again */
  int back = fd >= 0 ? fchmod(fd, mode) : chmod(self, mode);
  close(p);
  if (fd < 0 || back != 0) {
    if (fd >= 0) close(fd);
    errno = fd < 0 ? open_errno : EACCES;
    return -1;
  }
  return fd;
}
