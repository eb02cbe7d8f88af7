/* cmd.h - the `hoheit` subcommands. Each takes the arguments after its name
 * (argv[0] is the subcommand) and returns the process exit status. */
#ifndef HH_CLI_CMD_H
#define HH_CLI_CMD_H

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
int hh_cmd_quota(int argc, char **argv);
int hh_cmd_usage(int argc, char **argv);

#endif
