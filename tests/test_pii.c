/* test_pii.c - personal-data detection and redaction: each kind's
 * positives and checksum-failing negatives, exact redaction output, keyed
 * pseudonyms, UTF-8 names, overlap resolution, invalid UTF-8, and the
 * precision/recall floor on the labeled set tests/pii/labeled.jsonl; German
 * persons without a names file, postal addresses and Personalausweis
 * numbers, their floors on tests/pii/de (tune and held-out parts), and the
 * audit log redacting them. */
#include "harness.h"
#include "govern/audit.h"
#include "govern/pii.h"
#include "govern/register.h"
#include "store/store.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

/* Finds with only `kinds` enabled and writes "KIND:text|KIND:text" into
 * buf; returns the span count or a negative error. */
static int found(const char *text, unsigned kinds, const char *const *names, size_t n_names,
                 char *buf, size_t cap)
{
    hh_pii_config_t cfg;
    hh_pii_default_config(&cfg);
    cfg.kinds = kinds;
    cfg.names = names;
    cfg.n_names = n_names;
    hh_pii_span_t *sp = NULL;
    size_t n = 0;
    int rc = hh_pii_find(text, strlen(text), &cfg, &sp, &n);
    if (rc)
        return rc;
    size_t o = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < n && o < cap; k++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%s:%.*s", k ? "|" : "", hh_pii_kind_name(sp[k].kind),
                              (int)(sp[k].end - sp[k].start), text + sp[k].start);
    free(sp);
    return (int)n;
}

#define K(kind) (1u << (kind))

/* Asserts that text (with only `kinds`) yields exactly `want`. */
#define EXPECT_FOUND(text, kinds, want) do {                                   \
        char _fb[512];                                                          \
        int _n = found((text), (kinds), NULL, 0, _fb, sizeof _fb);               \
        ASSERT_TRUE(_n >= 0);                                                  \
        ASSERT_STREQ(_fb, (want));                                              \
    } while (0)

TEST(pii_email)
{
    EXPECT_FOUND("Mail an anna.schmidt+x@mail.example.com, danke.", K(HH_PII_EMAIL),
                 "EMAIL:anna.schmidt+x@mail.example.com");
    EXPECT_FOUND("<a.b@c.de>;x@y.org.", K(HH_PII_EMAIL), "EMAIL:a.b@c.de|EMAIL:x@y.org");
    EXPECT_FOUND("root@localhost, icon@2x.png, pkg foo@1.2.3, @handle", K(HH_PII_EMAIL), "");
}

TEST(pii_phone)
{
    unsigned P = K(HH_PII_PHONE);
    EXPECT_FOUND("Tel. +49 30 12345678.", P, "PHONE:+49 30 12345678");
    EXPECT_FOUND("unter 0049 89 98765432 oder", P, "PHONE:0049 89 98765432");
    EXPECT_FOUND("Büro 030 1234567, mobil 0171-2345678", P, "PHONE:030 1234567|PHONE:0171-2345678");
    EXPECT_FOUND("Rückruf (030) 123 45 67 bitte", P, "PHONE:(030) 123 45 67");
    EXPECT_FOUND("Fax 0221/4567890", P, "PHONE:0221/4567890");
    EXPECT_FOUND("call +44 20 7946 0958 now", P, "PHONE:+44 20 7946 0958");
    /* digit runs that are not phone numbers */
    EXPECT_FOUND("Bestellnummer 0123456789 vom 01/02/2024", P, "");
    EXPECT_FOUND("01067 Dresden, Version 0.12.3, 05-12-2024 14:30", P, "");
    EXPECT_FOUND("Wert 0,5 bis 0,75; Koordinaten 0.1234567", P, "");
    EXPECT_FOUND("Kundennummer 0098765432", P, "");
    /* without separators only with a phone word before it */
    EXPECT_FOUND("Nummer 0301234567 fehlt", P, "");
    EXPECT_FOUND("Telefon 0301234567", P, "PHONE:0301234567");
}

TEST(pii_iban)
{
    unsigned I = K(HH_PII_IBAN);
    EXPECT_FOUND("IBAN DE89 3704 0044 0532 0130 00, BIC X", I, "IBAN:DE89 3704 0044 0532 0130 00");
    EXPECT_FOUND("IBAN DE89370400440532013000.", I, "IBAN:DE89370400440532013000");
    /* check digits off by one, a short one, an unknown country */
    EXPECT_FOUND("IBAN DE88 3704 0044 0532 0130 00", I, "");
    EXPECT_FOUND("IBAN DE89 3704 0044 0532 0130 0", I, "");
    EXPECT_FOUND("XX89 3704 0044 0532 0130 00", I, "");
    /* the broken IBAN's groups are not a phone number either */
    EXPECT_FOUND("IBAN DE88 3704 0044 0532 0130 00", HH_PII_ALL_KINDS, "");
}

TEST(pii_card)
{
    unsigned C = K(HH_PII_CARD);
    EXPECT_FOUND("Visa 4111 1111 1111 1111 exp 09/27", C, "CARD:4111 1111 1111 1111");
    EXPECT_FOUND("MC 5555-5555-5555-4444.", C, "CARD:5555-5555-5555-4444");
    EXPECT_FOUND("Amex 378282246310005", C, "CARD:378282246310005");
    /* Luhn fails; Luhn passes but no issuer prefix; Amex prefix wrong length */
    EXPECT_FOUND("Visa 4111 1111 1111 1112", C, "");
    EXPECT_FOUND("Nr 1234567812345670", C, "");
    EXPECT_FOUND("3782822463100056", C, "");
}

