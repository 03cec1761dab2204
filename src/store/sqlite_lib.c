/* The SQLite library of the store's backend, opened at the first store
 * open rather than at process start (sqlite_int.h, util/dynlib.h). */
#define SC_SQLITE_LIB_IMPL
#include "store/sqlite_int.h"

#include "util/dynlib.h"
#include "util/error.h"
#include "util/log.h"

struct sc_sqlite_api sc_sqlite_api;

static const struct sc_dynsym sqlite_syms[] = {
#define SQLITE_SYM(f) {#f, (void **)&sc_sqlite_api.f},
  SC_SQLITE_FUNCS(SQLITE_SYM)
#undef SQLITE_SYM
};

static pthread_once_t sqlite_once = PTHREAD_ONCE_INIT;
static int sqlite_rc;

static void sqlite_load(void)
{
  char err[300];

  if (sc_dynlib_open(SC_SONAME_SQLITE, sqlite_syms, sizeof sqlite_syms / sizeof *sqlite_syms,
                     err, sizeof err) != 0) {
    sc_error("store: %s", err);
    sqlite_rc = SC_ESTORE;
  }
}

int sc_sqlite_lib_load(void)
{
  pthread_once(&sqlite_once, sqlite_load);
  return sqlite_rc;
}
