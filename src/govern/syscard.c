/* syscard.c - documentation generated from the live register (register.h):
 * Annex IV-style system cards per use case and the GDPR Art. 30 records of
 * processing activities, as Markdown or HTML; model file hashes cached by
 * size + mtime in the store (store.h "file hashes"). */
#include "govern/register.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- model hashes ----------------------------------------------------- */

static int hash_file(const char *path, char hex[HH_SHA256_HEX_LEN + 1], hh_err_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return hh_err_set(err, HH_EIO, -1, "cannot open %s: %s", path, strerror(errno));
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    unsigned char *buf = malloc(1 << 20);
    int rc = 0;
    if (!buf) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        goto cleanup;
    }
    for (;;) {
        ssize_t n = read(fd, buf, 1 << 20);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = hh_err_set(err, HH_EIO, -1, "cannot read %s: %s", path, strerror(errno));
            goto cleanup;
        }
        if (n == 0)
            break;
        crypto_hash_sha256_update(&h, buf, (unsigned long long)n);
    }
    unsigned char out[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&h, out);
    sodium_bin2hex(hex, HH_SHA256_HEX_LEN + 1, out, sizeof out);
cleanup:
    free(buf);
    close(fd);
    return rc;
}

int hh_register_file_sha256(hh_store_t *s, const char *path, char hex[HH_SHA256_HEX_LEN + 1], hh_err_t *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return hh_err_set(err, HH_EIO, -1, "cannot stat %s: %s", path, strerror(errno));
    int64_t mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    bool cached = false;
    /* a cache that cannot be read is no reason to fail: hash the file */
    if (hh_store_model_hash_get(s, path, (int64_t)sb.st_size, mtime_ns, hex, &cached, NULL) == 0 && cached)
        return 0;
    int rc = hash_file(path, hex, err);   /* outside the store's lock: large files take seconds */
    if (rc)
        return rc;
    return hh_store_model_hash_put(s, path, (int64_t)sb.st_size, mtime_ns, hex, err);
}

/* ---- text output ------------------------------------------------------ */

typedef struct out {
    FILE            *f;
    hh_card_format_t fmt;
    bool             german;   /* labels and fixed sentences in German (UI-GUIDE.md terms) */
} out_t;

/* The label in the document's language. */
#define T(en, de)  (o->german ? (de) : (en))
#define TO(en, de) (o.german ? (de) : (en))

/* Writes v as text: HTML-escaped, or with Markdown's table/inline markup
 * characters made harmless (pipes escaped, newlines as spaces). */
static void put(out_t *o, const char *v)
{
    for (const char *p = v ? v : ""; *p; p++) {
        char c = *p;
        if (o->fmt == HH_CARD_HTML) {
            switch (c) {
            case '&': fputs("&amp;", o->f); break;
            case '<': fputs("&lt;", o->f); break;
            case '>': fputs("&gt;", o->f); break;
            case '"': fputs("&quot;", o->f); break;
            case '\'': fputs("&#39;", o->f); break;
            default: fputc(c, o->f);
            }
        } else {
            if (c == '|' || c == '\\' || c == '<' || c == '>' || c == '`' || c == '*' || c == '[' ||
                c == ']')
                fputc('\\', o->f);
            fputc(c == '\n' || c == '\r' ? ' ' : c, o->f);
        }
    }
}

static void heading(out_t *o, int level, const char *text)
{
    if (o->fmt == HH_CARD_HTML) {
        fprintf(o->f, "<h%d>", level);
        put(o, text);
        fprintf(o->f, "</h%d>\n", level);
    } else {
        fprintf(o->f, "\n%.*s ", level, "######");
        put(o, text);
        fputs("\n\n", o->f);
    }
}

static void para(out_t *o, const char *text)
{
    fputs(o->fmt == HH_CARD_HTML ? "<p>" : "", o->f);
    put(o, text && text[0] ? text : T("(none recorded)", "(nichts erfasst)"));
    fputs(o->fmt == HH_CARD_HTML ? "</p>\n" : "\n\n", o->f);
}

static void list_begin(out_t *o)
{
    if (o->fmt == HH_CARD_HTML)
        fputs("<ul>\n", o->f);
}

static void list_end(out_t *o)
{
    fputs(o->fmt == HH_CARD_HTML ? "</ul>\n" : "\n", o->f);
}