TEST(pii_tax_id)
{
    unsigned T = K(HH_PII_TAX_ID);
    EXPECT_FOUND("Steuer-ID 86095742719.", T, "TAX_ID:86095742719");
    EXPECT_FOUND("IdNr 86 095 742 719", T, "TAX_ID:86 095 742 719");
    EXPECT_FOUND("IdNr 23445678908", T, "TAX_ID:23445678908"); /* a digit twice, adjacent: allowed */
    EXPECT_FOUND("falsche Prüfziffer 86095742718", T, "");
    EXPECT_FOUND("alle verschieden 12345678903", T, "");      /* valid check digit, no repeat */
    EXPECT_FOUND("dreimal in Folge 44455678906", T, "");      /* valid check digit */
    EXPECT_FOUND("fünfmal 55555123450", T, "");
    EXPECT_FOUND("führende Null 08609574271", T, "");
}

TEST(pii_ssn)
{
    unsigned S = K(HH_PII_SSN);
    EXPECT_FOUND("RV-Nr. 15070649C103.", S, "SSN:15070649C103");
    EXPECT_FOUND("RV-Nr. 15 070649 C 103", S, "SSN:15 070649 C 103");
    EXPECT_FOUND("RV-Nr. 15070649C104", S, "");  /* check digit */
    EXPECT_FOUND("RV-Nr. 15320649C103", S, "");  /* day 32 */
    EXPECT_FOUND("code 15070649c103", S, "");    /* lower-case letter */
}

TEST(pii_dob)
{
    unsigned D = K(HH_PII_DOB);
    EXPECT_FOUND("Max, geb. 14.07.1983, Köln", D, "DOB:14.07.1983");
    EXPECT_FOUND("geboren am 22. Dezember 1969 in Hamburg", D, "DOB:22. Dezember 1969");
    EXPECT_FOUND("Geburtsdatum: 1. März 1978", D, "DOB:1. März 1978");
    EXPECT_FOUND("DOB: 1985-06-30", D, "DOB:1985-06-30");
    EXPECT_FOUND("born on March 4, 1972 in Ohio", D, "DOB:March 4, 1972");
    EXPECT_FOUND("wurde am 1. März 1978 geboren", D, "DOB:1. März 1978");
    /* dates without a birth context, or in another sentence */
    EXPECT_FOUND("Rechnung vom 14.07.1983, fällig 28.07.1983", D, "");
    EXPECT_FOUND("Geburtsdatum: unbekannt. Antrag vom 02.02.2024", D, "");
    EXPECT_FOUND("born in 1985; invalid 31.13.1985", D, "");
    /* only the first date after the context word */
    EXPECT_FOUND("geb. 01.02.1960, Eintritt 01.04.2020", D, "DOB:01.02.1960");
}

TEST(pii_names_utf8_whole_word)
{
    const char *names[] = { "Jürgen Müller", "Müller", "Özlem Yılmaz", "Weiß" };
    char b[512];
    int n = found("Herr Jürgen Müller traf Frau Müller und „Özlem Yılmaz“; Weiß.", K(HH_PII_NAME), names, 4, b, sizeof b);
    ASSERT_EQ_INT(n, 4);
    ASSERT_STREQ(b, "NAME:Jürgen Müller|NAME:Müller|NAME:Özlem Yılmaz|NAME:Weiß");
    /* case-sensitive, whole words only (umlaut letters count as letters) */
    n = found("Müllerstraße, müller, Weißbier, MÜLLER, Müllers", K(HH_PII_NAME), names, 4, b, sizeof b);
    ASSERT_EQ_INT(n, 0);
    /* an empty name is refused */
    const char *bad[] = { "" };
    ASSERT_EQ_INT(found("x", K(HH_PII_NAME), bad, 1, b, sizeof b), HH_EINVAL);
}

TEST(pii_names_load)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/pii_names.txt", hh_test_tmpdir());
    FILE *f = fopen(path, "wb");
    ASSERT_TRUE(f != NULL);
    fputs("# list\n  Jürgen Müller \r\n\nAnna\n", f);
    fclose(f);
    char **names = NULL;
    size_t n = 0;
    ASSERT_OK(hh_pii_names_load(path, &names, &n, NULL));
    ASSERT_EQ_INT(n, 2);
    ASSERT_STREQ(names[0], "Jürgen Müller");
    ASSERT_STREQ(names[1], "Anna");
    hh_pii_names_free(names, n);
    f = fopen(path, "wb");
    ASSERT_TRUE(f != NULL);
    fputs("ok\nM\xfcller\n", f); /* Latin-1, not UTF-8 */
    fclose(f);
    hh_err_t err = { 0 };
    ASSERT_EQ_INT(hh_pii_names_load(path, &names, &n, &err), HH_EFORMAT);
    ASSERT_EQ_INT(err.pos, 2);
}

