/* Resolving a path inside an untrusted root file system, the way
   securejoin (umoci, runc) does, without ever leaving it: shared by the
   unpacker (unpack.c) and oci_rootfs_read_file (rootfs.c). */
#ifndef OCISPEC_INROOT_H
#define OCISPEC_INROOT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

/* Symbolic links followed by one resolution, at most (Linux's own limit;
   more is ELOOP). */
#define INROOT_MAX_LINKS 40

/* Resolves path (relative to the root or absolute: the same) below the
   directory rootfd: every symbolic link met, the last component
   included, is replaced by its target, an absolute target starting again
   at the root and ".." stopping at it. A component that does not exist
   (or is below one that does not) is taken as a plain name, as
   securejoin does, so the result may name directories still to create.
   Links are read with readlinkat from directories opened with
   O_NOFOLLOW, never followed by the kernel. Writes the result, relative
   and clean ("" = the root, no ".", "..", empty component or symbolic
   link among its existing components) into out and its length into
   *out_len. With strict, an existing component that is neither a
   directory nor a link, with more after it, stops the resolution: ENOTDIR,
   out naming that component. Returns 0 or an errno value: ELOOP (more
   than INROOT_MAX_LINKS links), ENAMETOOLONG (a name over NAME_MAX or a
   result or pending path over PATH_MAX), ENOTDIR (strict), ENOMEM, or
   what a look-up failed with. */
int inroot_resolve(int rootfd, const char *path, bool strict,
                   char out[PATH_MAX], size_t *out_len);

/* inroot_resolve, from a prefix already resolved: start (start_len bytes,
   an output of inroot_resolve naming an existing directory) whose
   directory startfd is (-1: opened here), then path, relative to it
   (".." in it may still climb to the root). The cost is path's, not the
   prefix's. */
int inroot_resolve_at(int rootfd, int startfd, const char *start,
                      size_t start_len, const char *path, bool strict,
                      char out[PATH_MAX], size_t *out_len);

/* Opens the directory at the first len bytes of rel (a clean relative
   path, as inroot_resolve writes; 0 = the root, duplicated) below rootfd
   without following any link (openat2 RESOLVE_BENEATH |
   RESOLVE_NO_SYMLINKS where the kernel has it, else one openat
   O_NOFOLLOW per component). -1 with errno on failure (ELOOP: a link on
   the way, ENOENT, ENOTDIR). */
int inroot_open_dir(int rootfd, const char *rel, size_t len);

/* openat2(2) of the directory path below from with RESOLVE_BENEATH |
   RESOLVE_NO_SYMLINKS: one call, failing (ELOOP, EXDEV) on any symbolic
   link or escape; -1 with errno, ENOSYS where the kernel (or a seccomp
   filter) lacks openat2 and the caller walks component by component. */
int inroot_open_beneath(int from, const char *path);

#endif
