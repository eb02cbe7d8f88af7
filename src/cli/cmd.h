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

#endif