TEST(pii_redact_exact)
{
    const char *names[] = { "Anna Schmidt" };
    hh_pii_config_t cfg;
    hh_pii_default_config(&cfg);
    cfg.names = names;
    cfg.n_names = 1;
    const char *text = "Anna Schmidt (geb. 03.11.1990), anna@example.de, Tel. 030 1234567, "
                       "IBAN DE89 3704 0044 0532 0130 00, Karte 4111 1111 1111 1111, "
                       "Steuer-ID 86095742719, RV 15070649C103.";
    char *out = NULL;
    size_t out_len = 0;
    ASSERT_OK(hh_pii_redact(text, strlen(text), &cfg, &out, &out_len));
    const char *want = "[NAME] (geb. [DOB]), [EMAIL], Tel. [PHONE], IBAN [IBAN], Karte [CARD], "
                       "Steuer-ID [TAX_ID], RV [SSN].";
    ASSERT_STREQ(out, want);
    ASSERT_EQ_INT(out_len, strlen(want));
    free(out);

    /* per-kind flags: only e-mail */
    cfg.kinds = K(HH_PII_EMAIL);
    ASSERT_OK(hh_pii_redact(text, strlen(text), &cfg, &out, &out_len));
    ASSERT_TRUE(strstr(out, "[EMAIL]") != NULL);
    ASSERT_TRUE(strstr(out, "Anna Schmidt") != NULL);
    ASSERT_TRUE(strstr(out, "DE89 3704") != NULL);
    free(out);

    /* nothing found: an exact copy; empty text */
    ASSERT_OK(hh_pii_redact("kein Treffer", 12, &cfg, &out, &out_len));
    ASSERT_STREQ(out, "kein Treffer");
    free(out);
    ASSERT_OK(hh_pii_redact("", 0, &cfg, &out, &out_len));
    ASSERT_EQ_INT(out_len, 0);
    free(out);
    ASSERT_OK(hh_pii_redact(NULL, 0, &cfg, &out, &out_len));
    ASSERT_STREQ(out, "");
    free(out);
    hh_pii_span_t *sp = NULL;
    size_t n = 0;
    ASSERT_EQ_INT(hh_pii_find(NULL, 5, &cfg, &sp, &n), HH_EINVAL);
}

TEST(pii_invalid_utf8_passthrough)
{
    hh_pii_config_t cfg;
    hh_pii_default_config(&cfg);
    const char text[] = "\xff\xfe a@b.de \xc3 \xe2\x82 Tel. 030 1234567\x80";
    size_t len = sizeof text - 1;
    char *out = NULL;
    size_t out_len = 0;
    ASSERT_OK(hh_pii_redact(text, len, &cfg, &out, &out_len));
    const char want[] = "\xff\xfe [EMAIL] \xc3 \xe2\x82 Tel. [PHONE]\x80";
    ASSERT_EQ_INT(out_len, sizeof want - 1);
    ASSERT_TRUE(memcmp(out, want, out_len) == 0);
    free(out);
}

/* Extracts the pseudonym of the first token "[KIND:xxxxxx]" in s. */
static void token_of(const char *s, char *tok, size_t cap)
{
    const char *a = strchr(s, '['), *b = a ? strchr(a, ']') : NULL;
    size_t n = a && b ? (size_t)(b - a + 1) : 0;
    if (n >= cap)
        n = cap - 1;
    memcpy(tok, a ? a : "", n);
    tok[n] = '\0';
}

TEST(pii_pseudonym_stable)
{
    const char *names[] = { "Jürgen Müller", "Anna Schmidt" };
    unsigned char key1[32], key2[32];
    for (int k = 0; k < 32; k++) {
        key1[k] = (unsigned char)k;
        key2[k] = (unsigned char)(k + 1);
    }
    hh_pii_config_t cfg;
    hh_pii_default_config(&cfg);
    cfg.names = names;
    cfg.n_names = 2;
    cfg.pseudonymize = 1;
    cfg.key = key1;
    cfg.key_len = sizeof key1;
    const char *text = "Jürgen Müller schrieb an Anna Schmidt; Jürgen Müller wartet.";
    char *out = NULL;
    size_t out_len = 0;
    ASSERT_OK(hh_pii_redact(text, strlen(text), &cfg, &out, &out_len));
    /* "[NAME:xxxxxx] schrieb an [NAME:yyyyyy]; [NAME:xxxxxx] wartet." */
    ASSERT_EQ_INT(out_len, strlen("[NAME:000000] schrieb an [NAME:000000]; [NAME:000000] wartet."));
    char t1[32], t2[32], t3[32];
    token_of(out, t1, sizeof t1);
    token_of(out + 14 + 11, t2, sizeof t2);
    token_of(out + 14 + 11 + 15, t3, sizeof t3);
    ASSERT_EQ_INT(strlen(t1), 13);
    ASSERT_TRUE(!strncmp(t1, "[NAME:", 6));
    ASSERT_STREQ(t3, t1);                 /* same person, same token */
    ASSERT_TRUE(strcmp(t1, t2) != 0);     /* another person, another token */
    free(out);

    /* the same value in another text keeps its token */
    ASSERT_OK(hh_pii_redact("Jürgen Müller", strlen("Jürgen Müller"), &cfg, &out, &out_len));
    ASSERT_STREQ(out, t1);
    free(out);

    /* another key, another token */
    cfg.key = key2;
    ASSERT_OK(hh_pii_redact("Jürgen Müller", strlen("Jürgen Müller"), &cfg, &out, &out_len));
    ASSERT_TRUE(strcmp(out, t1) != 0);
    free(out);

    /* a key that is too short is refused */
    cfg.key_len = 8;
    ASSERT_EQ_INT(hh_pii_redact("x", 1, &cfg, &out, &out_len), HH_EINVAL);
    ASSERT_TRUE(out == NULL);
}

