/** @file
   image-spec conversion.md: an image configuration to a runtime
   configuration (what `umoci unpack` and `oci.unpack.image` write as a
   bundle's config.json). */
#ifndef OCISPEC_CONVERSION_H
#define OCISPEC_CONVERSION_H

#include <stdbool.h>

#include "ocispec/error.h"
#include "ocispec/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Options of oci_runtime_spec_from_image_config; everything stays the
   caller's (read during the call only). */
typedef struct oci_conversion_options {
  unsigned version; /**< OCI_CONVERSION_OPTIONS_VERSION */
  /** The runtime configuration to start from (copied). NULL: what
     oci_runtime_spec_default gives (`runc spec`). */
  const oci_runtime_spec *base;
  /** The image's extracted root file system. User and group names of
     Config.User are looked up in its /etc/passwd and /etc/group, read with
     oci_rootfs_read_file (never leaving rootfs, regular files of at most
     OCI_ROOTFS_READ_MAX bytes). NULL: a name is an error. */
  const char *rootfs;
  /** A tmpfs mount (nosuid, nodev, mode=755) for each Config.Volumes path,
     after the base's mounts. */
  bool volumes;
} oci_conversion_options;

/** The version of oci_conversion_options this header declares. */
#define OCI_CONVERSION_OPTIONS_VERSION 1
/** Initializer of oci_conversion_options: the defaults. */
#define OCI_CONVERSION_OPTIONS_INIT                                            \
  { OCI_CONVERSION_OPTIONS_VERSION, NULL, NULL, false }
/** Sets *o to OCI_CONVERSION_OPTIONS_INIT. */
OCI_API void oci_conversion_options_init(oci_conversion_options *o);

/** Converts cfg as image-spec conversion.md says, into a new document *out
   (free with oci_runtime_spec_free; NULL on error). opts may be NULL.
   - process (made when the base has none): cwd = Config.WorkingDir ("/"
     when empty or absent); args = Entrypoint followed by Cmd when they
     give at least one (else the base's); env = the base's entries whose
     name the image does not set, then Config.Env; terminal false.
   - process.user from Config.User (user, uid, user:group, uid:gid,
     uid:group, user:gid; empty is uid 0): numeric ids verbatim; a name from
     the rootfs's /etc/passwd or /etc/group; without a group, the gid is the
     passwd entry's (0 without one) and, for a user given by name, the
     additionalGids are the other groups listing it in /etc/group (sorted,
     without duplicates). A numeric user without a group has its passwd
     entry read too (so a refused /etc/passwd is an error there as well).
   - annotations: the base's, then org.opencontainers.image.{os,
     architecture, variant, os.version, os.features, author, created,
     stopSignal, exposedPorts} from the configuration, then Config.Labels,
     which win; written sorted by key.
   Errors, with the pointer /config/User: OCI_EINVAL for a user or group
   not found, an entry without a numeric id, an id over 4294967295, a name
   without opts->rootfs or with a rootfs lacking the file; the status of
   oci_rootfs_read_file for a refused file (OCI_EIO, OCI_ETOOBIG); and
   OCI_EINVAL for an unknown options version, OCI_ENOMEM. */
OCI_API int
oci_runtime_spec_from_image_config(const oci_image_configuration *cfg,
                                   const oci_conversion_options *opts,
                                   oci_runtime_spec **out, oci_error *err);

#ifdef __cplusplus
}
#endif
#endif
