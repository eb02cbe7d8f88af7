/* cmd_backup.c - `hoheit backup` and `hoheit restore` (cli/backup.h does
 * the work; docs/OPERATIONS.md "Backup and restore" is the admin's text). */
#include "cli/backup.h"
#include "cli/cmd.h"

#include <stdio.h>

#include <stdlib.h>
#include <string.h>

static void backup_usage(FILE *f)
{
    fprintf(f,
            "usage: hoheit backup [--data DIR] --out DEST [--with-models] [--models DIR] [--no-audit]\n"
            "  Consistent copy of a data directory, also while `hoheit serve` runs on it:\n"
            "  the database (SQLite online backup), secret.key, audit.key, audit.pub,\n"
            "  pii-names.txt, every stored document (sha256 checked) and manifest.json\n"
            "  (sizes and sha256 of everything). DEST must not exist; it appears complete\n"
            "  or not at all. Files 0600, folders 0700: it holds the install secrets.\n"
            "  --data         data directory (default $HOHEIT_DATA or ./hoheit-data)\n"
            "  --with-models  copy the GGUF models too (default: names, sizes, sha256 only)\n"
            "  --models DIR   where the models are (default DATA/models)\n"
            "  --no-audit     do not append the backup's record to the audit log\n"
            "  Exit 0: done; 1: failed (nothing left at DEST); 2: usage.\n");
}

static void restore_usage(FILE *f)
{
    fprintf(f,
            "usage: hoheit restore --from BACKUP --data NEWDIR\n"
            "  Checks a backup (manifest, every file's size and sha256, SQLite\n"
            "  integrity_check, documents' files, schema not newer than this hoheit,\n"
            "  audit chain) and restores it into NEWDIR, which must not exist or be\n"
            "  empty. A damaged or incomplete backup is refused and nothing is written\n"
            "  to NEWDIR. Older backups are migrated. Appends a \"restore\" record to the\n"
            "  restored audit log.\n"
            "  Exit 0: restored; 1: refused or failed; 2: usage.\n");
}

static void print_counts(const char *what, const hh_store_counts_t *c)
{
    printf("%s: %lld users, %lld API keys (%lld active), %lld collections, %lld documents, %lld chunks, "
           "%lld vectors, %lld audit records (last seq %lld)\n",
           what, (long long)c->users, (long long)c->api_keys, (long long)c->active_api_keys,
           (long long)c->collections, (long long)c->documents, (long long)c->chunks, (long long)c->vectors,
           (long long)c->audit_records, (long long)c->audit_last_seq);
}

int hh_cmd_backup(int argc, char **argv)
{
    hh_backup_params_t p = { .data_dir = hh_cli_default_data(), .version = hh_version_string(), .log = stderr };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            backup_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--data") && has_val) {
            p.data_dir = argv[++i];
        } else if (!strcmp(a, "--out") && has_val) {
            char *o = argv[++i];
            for (size_t n = strlen(o); n > 1 && o[n - 1] == '/';)   /* "DEST/" names DEST, not a file in it */
                o[--n] = '\0';
            p.out = o;
        } else if (!strcmp(a, "--models") && has_val) {
            p.models_dir = argv[++i];
        } else if (!strcmp(a, "--with-models")) {
            p.with_models = true;
        } else if (!strcmp(a, "--no-audit")) {
            p.no_audit = true;
        } else {
            fprintf(stderr, "hoheit backup: unknown or incomplete option '%s'\n", a);
            backup_usage(stderr);
            return 2;
        }
    }
    if (!p.out) {
        fprintf(stderr, "hoheit backup: --out DEST is required\n");
        backup_usage(stderr);
        return 2;
    }
    hh_backup_result_t r;
    hh_err_t err;
    hh_err_clear(&err);
    if (hh_backup_create(&p, &r, &err) != 0) {
        fprintf(stderr, "hoheit backup: %s\n", err.msg);
        return 1;
    }
    printf("backup written to %s: %zu files (%zu stored documents), %.1f MiB, schema %d, manifest sha256 %s\n",
           p.out, r.n_files, r.n_doc_files, (double)r.bytes / (1024.0 * 1024.0), r.schema_version,
           r.manifest_sha256);
    print_counts("snapshot", &r.counts);
    if (r.n_models)
        printf("models: %zu %s\n", r.n_models,
               p.with_models ? "copied" : "listed with their sha256, not copied (--with-models copies them)");
    if (r.attempts > 1)
        printf("note: %d snapshots were needed (documents were deleted while it ran)\n", r.attempts);
    if (r.audit_seq)
        printf("audit: recorded as seq %lld in the live log\n", (long long)r.audit_seq);
    return 0;
}

int hh_cmd_restore(int argc, char **argv)
{
    hh_restore_params_t p = { .log = stderr };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            restore_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--from") && has_val) {
            p.from = argv[++i];
        } else if (!strcmp(a, "--data") && has_val) {
            p.data_dir = argv[++i];
        } else {
            fprintf(stderr, "hoheit restore: unknown or incomplete option '%s'\n", a);
            restore_usage(stderr);
            return 2;
        }
    }
    if (!p.from || !p.data_dir) {
        fprintf(stderr, "hoheit restore: --from BACKUP and --data NEWDIR are required\n");
        restore_usage(stderr);
        return 2;
    }
    hh_restore_result_t r;
    hh_err_t err;
    hh_err_clear(&err);
    if (hh_backup_restore(&p, &r, &err) != 0) {
        fprintf(stderr, "hoheit restore: %s\n", err.msg);
        return 1;
    }
    printf("restored %s (backup of %s, %zu files) into %s\n", p.from, r.created_at, r.n_files, p.data_dir);
    if (r.schema_now != r.schema_backup)
        printf("database migrated from schema %d to %d\n", r.schema_backup, r.schema_now);
    print_counts("restored", &r.counts);
    printf("audit chain verified: records %lld..%lld (%lld checkpoints), including the restore record\n",
           (long long)r.audit.first_seq, (long long)r.audit.last_seq, (long long)r.audit.n_checkpoints);
    if (r.n_models_absent)
        printf("models: %zu listed in the manifest were not backed up: copy them into %s/models (check their "
               "sha256 against %s/manifest.json)\n",
               r.n_models_absent, p.data_dir, p.from);
    if (r.n_unknown)
        printf("warning: %zu file(s) in the backup were not in its manifest and were not restored\n", r.n_unknown);
    return 0;
}