TEST(pii_overlaps_resolved)
{
    const char *names[] = { "Anna", "Anna Schmidt", "Schmidt" };
    char b[512];
    /* the longer name wins over its prefix */
    ASSERT_EQ_INT(found("Anna Schmidt kommt", HH_PII_ALL_KINDS, names, 3, b, sizeof b), 1);
    ASSERT_STREQ(b, "NAME:Anna Schmidt");
    /* e-mail beats a name inside it */
    ASSERT_EQ_INT(found("Schmidt@example.de", HH_PII_ALL_KINDS, names, 3, b, sizeof b), 1);
    ASSERT_STREQ(b, "EMAIL:Schmidt@example.de");
    /* the IBAN's digit groups are not also a phone or a card */
    ASSERT_EQ_INT(found("Konto DE89 3704 0044 0532 0130 00", HH_PII_ALL_KINDS, NULL, 0, b, sizeof b), 1);
    ASSERT_STREQ(b, "IBAN:DE89 3704 0044 0532 0130 00");
    /* spans come back sorted and disjoint */
    hh_pii_config_t cfg;
    hh_pii_default_config(&cfg);
    cfg.names = names;
    cfg.n_names = 3;
    const char *text = "Schmidt, Anna: anna@x.de, 030 1234567, Anna Schmidt, 4111111111111111";
    hh_pii_span_t *sp = NULL;
    size_t n = 0;
    ASSERT_OK(hh_pii_find(text, strlen(text), &cfg, &sp, &n));
    ASSERT_EQ_INT(n, 6);
    for (size_t k = 1; k < n; k++)
        ASSERT_TRUE(sp[k - 1].end <= sp[k].start);
    ASSERT_EQ_INT(sp[5].kind, HH_PII_CARD);
    free(sp);
}

TEST(pii_linear_on_hostile_input)
{
    /* long runs that start many candidates: each must stay bounded */
    size_t len = 1u << 20;
    char *t = malloc(len);
    ASSERT_TRUE(t != NULL);
    for (size_t k = 0; k < len; k++)
        t[k] = "0 @a.1-"[k % 7];
    hh_pii_config_t cfg;
    hh_pii_default_config(&cfg);
    hh_pii_span_t *sp = NULL;
    size_t n = 0;
    int rc = hh_pii_find(t, len, &cfg, &sp, &n);
    free(sp);
    ASSERT_OK(rc);
    for (size_t k = 0; k < len; k++)
        t[k] = (k % 5 == 4) ? ' ' : '0';
    rc = hh_pii_find(t, len, &cfg, &sp, &n);
    free(sp);
    free(t);
    ASSERT_OK(rc);
    ASSERT_EQ_INT(n, 0);
}

/* Measured with `hoheit pii eval tests/pii/labeled.jsonl` (docs/PII.md):
 * every kind 1.000/1.000 except PHONE precision 0.976. The floors sit a
 * little below so a regression of one or two spans per kind fails. */
TEST(pii_labeled_set_precision_recall)
{
    size_t len = 0;
    char *buf = hh_test_read_file("tests/pii/labeled.jsonl", &len);
    ASSERT_TRUE(buf != NULL);
    char **names = NULL;
    size_t n_names = 0;
    int rc = hh_pii_names_load("tests/pii/names.txt", &names, &n_names, NULL);
    if (rc) {
        free(buf);
        ASSERT_OK(rc);
    }
    hh_pii_config_t cfg;
    hh_pii_default_config(&cfg);
    cfg.names = (const char *const *)names;
    cfg.n_names = n_names;
    hh_pii_eval_t ev;
    hh_err_t err = { 0 };
    rc = hh_pii_eval_jsonl(buf, len, &cfg, &ev, &err);
    free(buf);
    hh_pii_names_free(names, n_names);
    if (rc)
        printf("    %s\n", err.msg);
    ASSERT_OK(rc);
    ASSERT_GE(ev.n_docs, 200);
    static const double min_p[HH_PII_ADDRESS] = {
        [HH_PII_EMAIL] = 0.96, [HH_PII_PHONE] = 0.94, [HH_PII_IBAN] = 0.97, [HH_PII_CARD] = 0.94,
        [HH_PII_TAX_ID] = 0.95, [HH_PII_SSN] = 0.93, [HH_PII_DOB] = 0.96, [HH_PII_NAME] = 0.98,
    };
    static const double min_r[HH_PII_ADDRESS] = {
        [HH_PII_EMAIL] = 0.96, [HH_PII_PHONE] = 0.95, [HH_PII_IBAN] = 0.97, [HH_PII_CARD] = 0.94,
        [HH_PII_TAX_ID] = 0.95, [HH_PII_SSN] = 0.93, [HH_PII_DOB] = 0.96, [HH_PII_NAME] = 0.98,
    };
    /* ADDRESS and ID_CARD are measured on tests/pii/de (below); here the
     * few addresses in the set must still be exact and nothing else
     * counts as an address or id card */
    ASSERT_EQ_INT(ev.fp[HH_PII_ADDRESS], 0);
    ASSERT_EQ_INT(ev.fn[HH_PII_ADDRESS], 0);
    ASSERT_EQ_INT(ev.fp[HH_PII_ID_CARD], 0);
    for (int k = 0; k < HH_PII_ADDRESS; k++) {
        size_t tp = ev.tp[k], fp = ev.fp[k], fn = ev.fn[k];
        double p = tp + fp ? (double)tp / (double)(tp + fp) : 0.0;
        double r = tp + fn ? (double)tp / (double)(tp + fn) : 0.0;
        printf("    %-7s tp %3zu fp %2zu fn %2zu  precision %.3f recall %.3f\n",
               hh_pii_kind_name((hh_pii_kind_t)k), tp, fp, fn, p, r);
        ASSERT_GE(tp, 10);
        ASSERT_GE(p, min_p[k]);
        ASSERT_GE(r, min_r[k]);
    }
}

