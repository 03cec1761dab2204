/* Messages and names for the SC_E* codes of error.h. */
#include "util/error.h"

const char *sc_strerror(int code)
{
  switch (code) {
  case SC_OK: return "success";
#define SC_ERR_MSG(name, msg) case SC_E##name: return msg;
    SC_ERRNO_MAP(SC_ERR_MSG)
#undef SC_ERR_MSG
  default: return "unknown error";
  }
}

const char *sc_errname(int code)
{
  switch (code) {
  case SC_OK: return "OK";
#define SC_ERR_NAME(name, msg) case SC_E##name: return #name;
    SC_ERRNO_MAP(SC_ERR_NAME)
#undef SC_ERR_NAME
  default: return "UNKNOWN";
  }
}
