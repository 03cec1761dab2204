/*
 * The dashboard (docs/operations.md, "Dashboard"): its static files at /ui,
 * embedded at build time (server/ui.h), served without a token: they hold
 * no data, and every call the page makes carries the user's token.
 */
#include <string.h>

#include "server/http.h"
#include "server/ui.h"

/* The page runs only its own files and talks only to this controller. */
static const char *const asset_headers[] = {
  "Cache-Control", "no-cache",
  "X-Content-Type-Options", "nosniff",
  "Content-Security-Policy",
  "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
  "frame-ancestors 'none'",
  "Referrer-Policy", "no-referrer",
  NULL,
};

static const struct {
  const char *ext, *type;
} media_types[] = {
  {".html", "text/html; charset=utf-8"},
  {".js", "text/javascript; charset=utf-8"},
  {".css", "text/css; charset=utf-8"},
  {".svg", "image/svg+xml"},
};

static const char *media_type(const char *name)
{
  size_t len = strlen(name);

  for (size_t i = 0; i < sizeof media_types / sizeof *media_types; i++) {
    size_t n = strlen(media_types[i].ext);
    if (len > n && strcmp(name + len - n, media_types[i].ext) == 0)
      return media_types[i].type;
  }
  return "application/octet-stream";
}

static void serve(struct sc_http_resp *resp, const char *name)
{
  for (const struct sc_ui_asset *a = sc_ui_assets; a->name; a++)
    if (strcmp(a->name, name) == 0) {
      resp->status = 200;
      resp->text = a->data;
      resp->content_type = media_type(a->name);
      resp->headers = asset_headers;
      return;
    }
  sc_http_error(resp, 404, "not_found", "no such file", NULL);
}

/* GET /ui and /ui/: the page. */
void sc_api_ui_index(struct sc_http_req *req, struct sc_http_resp *resp)
{
  (void)req;
  serve(resp, "index.html");
}

/* GET /ui/{file}: one of its files. */
void sc_api_ui_file(struct sc_http_req *req, struct sc_http_resp *resp)
{
  serve(resp, req->params[0]);
}