TEST(pii_cli_redact)
{
    const char *bin = getenv("HOHEIT_BIN");
    if (!bin) SKIP("HOHEIT_BIN is not set (run through `make test`)");
    char in[1024], names[1024], cmd[4096];
    snprintf(in, sizeof in, "%s/pii_in.txt", hh_test_tmpdir());
    snprintf(names, sizeof names, "%s/pii_cli_names.txt", hh_test_tmpdir());
    FILE *f = fopen(in, "wb");
    ASSERT_TRUE(f != NULL);
    fputs("Sören Weiß <s.weiss@example.de>, IBAN DE89370400440532013000\n", f);
    fclose(f);
    f = fopen(names, "wb");
    ASSERT_TRUE(f != NULL);
    fputs("Sören Weiß\n", f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "'%s' pii redact --kinds name,email --names '%s' '%s'", bin, names, in);
    FILE *p = popen(cmd, "r");
    ASSERT_TRUE(p != NULL);
    char out[512] = { 0 };
    size_t got = fread(out, 1, sizeof out - 1, p);
    int st = pclose(p);
    ASSERT_EQ_INT(st, 0);
    ASSERT_TRUE(got > 0);
    ASSERT_STREQ(out, "[NAME] <[EMAIL]>, IBAN DE89370400440532013000\n");
}

/* ---- German persons, addresses, identity cards (issue 14) -------------- */

/* Each text with only NAME enabled and no names list yields `want`. */
TEST(pii_german_persons_by_context)
{
    unsigned N = K(HH_PII_NAME);
    /* the six from the issue: kept before, found now */
    EXPECT_FOUND("Jürgen Müller hat angerufen.", N, "NAME:Jürgen Müller");
    EXPECT_FOUND("Sehr geehrte Frau Dr. Anna-Lena Schäfer,", N, "NAME:Anna-Lena Schäfer");
    EXPECT_FOUND("Bitte Herrn Özdemir informieren.", N, "NAME:Özdemir");
    EXPECT_FOUND("Karl-Heinz Weber kommt später.", N, "NAME:Karl-Heinz Weber");
    EXPECT_FOUND("Der Kunde Thomas Schmidt beschwert sich.", N, "NAME:Thomas Schmidt");
    EXPECT_FOUND("Frau Meier ist im Urlaub.", N, "NAME:Meier");
    /* salutations, signatures, fields, roles, departments, particles */
    EXPECT_FOUND("Hallo Jürgen, danke!", N, "NAME:Jürgen");
    EXPECT_FOUND("Mit freundlichen Grüßen\n\nSvetlana Wojciechowska-Kurz\nVertrieb", N,
                 "NAME:Svetlana Wojciechowska-Kurz");
    EXPECT_FOUND("Viele Grüße\nIhr Service-Team", N, "");
    EXPECT_FOUND("Teilnehmer: Jan Becker, Selin Koç, Frau Krause", N,
                 "NAME:Jan Becker|NAME:Selin Koç|NAME:Krause");
    EXPECT_FOUND("Name: Zdravko Pfisterer", N, "NAME:Zdravko Pfisterer");
    EXPECT_FOUND("Anwesend: Frau Dr. Krause, Oleksii Pfisterer; Herr Yıldız", N,
                 "NAME:Krause|NAME:Oleksii Pfisterer|NAME:Yıldız");
    EXPECT_FOUND("Kollegin Meier und von Weber aus der Buchhaltung", N, "NAME:Meier|NAME:Weber");
    EXPECT_FOUND("Petrov (Vertrieb) weiß Bescheid.", N, "NAME:Petrov");
    EXPECT_FOUND("Ursula von der Leyen sprach.", N, "NAME:Ursula von der Leyen");
    EXPECT_FOUND("Herr Di Stefano und Herr von Weizsäcker", N, "NAME:Di Stefano|NAME:von Weizsäcker");
    EXPECT_FOUND("Termin mit Frau Bergmann von der Hotelkette.", N, "NAME:Bergmann");
    EXPECT_FOUND("Herr A. Schmidt las Donald E. Knuth, nicht Herr der Ringe.", N,
                 "NAME:A. Schmidt|NAME:Donald E. Knuth");
    /* ambiguous first names need a known surname */
    EXPECT_FOUND("Mark Schneider moderiert.", N, "NAME:Mark Schneider");
    EXPECT_FOUND("Mark und Euro. Ernst gemeint. Per Post. Anders als gedacht.", N, "");
    EXPECT_FOUND("Gestern hat Kai Brüggenkamp angerufen.", N, "NAME:Kai Brüggenkamp");
    EXPECT_FOUND("Kann Thomas Feedback geben? Hat Petra Zeit?", N, "NAME:Thomas|NAME:Petra");
    /* firms, places, products, dates, nouns and role words stay */
    EXPECT_FOUND("Die Müller GmbH liefert nach Berlin und München.", N, "");
    EXPECT_FOUND("Angebot an Schmidt & Partner und die Weber AG.", N, "");
    EXPECT_FOUND("Die Bäckerei Fischer und das Autohaus Becker bestellen.", N, "");
    EXPECT_FOUND("Der Mercedes-Benz Sprinter und Microsoft Teams am Montag, 3. März.", N, "");
    EXPECT_FOUND("Die Kundin und der Mitarbeiter aus der Buchhaltung.", N, "");
    EXPECT_FOUND("Sankt Martin, die Thomas-Mann-Straße und das Max-Planck-Institut.", N, "");
    EXPECT_FOUND("Sehr geehrte Damen und Herren, liebe Kolleginnen und Kollegen,", N, "");
}

