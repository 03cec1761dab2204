/* dlopen with every needed symbol resolved up front, so a missing library
 * or symbol is one clear error at first use, never a crash later. */
#include "util/dynlib.h"

#include <dlfcn.h>
#include <stdio.h>

#include "util/error.h"

int sc_dynlib_open(const char *soname, const struct sc_dynsym *syms, size_t n,
                   char *err, size_t size)
{
  void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  const char *why;

  for (size_t i = 0; i < n; i++)
    *syms[i].slot = NULL;
  if (!lib) {
    why = dlerror();
    snprintf(err, size, "cannot load %s: %s", soname, why ? why : "unknown error");
    return SC_ENOENT;
  }
  for (size_t i = 0; i < n; i++) {
    if (!(*syms[i].slot = dlsym(lib, syms[i].name))) {
      snprintf(err, size, "cannot load %s: no symbol %s", soname, syms[i].name);
      for (size_t j = 0; j < i; j++)
        *syms[j].slot = NULL;
      dlclose(lib);
      return SC_ENOENT;
    }
  }
  return 0;
}
