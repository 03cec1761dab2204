/*
 * Replays inputs through a fuzz target without libFuzzer: each argument is
 * a file or a directory of files (a seed corpus, crashes found earlier).
 * Used by CTest (fuzz/<target>) in every build, sanitizers included.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path)
{
  FILE *f = fopen(path, "rb");
  uint8_t *buf;
  long n;

  if (!f) {
    perror(path);
    return -1;
  }
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  rewind(f);
  buf = malloc(n > 0 ? (size_t)n : 1);
  if (!buf || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
    fprintf(stderr, "%s: cannot read\n", path);
    fclose(f);
    free(buf);
    return -1;
  }
  fclose(f);
  LLVMFuzzerTestOneInput(buf, (size_t)n);
  free(buf);
  return 0;
}

int main(int argc, char **argv)
{
  int runs = 0;

  for (int i = 1; i < argc; i++) {
    struct stat st;
    DIR *d;
    struct dirent *e;
    if (stat(argv[i], &st) != 0) {
      perror(argv[i]);
      return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
      if (run_file(argv[i]) < 0)
        return 1;
      runs++;
      continue;
    }
    if (!(d = opendir(argv[i])))
      return 1;
    while ((e = readdir(d))) {
      char path[4096];
      if (e->d_name[0] == '.')
        continue;
      snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
      if (run_file(path) < 0) {
        closedir(d);
        return 1;
      }
      runs++;
    }
    closedir(d);
  }
  printf("replayed %d input(s)\n", runs);
  return runs > 0 ? 0 : 1;
}