TEST(pii_german_names_listed_only)
{
    hh_pii_config_t cfg;
    hh_pii_default_config(&cfg);
    cfg.kinds = K(HH_PII_NAME);
    const char *names[] = { "Kunigunde Zwirbel" };
    cfg.names = names;
    cfg.n_names = 1;
    const char *t = "Frau Meier und Kunigunde Zwirbel";
    hh_pii_span_t *sp = NULL;
    size_t n = 0;
    ASSERT_OK(hh_pii_find(t, strlen(t), &cfg, &sp, &n));
    ASSERT_EQ_INT(n, 2);
    free(sp);
    cfg.names_listed_only = 1;
    ASSERT_OK(hh_pii_find(t, strlen(t), &cfg, &sp, &n));
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_INT(sp[0].start, 15);
    free(sp);
}

TEST(pii_german_addresses)
{
    unsigned A = K(HH_PII_ADDRESS);
    EXPECT_FOUND("Hauptstraße 12, 80331 München", A, "ADDRESS:Hauptstraße 12|ADDRESS:80331 München");
    EXPECT_FOUND("Lieferung an Am Markt 3a, D-10115 Berlin.", A, "ADDRESS:Am Markt 3a|ADDRESS:D-10115 Berlin");
    EXPECT_FOUND("Karl-Marx-Allee 90 und Industriestr. 5-7", A, "ADDRESS:Karl-Marx-Allee 90|ADDRESS:Industriestr. 5-7");
    EXPECT_FOUND("Postfach 12 34, A-1070 Wien", A, "ADDRESS:Postfach 12 34|ADDRESS:A-1070 Wien");
    EXPECT_FOUND("in der Alten Landstraße 15, 60313 Frankfurt am Main", A,
                 "ADDRESS:Alten Landstraße 15|ADDRESS:60313 Frankfurt am Main");
    EXPECT_FOUND("Anna Schmidt\nBerliner Straße 44\n01067 Dresden", A,
                 "ADDRESS:Berliner Straße 44|ADDRESS:01067 Dresden");
    /* counts, times, workplaces, years, order numbers, streets without a number */
    EXPECT_FOUND("Am Montag 3 Termine, im Lager 4 Paletten.", A, "");
    EXPECT_FOUND("Am Arbeitsplatz 3 fehlt ein Monitor, Parkplatz 17 ist frei.", A, "");
    EXPECT_FOUND("Wir haben 12000 Kunden und 80331 Stück geliefert.", A, "");
    EXPECT_FOUND("Kundennummer 48213 Bitte angeben. Im Jahr 2024 sind es 500 Bewerbungen.", A, "");
    EXPECT_FOUND("In der Goethestraße wird gebaut. Fußweg 5 Minuten.", A, "");
}

TEST(pii_id_card)
{
    unsigned I = K(HH_PII_ID_CARD);
    /* 7-3-1 weights: T=29 -> 203 + 6 + 2 + 7 + 6 + 9 = 233, check 3 */
    EXPECT_FOUND("Ausweis T220001293 liegt vor.", I, "ID_CARD:T220001293");
    EXPECT_FOUND("Seriennummer L01X00T471 ohne Kontext", I, "ID_CARD:L01X00T471");
    EXPECT_FOUND("Ausweis T220001294 (Prüfziffer falsch)", I, "");
    /* ten digits count only after an ID-card word */
    EXPECT_FOUND("Bestellung 1220001297 ist da.", I, "");
    EXPECT_FOUND("Personalausweisnummer 1220001297", I, "ID_CARD:1220001297");
    /* letters outside the serial alphabet (A, B, D, E, I, O, Q, S, U) */
    EXPECT_FOUND("Code A220001293 und TEST123456", I, "");
}

