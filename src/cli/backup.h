/* backup.h - `hoheit backup` and `hoheit restore`: a consistent copy of a
 * data directory taken while the server runs, and its checked restore into
 * a new directory (docs/OPERATIONS.md, "Backup and restore").
 *
 * A backup is a directory:
 *   manifest.json        format, versions, time, source, counts, and per
 *                        file: path, size, sha256 (the models too, copied
 *                        or not)
 *   hoheit.db            the database (SQLite online backup: one committed
 *                        state; rollback-journal mode, no -wal file)
 *   secret.key, audit.key, audit.pub, pii-names.txt, other .key / .pub files
 *   files/xx/<sha256>    the stored originals every document of the
 *                        snapshot references (and no others)
 *   models/NAME.gguf     only with --with-models
 * It is written into DEST.tmp-XXXXXX (files 0600, folders 0700), fsync'ed
 * and renamed to DEST, which must not exist: a DEST is either complete or
 * absent. The vector index file (DATA/vindex-*.bin) is not copied: it is a
 * cache of the chunk_vectors table (in the database) that the server
 * rebuilds at start when it is missing or stale.
 *
 * Restore checks everything before anything is named NEWDIR: manifest
 * present and readable, schema not newer than this program, every listed
 * file present with its size and sha256, the database's integrity check,
 * every document's stored file present, the store opens (migrations run),
 * the audit chain verifies (after the "restore" record is appended to it).
 * Only then is the checked copy renamed to NEWDIR (absent or empty). */
#ifndef HH_CLI_BACKUP_H
#define HH_CLI_BACKUP_H

#include "base/err.h"
#include "govern/audit.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HH_BACKUP_FORMAT         "hoheit-backup"
#define HH_BACKUP_FORMAT_VERSION 1
#define HH_BACKUP_MANIFEST       "manifest.json"

typedef struct hh_backup_params {
    const char *data_dir;     /* the live data directory */
    const char *out;          /* DEST: must not exist */
    const char *models_dir;   /* NULL: DATA/models */
    bool        with_models;  /* copy the GGUF files (default: names, sizes and hashes only) */
    bool        no_audit;     /* do not record the backup in the live audit log */
    const char *version;      /* hoheit's version for the manifest (NULL: "unknown") */
    FILE       *log;          /* progress and warnings (may be NULL) */
} hh_backup_params_t;

typedef struct hh_backup_result {
    int               schema_version;
    hh_store_counts_t counts;          /* of the snapshot */
    size_t            n_files;         /* listed in the manifest */
    size_t            n_doc_files;     /* stored originals */
    size_t            n_models;        /* listed (copied only with_models) */
    int64_t           bytes;           /* copied */
    int               attempts;        /* snapshots taken (> 1: a file went away under it) */
    int64_t           audit_seq;       /* the record of this backup in the live log, 0 = none */
    char              manifest_sha256[65];
} hh_backup_result_t;

/* Takes the backup. Returns 0, or HH_EINVAL (DEST exists, bad argument),
 * HH_ENOENT (no database in data_dir), HH_EFORMAT (a stored file whose
 * content does not match its name), HH_EIO; message in err. Nothing is left
 * at DEST or DEST.tmp-* on failure. */
int hh_backup_create(const hh_backup_params_t *p, hh_backup_result_t *r, hh_err_t *err);

typedef struct hh_restore_params {
    const char *from;       /* a backup directory */
    const char *data_dir;   /* NEWDIR: absent or empty */
    FILE       *log;        /* warnings (unknown files) and progress (may be NULL) */
} hh_restore_params_t;

typedef struct hh_restore_result {
    int                      schema_backup, schema_now;
    hh_store_counts_t        counts;    /* after the restore record was appended */
    size_t                   n_files;
    size_t                   n_unknown; /* files in the backup not in the manifest (warned, not copied) */
    size_t                   n_models_absent; /* models the manifest lists as not included */
    hh_audit_verify_result_t audit;
    char                     created_at[32];
} hh_restore_result_t;

/* Checks and restores. Returns 0, or HH_EINVAL (target not empty, bad
 * argument), HH_ENOENT (no manifest, a listed file missing), HH_EFORMAT (a
 * file's size or sha256 differs, damaged database, schema newer than this
 * program, audit chain fails), HH_EIO; message in err. On failure nothing
 * is at NEWDIR that was not there before. */
int hh_backup_restore(const hh_restore_params_t *p, hh_restore_result_t *r, hh_err_t *err);

#endif
