/** @file
   runtime-spec helpers: default configurations and their parts. */
#ifndef OCISPEC_RUNTIME_H
#define OCISPEC_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "ocispec/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The configuration `runc spec` writes: a shell in a read-only rootfs with
   the default mounts, namespaces, capabilities, masked and read-only
   paths. New document; free with oci_runtime_spec_free. */
OCI_API int oci_runtime_spec_default(oci_runtime_spec **out, oci_error *err);

/** The configuration `runc spec --rootless` writes for a user and group:
   no network namespace but a user namespace mapping root to uid/gid, no
   cgroup resources, /sys bind-mounted, no gid=5 on /dev/pts. */
OCI_API int oci_runtime_spec_rootless(uint32_t uid, uint32_t gid,
                                      oci_runtime_spec **out, oci_error *err);

/* ---- reading a file of an untrusted root file system ------------------ */

#define OCI_ROOTFS_READ_MAX ((size_t)4 << 20) /**< default size cap: 4 MiB */
#define OCI_ROOTFS_MAX_LINKS 40               /**< symlinks followed, at most */

/** Reads the regular file `path` of the root file system `rootfs` (path is
   taken relative to rootfs: "etc/passwd" or "/etc/passwd") without ever
   leaving rootfs, as image-spec conversion.md needs for /etc/passwd and
   /etc/group. Each component is opened with openat(O_NOFOLLOW); a symbolic
   link is resolved inside rootfs, as securejoin (runc, umoci) does: an
   absolute target starts again at rootfs, ".." stops at rootfs, at most
   OCI_ROOTFS_MAX_LINKS links. Only a regular file is read (a FIFO, device
   or directory is refused without being opened), of at most max bytes
   (0: OCI_ROOTFS_READ_MAX; larger is OCI_ETOOBIG). On success *out is a
   new NUL-terminated buffer the caller frees with free(), *out_len (may be
   NULL) its length; a file that does not exist (a missing component, a
   dangling link) is OCI_OK with *out NULL. Other failures: OCI_EIO naming
   the path and why, OCI_EINVAL (empty path), OCI_ENOMEM. */
OCI_API int oci_rootfs_read_file(const char *rootfs, const char *path,
                                 size_t max, char **out, size_t *out_len,
                                 oci_error *err);

#ifdef __cplusplus
}
#endif
#endif
