/*
 * Flags from a file (`--config FILE`): one setting per line, `name = value`
 * for the flag `--name value` (`name = true` for a flag without a value;
 * `false` leaves it out), `#` comments and blank lines ignored. A flag that
 * may repeat (`--devices`) repeats as lines. The settings go before the
 * command line's flags, so a flag given there wins over the file's. Names
 * are checked against the command's getopt table; errors say
 * `FILE:LINE: what`. Not a second flag parser: the result goes through the
 * command's own getopt_long.
 */
#ifndef SC_UTIL_CONFIG_H
#define SC_UTIL_CONFIG_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * If argv has `--config FILE` (or `--config=FILE`), reads FILE and returns
 * in *out_argv a new vector: argv[0], the file's flags, then argv[1..]
 * (the --config flag kept, for getopt to skip); *out_argc its length. The
 * vector lives, like argv, as long as the process (the options parsed from
 * it point into it); this module keeps it, and sc_config_free ends it
 * earlier (tests). Without
 * --config, *out_argv is NULL and nothing is allocated. Returns 0, or
 * SC_EINVAL / SC_EIO / SC_ENOMEM with err filled.
 */
int sc_config_argv(int argc, char **argv, const struct option *known, int *out_argc,
                   char ***out_argv, char *err, size_t errlen);
void sc_config_free(int argc, char **argv);

/* After a failed option at out_argv[index] (getopt's optind - 1): "FILE:LINE"
 * of the setting it came from into buf, or false when it came from the
 * command line (or no file was read). */
bool sc_config_origin(int index, char *buf, size_t size);

#endif
