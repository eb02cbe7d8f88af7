/* cmd_register.c - `hoheit register add|update|list|show|delete|disable|
 * enable|export|default`: the use-case register in the data directory's
 * store; export writes a system card per use case and the GDPR Art. 30
 * records as Markdown or HTML. add and update refuse a use case naming a
 * model (MODELS/NAME.gguf), collection or department that does not exist.
 * Changes are in the use case's history and append an "admin" audit
 * record. */
#include "cli/cmd.h"
#include "base/err.h"
#include "base/fs.h"
#include "govern/register.h"
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void register_usage(FILE *f)
{
    fprintf(f,
            "usage: hoheit register add --file USECASE.json [--models DIR] [--data DIR]\n"
            "       hoheit register update [ID|SLUG] --file USECASE.json [--models DIR] [--data DIR]\n"
            "       hoheit register list [--data DIR]\n"
            "       hoheit register show ID|SLUG [--data DIR]\n"
            "       hoheit register delete ID|SLUG [--yes] [--data DIR]\n"
            "       hoheit register disable|enable ID|SLUG [--data DIR]\n"
            "       hoheit register export [--format md|html] [--lang de|en] [--out DIR] [--models DIR] [--data DIR]\n"
            "       hoheit register card ID|SLUG [--format md|html] [--lang de|en] [--models DIR] [--data DIR]\n"
            "       hoheit register default SLUG|- (--key ID | --user NAME) [--data DIR]\n"
            "  add      registers a use case (JSON: slug, name, purpose, owner, models, collections,\n"
            "           affected_persons, answers, policy, ...; see docs/COMPLIANCE.md) and prints\n"
            "           its risk class and the reasons. Every model (a file NAME.gguf in\n"
            "           --models, default DATA/models), collection and department it names\n"
            "           must exist\n"
            "  update   replaces the fields the file names (the slug from the file, or ID);\n"
            "           same checks as add; the change goes into the history\n"
            "  delete   removes a use case no audit record or approval names (history\n"
            "           kept); one that was used can only be disabled\n"
            "  disable  requests under the use case are refused (403 use_case_disabled);\n"
            "           it stays in the register and its system card. enable undoes it\n"
            "  show     the use case with its effective policy and change history (JSON)\n"
            "  export   one system card per use case (card-SLUG.md|html) and\n"
            "           records-of-processing.md|html into DIR (default ./hoheit-cards)\n"
            "  card     one use case's system card on standard output\n"
            "  --lang   language of cards and records: de (German) or en (default)\n"
            "  default  sets ('-' clears) the default use case of an API key or a user\n"
            "  --data   data directory (default $HOHEIT_DATA or ./hoheit-data)\n");
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    /* a use case is a few KB; refuse anything huge */
    hh_read_stream(f, (size_t)64 << 20, &buf, len);
    fclose(f);
    return buf;
}

static int write_file(const char *dir, const char *name, const char *text)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "register export: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    size_t n = strlen(text);
    bool ok = fwrite(text, 1, n, f) == n;
    ok = fclose(f) == 0 && ok;
    if (!ok) {
        fprintf(stderr, "register export: cannot write %s\n", path);
        return 1;
    }
    fprintf(stderr, "wrote %s\n", path);
    return 0;
}

static void print_class(const hh_usecase_t *u);

/* Refuses (1, message naming them) a use case document whose models,
 * collections or departments do not exist. models_dir NULL: DATA/models. */
static int check_names(hh_store_t *s, const cJSON *doc, const char *models_dir, const char *cmd)
{
    char def[4096];
    if (!models_dir) {
        snprintf(def, sizeof def, "%s/models", hh_store_data_dir(s));
        models_dir = def;
    }
    int missing = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "models")) {
        char path[4096 + 300];
        bool found = false;
        if (strchr(it->valuestring, '/') == NULL) {   /* a model is named, not a path */
            snprintf(path, sizeof path, "%s/%s.gguf", models_dir, it->valuestring);
            found = access(path, R_OK) == 0;
        }
        if (!found) {
            fprintf(stderr, "%s: model '%s' does not exist (no %s/%s.gguf)\n", cmd, it->valuestring, models_dir,
                    it->valuestring);
            missing++;
        }
    }
    hh_err_t err;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "collections")) {
        hh_store_collection_t c;
        hh_err_clear(&err);
        if (hh_store_collection_get(s, it->valuestring, &c, &err) != 0) {
            fprintf(stderr, "%s: collection '%s' does not exist (hoheit collections list)\n", cmd, it->valuestring);
            missing++;
        }
    }
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "departments")) {
        hh_err_clear(&err);
        if (hh_store_department_get(s, it->valuestring, NULL, &err) != 0) {
            fprintf(stderr, "%s: department '%s' does not exist (hoheit departments list)\n", cmd, it->valuestring);
            missing++;
        }
    }
    if (missing)
        fprintf(stderr, "%s: refused: %d unknown name%s (nothing was changed)\n", cmd, missing, missing == 1 ? "" : "s");
    return missing ? 1 : 0;
}

