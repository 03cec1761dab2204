/*
 * Fuzz targets: each file defines LLVMFuzzerTestOneInput. Built with clang
 * and libFuzzer by `make fuzz` (scripts/fuzz), and with the project's
 * compiler against replay.c, which runs the seed corpus of each target in
 * tests/fuzz/corpus/<target>/ as a regression test in `make test`. A target
 * aborts (FUZZ_CHECK) when a property of the code under test fails, so a
 * wrong answer counts as a crash, not only a memory error.
 */
#ifndef SC_TESTS_FUZZ_H
#define SC_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                     \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond);          \
      abort();                                                                               \
    }                                                                                        \
  } while (0)

/* A NUL-terminated copy of the input (the caller frees it); NULL when out
 * of memory, which a target skips. */
static inline char *fuzz_string(const uint8_t *data, size_t size)
{
  char *s = malloc(size + 1);

  if (s) {
    for (size_t i = 0; i < size; i++)
      s[i] = (char)data[i];
    s[size] = '\0';
  }
  return s;
}

#endif
