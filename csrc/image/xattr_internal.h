/* Extended attributes in layers, shared by layer.c (building: stored as
   PAX "SCHILY.xattr.NAME" records, as GNU tar, umoci and containers/storage
   write them) and unpack.c (restoring them).

   Which names travel: the "user.", "trusted." and "security." namespaces
   (trusted.* is only readable and settable by root), except
   "security.selinux" (a label of the host's policy: umoci leaves it out
   too). Not "system.*": system.posix_acl_access and _default are ACLs
   naming host uids and gids (their mask is already in the mode bits), and
   the kernel refuses other system.* names; GNU tar keeps ACLs apart
   (--acls), not as xattrs. Names of any other namespace are not stored,
   and skipped (counted) when a layer carries them. */
#ifndef OCISPEC_XATTR_INTERNAL_H
#define OCISPEC_XATTR_INTERNAL_H

#include <stdbool.h>
#include <string.h>

/* Linux XATTR_NAME_MAX and XATTR_SIZE_MAX: the kernel takes no more, so a
   layer's longer name or larger value is hostile (an error naming it). */
#define OCI_XATTR_NAME_MAX 255
#define OCI_XATTR_VALUE_MAX 65536
/* Names and values of one entry together (a pax header holding more is
   refused as hostile): 64 KiB values, up to 16 of them. */
#define OCI_XATTR_ENTRY_MAX (1u << 20)

/* umoci's xattr for owners an unprivileged unpack could not set
   (rootlesscontaine.rs); stored and restored like any user.* xattr. */
#define OCI_XATTR_ROOTLESS "user.rootlesscontainers"

/* Whether the xattr `name` is one a layer carries (see above). */
static inline bool oci_xattr_kept(const char *name) {
  if (!strncmp(name, "user.", 5)) return name[5] != '\0';
  if (!strncmp(name, "trusted.", 8)) return name[8] != '\0';
  if (!strncmp(name, "security.", 9))
    return name[9] != '\0' && strcmp(name, "security.selinux") != 0;
  return false;
}

#endif