/* add / update: validates the effective document, checks the names it
 * holds, then writes it. */
static int do_write(hh_store_t *s, const cJSON *in, const char *target, const char *models, const char *actor)
{
    const char *cmd = target ? "register update" : "register add";
    hh_err_t err;
    hh_err_clear(&err);
    hh_usecase_t old, u;
    memset(&old, 0, sizeof old);
    memset(&u, 0, sizeof u);
    cJSON *eff = NULL;
    int status = 1;
    if (target && hh_register_get(s, target, &old, &err)) {
        fprintf(stderr, "%s: %s\n", cmd, err.msg);
        goto done;
    }
    if (hh_register_validate(in, target ? old.doc : NULL, &eff, &err)) {
        fprintf(stderr, "%s: %s\n", cmd, err.msg);
        goto done;
    }
    if (check_names(s, eff, models, cmd))
        goto done;
    int rc = target ? hh_register_update(s, target, in, actor, &u, &err) : hh_register_create(s, in, actor, &u, &err);
    if (rc) {
        fprintf(stderr, "%s: %s\n", cmd, err.msg);
        goto done;
    }
    print_class(&u);
    status = hh_cli_audit(s, "%s %s (risk %s)", cmd, u.slug, hh_risk_name(u.cls.risk)) ? 1 : 0;
done:
    cJSON_Delete(eff);
    hh_usecase_clear(&old);
    hh_usecase_clear(&u);
    return status;
}

static void print_class(const hh_usecase_t *u)
{
    printf("%s: risk class %s\n", u->slug, hh_risk_name(u->cls.risk));
    for (size_t i = 0; i < u->cls.n_reasons; i++)
        printf("  - %s\n", u->cls.reasons[i]);
    printf("  policy: approval %s, audit %s, pii redaction %s, retention %d days, confidence >= %.2f%s\n",
           u->policy.approval_required ? "required" : "no", u->policy.audit_detail == HH_AUDIT_FULL ? "full" : "hashes",
           u->policy.pii_redaction ? "on" : "off", u->policy.retention_days, u->policy.confidence_threshold,
           u->policy.refused ? " (REFUSED: prohibited)" : "");
}

static int do_export(hh_store_t *s, const char *out_dir, const char *models, hh_card_format_t fmt, const char *lang)
{
    if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "register export: cannot create %s: %s\n", out_dir, strerror(errno));
        return 1;
    }
    const char *ext = fmt == HH_CARD_HTML ? "html" : "md";
    hh_err_t err;
    hh_err_clear(&err);
    hh_usecase_t *ucs = NULL;
    size_t n = 0;
    if (hh_register_list(s, &ucs, &n, &err)) {
        fprintf(stderr, "register export: %s\n", err.msg);
        return 1;
    }
    int status = 0;
    for (size_t i = 0; i < n && status == 0; i++) {
        char *text = NULL, name[HH_REG_SLUG_MAX + 16];
        if (hh_register_card(s, ucs[i].slug, models, fmt, lang, &text, &err)) {
            fprintf(stderr, "register export: %s: %s\n", ucs[i].slug, err.msg);
            status = 1;
            break;
        }
        snprintf(name, sizeof name, "card-%s.%s", ucs[i].slug, ext);   /* slugs are [a-z0-9-] */
        status = write_file(out_dir, name, text);
        free(text);
    }
    for (size_t i = 0; i < n; i++)
        hh_usecase_clear(&ucs[i]);
    free(ucs);
    if (status)
        return status;
    char *ropa = NULL, name[64];
    if (hh_register_ropa(s, fmt, lang, &ropa, &err)) {
        fprintf(stderr, "register export: %s\n", err.msg);
        return 1;
    }
    snprintf(name, sizeof name, "records-of-processing.%s", ext);
    status = write_file(out_dir, name, ropa);
    free(ropa);
    return status;
}

