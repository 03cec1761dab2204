/*
 * Helpers of the controller tests (test_server_ctl.c, test_server_faults.c):
 * registering a node with identical devices and submitting a spec through
 * the controller's calls, asserting with cmocka.
 */
#ifndef SC_TEST_CTL_HELPERS_H
#define SC_TEST_CTL_HELPERS_H

#include <stdint.h>

#include "server/ctl.h"
#include "store/store.h"

/* A fresh SQLite store in a new directory /tmp/sc-test-TAG-XXXXXX (its
 * path into dir, 128 bytes). 0, or -1 when it cannot be made. */
int th_store_open(const char *tag, char *dir, struct sc_store **store);
/* Stops and frees ctl (NULL: none), closes the store and removes dir: a
 * cmocka teardown's result, 0 or -1. */
int th_ctl_teardown(const char *dir, struct sc_store *store, struct sc_ctl *ctl);

/* Registers node name with ndev devices of vendor and model, 64 CPUs and
 * 512 GiB. */
void th_add_node(struct sc_ctl *c, const char *name, const char *vendor, const char *model,
                 int ndev);
/* The same with labels (a JSON object's text, e.g. {"region": "eu"}; NULL none). */
void th_add_node_labeled(struct sc_ctl *c, const char *name, const char *vendor,
                         const char *model, int ndev, const char *labels);

/* Submits the spec json_text (must parse); returns the job id, or the
 * negative error of sc_ctl_submit. */
int64_t th_try_submit(struct sc_ctl *c, const char *json_text);

#endif
