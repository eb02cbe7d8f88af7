/* cmd_agents.c - `hoheit agent add|update|list|show|remove`: agent
 * definitions (agent/def.h) in the data directory's store. A running
 * server reads them on every run, so a change applies to the next run.
 * Every change appends an "admin" audit record (cli_admin.c). */
#include "cli/cmd.h"
#include "agent/def.h"
#include "base/err.h"
#include "store/store.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void agent_usage(FILE *f)
{
    fprintf(f,
            "usage: hoheit agent add NAME --model M [OPTIONS] | add --file AGENT.json\n"
            "       hoheit agent update NAME [OPTIONS] | update NAME --file AGENT.json\n"
            "       hoheit agent list [--json] | show NAME | remove NAME [--yes]   [--data DIR]\n"
            "  --model M             model id the agent runs on\n"
            "  --system TEXT         system prompt (--system-file F: read from a file)\n"
            "  --tools A,B           built-in tools: calculator, date, knowledge_search, sql_query,\n"
            "                        http_request, memory_save, memory_recall, extract\n"
            "  --connections A,B     database connections sql_query may use (hoheit serve --agent-db)\n"
            "  --endpoints A,B       HTTP endpoints http_request may use (hoheit serve --agent-http)\n"
            "  --max-steps N         model calls per run (default 8)\n"
            "  --max-tokens N        prompt + completion tokens per run (default 8192)\n"
            "  --max-seconds N       wall time per run (default 120)\n"
            "  --use-case SLUG       use case of the register it runs under (default general)\n"
            "  --departments A,B     who may run it: members of these departments (default: anyone)\n"
            "  --roles R,S           ... with these roles (default: any)\n"
            "  --file F              the whole definition as JSON (the shape of POST /api/agents)\n"
            "  --data DIR            data directory (default $HOHEIT_DATA or ./hoheit-data)\n");
}

/* "a,b" -> ["a","b"] ("" -> []). */
static cJSON *split_list(const char *v)
{
    cJSON *arr = cJSON_CreateArray();
    const char *p = v;
    while (arr && *p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        while (n && *p == ' ') {
            p++;
            n--;
        }
        while (n && p[n - 1] == ' ')
            n--;
        if (n) {
            char *s = strndup(p, n);
            if (s)
                cJSON_AddItemToArray(arr, cJSON_CreateString(s));
            free(s);
        }
        p += e ? (size_t)(e - p) + 1 : strlen(p);
    }
    return arr;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&buf, &n);
    char chunk[4096];
    size_t r;
    while (m && (r = fread(chunk, 1, sizeof chunk, f)) > 0 && n < (1u << 20))
        fwrite(chunk, 1, r, m);
    if (m)
        fclose(m);
    fclose(f);
    return buf;
}

static int print_agent(const hh_store_agent_t *a)
{
    cJSON *j = hh_agent_def_json(a);
    char *t = j ? cJSON_Print(j) : NULL;
    cJSON_Delete(j);
    if (!t)
        return 1;
    printf("%s\n", t);
    free(t);
    return 0;
}

static int do_list(hh_store_t *s, bool json)
{
    hh_store_agent_t *a = NULL;
    size_t n = 0;
    hh_err_t err;
    hh_err_clear(&err);
    if (hh_store_agent_list(s, &a, &n, &err)) {
        fprintf(stderr, "agent list: %s\n", err.msg);
        return 1;
    }
    if (json) {
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; i < n; i++)
            cJSON_AddItemToArray(arr, hh_agent_def_json(&a[i]));
        char *t = cJSON_Print(arr);
        cJSON_Delete(arr);
        if (t)
            printf("%s\n", t);
        free(t);
    } else {
        printf("%-24s  %-24s  %-16s  %5s  %-32s  %s\n", "NAME", "MODEL", "USE CASE", "STEPS", "TOOLS", "DEPARTMENTS");
        for (size_t i = 0; i < n; i++)
            printf("%-24s  %-24s  %-16s  %5lld  %-32s  %s\n", a[i].name, a[i].model, a[i].use_case,
                   (long long)a[i].max_steps, a[i].tools, a[i].departments);
        if (n == 0)
            fprintf(stderr, "no agents (hoheit agent add NAME --model M)\n");
    }
    hh_store_agent_list_free(a, n);
    return 0;
}

