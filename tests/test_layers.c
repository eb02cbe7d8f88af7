/* test_layers.c - the layer rule of docs/ARCHITECTURE (issue 17, "the store
 * owns every statement"): no file under src/ outside src/store includes
 * the store's private header or SQLite, or calls sqlite3_ itself. The
 * files that still do are listed in g_waiting; they are the next steps of
 * the move, and the list only shrinks: a new file that runs its own SQL
 * fails here. Reads the sources from the repository root (where the tests
 * run, like routes_docs_match_table). */
#include "harness.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Files (or, ending in '*', path prefixes) whose SQL has not moved into
 * src/store yet. src/kb/retrieve* covers retrieve.c and the files it is
 * being split into. */
static const char *const g_waiting[] = {
    "src/kb/retrieve*",
};

/* Files that open the company's OWN external databases for an agent's
 * read-only sql_query tool (docs/AGENTS.md): not hoheit's store, so not
 * the store's SQL; they never receive the store's handle. */
static const char *const g_external[] = {
    "src/agent/sqltool.c",
};

static bool waiting(const char *path)
{
    for (size_t i = 0; i < sizeof g_external / sizeof g_external[0]; i++)
        if (!strcmp(path, g_external[i]))
            return true;
    for (size_t i = 0; i < sizeof g_waiting / sizeof g_waiting[0]; i++) {
        const char *w = g_waiting[i];
        size_t n = strlen(w);
        if (w[n - 1] == '*' ? !strncmp(path, w, n - 1) : !strcmp(path, w))
            return true;
    }
    return false;
}

/* What in text breaks the rule, or NULL. */
static const char *violation(const char *text)
{
    if (strstr(text, "store_int.h"))
        return "includes store/store_int.h";
    if (strstr(text, "<sqlite3.h>"))
        return "includes <sqlite3.h>";
    if (strstr(text, "sqlite3_"))
        return "calls sqlite3_ functions";
    return NULL;
}

/* Walks dir (recursively), checking every .c and .h outside src/store;
 * counts the files checked and the violations (printed). */
static void walk(const char *dir, int *files, int *bad)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path)
            continue;
        struct stat sb;
        if (stat(path, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            if (strcmp(path, "src/store") != 0)
                walk(path, files, bad);
            continue;
        }
        size_t n = strlen(path);
        if (n < 3 || (strcmp(path + n - 2, ".c") && strcmp(path + n - 2, ".h")))
            continue;
        size_t size = 0;
        char *text = hh_test_read_file(path, &size);
        if (!text)
            continue;
        (*files)++;
        const char *why = violation(text);
        if (why && !waiting(path)) {
            printf("    %s %s: its SQL belongs in src/store behind store.h\n", path, why);
            (*bad)++;
        }
        free(text);
    }
    closedir(d);
}

TEST(layers_store_owns_sql)
{
    struct stat sb;
    if (stat("src/store/store.h", &sb) != 0)
        printf("    src/store/store.h not found: run the tests from the repository root\n");
    ASSERT_TRUE(stat("src/store/store.h", &sb) == 0);
    int files = 0, bad = 0;
    walk("src", &files, &bad);
    ASSERT_TRUE(files > 100);   /* the walk really saw the sources */
    ASSERT_EQ_INT(bad, 0);
}

/* The check itself: it catches each form of the violation, and passes
 * code that only uses store.h. */
TEST(layers_violation_detected)
{
    ASSERT_TRUE(violation("#include \"store/store_int.h\"\n") != NULL);
    ASSERT_TRUE(violation("#include <sqlite3.h>\n") != NULL);
    ASSERT_TRUE(violation("x = sqlite3_step(st);\n") != NULL);
    ASSERT_TRUE(violation("#include \"store/store.h\"\nhh_store_approval_get(s, 1, &a, &e);\n") == NULL);
    ASSERT_TRUE(waiting("src/kb/retrieve_fts.c"));
    ASSERT_FALSE(waiting("src/govern/approvals.c"));
}