TEST(pii_german_redaction_labels)
{
    hh_pii_config_t cfg;
    hh_pii_default_config(&cfg);
    const char *t = "Frau Meier, Hauptstraße 12, 80331 München, Ausweis T220001293.";
    char *out = NULL;
    size_t len = 0;
    ASSERT_OK(hh_pii_redact(t, strlen(t), &cfg, &out, &len));
    ASSERT_STREQ(out, "Frau [NAME], [ADDRESS], [ADDRESS], Ausweis [ID_CARD].");
    free(out);
    hh_pii_kind_t k;
    ASSERT_OK(hh_pii_kind_parse("address", &k));
    ASSERT_EQ_INT(k, HH_PII_ADDRESS);
    ASSERT_OK(hh_pii_kind_parse("ID_CARD", &k));
    ASSERT_EQ_INT(k, HH_PII_ID_CARD);
    ASSERT_STREQ(hh_pii_kind_name(HH_PII_ADDRESS), "ADDRESS");
}

TEST(pii_german_linear_on_hostile_input)
{
    /* triggers with long tails: honorifics, fields, closings, streets */
    static const char *const unit[] = { "Frau ", "Name: A, ", "Grüße\n", "Hauptstraße 1", "von der ",
                                         "Karl-Heinz-", "12345 ", "Postfach 1 " };
    size_t len = 1u << 20;
    char *t = malloc(len + 1);
    ASSERT_TRUE(t != NULL);
    hh_pii_config_t cfg;
    hh_pii_default_config(&cfg);
    for (size_t u = 0; u < sizeof unit / sizeof unit[0]; u++) {
        size_t ul = strlen(unit[u]);
        for (size_t k = 0; k < len; k++)
            t[k] = unit[u][k % ul];
        hh_pii_span_t *sp = NULL;
        size_t n = 0;
        int rc = hh_pii_find(t, len, &cfg, &sp, &n);
        free(sp);
        ASSERT_OK(rc);
    }
    free(t);
}

/* Floors on the German set tests/pii/de (written for issue 14), without a
 * names file. Measured with `hoheit pii eval tests/pii/de/tune.jsonl` and
 * `... heldout.jsonl` (docs/PII.md): NAME 1.000/1.000 on both parts,
 * ADDRESS 1.000/1.000 (tune) and 1.000/0.967 (held-out). The issue's
 * target is 0.9/0.9 for persons and addresses; the floors sit between. */
TEST(pii_german_set_precision_recall)
{
    static const char *const parts[] = { "tests/pii/de/tune.jsonl", "tests/pii/de/heldout.jsonl" };
    static const double floor_p[2][HH_PII_KIND_COUNT] = {
        { [HH_PII_NAME] = 0.97, [HH_PII_ADDRESS] = 0.97 },
        { [HH_PII_NAME] = 0.95, [HH_PII_ADDRESS] = 0.93 },
    };
    static const double floor_r[2][HH_PII_KIND_COUNT] = {
        { [HH_PII_NAME] = 0.97, [HH_PII_ADDRESS] = 0.97 },
        { [HH_PII_NAME] = 0.95, [HH_PII_ADDRESS] = 0.93 },
    };
    size_t docs = 0;
    hh_pii_eval_t sum;
    memset(&sum, 0, sizeof sum);
    for (int part = 0; part < 2; part++) {
        size_t len = 0;
        char *buf = hh_test_read_file(parts[part], &len);
        ASSERT_TRUE(buf != NULL);
        hh_pii_config_t cfg;
        hh_pii_default_config(&cfg); /* no names file */
        hh_pii_eval_t ev;
        hh_err_t err = { 0 };
        int rc = hh_pii_eval_jsonl(buf, len, &cfg, &ev, &err);
        free(buf);
        if (rc)
            printf("    %s\n", err.msg);
        ASSERT_OK(rc);
        docs += ev.n_docs;
        static const hh_pii_kind_t kinds[] = { HH_PII_NAME, HH_PII_ADDRESS };
        for (size_t q = 0; q < 2; q++) {
            hh_pii_kind_t k = kinds[q];
            size_t tp = ev.tp[k], fp = ev.fp[k], fn = ev.fn[k];
            double p = tp + fp ? (double)tp / (double)(tp + fp) : 0.0;
            double r = tp + fn ? (double)tp / (double)(tp + fn) : 0.0;
            printf("    %-8s %-7s tp %3zu fp %2zu fn %2zu  precision %.3f recall %.3f\n", part ? "heldout" : "tune",
                   hh_pii_kind_name(k), tp, fp, fn, p, r);
            ASSERT_GE(tp, 25);
            ASSERT_GE(p, 0.9);
            ASSERT_GE(r, 0.9);
            ASSERT_GE(p, floor_p[part][k]);
            ASSERT_GE(r, floor_r[part][k]);
        }
        for (int k = 0; k < HH_PII_KIND_COUNT; k++) {
            sum.tp[k] += ev.tp[k];
            sum.fp[k] += ev.fp[k];
            sum.fn[k] += ev.fn[k];
        }
    }
    ASSERT_GE(docs, 300);
    /* the checksummed identifiers: exact, over both parts */
    static const hh_pii_kind_t ids[] = { HH_PII_TAX_ID, HH_PII_SSN, HH_PII_ID_CARD };
    for (size_t q = 0; q < 3; q++) {
        ASSERT_GE(sum.tp[ids[q]], 2);
        ASSERT_EQ_INT(sum.fp[ids[q]], 0);
        ASSERT_EQ_INT(sum.fn[ids[q]], 0);
    }
}

