/* store_int.h - private to the SQLite store: the handle's layout and the
 * helpers shared by the store_*.c files. Code outside src/store does not
 * include it (tests/test_layers.c); the files that still do
 * (kb/retrieve*.c: issue 17's next step) hold s->mu around their
 * statements, like every store function. */
#ifndef HH_STORE_STORE_INT_H
#define HH_STORE_STORE_INT_H

#include "store/store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>

#define HH_STORE_SECRET_LEN 32

struct hh_store {
    sqlite3        *db;
    pthread_mutex_t mu;            /* serializes every use of db */
    unsigned char   secret[HH_STORE_SECRET_LEN];
    char           *data_dir;      /* owned copy */
};

/* The SQL of migration version (1-based), NULL when there is none: for
 * tests that run one migration on a database they prepared. */
const char *hh_store_migration_sql(int version);

/* Records SQLite's current error as HH_EIO "store: <what>: <message>". */
int hh_store_db_fail(hh_store_t *s, hh_err_t *err, const char *what);

/* ---- small helpers shared by the store_*.c files ---- */

/* sqlite3_prepare_v2 of sql into *st; HH_EIO "store: prepare: ..." on failure. */
int hh_store_prepare(hh_store_t *s, sqlite3_stmt **st, const char *sql, hh_err_t *err);
/* sqlite3_exec of sql (no rows; caller holds s->mu); HH_EIO naming sql. */
int hh_store_exec(hh_store_t *s, const char *sql, hh_err_t *err);
/* HH_EINVAL "store: <what> name must be 1..N bytes" unless name is 1 to
 * HH_STORE_NAME_MAX - 1 bytes. */
int hh_store_name_ok(const char *name, const char *what, hh_err_t *err);
/* Copies text column col of st into dst (cap bytes), cut at a UTF-8
 * character start when it does not fit; "" for NULL. */
void hh_store_copy_col(char *dst, size_t cap, sqlite3_stmt *st, int col);
/* Takes s->mu and begins an immediate transaction; on failure s->mu is
 * released again and the error returned. */
int hh_store_tx_begin(hh_store_t *s, hh_err_t *err);
/* Ends what hh_store_tx_begin began: commits when rc is 0, else (or when
 * the commit fails) rolls back; releases s->mu. Returns rc, or the commit's
 * error. */
int hh_store_tx_end(hh_store_t *s, int rc, hh_err_t *err);
/* Runs sql (one text parameter: name) and hands its first row to read
 * (into out; neither is used when out is NULL); HH_ENOENT "store: no <what>
 * '<name>'" when there is no row, HH_EIO "store: find <what>: ..." on a
 * database error. Caller holds s->mu. */
int hh_store_row_by_name_locked(hh_store_t *s, const char *sql, const char *what, const char *name,
                                void (*read)(sqlite3_stmt *, void *), void *out, hh_err_t *err);
/* A row reader (hh_store_collect_rows, hh_store_row_by_name_locked):
 * column 0 as the int64_t at out. */
void hh_store_read_id(sqlite3_stmt *st, void *out);
/* hh_store_row_by_name_locked for sql returning one integer (an id). */
/* [locked, in a transaction] Gives department_id the right (read, write
 * or manage) on collection_id, replacing any it held (grant and the
 * administration API's set right share it). */
int hh_store_right_set_locked(hh_store_t *s, int64_t collection_id, int64_t department_id, hh_right_t right,
                              hh_err_t *err);

int hh_store_id_by_name_locked(hh_store_t *s, const char *sql, const char *what, const char *name, int64_t *id,
                               hh_err_t *err);

