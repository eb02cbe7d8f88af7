/* web_assets.h - the web UI's files as built into the binary, and the one
 * table of content types both the build-time generator (scripts/webgen.c,
 * which writes $(BUILD)/gen/web_assets.c from web/) and the server
 * (static.c, also for `hoheit serve --web-dir`) use. */
#ifndef HH_HTTP_WEB_ASSETS_H
#define HH_HTTP_WEB_ASSETS_H

#include <stddef.h>
#include <string.h>

/* One file of web/: path relative to web/ ("index.html",
 * "screens/chat.js"), content type, bytes, strong ETag (a quoted hex
 * BLAKE2b-128 of the bytes). */
typedef struct hh_web_asset {
    const char          *path;
    const char          *type;
    const unsigned char *data;
    size_t               len;
    const char          *etag;
} hh_web_asset_t;

extern const hh_web_asset_t hh_web_assets[];
extern const size_t         hh_web_assets_n;

/* The content type for a file name by its extension; NULL for a kind the
 * web UI does not serve (the generator refuses such a file, the server
 * answers 404 for it). */
static inline const char *hh_web_type(const char *path)
{
    static const struct {
        const char *ext;
        const char *type;
    } types[] = {
        { ".html", "text/html; charset=utf-8" },
        { ".js", "text/javascript; charset=utf-8" },
        { ".css", "text/css; charset=utf-8" },
        { ".json", "application/json; charset=utf-8" },
        { ".svg", "image/svg+xml" },
        { ".png", "image/png" },
        { ".ico", "image/x-icon" },
        { ".woff2", "font/woff2" },
        { ".txt", "text/plain; charset=utf-8" },
    };
    const char *dot = strrchr(path, '.');
    if (!dot || strchr(dot, '/'))
        return NULL;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(dot, types[i].ext))
            return types[i].type;
    return NULL;
}

#endif
