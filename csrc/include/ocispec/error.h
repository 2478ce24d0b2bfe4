/** @file
   ocispec error reporting: a caller-owned struct, no allocation needed. */
#ifndef OCISPEC_ERROR_H
#define OCISPEC_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @cond internal: symbol visibility and printf checking */
#if defined(__GNUC__)
#define OCI_API __attribute__((visibility("default")))
#define OCI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define OCI_API
#define OCI_PRINTF(a, b)
#endif
/** @endcond */

/** Status codes: 0 is success, every failure is negative. */
typedef enum oci_status {
  OCI_OK = 0,
  OCI_ENOMEM = -1,     /**< allocation failed */
  OCI_ESYNTAX = -2,    /**< not JSON (RFC 8259) */
  OCI_ETYPE = -3,      /**< JSON value of the wrong type for a field */
  OCI_ERANGE = -4,     /**< number outside its field's range */
  OCI_EDUPKEY = -5,    /**< duplicate key in one JSON object */
  OCI_EMISSING = -6,   /**< required field absent */
  OCI_EDEPTH = -7,     /**< nesting deeper than the configured limit */
  OCI_ETOOBIG = -8,    /**< document or string longer than the limit */
  OCI_EUTF8 = -9,      /**< invalid UTF-8 or lone surrogate */
  OCI_EINVAL = -10,    /**< value breaks a grammar (digest, reference, ...) */
  OCI_EIO = -11,       /**< file system error */
  OCI_EVALIDATE = -12, /**< document breaks a spec rule (see oci_problems) */
  OCI_EUNSUPPORTED = -13, /**< valid but not supported here */
  OCI_EMISMATCH = -14,    /**< content does not match its digest or size */
  OCI_EREGISTRY = -15,    /**< a registry answered with an error status */
  OCI_ENETWORK = -16,     /**< connection, TLS or timeout failure */
  OCI_ECANCELED = -17     /**< stopped by the caller's callback */
} oci_status;

/** Size of oci_error's message buffer (a longer message is shortened). */
#define OCI_ERROR_MESSAGE_MAX 256
/** Size of oci_error's JSON Pointer buffer. */
#define OCI_ERROR_POINTER_MAX 256

/** What failed, where and why. Fill with oci_error_set(); read the fields. */
typedef struct oci_error {
  int code;                            /**< an oci_status */
  char message[OCI_ERROR_MESSAGE_MAX]; /**< human-readable, one line */
  char pointer[OCI_ERROR_POINTER_MAX]; /**< RFC 6901 JSON Pointer, "" = root */
  size_t line;                         /**< 1-based; 0 when not from parsing */
  size_t column;                       /**< 1-based byte column; 0 when n/a */
  size_t offset;                       /**< byte offset into the input */
} oci_error;

/** Short constant name of a status ("syntax", "type", ...). */
OCI_API const char *oci_status_name(int code);

/** Reset err (may be NULL). */
OCI_API void oci_error_clear(oci_error *err);

/** Set code and a printf-style message; keeps pointer/line/column. Returns
   code so callers can `return oci_error_set(err, OCI_EINVAL, "...")`.
   err may be NULL. */
OCI_API int oci_error_set(oci_error *err, int code, const char *fmt, ...)
    OCI_PRINTF(3, 4);

/** Set the JSON Pointer of err from a printf-style string. */
OCI_API void oci_error_set_pointer(oci_error *err, const char *ptr);

#ifdef __cplusplus
}
#endif
#endif
