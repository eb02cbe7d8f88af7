/* cmd_collections.c - `hoheit collections create|list|docs|delete|
 * grant|revoke|add-department|remove-department` and `hoheit departments list|add-user|
 * remove-user|rename|delete`: the knowledge base's access structure,
 * administered from the command line (no access check: whoever runs it
 * owns the data directory). Department names are matched ignoring case;
 * every change appends an "admin" audit record (cli_admin.c). */
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
            "usage: hoheit collections create NAME [--departments A,B] [--create] [--data DIR]\n"
            "       hoheit collections list [--data DIR]\n"
            "       hoheit collections docs NAME [--data DIR]\n"
            "       hoheit collections delete NAME [--yes] [--data DIR]\n"
            "       hoheit collections grant NAME DEPT read|write|manage [--create] [--data DIR]\n"
            "       hoheit collections revoke NAME DEPT [--data DIR]\n"
            "       hoheit collections add-department|remove-department NAME DEPT [--create] [--data DIR]\n"
            "       hoheit departments list [--data DIR]\n"
            "       hoheit departments add-user USER DEPT [--create] [--data DIR]\n"
            "       hoheit departments remove-user USER DEPT [--data DIR]\n"
            "       hoheit departments rename OLD NEW [--data DIR]\n"
            "       hoheit departments delete NAME [--yes] [--data DIR]\n"
            "  A collection is readable by admins and by members of its departments.\n"
            "  Each department holds one right on it: read; write (also upload and\n"
            "  replace); manage (also delete documents). Admins manage everything.\n"
            "  create gives its departments read (adding them to an existing collection);\n"
            "  add-department = grant read, remove-department = revoke.\n"
            "  delete removes the collection's documents, chunks, vectors and stored\n"
            "  files. Department names are compared ignoring case (Personal = personal);\n"
            "  create --departments, add-user, grant and add-department refuse an unknown\n"
            "  department (a typo would make a new one) unless --create.\n"
            "  Deleting a department removes its memberships and collection ownerships;\n"
            "  collections left without a department are readable by admins only.\n"
            "  --yes    delete without asking (needed when stdin is not a terminal)\n"
            "  --data   data directory (default $HOHEIT_DATA or ./hoheit-data)\n");
}

typedef struct args {
    const char *data, *departments;
    const char *pos[4];
    int         n_pos;
    bool        yes, create;
} args_t;

/* 0 ok, 1 help printed, 2 bad usage. */
static int parse(int argc, char **argv, args_t *a)
{
    memset(a, 0, sizeof *a);
    a->data = hh_cli_default_data();
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
            coll_usage(stdout);
            return 1;
        } else if (!strcmp(s, "--data") && i + 1 < argc) {
            a->data = argv[++i];
        } else if (!strcmp(s, "--departments") && i + 1 < argc) {
            a->departments = argv[++i];
        } else if (!strcmp(s, "--yes")) {
            a->yes = true;
        } else if (!strcmp(s, "--create")) {
            a->create = true;
        } else if (s[0] == '-' || a->n_pos == 4) {
            fprintf(stderr, "%s: unexpected argument '%s'\n", argv[0], s);
            coll_usage(stderr);
            return 2;
        } else {
            a->pos[a->n_pos++] = s;
        }
    }
    return 0;
}

/* The departments of `collections create --departments` must exist unless
 * --create: a typo ("Slaes") would otherwise make a new department that
 * nobody is in. Names every unknown one; 0 when all are known (or a->create). */
static int departments_known(hh_store_t *s, const args_t *a, const char *const *depts, size_t nd, hh_err_t *err)
{
    char unknown[1024] = "";
    size_t n_unknown = 0, used = 0;
    for (size_t i = 0; i < nd && !a->create; i++) {
        hh_err_t e;
        hh_err_clear(&e);
        int rc = hh_store_department_get(s, depts[i], NULL, &e);
        if (rc == HH_ENOENT) {
            int w = snprintf(unknown + used, sizeof unknown - used, "%s'%s'", n_unknown ? ", " : "", depts[i]);
            if (w > 0 && (size_t)w < sizeof unknown - used)
                used += (size_t)w;
            n_unknown++;
        } else if (rc) {
            *err = e;
            return rc;
        }
    }
    if (n_unknown)
        return hh_err_set(err, HH_ENOENT, -1,
                          "no department %s (nothing was created; `hoheit departments list` shows them; add "
                          "--create to create %s)",
                          unknown, n_unknown == 1 ? "it" : "them");
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
    int drc = departments_known(s, a, depts, nd, err);
    if (drc) {
        free(copy);
        return drc;
    }
    hh_store_collection_t c;
    int rc = hh_store_collection_ensure(s, a->pos[1], depts, nd, &c, err);
    free(copy);
    if (rc)
        return rc;
    printf("collection %s (id %lld), departments: %s\n", c.name, (long long)c.id,
           c.departments[0] ? c.departments : "(none: admins only)");
    return hh_cli_audit(s, "collections create %s: rights %s", c.name, c.rights[0] ? c.rights : "(none: admins only)")
               ? HH_EIO : 0;
}