int hh_cmd_register(int argc, char **argv)
{
    const char *data = hh_cli_default_data();
    const char *file = NULL, *sub = NULL, *target = NULL, *format = "md", *out_dir = "./hoheit-cards";
    const char *models = NULL, *key = NULL, *user = NULL, *lang = "en";
    bool yes = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            register_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--data") && i + 1 < argc) {
            data = argv[++i];
        } else if (!strcmp(a, "--file") && i + 1 < argc) {
            file = argv[++i];
        } else if (!strcmp(a, "--format") && i + 1 < argc) {
            format = argv[++i];
        } else if (!strcmp(a, "--lang") && i + 1 < argc) {
            lang = argv[++i];
        } else if (!strcmp(a, "--out") && i + 1 < argc) {
            out_dir = argv[++i];
        } else if (!strcmp(a, "--models") && i + 1 < argc) {
            models = argv[++i];
        } else if (!strcmp(a, "--key") && i + 1 < argc) {
            key = argv[++i];
        } else if (!strcmp(a, "--user") && i + 1 < argc) {
            user = argv[++i];
        } else if (!strcmp(a, "--yes")) {
            yes = true;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "register: unknown or incomplete option '%s'\n", a);
            register_usage(stderr);
            return 2;
        } else if (!sub) {
            sub = a;
        } else if (!target) {
            target = a;
        } else {
            fprintf(stderr, "register: unexpected argument '%s'\n", a);
            return 2;
        }
    }
    if (!sub) {
        register_usage(stderr);
        return 2;
    }
    bool add = !strcmp(sub, "add"), list = !strcmp(sub, "list"), show = !strcmp(sub, "show"),
         exp = !strcmp(sub, "export"), def = !strcmp(sub, "default"), upd = !strcmp(sub, "update"),
         del = !strcmp(sub, "delete"), dis = !strcmp(sub, "disable"), ena = !strcmp(sub, "enable"),
         card = !strcmp(sub, "card");
    if (!add && !list && !show && !exp && !def && !upd && !del && !dis && !ena && !card) {
        fprintf(stderr, "register: unknown subcommand '%s'\n", sub);
        register_usage(stderr);
        return 2;
    }
    if ((add || upd) && !file) {
        fprintf(stderr, "register %s: --file USECASE.json is required\n", sub);
        return 2;
    }
    if (add && target) {
        fprintf(stderr, "register add: unexpected argument '%s' (the slug is in the file)\n", target);
        return 2;
    }
    if ((show || def || del || dis || ena || card) && !target) {
        fprintf(stderr, "register %s: name the use case\n", sub);
        return 2;
    }
    if (def && !key == !user) {
        fprintf(stderr, "register default: give --key ID or --user NAME\n");
        return 2;
    }
    if ((exp || card) && strcmp(format, "md") != 0 && strcmp(format, "html") != 0) {
        fprintf(stderr, "register %s: --format must be md or html\n", sub);
        return 2;
    }
    if (strcmp(lang, "de") != 0 && strcmp(lang, "en") != 0) {
        fprintf(stderr, "register: --lang must be de or en\n");
        return 2;
    }
    cJSON *in = NULL;
    if (add || upd) {
        size_t len = 0;
        char *text = read_all(file, &len);
        if (!text) {
            fprintf(stderr, "register %s: cannot read %s\n", sub, file);
            return 1;
        }
        in = cJSON_ParseWithLength(text, len);
        free(text);
        if (!cJSON_IsObject(in)) {
            cJSON_Delete(in);
            fprintf(stderr, "register %s: %s is not a JSON object\n", sub, file);
            return 1;
        }
    }
    hh_err_t err;
    hh_err_clear(&err);
    hh_store_t *s = NULL;
    if (hh_store_open(&s, data, &err)) {
        cJSON_Delete(in);
        fprintf(stderr, "register: %s\n", err.msg);
        return 1;
    }
    char actor[160];
    hh_cli_actor(actor, sizeof actor);
    int status = 0;
    hh_usecase_t u;
    memset(&u, 0, sizeof u);
    if (add || upd) {
        const cJSON *slug = cJSON_GetObjectItemCaseSensitive(in, "slug");
        if (upd && !target && !cJSON_IsString(slug)) {
            fprintf(stderr, "register update: name the use case (ID or SLUG) or put its slug in the file\n");
            status = 2;
        } else {
            status = do_write(s, in, upd ? (target ? target : slug->valuestring) : NULL, models, actor);
        }
    } else if (del) {
        char q[200];
        snprintf(q, sizeof q, "delete use case %s from the register?", target);
        if (hh_register_get(s, target, &u, &err)) {
            fprintf(stderr, "register delete: %s\n", err.msg);
            status = 1;
        } else if (!hh_cli_confirm("register delete", q, yes)) {
            status = 1;
        } else if (hh_register_delete(s, target, actor, &err)) {
            fprintf(stderr, "register delete: %s\n", err.msg);
            status = 1;
        } else {
            printf("deleted use case %s (its history is kept)\n", u.slug);
            status = hh_cli_audit(s, "register delete %s", u.slug) ? 1 : 0;
        }
    } else if (dis || ena) {
        if (hh_register_set_disabled(s, target, dis, actor, &u, &err)) {
            fprintf(stderr, "register %s: %s\n", sub, err.msg);
            status = 1;
        } else {
            printf("use case %s %s\n", u.slug, dis ? "disabled: requests under it are refused" : "enabled");
            status = hh_cli_audit(s, "register %s %s", sub, u.slug) ? 1 : 0;
        }
    } else if (list) {
        hh_usecase_t *ucs = NULL;
        size_t n = 0;
        if (hh_register_list(s, &ucs, &n, &err)) {
            fprintf(stderr, "register list: %s\n", err.msg);
            status = 1;
        } else {
            printf("%-16s %-28s %-10s %-8s %-8s %s\n", "id", "slug", "risk", "approval", "state", "name");
            for (size_t i = 0; i < n; i++) {
                printf("%-16lld %-28s %-10s %-8s %-8s %s\n", (long long)ucs[i].id, ucs[i].slug,
                       hh_risk_name(ucs[i].cls.risk), ucs[i].policy.approval_required ? "yes" : "no",
                       ucs[i].disabled ? "disabled" : "enabled", hh_usecase_str(&ucs[i], "name"));
                hh_usecase_clear(&ucs[i]);
            }
            free(ucs);
        }
    } else if (show) {
        cJSON *j = NULL, *h = NULL;
        if (hh_register_get(s, target, &u, &err) || !(j = hh_usecase_json(&u))) {
            fprintf(stderr, "register show: %s\n", err.msg[0] ? err.msg : "out of memory");
            status = 1;
        } else {
            if (u.id && hh_register_history(s, u.id, &h, &err) == 0)
                cJSON_AddItemToObject(j, "history", h);
            char *t = cJSON_Print(j);
            if (t)
                printf("%s\n", t);
            cJSON_free(t);
        }
        cJSON_Delete(j);
    } else if (exp) {
        status = do_export(s, out_dir, models, !strcmp(format, "html") ? HH_CARD_HTML : HH_CARD_MD, lang);
    } else if (card) {
        char *text = NULL;
        if (hh_register_card(s, target, models, !strcmp(format, "html") ? HH_CARD_HTML : HH_CARD_MD, lang, &text,
                             &err)) {
            fprintf(stderr, "register card: %s\n", err.msg);
            status = 1;
        } else {
            fputs(text, stdout);
            free(text);
        }
    } else {
        const char *slug = strcmp(target, "-") ? target : NULL;
        int rc = key ? hh_register_set_key_default(s, strtoll(key, NULL, 10), slug, &err)
                     : hh_register_set_user_default(s, user, slug, &err);
        if (rc) {
            fprintf(stderr, "register default: %s\n", err.msg);
            status = 1;
        } else {
            fprintf(stderr, "default use case of %s %s: %s\n", key ? "key" : "user", key ? key : user,
                    slug ? slug : "(none: general)");
            status = hh_cli_audit(s, "register default %s %s: %s", key ? "key" : "user", key ? key : user,
                                  slug ? slug : "(none: general)") ? 1 : 0;
        }
    }
    hh_usecase_clear(&u);
    cJSON_Delete(in);
    hh_store_close(s);
    return status;
}
