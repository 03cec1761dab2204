/* Token files: the first whitespace-delimited word, at most 511 bytes. */
#include "util/token_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *sc_token_file_read(const char *path)
{
  FILE *f = fopen(path, "re");
  char buf[512];
  size_t n;

  if (!f)
    return NULL;
  n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  buf[strcspn(buf, " \t\r\n")] = '\0';
  return buf[0] ? strdup(buf) : NULL;
}
