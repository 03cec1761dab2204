/*
 * Functions the pure scheduling core must not call: I/O, clocks, global
 * randomness, environment and unsafe string routines. Included last by every
 * C file of src/core so a slip is a compile error (as git's banned.h).
 */
#ifndef SC_CORE_BANNED_H
#define SC_CORE_BANNED_H

#pragma GCC poison sprintf vsprintf strcpy strcat strtok time rand srand \
  random getenv fopen printf fprintf puts

#endif
