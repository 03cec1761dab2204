/* sd_notify through dlopen: see notify.h. */
#include "util/notify.h"

#include <pthread.h>
#include <stdlib.h>

#include "util/dynlib.h"
#include "util/error.h"
#include "util/log.h"

static int (*notify_fn)(int unset_environment, const char *state);
static pthread_once_t notify_once = PTHREAD_ONCE_INIT;
static int notify_rc;

static void notify_load(void)
{
  static const struct sc_dynsym syms[] = {{"sd_notify", (void **)&notify_fn}};
  char err[300];

  if ((notify_rc = sc_dynlib_open(SC_SONAME_SYSTEMD, syms, 1, err, sizeof err)))
    sc_warn("the service manager asked for readiness, but %s", err);
}

int sc_notify(const char *state)
{
  const char *sock = getenv("NOTIFY_SOCKET");

  if (!sock || !*sock)
    return 0;
  pthread_once(&notify_once, notify_load);
  if (notify_rc != 0)
    return SC_ENOENT;
  return notify_fn(0, state) > 0 ? 1 : 0;
}