/* ---- ids that tell nothing (issue 12, docs/SECURITY.md "Row ids") ----
 * Rows whose id a member may see (documents, chunks, approvals, use cases;
 * new tables of that kind too) get ids drawn uniformly from [1, 10^10)
 * (HH_STORE_ID_LIMIT) by the OS CSPRNG, not from a counter shared by all
 * departments: the gap between two ids of one's own says nothing about how
 * many rows others created in between. Why at most 10 digits: an id is
 * text in audit details ("approval 4083145130419"), which the PII
 * redaction of a use case reads; 13 to 19 digits that pass the Luhn check
 * are a card number to it and 11 a German tax id, so a longer random id
 * was redacted about one time in ten. Ten digits are still 2^33 ids: the
 * gap between two of one's own says nothing, and a draw meets a taken id
 * only when the table holds billions of rows. (The JSON bound, 2^52, is
 * far above: cJSON 1.7.15 prints integers below it exactly. Why that bound
 * mattered, not 2^53 (where a
 * JavaScript number stops being exact): cJSON 1.7.15 prints a number with
 * 15 significant digits when its round trip compares equal within
 * value * DBL_EPSILON, which for values >= 2^52 lets an integer's last
 * digit change ("id": 8847315131206711 came out as 8.84731513120671e+15);
 * below 2^52 a changed integer never compares equal, so it prints exactly.
 * Rows from before keep their (small) ids. Ids are therefore neither
 * small nor increasing: order rows by their time (and the id only as a
 * tie-break), chunks of a document by their ord column.
 *
 * Usage: write the insert with an explicit id as a parameter,
 *     INSERT INTO t (id, a, b) VALUES (?1, ?2, ?3)
 * bind the other parameters, and step it with
 *     hh_store_insert_new_id(s, st, 1, "insert t", &id, err)
 * instead of sqlite3_step + sqlite3_last_insert_rowid. */
#define HH_STORE_ID_LIMIT INT64_C(10000000000)   /* 10^10: at most 10 decimal digits */

/* Steps the prepared INSERT st once with a fresh random id bound to
 * parameter param (1-based; st's other parameters bound by the caller),
 * drawing again when the id is taken (a primary-key conflict: probability
 * about rows / 2^53). On success *id is the new row's id and st is reset
 * (bindings kept: rebind and call again for the next row). Any other
 * failure (a UNIQUE conflict on another column included) is HH_EIO
 * "store: <what>: <SQLite's message>", and 8 taken ids in a row are HH_EIO
 * "store: <what>: no free id after 8 draws"; st is reset then too. Caller
 * holds s->mu (and the transaction, if any). */
int hh_store_insert_new_id(hh_store_t *s, sqlite3_stmt *st, int param, const char *what, int64_t *id,
                           hh_err_t *err);

/* hh_store_insert_new_id with the candidate ids drawn by draw(ctx) instead
 * of the CSPRNG (tests: force a conflict); a drawn value outside
 * [1, HH_STORE_ID_LIMIT) counts as taken. */
int hh_store_insert_id_drawn(hh_store_t *s, sqlite3_stmt *st, int param, int64_t (*draw)(void *), void *ctx,
                             const char *what, int64_t *id, hh_err_t *err);

/* A growing array of elem-byte elements (v owned by the caller; free it). */
typedef struct hh_store_rows {
    void  *v;
    size_t n, cap, elem;
} hh_store_rows_t;

/* Room for one more element at the end (NULL on no memory; g unchanged). */
void *hh_store_rows_next(hh_store_rows_t *g);

/* Steps st to its end, appending one element per row, filled by read, to
 * g. Returns 0, HH_ENOMEM, or the database error (what names the query). */
int hh_store_collect_rows(hh_store_t *s, sqlite3_stmt *st, hh_store_rows_t *g,
                          void (*read)(sqlite3_stmt *, void *), const char *what, hh_err_t *err);

/* Ends a list query run under s->mu: finalizes st (may be NULL), releases
 * s->mu, and when rc is 0 hands g's elements to the caller (out: the
 * address of the caller's element pointer, n: the count), else frees them.
 * Returns rc. */
int hh_store_rows_end(hh_store_t *s, sqlite3_stmt *st, hh_store_rows_t *g, int rc, void *out, size_t *n);

