/* oci_error helpers. */
#include "ocispec/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *oci_status_name(int code) {
  switch (code) {
  case OCI_OK: return "ok";
  case OCI_ENOMEM: return "nomem";
  case OCI_ESYNTAX: return "syntax";
  case OCI_ETYPE: return "type";
  case OCI_ERANGE: return "range";
  case OCI_EDUPKEY: return "duplicate_key";
  case OCI_EMISSING: return "missing";
  case OCI_EDEPTH: return "depth";
  case OCI_ETOOBIG: return "too_big";
  case OCI_EUTF8: return "utf8";
  case OCI_EINVAL: return "invalid";
  case OCI_EIO: return "io";
  case OCI_EVALIDATE: return "validate";
  case OCI_EUNSUPPORTED: return "unsupported";
  case OCI_EMISMATCH: return "mismatch";
  case OCI_EREGISTRY: return "registry";
  case OCI_ENETWORK: return "network";
  case OCI_ECANCELED: return "canceled";
  default: return "unknown";
  }
}

void oci_error_clear(oci_error *err) {
  if (err) memset(err, 0, sizeof *err);
}

int oci_error_set(oci_error *err, int code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
  }
  return code;
}

void oci_error_set_pointer(oci_error *err, const char *ptr) {
  if (!err) return;
  size_t n = strlen(ptr);
  if (n >= sizeof err->pointer) n = sizeof err->pointer - 1;
  memcpy(err->pointer, ptr, n);
  err->pointer[n] = '\0';
}
