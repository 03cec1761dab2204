/*
 * The ranges of a job spec's fields, shared by the controller (which
 * enforces them, server/spec.c) and the CLI (which checks its flags the
 * same way before sending), so both always agree.
 */
#ifndef SC_UTIL_SPEC_LIMITS_H
#define SC_UTIL_SPEC_LIMITS_H

#include <stdint.h>

#define SC_SPEC_MAX_TASKS 4096                    /* tasks: 1..this */
#define SC_SPEC_MAX_GPUS 16                       /* resources.gpus: 0..this */
#define SC_SPEC_MIN_GPU_MILLI 1                   /* resources.gpu_milli: a share */
#define SC_SPEC_MAX_GPU_MILLI 999
#define SC_SPEC_MAX_CPU_MILLI 100000000LL         /* resources.cpu_milli: 1..this */
#define SC_SPEC_MAX_MEMORY_MIB ((int64_t)1 << 40) /* resources.memory, per task */
#define SC_SPEC_MIN_PRIORITY (-1000)
#define SC_SPEC_MAX_PRIORITY 1000
#define SC_SPEC_MAX_RETRIES 100
#define SC_SPEC_MAX_RUNTIME_S (100LL * 365 * 86400)
#define SC_SPEC_MAX_ARRAY 10000                   /* array: elements per array */
#define SC_SPEC_MAX_ARRAY_INDEX 9999999           /* array: largest index */
#define SC_SPEC_MAX_DEPS 32                       /* after: dependencies */
#define SC_SPEC_MAX_REGIONS 16                    /* regions: names */
#define SC_SPEC_MAX_GRACE_S 86400                 /* checkpoint_grace: 0..this (the
                                                     controller's own cap is lower) */
#define SC_SPEC_DEFAULT_GRACE_S 30                /* checkpoint_grace when absent */

#endif
