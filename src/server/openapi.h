/*
 * docs/openapi.yaml, embedded at build time (src/server/embed.cmake turns it
 * into a C array in the build tree) and served at GET /v1/openapi.yaml.
 */
#ifndef SC_SERVER_OPENAPI_H
#define SC_SERVER_OPENAPI_H

extern const char sc_openapi_yaml[];

#endif
