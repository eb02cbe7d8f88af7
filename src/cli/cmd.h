/* cmd.h - the `hoheit` subcommands. Each takes the arguments after its name
 * (argv[0] is the subcommand) and returns the process exit status. */
#ifndef HH_CLI_CMD_H
#define HH_CLI_CMD_H

#include "base/dirlock.h"

int hh_cmd_inspect(int argc, char **argv);
int hh_cmd_run(int argc, char **argv);
int hh_cmd_logits(int argc, char **argv);
int hh_cmd_quantize(int argc, char **argv);
int hh_cmd_bench(int argc, char **argv);
int hh_cmd_tokenize(int argc, char **argv);
int hh_cmd_serve(int argc, char **argv);
int hh_cmd_keys(int argc, char **argv);
int hh_cmd_embed(int argc, char **argv);

int hh_cmd_ingest(int argc, char **argv);
int hh_cmd_collections(int argc, char **argv);
int hh_cmd_departments(int argc, char **argv);
int hh_cmd_register(int argc, char **argv);
int hh_cmd_audit(int argc, char **argv);

int hh_cmd_pii(int argc, char **argv);
int hh_cmd_gdpr(int argc, char **argv);
int hh_cmd_retention(int argc, char **argv);
int hh_cmd_users(int argc, char **argv);
int hh_cmd_approvals(int argc, char **argv);
int hh_cmd_documents(int argc, char **argv);
int hh_cmd_backup(int argc, char **argv);
int hh_cmd_restore(int argc, char **argv);

/* ---- shared by the admin commands (cli_admin.c) ---- */

#include "store/store.h"

#include <stdbool.h>

/* The confirmation of a destructive command: true with yes (--yes); else,
 * on a terminal, asks "QUESTION [y/N]" on stderr and is true for y/yes;
 * else (no terminal: a script) prints "CMD: QUESTION: refused without
 * --yes" and is false. */
bool hh_cli_confirm(const char *cmd, const char *question, bool yes);

/* Appends an "admin" audit record (actor "cli:ACCOUNT", decision "done",
 * detail printf-formatted) for an administrative change made from the
 * command line. On failure prints a warning naming the change and returns
 * nonzero (the change itself is already made). */
int hh_cli_audit(hh_store_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The data directory when no --data is given: $HOHEIT_DATA when set and
 * not empty, else "./hoheit-data". */
const char *hh_cli_default_data(void);

/* "cli:ACCOUNT": who made a change from the command line (usecase history,
 * audit): SUDO_USER under sudo, else the account the process runs as. */
const char *hh_cli_actor(char *buf, size_t cap);

/* `hoheit --version`; hh_version_string: the release (VERSION file). */
int hh_cmd_version(int argc, char **argv);
const char *hh_version_string(void);

/* For commands that must not run beside a server on the same data
 * directory (it keeps their data in memory): takes the data-directory lock
 * for the command's run (caller releases *out with hh_dirlock_release).
 * When a server (or another such command) holds it, prints "hoheit CMD:
 * refused: DIR is in use by hoheit serve (pid N)" and what to do instead
 * (instead: e.g. "erase through it with POST /api/gdpr/erase") to stderr
 * and returns HH_ESTATE; other errors are printed too. */
int hh_cli_lock_data(const char *data, const char *cmd, const char *instead, hh_dirlock_t **out);
int hh_cmd_quota(int argc, char **argv);
int hh_cmd_usage(int argc, char **argv);
int hh_cmd_agent(int argc, char **argv);

#endif
