/*
 * Image references as jobs name them (shared by the controller, which
 * validates them, and the agent, which resolves them):
 *   oci:PATH[:TAG]   a local OCI image layout at the absolute PATH;
 *   NAME[:TAG]       a layout the operator keeps in the agent's image dir.
 * NAME is [a-z0-9._-] segments joined by '/', no "." or ".." segment; TAG
 * is 1..128 of [A-Za-z0-9._-], "latest" when absent.
 */
#ifndef SC_UTIL_IMAGE_REF_H
#define SC_UTIL_IMAGE_REF_H

#include <stdbool.h>
#include <stddef.h>

#define SC_IMAGE_REF_MAX 1024

struct sc_image_ref {
  bool local;                /* oci:PATH */
  char path[SC_IMAGE_REF_MAX]; /* the PATH, or the NAME */
  char tag[129];
};

/* Splits ref into out; false when it is not a valid reference. */
bool sc_image_ref_parse(const char *ref, struct sc_image_ref *out);

#endif
