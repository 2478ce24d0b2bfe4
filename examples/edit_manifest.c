/* A C program using ocispec without Lua: parse a manifest, edit it,
   validate it, write it, and build a descriptor from scratch.

   usage: edit_manifest [manifest.json [out.json]] (defaults: the example
   manifest beside this file, and edited-manifest.json) */
#include <ocispec/ocispec.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef OCISPEC_SOURCE_DIR /* set by the project's build */
#define EXAMPLES_DIR OCISPEC_SOURCE_DIR "/examples"
#else
#define EXAMPLES_DIR "examples"
#endif

static int fail(const char *what, const oci_error *e) {
  fprintf(stderr, "%s: %s%s%s\n", what, e->pointer, e->pointer[0] ? ": " : "",
          e->message);
  return 1;
}

int main(int argc, char **argv) {
  const char *in = argc > 1 ? argv[1] : EXAMPLES_DIR "/data/manifest.json";
  const char *out = argc > 2 ? argv[2] : "edited-manifest.json";
  oci_error err;
  oci_image_manifest *m;

  /* Parse: typed structs, one arena; free with oci_image_manifest_free. */
  if (oci_image_manifest_parse_file(in, NULL, &m, &err)) return fail(in, &err);
  printf("%s: %zu layers, config %s\n", in, m->layers.len, m->config->digest);

  /* Edit: setters copy into the document's arena. */
  const oci_field *f =
      oci_field_by_name(&oci_type_image_manifest, "artifact_type");
  if (oci_set_string(m, f, "application/vnd.example.thing.v1")) return 1;
  m->layers.items[0]->size = 12345; /* scalars: assign (already present) */

  /* A descriptor built from nothing, set as the manifest's subject. */
  oci_image_descriptor *d =
      oci_new_in(&oci_type_image_descriptor, m->hdr.arena);
  if (!d) return 1;
  d->media_type = "application/vnd.oci.image.manifest.v1+json"; /* static */
  d->digest =
      "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270";
  d->size = 7682;
  oci_mark(d, OCI_F_image_descriptor_media_type);
  oci_mark(d, OCI_F_image_descriptor_digest);
  oci_mark(d, OCI_F_image_descriptor_size);
  m->subject = d;
  oci_mark(m, OCI_F_image_manifest_subject);

  /* Validate: every spec rule, with JSON Pointers and rule ids. */
  oci_problems problems;
  int rc = oci_image_manifest_validate(m, &problems);
  for (size_t i = 0; i < problems.len; i++)
    printf("%s %s %s: %s\n", problems.items[i].severity ? "warning" : "error",
           problems.items[i].rule, problems.items[i].pointer,
           problems.items[i].message);
  oci_problems_free(&problems);
  if (rc) {
    oci_image_manifest_free(m);
    return 1;
  }

  /* Write atomically, pretty-printed. */
  oci_write_options w = {OCI_WRITE_OPTIONS_VERSION, true};
  if (oci_write_file(&oci_type_image_manifest, m, &w, out, &err)) {
    oci_image_manifest_free(m);
    return fail(out, &err);
  }
  oci_image_manifest_free(m);

  /* Read it back: the edits are there. */
  if (oci_image_manifest_parse_file(out, NULL, &m, &err))
    return fail(out, &err);
  int ok = m->layers.items[0]->size == 12345 && m->subject &&
           strcmp(m->artifact_type, "application/vnd.example.thing.v1") == 0;
  printf("wrote %s: %s\n", out, ok ? "edits kept" : "EDITS LOST");
  oci_image_manifest_free(m);

  /* A bad document: the error says what, where and why. */
  const char *bad = "{\"schemaVersion\": 2,\n \"config\": {\"mediaType\": 1}}";
  if (oci_image_manifest_parse(bad, strlen(bad), NULL, &m, &err) == OCI_OK)
    return 1;
  printf("bad input: %s at %s (line %zu, column %zu)\n",
         oci_status_name(err.code), err.pointer, err.line, err.column);
  return ok && err.code == OCI_ETYPE &&
                 strcmp(err.pointer, "/config/mediaType") == 0
             ? 0
             : 1;
}
