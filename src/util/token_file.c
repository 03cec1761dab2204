/* Token files: the first whitespace-delimited word, at most 511 bytes,
 * written 0600 and atomically. */
#include "util/token_file.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/error.h"

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

int sc_token_file_write(const char *path, const char *token)
{
  char tmp[4096];
  size_t len = strlen(token);
  int fd, ok;

  if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
    return SC_EIO;
  unlink(tmp);
  if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
    return SC_EIO;
  ok = write(fd, token, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
  ok = close(fd) == 0 && ok;
  if (!ok || rename(tmp, path) < 0) {
    unlink(tmp);
    return SC_EIO;
  }
  return 0;
}