/* ---- usage rows inside the GDPR transactions (store_gdpr.c); the caller
 * holds s->mu ---- */

/* Every (day, use case) counter of user_id, oldest first; *out malloc'd. */
int hh_store_usage_of_user_locked(hh_store_t *s, int64_t user_id, hh_store_usage_day_t **out, size_t *n,
                                  hh_err_t *err);
/* Pseudonymizes (user_id = NULL) the usage rows of the user whose name is
 * subject (the whole name, ASCII case-insensitive: the erasure's user
 * match, so "ann" never touches "joanna"); *n rows. */
int hh_store_usage_forget_subject_locked(hh_store_t *s, const char *subject, int64_t *n, hh_err_t *err);
/* Pseudonymizes the usage rows of days before before_day; *n rows. */
int hh_store_usage_expire_locked(hh_store_t *s, int64_t before_day, int64_t *n, hh_err_t *err);

/* ---- conversations inside the GDPR transactions (store_gdpr.c); the
 * caller holds s->mu ---- */

/* Every conversation of user_id (oldest first) with its messages:
 * (*convs)[i]'s messages are (*msgs)[i] with (*n_msgs)[i] elements. All
 * malloc'd; free with hh_store_conv_export_free. */
int  hh_store_conv_of_user_locked(hh_store_t *s, int64_t user_id, hh_store_conv_t **convs,
                                  hh_store_conv_msg_t ***msgs, size_t **n_msgs, size_t *n, hh_err_t *err);
void hh_store_conv_export_free(hh_store_conv_t *convs, hh_store_conv_msg_t **msgs, size_t *n_msgs, size_t n);
/* Deletes the conversations of the user whose whole name is subject
 * (ASCII case-insensitive: the user record the erasure deletes; a user
 * whose name merely contains it keeps theirs, their mentions are
 * pseudonymized); *n conversations. */
int  hh_store_conv_forget_subject_locked(hh_store_t *s, const char *subject, int64_t *n, hh_err_t *err);
/* A conversation text that names a subject (export hits, erasure
 * rewrites): column 0 the title (message_id 0), 1 a message's content, 2
 * its grounding JSON. text malloc'd (hh_store_conv_texts_free). */
typedef struct hh_store_conv_text {
    int64_t conversation_id, message_id, user_id;
    int     column;
    char   *text;
} hh_store_conv_text_t;
/* Every title, message text and grounding that holds subject (ASCII
 * case-insensitive), by conversation and message id. */
int  hh_store_conv_mentions_locked(hh_store_t *s, const char *subject, hh_store_conv_text_t **out, size_t *n,
                                   hh_err_t *err);
void hh_store_conv_texts_free(hh_store_conv_text_t *t, size_t n);
/* Writes text into the place t names (a grounding that is no JSON object
 * any more becomes NULL). */
int  hh_store_conv_text_set_locked(hh_store_t *s, const hh_store_conv_text_t *t, const char *text, hh_err_t *err);

/* ---- agent runs and memory inside the GDPR transactions (store_gdpr.c);
 * the caller holds s->mu ---- */

/* [in the erasure's transaction] Deletes the runs (and their steps) of the
 * user whose name is subject (ASCII case ignored); *n (may be NULL) is
 * increased by the runs deleted. */
int  hh_store_agent_runs_forget_subject_locked(hh_store_t *s, const char *subject, int64_t *n, hh_err_t *err);
/* user_id's facts, oldest first (the access copy). */
int  hh_store_memory_of_user_locked(hh_store_t *s, int64_t user_id, hh_store_memory_t **out, size_t *n,
                                    hh_err_t *err);
/* [in the erasure's transaction] Deletes the facts of the user whose whole
 * name is subject (ASCII case ignored); *n increased. */
int  hh_store_memory_forget_subject_locked(hh_store_t *s, const char *subject, int64_t *n, hh_err_t *err);

#endif