static void item_begin(out_t *o)
{
    fputs(o->fmt == HH_CARD_HTML ? "<li>" : "- ", o->f);
}

static void item_end(out_t *o)
{
    fputs(o->fmt == HH_CARD_HTML ? "</li>\n" : "\n", o->f);
}

static void item(out_t *o, const char *text)
{
    item_begin(o);
    put(o, text);
    item_end(o);
}

/* A labelled row ("**Label:** value" / <tr>). */
static void row(out_t *o, const char *label, const char *value)
{
    if (o->fmt == HH_CARD_HTML) {
        fputs("<tr><th>", o->f);
        put(o, label);
        fputs("</th><td>", o->f);
        put(o, value);
        fputs("</td></tr>\n", o->f);
    } else {
        fputs("| ", o->f);
        put(o, label);
        fputs(" | ", o->f);
        put(o, value);
        fputs(" |\n", o->f);
    }
}

static void table_begin(out_t *o, const char *left, const char *right)
{
    if (o->fmt == HH_CARD_HTML)
        fprintf(o->f, "<table>\n<tr><th>%s</th><th>%s</th></tr>\n", left, right);   /* literals: no escaping */
    else
        fprintf(o->f, "| %s | %s |\n|---|---|\n", left, right);
}

static void table_end(out_t *o)
{
    fputs(o->fmt == HH_CARD_HTML ? "</table>\n" : "\n", o->f);
}

static void doc_begin(out_t *o, const char *title)
{
    if (o->fmt == HH_CARD_HTML) {
        fputs("<!DOCTYPE html>\n<html lang=\"", o->f);
        fputs(o->german ? "de" : "en", o->f);
        fputs("\"><head><meta charset=\"utf-8\"><title>", o->f);
        put(o, title);
        fputs("</title></head><body>\n", o->f);
        heading(o, 1, title);
    } else {
        fputs("# ", o->f);
        put(o, title);
        fputs("\n", o->f);
    }
}

static void doc_end(out_t *o)
{
    if (o->fmt == HH_CARD_HTML)
        fputs("</body></html>\n", o->f);
}

/* A string array of the doc as comma-joined text (malloc'd; "" if empty). */
static char *joined(const cJSON *doc, const char *field)
{
    size_t n = 1;
    const cJSON *it;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, field);
    cJSON_ArrayForEach(it, arr)
        if (cJSON_IsString(it))
            n += strlen(it->valuestring) + 2;
    char *b = malloc(n);
    if (!b)
        return NULL;
    b[0] = '\0';
    size_t o = 0;
    cJSON_ArrayForEach(it, arr) {
        if (!cJSON_IsString(it))
            continue;
        o += (size_t)snprintf(b + o, n - o, "%s%s", o ? ", " : "", it->valuestring);
    }
    return b;
}

