#include "util/image_ref.h"

#include <stdio.h>
#include <string.h>

static bool tag_ok(const char *t)
{
  size_t n = strlen(t);

  if (n == 0 || n > 128)
    return false;
  return strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* PATH (local, absolute) or NAME ([a-z0-9._-] segments): no empty, "." or
 * ".." segment, no ':' or control character. */
static bool path_ok(const char *p, bool local)
{
  const char *seg = p;

  if (local) {
    if (p[0] != '/')
      return false;
    seg = p + 1;
  } else if (p[0] == '\0' || strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789._-/") != strlen(p)) {
    return false;
  }
  for (;;) {
    size_t n = strcspn(seg, "/");
    if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
      return false;
    for (size_t i = 0; i < n; i++)
      if ((unsigned char)seg[i] < 0x21 || seg[i] == 0x7f || seg[i] == ':')
        return false;
    if (seg[n] == '\0')
      return true;
    seg += n + 1;
  }
}

bool sc_image_ref_parse(const char *ref, struct sc_image_ref *out)
{
  const char *body, *colon, *slash;
  size_t n;

  memset(out, 0, sizeof *out);
  if (!ref || strlen(ref) >= SC_IMAGE_REF_MAX)
    return false;
  out->local = strncmp(ref, "oci:", 4) == 0;
  body = out->local ? ref + 4 : ref;
  slash = strrchr(body, '/');
  colon = strrchr(body, ':');
  if (colon && slash && colon < slash)
    colon = NULL; /* a ':' in a directory name is no tag */
  n = colon ? (size_t)(colon - body) : strlen(body);
  if (n == 0 || n >= sizeof out->path)
    return false;
  memcpy(out->path, body, n);
  out->path[n] = '\0';
  snprintf(out->tag, sizeof out->tag, "%s", colon ? colon + 1 : "latest");
  return tag_ok(out->tag) && path_ok(out->path, out->local);
}
