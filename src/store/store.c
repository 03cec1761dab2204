/* Placeholder: the store interface lands with the controller. */
#include "util/error.h"
