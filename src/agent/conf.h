/* conf.h - what the admin lets agents reach (issue 16): the database
 * connections of the sql_query tool and the HTTP endpoints of the
 * http_request tool, from `hoheit serve --agent-db` / `--agent-http` (or
 * the config file's agent-db / agent-http keys). An agent reaches only the
 * ones its definition names (def.h "connections", "endpoints"), and only
 * those configured here.
 *
 *   --agent-db NAME=sqlite:/path/file.db
 *       a SQLite file, opened read-only at each call (agent/sqltool.h).
 *       NAME=postgresql://... is refused: hoheit is built without libpq;
 *       PostgreSQL comes with issue 17.
 *   --agent-http NAME=http://host[:port]/prefix/[,methods=GET|POST][,max_body=N][,timeout=S]
 *       requests go to the prefix plus a normalized path only
 *       (agent/httptool.h); methods default GET; max_body: request body
 *       bytes (default 4096, at most 65536); timeout: total seconds
 *       (default and at most 10). https:// is refused: no TLS client yet.
 * A value may hold several specs separated by ';' (the config file takes
 * a key once). NAME: 1..63 of [a-z0-9_-], starting with a letter or digit. */
#ifndef HH_AGENT_CONF_H
#define HH_AGENT_CONF_H

#include "base/err.h"

#include <stdbool.h>
#include <stddef.h>

#define HH_AGENT_CONF_MAX 32          /* connections, and endpoints, at most */
#define HH_AGENT_CONF_NAME_MAX 64
#define HH_AGENT_HTTP_BODY_DEFAULT 4096
#define HH_AGENT_HTTP_BODY_MAX 65536
#define HH_AGENT_HTTP_TIMEOUT_S 10
#define HH_AGENT_HTTP_GET  1u
#define HH_AGENT_HTTP_POST 2u

typedef struct hh_agent_db {
    char name[HH_AGENT_CONF_NAME_MAX];
    char path[1024];                   /* the SQLite file */
} hh_agent_db_t;

typedef struct hh_agent_endpoint {
    char     name[HH_AGENT_CONF_NAME_MAX];
    char     prefix[1024];             /* as configured, ending in '/' */
    char     host[256];                /* the Host header and what is connected to */
    int      port;
    char     base[768];                /* the prefix's path, starting and ending with '/' */
    unsigned methods;                  /* HH_AGENT_HTTP_GET | HH_AGENT_HTTP_POST */
    size_t   max_body;
    int      timeout_s;
} hh_agent_endpoint_t;

typedef struct hh_agent_conf {
    hh_agent_db_t       db[HH_AGENT_CONF_MAX];
    size_t              n_db;
    hh_agent_endpoint_t ep[HH_AGENT_CONF_MAX];
    size_t              n_ep;
} hh_agent_conf_t;

/* Adds the connection(s) of spec ("NAME=sqlite:/path[;...]"). HH_EINVAL
 * with the reason (a bad name, a name given twice, another scheme,
 * PostgreSQL, too many); HH_EUNSUPPORTED for postgresql://. */
int hh_agent_conf_add_db(hh_agent_conf_t *c, const char *spec, hh_err_t *err);
/* Adds the endpoint(s) of spec (conf.h's form). HH_EINVAL with the
 * reason; HH_EUNSUPPORTED for https://. */
int hh_agent_conf_add_http(hh_agent_conf_t *c, const char *spec, hh_err_t *err);

/* The configured connection / endpoint named name; NULL when none (or c NULL). */
const hh_agent_db_t       *hh_agent_conf_db(const hh_agent_conf_t *c, const char *name);
const hh_agent_endpoint_t *hh_agent_conf_endpoint(const hh_agent_conf_t *c, const char *name);

/* Whether name is 1..63 of [a-z0-9_-] starting with a letter or digit. */
bool hh_agent_conf_name_ok(const char *name);

#endif