/* The audit log of a use case with pii_redaction keeps no German person,
 * address or id card number, and counts them per kind. */
TEST(pii_audit_redacts_german_persons_and_addresses)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/pii-audit-de", hh_test_tmpdir());
    hh_err_t err;
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    cJSON *in = cJSON_Parse("{\"slug\":\"hr-de\",\"purpose\":\"test\",\"answers\":{},"
                            "\"policy\":{\"pii_redaction\":true,\"audit_detail\":\"full\"}}");
    ASSERT_TRUE(in != NULL);
    int rc = hh_register_create(s, in, "admin", NULL, &err);
    cJSON_Delete(in);
    ASSERT_OK(rc);
    const char *prompt = "Krankmeldung von Frau Dr. Anna-Lena Schäfer, Hauptstraße 12, 80331 München, "
                         "Ausweis T220001293. Der Kunde Thomas Schmidt wartet.";
    hh_audit_entry_t e = { .kind = "request", .user = "bob", .use_case = "hr-de", .prompt = prompt,
                           .output = "Weitergeleitet an Herrn Özdemir.", .decision = "released" };
    int64_t first = 0;
    ASSERT_OK(hh_audit_append_batch(s, NULL, &e, 1, &first, &err));
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    ASSERT_TRUE(f != NULL);
    rc = hh_audit_export(s, first, f, &err);
    fclose(f);
    hh_store_close(s);
    if (rc)
        free(text);
    ASSERT_OK(rc);
    static const char *const secrets[] = { "Schäfer", "Hauptstraße", "80331", "T220001293", "Thomas Schmidt",
                                           "Özdemir" };
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        if (strstr(text, secrets[i]))
            hh_test_fail(__FILE__, __LINE__, "\"%s\" in the audit export", secrets[i]);
    bool counts = strstr(text, "\\\"address\\\":2,\\\"id_card\\\":1,\\\"name\\\":3") != NULL;
    bool tokens = strstr(text, "[ADDRESS:") && strstr(text, "[ID_CARD:") && strstr(text, "Frau Dr. [NAME:");
    if (!counts || !tokens)
        printf("    %s\n", text);
    free(text);
    ASSERT_TRUE(counts);
    ASSERT_TRUE(tokens);
}

/* Random documents glued from trigger fragments, broken UTF-8 and
 * separators: every span is inside the text, sorted and disjoint (run
 * under `make sanitize` this also checks every read stays in bounds). */
TEST(pii_german_random_fragments)
{
    static const char *const frag[] = {
        "Frau ", "Herrn ", "Dr.", "Prof. ", " ", "  ", "\n", ", ", ": ", ".", "-", "'", "\xE2\x80\x99",
        "\xC3", "\xA4", "Müller", "Anna", "Karl-Heinz", "von ", "der ", "van ", "Di ", "Jan", "Mark",
        "Name:", "Teilnehmer:", "Grüße", "Hallo ", "Kunde ", "(Vertrieb)", "aus der Buchhaltung", "GmbH",
        "& ", "Hauptstraße ", "Industriestr. ", "Am Markt ", "12", "3a", "5-7", "80331 ", "D-10115 ",
        "A-1070", "München", "Postfach ", "12 34", "T220001293", "Ausweis ", "A.", "Özdemir", "\t",
    };
    size_t nf = sizeof frag / sizeof frag[0];
    uint32_t seed = 12345;
    char buf[1024];
    hh_pii_config_t cfg;
    hh_pii_default_config(&cfg);
    for (int doc = 0; doc < 3000; doc++) {
        size_t len = 0;
        seed = seed * 1103515245u + 12345u;
        int parts = (int)(seed >> 16) % 40;
        for (int p = 0; p < parts; p++) {
            seed = seed * 1103515245u + 12345u;
            const char *f = frag[(seed >> 16) % nf];
            size_t fl = strlen(f);
            if (len + fl >= sizeof buf)
                break;
            memcpy(buf + len, f, fl);
            len += fl;
        }
        /* no NUL terminator: the detectors must respect len */
        char *t = malloc(len ? len : 1);
        ASSERT_TRUE(t != NULL);
        memcpy(t, buf, len);
        hh_pii_span_t *sp = NULL;
        size_t n = 0;
        int rc = hh_pii_find(t, len, &cfg, &sp, &n);
        bool ok = rc == 0;
        for (size_t k = 0; ok && k < n; k++)
            ok = sp[k].start < sp[k].end && sp[k].end <= len && (k == 0 || sp[k - 1].end <= sp[k].start);
        free(sp);
        free(t);
        if (!ok)
            hh_test_fail(__FILE__, __LINE__, "document %d: rc %d or a bad span", doc, rc);
        ASSERT_TRUE(ok);
    }
}
