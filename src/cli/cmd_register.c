/* cmd_register.c - `hoheit register add|list|show|export|default`: the
 * use-case register in the data directory's store; export writes a system
 * card per use case and the GDPR Art. 30 records as Markdown or HTML. */
#include "cli/cmd.h"
#include "base/err.h"
#include "govern/register.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void register_usage(FILE *f)
{
    fprintf(f,
            "usage: hoheit register add --file USECASE.json [--data DIR]\n"
            "       hoheit register list [--data DIR]\n"
            "       hoheit register show ID|SLUG [--data DIR]\n"
            "       hoheit register export [--format md|html] [--out DIR] [--models DIR] [--data DIR]\n"
            "       hoheit register default SLUG|- (--key ID | --user NAME) [--data DIR]\n"
            "  add      registers a use case (JSON: slug, name, purpose, owner, models, collections,\n"
            "           affected_persons, answers, policy, ...; see docs/COMPLIANCE.md) and prints\n"
            "           its risk class and the reasons\n"
            "  show     the use case with its effective policy and change history (JSON)\n"
            "  export   one system card per use case (card-SLUG.md|html) and\n"
            "           records-of-processing.md|html into DIR (default ./hoheit-cards)\n"
            "  default  sets ('-' clears) the default use case of an API key or a user\n"
            "  --data   data directory (default $HOHEIT_DATA or ./hoheit-data)\n");
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            if (cap > (64u << 20)) {   /* a use case is a few KB; refuse anything huge */
                free(buf);
                fclose(f);
                return NULL;
            }
            size_t nc = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, nc);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
            cap = nc;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
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

static int do_export(hh_store_t *s, const char *out_dir, const char *models, hh_card_format_t fmt)
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
        if (hh_register_card(s, ucs[i].slug, models, fmt, &text, &err)) {
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
    if (hh_register_ropa(s, fmt, &ropa, &err)) {
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
    const char *data = getenv("HOHEIT_DATA");
    if (!data || !data[0])
        data = "./hoheit-data";
    const char *file = NULL, *sub = NULL, *target = NULL, *format = "md", *out_dir = "./hoheit-cards";
    const char *models = NULL, *key = NULL, *user = NULL;
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
        } else if (!strcmp(a, "--out") && i + 1 < argc) {
            out_dir = argv[++i];
        } else if (!strcmp(a, "--models") && i + 1 < argc) {
            models = argv[++i];
        } else if (!strcmp(a, "--key") && i + 1 < argc) {
            key = argv[++i];
        } else if (!strcmp(a, "--user") && i + 1 < argc) {
            user = argv[++i];
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
         exp = !strcmp(sub, "export"), def = !strcmp(sub, "default");
    if (!add && !list && !show && !exp && !def) {
        fprintf(stderr, "register: unknown subcommand '%s'\n", sub);
        register_usage(stderr);
        return 2;
    }
    if (add && !file) {
        fprintf(stderr, "register add: --file USECASE.json is required\n");
        return 2;
    }
    if ((show || def) && !target) {
        fprintf(stderr, "register %s: name the use case\n", sub);
        return 2;
    }
    if (def && !key == !user) {
        fprintf(stderr, "register default: give --key ID or --user NAME\n");
        return 2;
    }
    if (exp && strcmp(format, "md") != 0 && strcmp(format, "html") != 0) {
        fprintf(stderr, "register export: --format must be md or html\n");
        return 2;
    }
    cJSON *in = NULL;
    if (add) {
        size_t len = 0;
        char *text = read_all(file, &len);
        if (!text) {
            fprintf(stderr, "register add: cannot read %s\n", file);
            return 1;
        }
        in = cJSON_ParseWithLength(text, len);
        free(text);
        if (!cJSON_IsObject(in)) {
            cJSON_Delete(in);
            fprintf(stderr, "register add: %s is not a JSON object\n", file);
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
    const char *login = getenv("USER");
    snprintf(actor, sizeof actor, "cli:%s", login && login[0] ? login : "unknown");
    int status = 0;
    hh_usecase_t u;
    memset(&u, 0, sizeof u);
    if (add) {
        if (hh_register_create(s, in, actor, &u, &err)) {
            fprintf(stderr, "register add: %s\n", err.msg);
            status = 1;
        } else {
            print_class(&u);
        }
    } else if (list) {
        hh_usecase_t *ucs = NULL;
        size_t n = 0;
        if (hh_register_list(s, &ucs, &n, &err)) {
            fprintf(stderr, "register list: %s\n", err.msg);
            status = 1;
        } else {
            printf("%-5s %-28s %-10s %-8s %s\n", "id", "slug", "risk", "approval", "name");
            for (size_t i = 0; i < n; i++) {
                printf("%-5lld %-28s %-10s %-8s %s\n", (long long)ucs[i].id, ucs[i].slug,
                       hh_risk_name(ucs[i].cls.risk), ucs[i].policy.approval_required ? "yes" : "no",
                       hh_usecase_str(&ucs[i], "name"));
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
        status = do_export(s, out_dir, models, !strcmp(format, "html") ? HH_CARD_HTML : HH_CARD_MD);
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
        }
    }
    hh_usecase_clear(&u);
    cJSON_Delete(in);
    hh_store_close(s);
    return status;
}
