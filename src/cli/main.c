/* main.c - the `hoheit` command: dispatches to a subcommand. */
#include "cli/cmd.h"
#include "base/log.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int cmd_help(int argc, char **argv);

struct subcommand {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *usage;
};

static const struct subcommand g_cmds[] = {
    { "inspect",  hh_cmd_inspect,  "inspect [--kv-arrays] [--json] FILE  format, architecture, hyperparameters, tokenizer, tensors" },
    { "quantize", hh_cmd_quantize, "quantize IN OUT TYPE [--pure] [-t N]  convert F32/F16 weights (q8_0 q4_0 q4_k_m q6_k ...)" },
    { "run",      hh_cmd_run,      "run -m MODEL -p PROMPT [-n N] [--temp T] [--seed S]  generate text (see run --help)" },
    { "logits",   hh_cmd_logits,   "logits -m MODEL --tokens 1,2,3 --out FILE [-t N] [--kv f16|f32] [--exact] | --check REF.tokens.json [--exact]  every position's logits as f32; check against llama.cpp's" },
    { "tokenize", hh_cmd_tokenize, "tokenize -m MODEL [--ids] [--bos] [--special] [--file F | TEXT]  print token ids and pieces" },
    { "bench",    hh_cmd_bench,    "bench -m MODEL [-p 512] [-n 128] [-t 1,2] [-r R] [--json]  prefill / decode speed" },
    { "serve",    hh_cmd_serve,    "serve [--config FILE] [--host H] [--port P] [--data DIR] [--models DIR]  OpenAI-compatible HTTP API" },
    { "keys",     hh_cmd_keys,     "keys create --user NAME --role ROLE | list | revoke ID|PREFIX [--data DIR]  API keys" },
    { "embed",    hh_cmd_embed,    "embed -m MODEL [--tokens IDS | TEXT] [-t N] [--exact]  normalized embedding as a JSON array" },
    { "ingest",   hh_cmd_ingest,   "ingest PATH... --collection NAME [--embed-model GGUF] [--data DIR]  files/folders into the knowledge base" },
    { "collections", hh_cmd_collections, "collections create NAME [--departments A,B] | list | docs NAME | delete NAME [--yes] | grant NAME DEPT read|write|manage | revoke NAME DEPT | add-department|remove-department NAME DEPT  knowledge-base collections and rights" },
    { "departments", hh_cmd_departments, "departments list | add-user USER DEPT [--create] | remove-user USER DEPT | rename OLD NEW | delete NAME [--yes]  who may read which collections" },
    { "documents", hh_cmd_documents, "documents list [--collection C] [--json] | delete ID...|--collection C --all [--yes] | reingest ID...|--collection C  knowledge-base documents" },
    { "pii",      hh_cmd_pii,      "pii redact [--kinds K,K] [--names F] [--key F] [FILE|-] | eval LABELED.jsonl  personal data" },
    { "audit",    hh_cmd_audit,    "audit verify [--data DIR] [--file F] | export [--from SEQ] [--out FILE] | expire --older-than DAYS  audit log" },
    { "register", hh_cmd_register, "register add|update [ID] --file UC.json | list | show ID | delete ID [--yes] | disable|enable ID | export [--format md|html] [--out DIR]  AI use-case register, system cards" },
    { "gdpr",     hh_cmd_gdpr,     "gdpr export --subject S [--out F] | erase --subject S --yes  data-subject rights (Art. 15/17/20)" },
    { "retention", hh_cmd_retention, "retention sweep | set COLLECTION DAYS  delete expired documents and audit records" },
    { "approvals", hh_cmd_approvals, "approvals list [--status S] | show ID | approve|edit|reject ID --as USER  human approvals (Art. 14)" },
    { "users",    hh_cmd_users,    "users passwd NAME [--password-stdin] [--role ROLE] | list | disable|enable NAME | role NAME ROLE | delete NAME [--yes]  browser-login users" },
    { "backup",   hh_cmd_backup,   "backup [--data DIR] --out DEST [--with-models]  consistent copy while the server runs (db, keys, documents, manifest)" },
    { "restore",  hh_cmd_restore,  "restore --from BACKUP --data NEWDIR  check a backup and restore it into a new directory" },
    { "version",  hh_cmd_version,  "version | --version             release, git commit, build flags, CPU features, kernel ISA" },
    { "quota",    hh_cmd_quota,    "quota set (--user U | --department D) [--tokens-per-day N] [--tokens-per-month N] [--requests-per-minute N] [--concurrent N] | list [--json] | clear (--user U | --department D)  limits" },
    { "agent",    hh_cmd_agent,    "agent add NAME --model M [--tools T,T] [--use-case UC] [--departments D,D] ... | update NAME ... | list [--json] | show NAME | remove NAME [--yes]  agent definitions" },
    { "usage",    hh_cmd_usage,    "usage [--by user|department|use-case] [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--json]  tokens used (UTC days)" },
    { "help",     cmd_help,        "help                            this list" },
};

static void usage(FILE *f)
{
    fprintf(f, "usage: hoheit COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof g_cmds / sizeof g_cmds[0]; i++)
        fprintf(f, "  %s\n", g_cmds[i].usage);
    fprintf(f, "\n`hoheit COMMAND --help` shows a command's options.\n");
}

static int cmd_help(int argc, char **argv)
{
    usage(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    hh_log_init_from_env();
    /* Everything hoheit creates (data directory, database, keys, stored
     * documents, logs, exports) is for its own user only; the store sets
     * these modes explicitly too (docs/OPERATIONS.md). */
    umask(077);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))
        return hh_cmd_version(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof g_cmds / sizeof g_cmds[0]; i++) {
        if (!strcmp(argv[1], g_cmds[i].name))
            return g_cmds[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "hoheit: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
