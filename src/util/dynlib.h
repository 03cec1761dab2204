/*
 * Shared libraries loaded when a command first needs them (dlopen), so a
 * process maps only what it uses: `supercell submit` starts without
 * libcurl, libmicrohttpd, OpenSSL or SQLite and their ~30 dependencies,
 * which the controller and the agent open at start. See docs/fast-cli.md.
 */
#ifndef SC_UTIL_DYNLIB_H
#define SC_UTIL_DYNLIB_H

#include <stddef.h>

/* One symbol to resolve: its name and where its address goes (a function
 * pointer of the right type, as dlsym(3) shows: *(void **)&fn). */
struct sc_dynsym {
  const char *name;
  void **slot;
};

/* Opens soname (RTLD_NOW | RTLD_LOCAL) and fills every slot of syms. The
 * library stays loaded for the life of the process. Not thread-safe by
 * itself: callers run it once (pthread_once). Returns 0, or SC_ENOENT with
 * "cannot load SONAME: WHY" in err (the slots then are NULL). */
int sc_dynlib_open(const char *soname, const struct sc_dynsym *syms, size_t n,
                   char *err, size_t size);

#endif
