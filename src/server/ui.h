/*
 * The dashboard's files (src/server/ui/), embedded at build time: the
 * build runs src/server/embed.cmake on each (as for docs/openapi.yaml) and
 * writes this table of them (CMakeLists.txt). Served at /ui by api_ui.c.
 */
#ifndef SC_SERVER_UI_H
#define SC_SERVER_UI_H

struct sc_ui_asset {
  const char *name;        /* "app.js": the file's name in src/server/ui */
  const char *data;        /* its text, NUL-terminated */
};

/* Every file, ending with {NULL, NULL}. */
extern const struct sc_ui_asset sc_ui_assets[];

#endif
