/* Reading a file of one's own that its mode makes unreadable: shared by
   the RUN snapshot comparison (run.c) and the rootless layer build
   (layer.c). */
#ifndef OCISPEC_OWNER_READ_H
#define OCISPEC_OWNER_READ_H

/* openat(dirfd, name, flags) of a regular file for reading (flags hold
   O_RDONLY; O_NOFOLLOW is honoured). When that fails with EACCES, this
   process is not root, and the file is a regular file it owns without
   the owner's read bit, the bit is lent for the open: S_IRUSR added, the
   file opened (through /proc/self/fd of an O_PATH descriptor of it, so
   the inode checked is the inode opened), and its mode set back at once
   through the new descriptor. A rootless build owns every file of its
   trees (the container's root is the caller) but has no
   CAP_DAC_OVERRIDE outside the container, so a file an image gives mode
   0000 (/etc/shadow and /etc/gshadow in Fedora and RHEL) could not be
   read otherwise. Returns the descriptor, or -1 with errno (EACCES when
   the bit could not be lent, or given back). */
int owner_read_open(int dirfd, const char *name, int flags);

#endif
