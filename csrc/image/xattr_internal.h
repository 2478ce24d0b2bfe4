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
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ocispec/layer.h" /* oci_id_map */

/* Linux XATTR_NAME_MAX and XATTR_SIZE_MAX: the kernel takes no more, so a
   layer's longer name or larger value is hostile (an error naming it). */
#define OCI_XATTR_NAME_MAX 255
#define OCI_XATTR_VALUE_MAX 65536
/* Names and values of one entry together (a pax header holding more is
   refused as hostile): 64 KiB values, up to 16 of them. */
#define OCI_XATTR_ENTRY_MAX (1u << 20)

/* umoci's xattr for the owner an unprivileged unpack could not give a
   file (rootlesscontaine.rs). Its value is the protobuf message
   `Resource { uint32 uid = 1; uint32 gid = 2; }`, 4294967295 meaning
   "unchanged" (root, the default), encoded as proto3 does: each field a
   key byte (field << 3 | varint = 0) and a base-128 varint, fields equal
   to 0 left out. */
#define OCI_XATTR_ROOTLESS "user.rootlesscontainers"
#define OCI_ROOTLESS_NOOP UINT32_C(4294967295)

/* Encodes Resource{uid, gid} into out (at least 12 bytes): its length. */
static inline size_t oci_rootless_encode(uint32_t uid, uint32_t gid,
                                         unsigned char *out) {
  size_t n = 0;
  uint32_t v[2] = {uid, gid};
  for (int f = 0; f < 2; f++) {
    if (!v[f]) continue;
    out[n++] = (unsigned char)((f + 1) << 3);
    for (uint32_t x = v[f];; x >>= 7) {
      if (x < 0x80) {
        out[n++] = (unsigned char)x;
        break;
      }
      out[n++] = (unsigned char)(x | 0x80);
    }
  }
  return n;
}

/* Decodes a Resource (unknown fields skipped, as protobuf does): 0, or -1
   when the bytes are no protobuf message. Absent fields are 0. */
static inline int oci_rootless_decode(const unsigned char *b, size_t n,
                                      uint32_t *uid, uint32_t *gid) {
  *uid = *gid = 0;
  size_t i = 0;
  while (i < n) {
    uint64_t key = 0, val = 0;
    for (int s = 0;; s += 7) { /* the key: a varint */
      if (i >= n || s > 63) return -1;
      key |= (uint64_t)(b[i] & 0x7f) << s;
      if (!(b[i++] & 0x80)) break;
    }
    unsigned wt = (unsigned)(key & 7);
    uint64_t field = key >> 3;
    if (field == 0) return -1;
    if (wt == 0) {
      for (int s = 0;; s += 7) {
        if (i >= n || s > 63) return -1;
        val |= (uint64_t)(b[i] & 0x7f) << s;
        if (!(b[i++] & 0x80)) break;
      }
      if (field == 1) *uid = (uint32_t)val; /* proto3 uint32: truncated */
      if (field == 2) *gid = (uint32_t)val;
    } else if (wt == 1 || wt == 5) {
      size_t w = wt == 1 ? 8 : 4;
      if (n - i < w) return -1;
      i += w;
    } else if (wt == 2) {
      for (int s = 0;; s += 7) {
        if (i >= n || s > 63) return -1;
        val |= (uint64_t)(b[i] & 0x7f) << s;
        if (!(b[i++] & 0x80)) break;
      }
      if (val > n - i) return -1;
      i += (size_t)val;
    } else
      return -1;
  }
  return 0;
}

/* Whether the xattr `name` is one a layer carries (see above). */
static inline bool oci_xattr_kept(const char *name) {
  if (!strncmp(name, "user.", 5)) return name[5] != '\0';
  if (!strncmp(name, "trusted.", 8)) return name[8] != '\0';
  if (!strncmp(name, "security.", 9))
    return name[9] != '\0' && strcmp(name, "security.selinux") != 0;
  return false;
}

/* umoci's idtools.ToHost (to_host) and ToContainer: the id through the
   first range holding it; no ranges: the id itself. -1: none holds it. */
static inline int oci_map_id(const oci_id_map *m, size_t n, bool to_host,
                             uint32_t id, uint32_t *out) {
  if (!n) {
    *out = id;
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    uint32_t from = to_host ? m[i].container : m[i].host;
    uint32_t to = to_host ? m[i].host : m[i].container;
    if (id >= from && id - from < m[i].size) {
      *out = to + (id - from);
      return 0;
    }
  }
  return -1;
}

#endif