static void fmt_time(int64_t t, char *buf, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Active users with role approver, by name: the human oversight. */
static int approvers(hh_store_t *s, out_t *o, hh_err_t *err)
{
    hh_store_user_info_t *users = NULL;
    size_t n_users = 0;
    int n = 0;
    list_begin(o);
    int rc = hh_store_user_list(s, &users, &n_users, err);   /* by name */
    for (size_t i = 0; rc == 0 && i < n_users; i++) {
        if (strcmp(users[i].user.role, "approver") != 0 || users[i].user.disabled)
            continue;
        item_begin(o);
        fputs(T("approver: ", "Freigabe: "), o->f);
        put(o, users[i].user.name);
        item_end(o);
        n++;
    }
    free(users);
    if (rc == 0 && n == 0)
        item(o, T("no user has the role approver: nobody can approve held answers",
                  "niemand hat die Rolle Freigabe: vorgelegte Antworten kann niemand freigeben"));
    list_end(o);
    return rc;
}

/* German texts of the questionnaire (register.c holds the English ones). */
static const char *const g_questions_de[][2] = {
    { "p_subliminal", "Setzt es unterschwellige, manipulative oder t\xC3\xA4uschende Techniken ein, die das Verhalten "
                      "wesentlich verzerren und erheblichen Schaden verursachen?" },
    { "p_exploit_vulnerability", "Nutzt es Schw\xC3\xA4" "chen aufgrund von Alter, Behinderung oder sozialer oder "
                                 "wirtschaftlicher Lage aus, um Verhalten sch\xC3\xA4" "dlich zu verzerren?" },
    { "p_social_scoring", "Bewertet oder klassifiziert es Personen nach sozialem Verhalten oder pers\xC3\xB6nlichen "
                          "Merkmalen (Social Scoring) mit nachteiliger Behandlung?" },
    { "p_predictive_policing", "Sagt es das Risiko einer Straftat einer Person allein aufgrund von Profiling oder "
                               "Pers\xC3\xB6nlichkeitsmerkmalen vorher?" },
    { "p_face_scraping", "Erstellt oder erweitert es Gesichtserkennungsdatenbanken durch ungezieltes Auslesen von "
                         "Bildern aus dem Internet oder aus \xC3\x9C" "berwachungsaufnahmen?" },
    { "p_emotion_work_education", "Erkennt es Emotionen von Personen am Arbeitsplatz oder in Bildungseinrichtungen?" },
    { "x_emotion_medical_safety", "Dient diese Emotionserkennung nur medizinischen oder Sicherheitszwecken?" },
    { "p_biometric_categorisation", "Kategorisiert es Personen anhand biometrischer Daten, um auf ethnische Herkunft, "
                                    "politische Meinungen, Gewerkschaftszugeh\xC3\xB6rigkeit, religi\xC3\xB6se "
                                    "\xC3\x9C" "berzeugungen, Sexualleben oder sexuelle Orientierung zu schlie\xC3\x9F" "en?" },
    { "p_realtime_rbi_law_enforcement", "F\xC3\xBChrt es biometrische Echtzeit-Fernidentifizierung in "
                                        "\xC3\xB6" "ffentlich zug\xC3\xA4nglichen R\xC3\xA4umen zur Strafverfolgung "
                                        "durch?" },
    { "h_biometrics", "Wird es zur biometrischen Fernidentifizierung, biometrischen Kategorisierung oder "
                      "Emotionserkennung eingesetzt?" },
    { "h_critical_infrastructure", "Ist es eine Sicherheitskomponente kritischer digitaler Infrastruktur, des "
                                   "Stra\xC3\x9F" "enverkehrs oder der Wasser-, Gas-, W\xC3\xA4rme- oder "
                                   "Stromversorgung?" },
    { "h_education", "Entscheidet es \xC3\xBC" "ber Zulassung, bewertet Lernergebnisse, ermittelt Bildungsniveaus "
                     "oder \xC3\xBC" "berwacht Pr\xC3\xBC" "fungen?" },
    { "h_employment", "Wird es f\xC3\xBCr Einstellung, Auswahl (z. B. Sichtung von Lebensl\xC3\xA4" "ufen), "
                      "Bef\xC3\xB6rderung, K\xC3\xBCndigung, Aufgabenzuweisung oder \xC3\x9C" "berwachung von "
                      "Besch\xC3\xA4" "ftigten eingesetzt?" },
    { "h_essential_services", "Pr\xC3\xBC" "ft es Anspr\xC3\xBC" "che auf \xC3\xB6" "ffentliche Leistungen, die "
                              "Kreditw\xC3\xBCrdigkeit, Preise von Lebens- oder Krankenversicherungen, oder "
                              "priorisiert es Notrufe?" },
    { "h_law_enforcement", "Wird es von oder f\xC3\xBCr Strafverfolgungsbeh\xC3\xB6rden eingesetzt (Opferrisiko, "
                           "L\xC3\xBCgendetektoren, Beweisw\xC3\xBCrdigung, R\xC3\xBC" "ckfallrisiko, Profiling)?" },
    { "h_migration", "Wird es in Migration, Asyl oder Grenzkontrolle eingesetzt?" },
    { "h_justice_democracy", "Unterst\xC3\xBCtzt es Justizbeh\xC3\xB6rden oder Streitbeilegung, oder beeinflusst "
                             "es Wahlen oder Wahlverhalten?" },
    { "e_narrow_procedural", "F\xC3\xBChrt es nur eine eng gefasste Verfahrensaufgabe aus?" },
    { "e_improves_human_result", "Verbessert es nur das Ergebnis einer zuvor abgeschlossenen menschlichen "
                                 "T\xC3\xA4tigkeit?" },
    { "e_detects_patterns", "Erkennt es nur Entscheidungsmuster oder Abweichungen, ohne die menschliche Bewertung "
                            "ohne angemessene Pr\xC3\xBC" "fung zu ersetzen oder zu beeinflussen?" },
    { "e_preparatory", "F\xC3\xBChrt es nur eine vorbereitende Aufgabe f\xC3\xBCr eine Bewertung in einem "
                       "Anwendungsfall nach Anhang III aus?" },
    { "f_profiling", "Erstellt es Profile nat\xC3\xBCrlicher Personen (automatisierte Bewertung pers\xC3\xB6nlicher "
                     "Aspekte, DSGVO Art. 4 Nr. 4)?" },
    { "t_interacts_with_persons", "Interagiert es direkt mit nat\xC3\xBCrlichen Personen?" },
    { "t_generates_content", "Erzeugt es synthetische Text-, Audio-, Bild- oder Videoinhalte?" },
    { "t_emotion_or_biometric", "F\xC3\xBChrt es Emotionserkennung oder biometrische Kategorisierung durch (soweit "
                                "nicht verboten)?" },
    { "t_deep_fake", "Erzeugt oder manipuliert es Bild-, Audio- oder Videoinhalte, die ein Deepfake sind, oder "
                     "Texte, die zur Information der \xC3\x96" "ffentlichkeit ver\xC3\xB6" "ffentlicht werden?" },
};

static const char *question_text(const out_t *o, const hh_reg_question_t *q)
{
    if (o->german)
        for (size_t i = 0; i < sizeof g_questions_de / sizeof g_questions_de[0]; i++)
            if (!strcmp(g_questions_de[i][0], q->id))
                return g_questions_de[i][1];
    return q->text;
}

static const char *risk_name(const out_t *o, hh_risk_t r)
{
    if (!o->german)
        return hh_risk_name(r);
    switch (r) {
    case HH_RISK_PROHIBITED: return "verboten";
    case HH_RISK_HIGH: return "hoch";
    case HH_RISK_LIMITED: return "begrenzt";
    default: return "minimal";
    }
}

/* An article reference in German ("Annex III point 4" -> "Anhang III Nr. 4"). */
static void article_de(const char *en, char *buf, size_t cap);

/* A classification reason (register.c writes them in English) in the
 * document's language: its fixed phrases replaced one by one. */
static void reason_text(const out_t *o, const char *en, char *buf, size_t cap)
{
    if (!o->german) {
        snprintf(buf, cap, "%s", en);
        return;
    }
    static const char *const map[][2] = {
        { "emotion recognition at work or in education for medical or safety reasons only is not prohibited",
          "Emotionserkennung am Arbeitsplatz oder in der Bildung nur aus medizinischen oder Sicherheitsgr\xC3\xBCnden "
          "ist nicht verboten" },
        { "prohibited practice", "verbotene Praktik" },
        { "high-risk area", "Hochrisikobereich" },
        { "exception claimed", "Ausnahme beansprucht" },
        { "the system profiles natural persons", "das System erstellt Profile nat\xC3\xBCrlicher Personen" },
        { "so no Art. 6(3) exception applies: always high risk",
          "daher gilt keine Ausnahme nach Art. 6(3): immer hohes Risiko" },
        { "not high risk, the system does not profile natural persons",
          "kein hohes Risiko, das System erstellt keine Profile nat\xC3\xBCrlicher Personen" },
        { "transparency duty", "Transparenzpflicht" },
        { "no prohibited practice, no high-risk area without exception, no transparency duty",
          "keine verbotene Praktik, kein Hochrisikobereich ohne Ausnahme, keine Transparenzpflicht" },
        { "(answer ", "(Antwort " },
        { " = yes)", " = ja)" },
        { " = no)", " = nein)" },
        { "last subparagraph", "letzter Unterabsatz" },
        { "Annex III point", "Anhang III Nr." },
    };
    size_t o_ = 0;
    const char *p = en;
    while (*p && o_ + 1 < cap) {
        bool done = false;
        for (size_t k = 0; k < sizeof map / sizeof map[0] && !done; k++) {
            size_t l = strlen(map[k][0]);
            if (!strncmp(p, map[k][0], l)) {
                o_ += (size_t)snprintf(buf + o_, cap - o_, "%s", map[k][1]);
                if (o_ >= cap)
                    o_ = cap - 1;
                p += l;
                done = true;
            }
        }
        if (!done)
            buf[o_++] = *p++;
    }
    buf[o_ < cap ? o_ : cap - 1] = '\0';
}

static void article_de(const char *en, char *buf, size_t cap)
{
    out_t de = { NULL, HH_CARD_MD, true };
    reason_text(&de, en, buf, cap);
}

static int write_card(hh_store_t *s, const hh_usecase_t *u, const char *models_dir, out_t *o, hh_err_t *err)
{
    char title[HH_REG_SLUG_MAX + 300], buf[1536];
    snprintf(title, sizeof title, "%s: %s (%s)", T("System card", "Systemkarte"), hh_usecase_str(u, "name"), u->slug);
    doc_begin(o, title);
    char t1[32], t2[32], gen[32];
    fmt_time(u->created_at, t1, sizeof t1);
    fmt_time(u->updated_at, t2, sizeof t2);
    fmt_time((int64_t)time(NULL), gen, sizeof gen);
    snprintf(buf, sizeof buf,
             T("Generated %s from the live configuration of hoheit (EU AI Act Annex IV style).",
               "Erzeugt %s aus der laufenden Konfiguration von hoheit (nach EU AI Act Anhang IV)."),
             gen);
    para(o, buf);

    heading(o, 2, T("1. General description and intended purpose", "1. Allgemeine Beschreibung und Zweckbestimmung"));
    table_begin(o, T("Field", "Feld"), T("Value", "Wert"));
    row(o, T("Use case", "KI-Anwendung"), u->slug);
    row(o, T("Name", "Name"), hh_usecase_str(u, "name"));
    row(o, T("Purpose", "Zweck"), hh_usecase_str(u, "purpose"));
    row(o, T("Owner", "Verantwortlich"), hh_usecase_str(u, "owner"));
    char *aff = joined(u->doc, "affected_persons");
    row(o, T("Affected persons", "Betroffene Personen"), aff && aff[0] ? aff : T("(none recorded)", "(nichts erfasst)"));
    free(aff);
    row(o, T("Registered", "Eingetragen"), u->id ? t1 : T("built in", "eingebaut"));
    row(o, T("Last change", "Letzte \xC3\x84nderung"), u->id ? t2 : T("built in", "eingebaut"));
    table_end(o);
    heading(o, 3, T("Who may use it", "Wer sie nutzen darf"));
    char *depts = joined(u->doc, "departments");
    snprintf(buf, sizeof buf, "%s%s",
             depts && depts[0] ? T("Members of the departments: ", "Mitglieder der Abteilungen: ")
                               : T("Every user, of any department (no restriction recorded)",
                                   "Alle Benutzer jeder Abteilung (keine Einschr\xC3\xA4nkung erfasst)"),
             depts && depts[0] ? depts : "");
    free(depts);
    para(o, buf);
    para(o, T("Roles do not widen this: admins manage the register but use a use case only as members of its "
              "departments.",
              "Rollen erweitern das nicht: Admins verwalten das Verzeichnis, nutzen eine KI-Anwendung aber nur als "
              "Mitglieder ihrer Abteilungen."));

    heading(o, 2, T("2. Models", "2. Modelle"));
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(u->doc, "models");
    list_begin(o);
    if (cJSON_GetArraySize(models) == 0)
        item(o, T("any model of the server (no restriction recorded)",
                  "jedes Modell des Servers (keine Einschr\xC3\xA4nkung erfasst)"));
    const cJSON *it;
    cJSON_ArrayForEach(it, models) {
        char path[4096], hex[HH_SHA256_HEX_LEN + 1];
        hh_err_t e2;
        hh_err_clear(&e2);
        if (models_dir)
            snprintf(path, sizeof path, "%s/%s.gguf", models_dir, it->valuestring);
        else
            snprintf(path, sizeof path, "%s/models/%s.gguf", hh_store_data_dir(s), it->valuestring);
        item_begin(o);
        put(o, it->valuestring);
        if (strchr(it->valuestring, '/') || hh_register_file_sha256(s, path, hex, &e2) != 0) {
            fputs(T(": file not found in the models directory", ": Datei nicht im Modellverzeichnis gefunden"), o->f);
        } else {
            struct stat sb;
            fputs(o->fmt == HH_CARD_HTML ? T(": file <code>", ": Datei <code>") : T(": file `", ": Datei `"), o->f);
            if (o->fmt == HH_CARD_HTML)
                put(o, path);
            else
                fputs(path, o->f);   /* inside a code span: kept as is (no backticks in ours) */
            fputs(o->fmt == HH_CARD_HTML ? "</code>" : "`", o->f);
            if (stat(path, &sb) == 0)
                fprintf(o->f, T(", %lld bytes", ", %lld Bytes"), (long long)sb.st_size);
            fprintf(o->f, ", sha256 %s", hex);
        }
        item_end(o);
    }
    list_end(o);

    heading(o, 2, T("3. Knowledge-base collections", "3. Sammlungen der Wissensbasis"));
    const cJSON *colls = cJSON_GetObjectItemCaseSensitive(u->doc, "collections");
    list_begin(o);
    if (cJSON_GetArraySize(colls) == 0)
        item(o, T("none (answers are not grounded in a collection)",
                  "keine (Antworten st\xC3\xBCtzen sich auf keine Sammlung)"));
    cJSON_ArrayForEach(it, colls) {
        hh_store_collection_t c;
        hh_err_t e2;
        item_begin(o);
        put(o, it->valuestring);
        if (hh_store_collection_get(s, it->valuestring, &c, &e2) == 0) {
            fprintf(o->f, T(": %lld documents, departments: ", ": %lld Dokumente, Abteilungen: "),
                    (long long)c.n_documents);
            put(o, c.departments[0] ? c.departments : T("(admins only)", "(nur Admins)"));
        } else {
            fputs(T(": collection does not exist", ": Sammlung existiert nicht"), o->f);
        }
        item_end(o);
    }
    list_end(o);

    heading(o, 2, T("4. Risk classification", "4. Risikoeinstufung"));
    snprintf(buf, sizeof buf, "%s: %s", T("Risk class", "Risikoklasse"), risk_name(o, u->cls.risk));
    para(o, buf);
    heading(o, 3, T("Reasons", "Gr\xC3\xBCnde"));
    list_begin(o);
    for (size_t i = 0; i < u->cls.n_reasons; i++) {
        reason_text(o, u->cls.reasons[i], buf, sizeof buf);
        item(o, buf);
    }
    list_end(o);
    heading(o, 3, T("Questionnaire answers", "Antworten des Fragebogens"));
    table_begin(o, T("Question", "Frage"), T("Answer", "Antwort"));
    size_t nq = 0;
    const hh_reg_question_t *qs = hh_register_questions(&nq);
    const cJSON *answers = cJSON_GetObjectItemCaseSensitive(u->doc, "answers");
    for (size_t i = 0; i < nq; i++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(answers, qs[i].id);
        char art[128];
        if (o->german)
            article_de(qs[i].article, art, sizeof art);
        else
            snprintf(art, sizeof art, "%s", qs[i].article);
        snprintf(buf, sizeof buf, "%s %s (%s)", art, question_text(o, &qs[i]), qs[i].id);
        row(o, buf, !a ? T("not answered (no)", "nicht beantwortet (nein)") : cJSON_IsTrue(a) ? T("yes", "ja")
                                                                                              : T("no", "nein"));
    }
    table_end(o);

    heading(o, 2, T("5. Policy", "5. Richtlinie"));
    table_begin(o, T("Field", "Feld"), T("Value", "Wert"));
    row(o, T("Requests", "Anfragen"),
        u->policy.refused ? T("refused (prohibited practice)", "abgelehnt (verbotene Praktik)")
                          : T("served", "werden beantwortet"));
    row(o, T("Human approval of each answer", "Freigabe jeder Antwort durch einen Menschen"),
        u->policy.approval_required
            ? (u->policy.approval_locked ? T("required (Annex III point 4: always)", "erforderlich (Anhang III Nr. 4: immer)")
                                         : T("required", "erforderlich"))
            : T("not required", "nicht erforderlich"));
    row(o, T("Audit detail", "Umfang des Pr\xC3\xBC" "fprotokolls"),
        u->policy.audit_detail == HH_AUDIT_FULL ? T("full text", "voller Text") : T("hashes only", "nur Hashwerte"));
    row(o, T("PII redaction", "Schw\xC3\xA4rzung personenbezogener Daten"),
        u->policy.pii_redaction ? T("on", "an") : T("off", "aus"));
    row(o, T("PII redaction of prompts (before the model)",
             "Schw\xC3\xA4rzung personenbezogener Daten in Anfragen (vor dem Modell)"),
        u->policy.redact_prompts ? T("on", "an") : T("off", "aus"));
    snprintf(buf, sizeof buf, T("%d days", "%d Tage"), u->policy.retention_days);
    row(o, T("Retention", "Aufbewahrung"), buf);
    snprintf(buf, sizeof buf, "%.2f", u->policy.confidence_threshold);
    row(o, T("Confidence threshold", "Schwelle der Sicherheit"), buf);
    table_end(o);

    heading(o, 2, T("6. Human oversight (Art. 14)", "6. Menschliche Aufsicht (Art. 14)"));
    para(o, u->policy.approval_required
                ? T("Answers are held until a user with the role approver decides.",
                    "Antworten werden zur Freigabe vorgelegt, bis ein Benutzer mit der Rolle Freigabe entscheidet.")
                : T("Answers are released without prior approval; approvers can review the audit log.",
                    "Antworten werden ohne vorherige Freigabe ausgegeben; Freigebende k\xC3\xB6nnen das "
                    "Pr\xC3\xBC" "fprotokoll einsehen."));
    int rc = approvers(s, o, err);
    if (rc)
        return rc;

    heading(o, 2, T("7. Known limits", "7. Bekannte Grenzen"));
    para(o, hh_usecase_str(u, "known_limits"));

    heading(o, 2, T("8. Recorded measurements", "8. Erfasste Messungen"));
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(u->doc, "measurements");
    list_begin(o);
    cJSON_ArrayForEach(it, ms) {
        item_begin(o);
        put(o, cJSON_GetObjectItemCaseSensitive(it, "name")->valuestring);
        fputs(": ", o->f);
        put(o, cJSON_GetObjectItemCaseSensitive(it, "value")->valuestring);
        const char *link = cJSON_GetObjectItemCaseSensitive(it, "link")->valuestring;
        if (link[0]) {
            fputs(T(" (see ", " (siehe "), o->f);
            put(o, link);
            fputs(")", o->f);
        }
        item_end(o);
    }
    item(o, T("engine speed and retrieval quality of this build: docs/BENCHMARKS.md",
              "Geschwindigkeit und Suchqualit\xC3\xA4t dieses Builds: docs/BENCHMARKS.md"));
    list_end(o);

    heading(o, 2, T("9. Change history", "9. \xC3\x84nderungsverlauf"));
    cJSON *hist = NULL;
    if (u->id && (rc = hh_register_history(s, u->id, &hist, err)))
        return rc;
    list_begin(o);
    if (!u->id)
        item(o, T("built in; not changed", "eingebaut; nicht ge\xC3\xA4ndert"));
    cJSON_ArrayForEach(it, hist) {
        char at[32];
        fmt_time((int64_t)cJSON_GetObjectItemCaseSensitive(it, "at")->valuedouble, at, sizeof at);
        char *d = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(it, "detail"));
        item_begin(o);
        put(o, at);
        fputs(" ", o->f);
        put(o, cJSON_GetObjectItemCaseSensitive(it, "action")->valuestring);
        fputs(T(" by ", " von "), o->f);
        put(o, cJSON_GetObjectItemCaseSensitive(it, "actor")->valuestring);
        if (d) {
            fputs(": ", o->f);
            put(o, strlen(d) > 600 ? T("(fields changed; see the register's history)",
                                       "(Felder ge\xC3\xA4ndert; siehe Verlauf im Verzeichnis)")
                                   : d);
        }
        item_end(o);
        cJSON_free(d);
    }
    list_end(o);
    cJSON_Delete(hist);
    doc_end(o);
    return 0;
}

