/* libpq for the PostgreSQL backend, opened at the first store open rather
 * than at process start (pg_int.h, util/dynlib.h). */
#define SC_PQ_LIB_IMPL
#include "store/pg_int.h"

#include "util/dynlib.h"
#include "util/error.h"
#include "util/log.h"

struct sc_pq_api sc_pq_api;

static const struct sc_dynsym pq_syms[] = {
#define PQ_SYM(f) {#f, (void **)&sc_pq_api.f},
  SC_PQ_FUNCS(PQ_SYM)
#undef PQ_SYM
};

static pthread_once_t pq_once = PTHREAD_ONCE_INIT;
static int pq_rc;

static void pq_load(void)
{
  char err[300];

  if (sc_dynlib_open(SC_SONAME_PQ, pq_syms, sizeof pq_syms / sizeof *pq_syms, err,
                     sizeof err) != 0) {
    sc_error("store: %s", err);
    pq_rc = SC_ESTORE;
  }
}

int sc_pq_lib_load(void)
{
  pthread_once(&pq_once, pq_load);
  return pq_rc;
}