int hh_cmd_agent(int argc, char **argv)
{
    const char *data = hh_cli_default_data(), *sub = NULL, *name = NULL, *file = NULL, *system_file = NULL;
    bool yes = false, json = false;
    cJSON *doc = cJSON_CreateObject();
    int status = 2;
    if (!doc)
        return 1;
    static const struct {
        const char *opt, *field;
        int kind;   /* 0 string, 1 list, 2 integer */
    } opts[] = {
        { "--model", "model", 0 },         { "--system", "system_prompt", 0 }, { "--tools", "tools", 1 },
        { "--max-steps", "max_steps", 2 }, { "--max-tokens", "max_tokens", 2 }, { "--max-seconds", "max_seconds", 2 },
        { "--use-case", "use_case", 0 },   { "--departments", "departments", 1 }, { "--roles", "roles", 1 },
        { "--connections", "connections", 1 }, { "--endpoints", "endpoints", 1 },
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool matched = false;
        for (size_t k = 0; k < sizeof opts / sizeof opts[0] && !matched; k++) {
            if (strcmp(a, opts[k].opt) || i + 1 >= argc)
                continue;
            matched = true;
            const char *v = argv[++i];
            if (opts[k].kind == 0) {
                cJSON_AddStringToObject(doc, opts[k].field, v);
            } else if (opts[k].kind == 1) {
                cJSON_AddItemToObject(doc, opts[k].field, split_list(v));
            } else {
                char *end = NULL;
                errno = 0;
                long long n = strtoll(v, &end, 10);
                if (errno || !end || *end || end == v) {
                    fprintf(stderr, "agent: %s needs a whole number (got '%s')\n", a, v);
                    goto done;
                }
                cJSON_AddNumberToObject(doc, opts[k].field, (double)n);
            }
        }
        if (matched)
            continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            agent_usage(stdout);
            status = 0;
            goto done;
        } else if (!strcmp(a, "--data") && i + 1 < argc) {
            data = argv[++i];
        } else if (!strcmp(a, "--file") && i + 1 < argc) {
            file = argv[++i];
        } else if (!strcmp(a, "--system-file") && i + 1 < argc) {
            system_file = argv[++i];
        } else if (!strcmp(a, "--yes")) {
            yes = true;
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else if (a[0] == '-') {
            fprintf(stderr, "agent: unknown or incomplete option '%s'\n", a);
            agent_usage(stderr);
            goto done;
        } else if (!sub) {
            sub = a;
        } else if (!name) {
            name = a;
        } else {
            fprintf(stderr, "agent: unexpected argument '%s'\n", a);
            goto done;
        }
    }
    bool add = sub && !strcmp(sub, "add"), upd = sub && !strcmp(sub, "update"), list = sub && !strcmp(sub, "list"),
         show = sub && !strcmp(sub, "show"), rm = sub && !strcmp(sub, "remove");
    if (!add && !upd && !list && !show && !rm) {
        if (sub)
            fprintf(stderr, "agent: unknown subcommand '%s'\n", sub);
        agent_usage(stderr);
        goto done;
    }
    if ((show || rm || upd) && !name) {
        fprintf(stderr, "agent %s: name the agent\n", sub);
        goto done;
    }
    if (file) {
        if (cJSON_GetArraySize(doc) > 0 || system_file) {
            fprintf(stderr, "agent %s: --file holds the whole definition; give no other field options\n", sub);
            goto done;
        }
        char *t = read_text(file);
        cJSON *fd = t ? cJSON_Parse(t) : NULL;
        free(t);
        if (!cJSON_IsObject(fd)) {
            fprintf(stderr, "agent %s: %s is not readable as a JSON object\n", sub, file);
            cJSON_Delete(fd);
            goto done;
        }
        cJSON_Delete(doc);
        doc = fd;
    }
    if (system_file) {
        char *t = read_text(system_file);
        if (!t) {
            fprintf(stderr, "agent %s: cannot read %s\n", sub, system_file);
            goto done;
        }
        cJSON_AddStringToObject(doc, "system_prompt", t);
        free(t);
    }
    hh_err_t err;
    hh_err_clear(&err);
    hh_store_t *s = NULL;
    if (hh_store_open(&s, data, &err)) {
        fprintf(stderr, "agent: %s\n", err.msg);
        status = 1;
        goto done;
    }
    status = 1;
    hh_store_agent_t base, a;
    memset(&base, 0, sizeof base);
    memset(&a, 0, sizeof a);
    if (list) {
        status = do_list(s, json);
    } else if (show) {
        if (hh_store_agent_get(s, name, &a, &err))
            fprintf(stderr, "agent show: %s\n", err.msg);
        else
            status = print_agent(&a);
    } else if (rm) {
        char q[160];
        snprintf(q, sizeof q, "remove agent '%s' (its runs are kept)?", name);
        if (hh_store_agent_get(s, name, &a, &err))
            fprintf(stderr, "agent remove: %s\n", err.msg);
        else if (!hh_cli_confirm("agent remove", q, yes))
            ;
        else if (hh_store_agent_delete(s, name, &err))
            fprintf(stderr, "agent remove: %s\n", err.msg);
        else {
            printf("removed agent %s\n", name);
            status = hh_cli_audit(s, "agent remove %s", name) ? 1 : 0;
        }
    } else if (upd && hh_store_agent_get(s, name, &base, &err)) {
        fprintf(stderr, "agent update: %s\n", err.msg);
    } else if (hh_agent_def_check(s, NULL, doc, upd ? &base : NULL, name, &a, &err)) {
        fprintf(stderr, "agent %s: %s\n", sub, err.msg);
    } else {
        char actor[160];
        if (add)
            snprintf(a.created_by, sizeof a.created_by, "%s", hh_cli_actor(actor, sizeof actor));
        if (hh_store_agent_put(s, &a, add, &err)) {
            fprintf(stderr, "agent %s: %s\n", sub, err.msg);
        } else {
            printf("%s agent %s (model %s, use case %s, tools %s)\n", add ? "added" : "updated", a.name, a.model,
                   a.use_case, a.tools);
            status = hh_cli_audit(s,
                                  "agent %s %s model=%s use_case=%s tools=%s departments=%s roles=%s connections=%s "
                                  "endpoints=%s",
                                  sub, a.name, a.model, a.use_case, a.tools, a.departments, a.roles, a.connections,
                                  a.endpoints)
                         ? 1
                         : 0;
        }
    }
    hh_store_agent_clear(&base);
    hh_store_agent_clear(&a);
    hh_store_close(s);
done:
    cJSON_Delete(doc);
    return status;
}
