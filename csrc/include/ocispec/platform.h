/* The platform this library was built for, in Go's GOARCH/GOOS spellings
   (the values image-spec's platform fields use). */
#ifndef OCISPEC_PLATFORM_H
#define OCISPEC_PLATFORM_H

#include "ocispec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "amd64", "arm64", "ppc64le", ... (static strings). */
OCI_API const char *oci_host_arch(void);
/* "linux", "freebsd", "darwin", ... (static strings). */
OCI_API const char *oci_host_os(void);
/* The ARM variant ("v7", "v8"...) or NULL when none applies. */
OCI_API const char *oci_host_variant(void);

#ifdef __cplusplus
}
#endif
#endif
