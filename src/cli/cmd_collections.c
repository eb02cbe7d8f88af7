/* cmd_collections.c - `hoheit collections create|list|delete|docs` and
 * `hoheit departments add-user|remove-user`: the knowledge base's access
 * structure, administered from the command line (no access check: whoever
 * runs it owns the data directory). */
#include "cli/cmd.h"
#include "base/err.h"
#include "kb/ingest.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void coll_usage(FILE *f)
{
    fprintf(f,
            "usage: hoheit collections create NAME [--departments A,B] [--data DIR]\n"
            "       hoheit collections list [--data DIR]\n"
            "       hoheit collections docs NAME [--data DIR]\n"
            "       hoheit collections delete NAME [--data DIR]\n"
            "       hoheit departments add-user USER DEPT [--data DIR]\n"
            "       hoheit departments remove-user USER DEPT [--data DIR]\n"
            "  A collection is readable by admins and by members of its departments;\n"
            "  create adds departments to an existing collection. delete removes the\n"
            "  collection's documents, chunks, vectors and stored files.\n"
            "  --data   data directory (default $HOHEIT_DATA or ./hoheit-data)\n");
}

typedef struct args {
    const char *data, *departments;
    const char *pos[3];
    int         n_pos;
} args_t;

/* 0 ok, 1 help printed, 2 bad usage. */
static int parse(int argc, char **argv, args_t *a)
{
    memset(a, 0, sizeof *a);
    a->data = getenv("HOHEIT_DATA");
    if (!a->data || !a->data[0])
        a->data = "./hoheit-data";
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
            coll_usage(stdout);
            return 1;
        } else if (!strcmp(s, "--data") && i + 1 < argc) {
            a->data = argv[++i];
        } else if (!strcmp(s, "--departments") && i + 1 < argc) {
            a->departments = argv[++i];
        } else if (s[0] == '-' || a->n_pos == 3) {
            fprintf(stderr, "%s: unexpected argument '%s'\n", argv[0], s);
            coll_usage(stderr);
            return 2;
        } else {
            a->pos[a->n_pos++] = s;
        }
    }
    return 0;
}

static int collections_create(hh_store_t *s, const args_t *a, hh_err_t *err)
{
    const char *depts[64];
    size_t nd = 0;
    char *copy = a->departments ? strdup(a->departments) : NULL;
    if (a->departments && !copy)
        return HH_ENOMEM;
    for (char *save = NULL, *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save)) {
        if (nd == 64) {
            free(copy);
            return hh_err_set(err, HH_EINVAL, -1, "at most 64 departments");
        }
        depts[nd++] = t;
    }
    hh_store_collection_t c;
    int rc = hh_store_collection_ensure(s, a->pos[1], depts, nd, &c, err);
    free(copy);
    if (rc == 0)
        printf("collection %s (id %lld), departments: %s\n", c.name, (long long)c.id,
               c.departments[0] ? c.departments : "(none: admins only)");
    return rc;
}

static int collections_list(hh_store_t *s, hh_err_t *err)
{
    hh_store_collection_t *c = NULL;
    size_t n = 0;
    int rc = hh_store_collection_list(s, 0, &c, &n, err);
    if (rc)
        return rc;
    printf("%-6s %-24s %-10s %s\n", "id", "name", "documents", "departments");
    for (size_t i = 0; i < n; i++)
        printf("%-6lld %-24s %-10lld %s\n", (long long)c[i].id, c[i].name, (long long)c[i].n_documents,
               c[i].departments);
    free(c);
    return 0;
}

static int collections_docs(hh_store_t *s, const char *name, hh_err_t *err)
{
    hh_store_collection_t c;
    int rc = hh_store_collection_get(s, name, &c, err);
    if (rc)
        return rc;
    hh_store_doc_t *d = NULL;
    size_t n = 0;
    if ((rc = hh_store_doc_list(s, 0, c.id, &d, &n, err)))
        return rc;
    printf("%-8s %-7s %-10s %-28s %s\n", "id", "chunks", "bytes", "mime", "source");
    for (size_t i = 0; i < n; i++)
        printf("%-8lld %-7lld %-10lld %-28s %s\n", (long long)d[i].id, (long long)d[i].n_chunks,
               (long long)d[i].size, d[i].mime, d[i].source_path);
    free(d);
    return 0;
}

static int collections_delete(hh_store_t *s, const char *name, hh_err_t *err)
{
    hh_store_collection_t c;
    int rc = hh_store_collection_get(s, name, &c, err);
    if (rc)
        return rc;
    char **shas = NULL;
    size_t n = 0;
    if ((rc = hh_store_collection_delete(s, c.id, &shas, &n, err)))
        return rc;
    hh_store_strings_free(shas, n);
    /* Stored files no other collection references. */
    size_t removed = 0;
    hh_ingest_gc(s, 0, &removed, NULL);
    printf("deleted collection %s (%lld documents, %zu stored files)\n", c.name, (long long)c.n_documents, removed);
    return 0;
}

int hh_cmd_collections(int argc, char **argv)
{
    args_t a;
    int pr = parse(argc, argv, &a);
    if (pr)
        return pr == 1 ? 0 : 2;
    const char *sub = a.n_pos ? a.pos[0] : NULL;
    bool create = sub && !strcmp(sub, "create"), list = sub && !strcmp(sub, "list"),
         docs = sub && !strcmp(sub, "docs"), del = sub && !strcmp(sub, "delete");
    if (!(create || list || docs || del) || ((create || docs || del) && a.n_pos != 2) || (list && a.n_pos != 1)) {
        coll_usage(stderr);
        return 2;
    }
    hh_err_t err;
    hh_err_clear(&err);
    hh_store_t *s = NULL;
    if (hh_store_open(&s, a.data, &err)) {
        fprintf(stderr, "collections: %s\n", err.msg);
        return 1;
    }
    int rc = create ? collections_create(s, &a, &err)
             : list ? collections_list(s, &err)
             : docs ? collections_docs(s, a.pos[1], &err)
                    : collections_delete(s, a.pos[1], &err);
    if (rc)
        fprintf(stderr, "collections %s: %s\n", sub, err.msg[0] ? err.msg : hh_strerror(rc));
    hh_store_close(s);
    return rc ? 1 : 0;
}

int hh_cmd_departments(int argc, char **argv)
{
    args_t a;
    int pr = parse(argc, argv, &a);
    if (pr)
        return pr == 1 ? 0 : 2;
    const char *sub = a.n_pos ? a.pos[0] : NULL;
    bool add = sub && !strcmp(sub, "add-user"), rem = sub && !strcmp(sub, "remove-user");
    if (!(add || rem) || a.n_pos != 3) {
        coll_usage(stderr);
        return 2;
    }
    hh_err_t err;
    hh_err_clear(&err);
    hh_store_t *s = NULL;
    if (hh_store_open(&s, a.data, &err)) {
        fprintf(stderr, "departments: %s\n", err.msg);
        return 1;
    }
    int rc = add ? hh_store_user_add_department(s, a.pos[1], a.pos[2], &err)
                 : hh_store_user_remove_department(s, a.pos[1], a.pos[2], &err);
    if (rc)
        fprintf(stderr, "departments %s: %s\n", sub, err.msg);
    else
        printf("%s %s %s\n", a.pos[1], add ? "is now in" : "left", a.pos[2]);
    hh_store_close(s);
    return rc ? 1 : 0;
}