static int collections_list(hh_store_t *s, hh_err_t *err)
{
    hh_store_collection_t *c = NULL;
    size_t n = 0;
    int rc = hh_store_collection_list(s, 0, &c, &n, err);
    if (rc)
        return rc;
    printf("%-6s %-24s %-10s %s\n", "id", "name", "documents", "departments:rights");
    for (size_t i = 0; i < n; i++)
        printf("%-6lld %-24s %-10lld %s\n", (long long)c[i].id, c[i].name, (long long)c[i].n_documents,
               c[i].rights);
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

static int collections_delete(hh_store_t *s, const args_t *a, hh_err_t *err)
{
    hh_store_collection_t c;
    int rc = hh_store_collection_get(s, a->pos[1], &c, err);
    if (rc)
        return rc;
    char q[300];
    snprintf(q, sizeof q, "delete collection %s with its %lld documents and their stored files?", c.name,
             (long long)c.n_documents);
    if (!hh_cli_confirm("collections delete", q, a->yes))
        return HH_ECANCELED;
    char **shas = NULL;
    size_t n = 0;
    if ((rc = hh_store_collection_delete(s, c.id, &shas, &n, err)))
        return rc;
    hh_store_strings_free(shas, n);
    /* Stored files no other collection references. */
    size_t removed = 0;
    hh_ingest_gc(s, 0, &removed, NULL);
    printf("deleted collection %s (%lld documents, %zu stored files)\n", c.name, (long long)c.n_documents, removed);
    return hh_cli_audit(s, "collections delete %s: %lld documents", c.name, (long long)c.n_documents) ? HH_EIO : 0;
}

/* grant COLL DEPT RIGHT (add-department COLL DEPT = grant read) and
 * revoke COLL DEPT (= remove-department). */
static int collections_dept(hh_store_t *s, const args_t *a, bool add, hh_right_t right, hh_err_t *err)
{
    const char *coll = a->pos[1], *dept = a->pos[2];
    hh_store_department_t d;
    int rc = hh_store_department_get(s, dept, &d, err);
    bool made = false;
    if (rc == HH_ENOENT && add && a->create) {
        if ((rc = hh_store_department_ensure(s, dept, NULL, err)) || (rc = hh_store_department_get(s, dept, &d, err)))
            return rc;
        made = true;
    } else if (rc == HH_ENOENT) {
        return hh_err_set(err, rc, -1, "no department '%s'%s", dept,
                          add ? " (add --create to create it; `hoheit departments list` shows them)" : "");
    } else if (rc) {
        return rc;
    }
    bool orphan = false;
    hh_right_t before = HH_RIGHT_NONE;
    rc = add ? hh_store_collection_grant(s, coll, d.name, right, &before, err)
             : hh_store_collection_remove_department(s, coll, d.name, &orphan, err);
    if (rc)
        return rc;
    if (add)
        printf("collection %s: department %s: %s (was %s)\n", coll, d.name, hh_right_name(right),
               hh_right_name(before));
    else
        printf("collection %s: department %s revoked\n", coll, d.name);
    if (orphan)
        fprintf(stderr, "warning: collection %s has no department left: only admins can read it now\n", coll);
    if (add)
        return hh_cli_audit(s, "collections grant %s %s %s (was %s)%s", coll, d.name, hh_right_name(right),
                            hh_right_name(before), made ? "; department created" : "") ? HH_EIO : 0;
    return hh_cli_audit(s, "collections revoke %s %s", coll, d.name) ? HH_EIO : 0;
}

int hh_cmd_collections(int argc, char **argv)
{
    args_t a;
    int pr = parse(argc, argv, &a);
    if (pr)
        return pr == 1 ? 0 : 2;
    const char *sub = a.n_pos ? a.pos[0] : NULL;
    bool create = sub && !strcmp(sub, "create"), list = sub && !strcmp(sub, "list"),
         docs = sub && !strcmp(sub, "docs"), del = sub && !strcmp(sub, "delete"),
         add_d = sub && !strcmp(sub, "add-department"), grant = sub && !strcmp(sub, "grant"),
         rem_d = sub && (!strcmp(sub, "remove-department") || !strcmp(sub, "revoke"));
    if (!(create || list || docs || del || add_d || rem_d || grant) || ((create || docs || del) && a.n_pos != 2) ||
        (list && a.n_pos != 1) || ((add_d || rem_d) && a.n_pos != 3) || (grant && a.n_pos != 4)) {
        coll_usage(stderr);
        return 2;
    }
    hh_right_t right = HH_RIGHT_READ;
    if (grant) {
        hh_err_t perr;
        if (hh_right_parse(a.pos[3], &right, &perr)) {
            fprintf(stderr, "collections grant: %s\n", perr.msg);
            return 2;
        }
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
             : del  ? collections_delete(s, &a, &err)
                    : collections_dept(s, &a, add_d || grant, right, &err);
    if (rc && rc != HH_ECANCELED && !(rc == HH_EIO && !err.msg[0]))
        fprintf(stderr, "collections %s: %s\n", sub, err.msg[0] ? err.msg : hh_strerror(rc));
    hh_store_close(s);
    return rc ? 1 : 0;
}

static int departments_list(hh_store_t *s, hh_err_t *err)
{
    hh_store_department_t *d = NULL;
    size_t n = 0;
    int rc = hh_store_department_list(s, &d, &n, err);
    if (rc)
        return rc;
    printf("%-24s %-8s %-30s %s\n", "name", "members", "users", "collections");
    for (size_t i = 0; i < n; i++)
        printf("%-24s %-8lld %-30s %s\n", d[i].name, (long long)d[i].n_members, d[i].members[0] ? d[i].members : "-",
               d[i].collections[0] ? d[i].collections : "-");
    free(d);
    return 0;
}

static int departments_add_user(hh_store_t *s, const args_t *a, hh_err_t *err)
{
    const char *user = a->pos[1], *dept = a->pos[2];
    hh_store_department_t d;
    int rc = hh_store_department_get(s, dept, &d, err);
    if (rc == HH_ENOENT && !a->create)
        return hh_err_set(err, rc, -1,
                          "no department '%s' (add --create to create it; `hoheit departments list` shows them)",
                          dept);
    if (rc && rc != HH_ENOENT)
        return rc;
    bool made = rc == HH_ENOENT;   /* --create: add_department makes it */
    if ((rc = hh_store_user_add_department(s, user, rc == 0 ? d.name : dept, err)) ||
        (rc = hh_store_department_get(s, dept, &d, err)))
        return rc;
    printf("%s is now in %s\n", user, d.name);
    return hh_cli_audit(s, "departments add-user %s %s%s", user, d.name, made ? "; department created" : "") ? HH_EIO
                                                                                                             : 0;
}

static int departments_delete(hh_store_t *s, const args_t *a, hh_err_t *err)
{
    hh_store_department_t d;
    int rc = hh_store_department_get(s, a->pos[1], &d, err);
    if (rc)
        return rc;
    char q[400];
    snprintf(q, sizeof q, "delete department %s (%lld members, %lld collections)?", d.name, (long long)d.n_members,
             (long long)d.n_collections);
    if (!hh_cli_confirm("departments delete", q, a->yes))
        return HH_ECANCELED;
    char **orphans = NULL;
    size_t n = 0;
    if ((rc = hh_store_department_delete(s, d.name, &orphans, &n, err)))
        return rc;
    printf("deleted department %s (%lld memberships, %lld collection ownerships removed)\n", d.name,
           (long long)d.n_members, (long long)d.n_collections);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "warning: collection %s has no department left: only admins can read it now\n", orphans[i]);
    hh_store_strings_free(orphans, n);
    return hh_cli_audit(s, "departments delete %s: %lld memberships, %lld collections", d.name,
                        (long long)d.n_members, (long long)d.n_collections) ? HH_EIO : 0;
}

int hh_cmd_departments(int argc, char **argv)
{
    args_t a;
    int pr = parse(argc, argv, &a);
    if (pr)
        return pr == 1 ? 0 : 2;
    const char *sub = a.n_pos ? a.pos[0] : NULL;
    bool add = sub && !strcmp(sub, "add-user"), rem = sub && !strcmp(sub, "remove-user"),
         list = sub && !strcmp(sub, "list"), ren = sub && !strcmp(sub, "rename"), del = sub && !strcmp(sub, "delete");
    if (!(add || rem || list || ren || del) || ((add || rem || ren) && a.n_pos != 3) || (list && a.n_pos != 1) ||
        (del && a.n_pos != 2)) {
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
    int rc = 0;
    if (list) {
        rc = departments_list(s, &err);
    } else if (add) {
        rc = departments_add_user(s, &a, &err);
    } else if (del) {
        rc = departments_delete(s, &a, &err);
    } else if (rem) {
        hh_store_department_t d;
        if ((rc = hh_store_department_get(s, a.pos[2], &d, &err)) == 0 &&
            (rc = hh_store_user_remove_department(s, a.pos[1], d.name, &err)) == 0) {
            printf("%s left %s\n", a.pos[1], d.name);
            rc = hh_cli_audit(s, "departments remove-user %s %s", a.pos[1], d.name) ? HH_EIO : 0;
        }
    } else if ((rc = hh_store_department_rename(s, a.pos[1], a.pos[2], &err)) == 0) {
        printf("department %s is now %s\n", a.pos[1], a.pos[2]);
        rc = hh_cli_audit(s, "departments rename %s %s", a.pos[1], a.pos[2]) ? HH_EIO : 0;
    }
    if (rc && rc != HH_ECANCELED && !(rc == HH_EIO && !err.msg[0]))
        fprintf(stderr, "departments %s: %s\n", sub, err.msg[0] ? err.msg : hh_strerror(rc));
    hh_store_close(s);
    return rc ? 1 : 0;
}