/* "de" (any case, with a region) is German; anything else English. */
static bool is_german(const char *lang)
{
    return lang && (lang[0] == 'd' || lang[0] == 'D') && (lang[1] == 'e' || lang[1] == 'E') &&
           (lang[2] == '\0' || lang[2] == '-' || lang[2] == '_');
}

int hh_register_card(hh_store_t *s, const char *id_or_slug, const char *models_dir, hh_card_format_t fmt,
                     const char *lang, char **out, hh_err_t *err)
{
    *out = NULL;
    hh_usecase_t u;
    int rc = hh_register_get(s, id_or_slug, &u, err);
    if (rc)
        return rc;
    char *body = NULL;
    size_t len = 0;
    out_t o = { open_memstream(&body, &len), fmt, is_german(lang) };
    if (!o.f) {
        hh_usecase_clear(&u);
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    }
    rc = write_card(s, &u, models_dir, &o, err);
    if (fclose(o.f) != 0 && rc == 0)
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    hh_usecase_clear(&u);
    if (rc) {
        free(body);
        return rc;
    }
    *out = body;
    return 0;
}

int hh_register_ropa(hh_store_t *s, hh_card_format_t fmt, const char *lang, char **out, hh_err_t *err)
{
    *out = NULL;
    hh_usecase_t *ucs = NULL;
    size_t n = 0;
    int rc = hh_register_list(s, &ucs, &n, err);
    if (rc)
        return rc;
    char *body = NULL;
    size_t len = 0;
    out_t o = { open_memstream(&body, &len), fmt, is_german(lang) };
    if (!o.f) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        goto cleanup;
    }
    doc_begin(&o, TO("Records of processing activities (GDPR Art. 30)",
                     "Verzeichnis von Verarbeitungst\xC3\xA4tigkeiten (DSGVO Art. 30)"));
    para(&o, TO("Generated from the hoheit use-case register; one record per use case. Controller details are "
                "added by the organisation.",
                "Erzeugt aus dem Verzeichnis der KI-Anwendungen von hoheit; ein Eintrag je KI-Anwendung. Angaben "
                "zum Verantwortlichen erg\xC3\xA4nzt die Organisation."));
    if (n == 0)
        para(&o, TO("No use case is registered.", "Keine KI-Anwendung ist eingetragen."));
    for (size_t i = 0; i < n; i++) {
        const hh_usecase_t *u = &ucs[i];
        char title[HH_REG_SLUG_MAX + 300], buf[128];
        snprintf(title, sizeof title, "%s (%s)", hh_usecase_str(u, "name"), u->slug);
        heading(&o, 2, title);
        table_begin(&o, TO("Field", "Feld"), TO("Value", "Wert"));
        row(&o, TO("Purpose of the processing", "Zweck der Verarbeitung"), hh_usecase_str(u, "purpose"));
        row(&o, TO("Responsible owner", "Verantwortlich"), hh_usecase_str(u, "owner"));
        static const char *const lists[][3] = {
            { "affected_persons", "Categories of data subjects", "Kategorien betroffener Personen" },
            { "data_categories", "Categories of personal data", "Kategorien personenbezogener Daten" },
            { "recipients", "Categories of recipients", "Kategorien von Empf\xC3\xA4ngern" },
            { "safeguards", "Technical and organisational measures", "Technische und organisatorische Ma\xC3\x9Fnahmen" },
        };
        for (size_t k = 0; k < 4; k++) {
            char *j = joined(u->doc, lists[k][0]);
            row(&o, o.german ? lists[k][2] : lists[k][1], j && j[0] ? j : TO("(none recorded)", "(nichts erfasst)"));
            free(j);
        }
        snprintf(buf, sizeof buf, TO("%d days (audit records, per policy)", "%d Tage (Pr\xC3\xBC" "fprotokoll, laut Richtlinie)"),
                 u->policy.retention_days);
        row(&o, TO("Time limits for erasure", "Fristen f\xC3\xBCr die L\xC3\xB6schung"), buf);
        row(&o, TO("Transfers to third countries", "\xC3\x9C" "bermittlung in Drittl\xC3\xA4nder"),
            TO("none: processed on the organisation's own hoheit server",
               "keine: Verarbeitung auf dem eigenen hoheit-Server der Organisation"));
        row(&o, TO("AI Act risk class", "Risikoklasse nach AI Act"), risk_name(&o, u->cls.risk));
        row(&o, TO("PII redaction in audit records", "Schw\xC3\xA4rzung personenbezogener Daten im Pr\xC3\xBC" "fprotokoll"),
            u->policy.pii_redaction ? TO("on", "an") : TO("off", "aus"));
        table_end(&o);
    }
    doc_end(&o);
    if (fclose(o.f) != 0)
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
cleanup:
    for (size_t i = 0; i < n; i++)
        hh_usecase_clear(&ucs[i]);
    free(ucs);
    if (rc) {
        free(body);
        return rc;
    }
    *out = body;
    return 0;
}
