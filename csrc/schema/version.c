/* oci_version: the library's own version, from the generated version.h. */
#include "ocispec/version.h"

const char *oci_version(void) {
  return OCI_VERSION_STRING;
}
