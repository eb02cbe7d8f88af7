/* pii_de_lex.c - the lexicon of the German person/address finder
 * (pii_de.c): the first names and surnames shipped in data/pii (embedded
 * into the binary with .incbin) and the word classes (honorifics, titles,
 * salutations, closings, form fields, role words, departments, firm
 * suffixes, street words, and capitalised words that are never part of a
 * name), in one open-addressing hash table built once. */
#include "govern/pii_de_int.h"

#include "base/err.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- the embedded name lists (data/pii, *.txt) ------------------------- */

#define HH_INCBIN(sym, file)                                                  \
    __asm__(".section .rodata\n.global " #sym "\n.balign 16\n" #sym ":\n"     \
            ".incbin \"" file "\"\n.byte 0\n.global " #sym "_end\n" #sym      \
            "_end:\n.byte 0\n.previous\n")

HH_INCBIN(hh_pii_first_names_txt, "data/pii/first_names.txt");
HH_INCBIN(hh_pii_first_ambig_txt, "data/pii/first_names_ambiguous.txt");
HH_INCBIN(hh_pii_surnames_txt, "data/pii/surnames.txt");
extern const char hh_pii_first_names_txt[], hh_pii_first_names_txt_end[];
extern const char hh_pii_first_ambig_txt[], hh_pii_first_ambig_txt_end[];
extern const char hh_pii_surnames_txt[], hh_pii_surnames_txt_end[];

/* ---- lexicon ---------------------------------------------------------- */



typedef struct lex_word {
    const char *w;
    uint32_t flags;
} lex_word_t;

/* The word classes. Capitalised words are stored as they appear. */
static const lex_word_t g_words[] = {
    /* honorifics and titles */
    {"Herr", L_HONOR | L_STOP}, {"Herrn", L_HONOR | L_STOP}, {"Frau", L_HONOR | L_STOP},
    {"Hr", L_HONOR | L_STOP}, {"Hrn", L_HONOR | L_STOP}, {"Fr", L_HONOR | L_STOP},
    {"Fräulein", L_HONOR | L_STOP}, {"Mr", L_HONOR | L_STOP}, {"Mrs", L_HONOR | L_STOP},
    {"Ms", L_HONOR | L_STOP}, {"Miss", L_HONOR | L_STOP}, {"Mister", L_HONOR | L_STOP},
    {"Dr", L_TITLE | L_STOP}, {"Prof", L_TITLE | L_STOP}, {"Professor", L_TITLE | L_STOP},
    {"Professorin", L_TITLE | L_STOP}, {"Doktor", L_TITLE | L_STOP}, {"Dipl", L_TITLE | L_STOP},
    {"Dipl.-Ing", L_TITLE | L_STOP}, {"Ing", L_TITLE | L_STOP}, {"Mag", L_TITLE | L_STOP},
    {"med", L_TITLE}, {"rer", L_TITLE}, {"nat", L_TITLE}, {"phil", L_TITLE}, {"jur", L_TITLE},
    {"dent", L_TITLE}, {"vet", L_TITLE}, {"oec", L_TITLE}, {"habil", L_TITLE},
    {"Dipl.-Kfm", L_TITLE | L_STOP}, {"Dipl.-Kffr", L_TITLE | L_STOP}, {"Dipl.-Inf", L_TITLE | L_STOP},
    {"Dipl.-Psych", L_TITLE | L_STOP}, {"Dipl.-Betriebsw", L_TITLE | L_STOP},
    {"Kollege", L_ROLE | L_STOP}, {"Kollegin", L_ROLE | L_STOP}, {"Kollegen", L_ROLE | L_STOP},
    /* salutations */
    {"Hallo", L_SALUT | L_STOP}, {"Hi", L_SALUT | L_STOP}, {"Hey", L_SALUT | L_STOP},
    {"Liebe", L_SALUT | L_STOP}, {"Lieber", L_SALUT | L_STOP}, {"Liebes", L_SALUT | L_STOP},
    {"Moin", L_SALUT | L_STOP}, {"Servus", L_SALUT | L_STOP}, {"Dear", L_SALUT | L_STOP},
    {"Hello", L_SALUT | L_STOP}, {"Ciao", L_SALUT | L_STOP}, {"Salut", L_SALUT | L_STOP},
    {"Grüezi", L_SALUT | L_STOP}, {"Danke", L_SALUT | L_STOP}, {"Morgen", L_SALUT | L_STOP},
    {"Tag", L_SALUT | L_STOP}, {"Abend", L_SALUT | L_STOP}, {"Thanks", L_SALUT | L_STOP},
    {"hallo", L_SALUT}, {"hi", L_SALUT}, {"liebe", L_SALUT}, {"lieber", L_SALUT}, {"danke", L_SALUT},
    /* closings before a signature */
    {"Grüße", L_CLOSE | L_STOP}, {"Grüßen", L_CLOSE | L_STOP}, {"Gruß", L_CLOSE | L_STOP},
    {"Grüsse", L_CLOSE | L_STOP}, {"Grüssen", L_CLOSE | L_STOP}, {"Gruss", L_CLOSE | L_STOP},
    {"MfG", L_CLOSE | L_STOP}, {"VG", L_CLOSE | L_STOP}, {"LG", L_CLOSE | L_STOP},
    {"BG", L_CLOSE | L_STOP}, {"Regards", L_CLOSE | L_STOP}, {"regards", L_CLOSE},
    {"Cheers", L_CLOSE | L_STOP}, {"Sincerely", L_CLOSE | L_STOP}, {"gez", L_CLOSE},
    {"Unterschrift", L_CLOSE | L_FIELD | L_STOP}, {"grüße", L_CLOSE}, {"gruß", L_CLOSE},
    /* form fields (before ':'); the strong ones take any capitalised value */
    {"Name", L_FIELD | L_STRONGF | L_STOP}, {"Vorname", L_FIELD | L_STRONGF | L_STOP},
    {"Nachname", L_FIELD | L_STRONGF | L_STOP}, {"Familienname", L_FIELD | L_STRONGF | L_STOP},
    {"Geburtsname", L_FIELD | L_STRONGF | L_STOP}, {"Vor", L_STOP},
    {"Ansprechpartner", L_FIELD | L_ROLE | L_STOP}, {"Ansprechpartnerin", L_FIELD | L_ROLE | L_STOP},
    {"Bewerber", L_FIELD | L_ROLE | L_STOP}, {"Bewerberin", L_FIELD | L_ROLE | L_STOP},
    {"Kontakt", L_FIELD | L_STOP}, {"Kontaktperson", L_FIELD | L_ROLE | L_STOP},
    {"Kunde", L_FIELD | L_ROLE | L_STOP}, {"Kundin", L_FIELD | L_ROLE | L_STOP},
    {"Mitarbeiter", L_FIELD | L_ROLE | L_STOP}, {"Mitarbeiterin", L_FIELD | L_ROLE | L_STOP},
    {"Patient", L_FIELD | L_ROLE | L_STOP}, {"Patientin", L_FIELD | L_ROLE | L_STOP},
    {"Absender", L_FIELD | L_STOP}, {"Empfänger", L_FIELD | L_STOP}, {"Empfängerin", L_FIELD | L_STOP},
    {"Verfasser", L_FIELD | L_STOP}, {"Verfasserin", L_FIELD | L_STOP}, {"Autor", L_FIELD | L_STOP},
    {"Autorin", L_FIELD | L_STOP}, {"Von", L_FIELD | L_STOP}, {"An", L_FIELD | L_SPREP | L_STOP},
    {"Cc", L_FIELD | L_STOP}, {"CC", L_FIELD | L_STOP}, {"Teilnehmer", L_FIELD | L_STOP},
    {"Teilnehmende", L_FIELD | L_STOP}, {"Anwesend", L_FIELD | L_STOP}, {"Entschuldigt", L_FIELD | L_STOP},
    {"Protokoll", L_FIELD | L_STOP}, {"Protokollant", L_FIELD | L_STOP}, {"Protokollantin", L_FIELD | L_STOP},
    {"Sachbearbeiter", L_FIELD | L_ROLE | L_STOP}, {"Sachbearbeiterin", L_FIELD | L_ROLE | L_STOP},
    {"Antragsteller", L_FIELD | L_ROLE | L_STOP}, {"Antragstellerin", L_FIELD | L_ROLE | L_STOP},
    {"Inhaber", L_FIELD | L_ROLE | L_STOP}, {"Inhaberin", L_FIELD | L_ROLE | L_STOP},
    {"Bearbeiter", L_FIELD | L_ROLE | L_STOP}, {"Bearbeiterin", L_FIELD | L_ROLE | L_STOP},
    {"Zuständig", L_FIELD | L_STOP}, {"Verantwortlich", L_FIELD | L_STOP}, {"Moderation", L_FIELD | L_STOP},
    {"Gast", L_FIELD | L_ROLE | L_STOP}, {"Besucher", L_FIELD | L_ROLE | L_STOP},
    {"Besucherin", L_FIELD | L_ROLE | L_STOP}, {"Mieter", L_FIELD | L_ROLE | L_STOP},
    {"Mieterin", L_FIELD | L_ROLE | L_STOP}, {"Fahrer", L_FIELD | L_ROLE | L_STOP},
    {"Fahrerin", L_FIELD | L_ROLE | L_STOP}, {"Vertretung", L_FIELD | L_STOP},
    {"Assignee", L_FIELD | L_STOP}, {"Reporter", L_FIELD | L_STOP}, {"From", L_FIELD | L_STOP},
    {"To", L_FIELD | L_STOP}, {"Contact", L_FIELD | L_STOP}, {"Employee", L_FIELD | L_STOP},
    {"Customer", L_FIELD | L_STOP}, {"Applicant", L_FIELD | L_STOP}, {"Attendees", L_FIELD | L_STOP},
    {"Kontoinhaber", L_FIELD | L_ROLE | L_STOP}, {"Kontoinhaberin", L_FIELD | L_ROLE | L_STOP},
    {"Unterzeichner", L_FIELD | L_STOP}, {"Leitung", L_FIELD | L_STOP}, {"Erstellt", L_STOP},
    /* role words before a name */
    {"Kunden", L_ROLE | L_STOP}, {"Kundinnen", L_STOP}, {"Mitarbeiters", L_ROLE | L_STOP},
    {"Mitarbeiterinnen", L_STOP}, {"Bewerbers", L_ROLE | L_STOP}, {"Chef", L_ROLE | L_STOP},
    {"Chefin", L_ROLE | L_STOP}, {"Vorgesetzte", L_ROLE | L_STOP}, {"Vorgesetzter", L_ROLE | L_STOP},
    {"Vorgesetzten", L_ROLE | L_STOP}, {"Teamleiter", L_ROLE | L_STOP}, {"Teamleiterin", L_ROLE | L_STOP},
    {"Abteilungsleiter", L_ROLE | L_STOP}, {"Abteilungsleiterin", L_ROLE | L_STOP},
    {"Geschäftsführer", L_ROLE | L_STOP}, {"Geschäftsführerin", L_ROLE | L_STOP},
    {"Praktikant", L_ROLE | L_STOP}, {"Praktikantin", L_ROLE | L_STOP}, {"Praktikanten", L_ROLE | L_STOP},
    {"Auszubildende", L_ROLE | L_STOP}, {"Auszubildender", L_ROLE | L_STOP}, {"Azubi", L_ROLE | L_STOP},
    {"Werkstudent", L_ROLE | L_STOP}, {"Werkstudentin", L_ROLE | L_STOP}, {"Kandidat", L_ROLE | L_STOP},
    {"Kandidatin", L_ROLE | L_STOP}, {"Anrufer", L_ROLE | L_STOP}, {"Anruferin", L_ROLE | L_STOP},
    {"Techniker", L_ROLE | L_STOP}, {"Technikerin", L_ROLE | L_STOP}, {"Berater", L_ROLE | L_STOP},
    {"Beraterin", L_ROLE | L_STOP}, {"Vertreter", L_ROLE | L_STOP}, {"Vertreterin", L_ROLE | L_STOP},
    {"Projektleiter", L_ROLE | L_STOP}, {"Projektleiterin", L_ROLE | L_STOP},
    {"Kundenberater", L_ROLE | L_STOP},
    {"Kundenberaterin", L_ROLE | L_STOP}, {"Betreuer", L_ROLE | L_STOP}, {"Betreuerin", L_ROLE | L_STOP},
    {"Nachfolger", L_ROLE | L_STOP}, {"Nachfolgerin", L_ROLE | L_STOP}, {"Beschäftigte", L_ROLE | L_STOP},
    {"Beschäftigten", L_ROLE | L_STOP}, {"Lieferant", L_STOP}, {"Monteur", L_ROLE | L_STOP},
    {"Arzt", L_ROLE | L_STOP}, {"Ärztin", L_ROLE | L_STOP}, {"Hausarzt", L_ROLE | L_STOP},
    {"Hausärztin", L_ROLE | L_STOP}, {"Kollegen", L_ROLE | L_STOP}, {"Assistentin", L_ROLE | L_STOP},
    {"Assistent", L_ROLE | L_STOP}, {"Sekretärin", L_ROLE | L_STOP}, {"Leiterin", L_ROLE | L_STOP},
    {"Leiter", L_ROLE | L_STOP}, {"Sprecher", L_ROLE | L_STOP}, {"Sprecherin", L_ROLE | L_STOP},
    {"Datenschutzbeauftragte", L_ROLE | L_STOP}, {"Datenschutzbeauftragter", L_ROLE | L_STOP},
    {"Ehemann", L_ROLE | L_STOP}, {"Ehefrau", L_ROLE | L_STOP}, {"Sohn", L_ROLE | L_STOP},
    {"Tochter", L_ROLE | L_STOP}, {"Mutter", L_ROLE | L_STOP}, {"Vater", L_ROLE | L_STOP},
    {"Nachbar", L_ROLE | L_STOP}, {"Nachbarin", L_ROLE | L_STOP}, {"colleague", L_ROLE},
    {"customer", L_ROLE}, {"employee", L_ROLE}, {"applicant", L_ROLE},
    /* departments */
    {"Vertrieb", L_DEPT | L_STOP}, {"Buchhaltung", L_DEPT | L_STOP}, {"Einkauf", L_DEPT | L_STOP},
    {"Personal", L_DEPT | L_STOP}, {"Personalabteilung", L_DEPT | L_STOP}, {"HR", L_DEPT | L_STOP},
    {"IT", L_DEPT | L_STOP}, {"EDV", L_DEPT | L_STOP}, {"Marketing", L_DEPT | L_STOP},
    {"Support", L_DEPT | L_STOP}, {"Kundenservice", L_DEPT | L_STOP}, {"Kundendienst", L_DEPT | L_STOP},
    {"Service", L_DEPT | L_STOP}, {"Logistik", L_DEPT | L_STOP}, {"Controlling", L_DEPT | L_STOP},
    {"Geschäftsführung", L_DEPT | L_STOP}, {"GF", L_DEPT | L_STOP}, {"Recht", L_DEPT | L_STOP},
    {"Rechtsabteilung", L_DEPT | L_STOP}, {"Legal", L_DEPT | L_STOP}, {"Entwicklung", L_DEPT | L_STOP},
    {"Produktion", L_DEPT | L_STOP}, {"Qualitätssicherung", L_DEPT | L_STOP}, {"QS", L_DEPT | L_STOP},
    {"QM", L_DEPT | L_STOP}, {"Lager", L_DEPT | L_STOP}, {"Finanzen", L_DEPT | L_STOP},
    {"Finance", L_DEPT | L_STOP}, {"Empfang", L_DEPT | L_STOP}, {"Sekretariat", L_DEPT | L_STOP},
    {"Technik", L_DEPT | L_STOP}, {"Verwaltung", L_DEPT | L_STOP}, {"Sales", L_DEPT | L_STOP},
    {"Backoffice", L_DEPT | L_STOP}, {"Innendienst", L_DEPT | L_STOP}, {"Außendienst", L_DEPT | L_STOP},
    {"Datenschutz", L_DEPT | L_STOP}, {"Betriebsrat", L_DEPT | L_STOP}, {"Personalrat", L_DEPT | L_STOP},
    {"Revision", L_DEPT | L_STOP}, {"Haustechnik", L_DEPT | L_STOP}, {"Werkstatt", L_DEPT | L_STOP},
    {"Montage", L_DEPT | L_STOP}, {"Versand", L_DEPT | L_STOP}, {"Disposition", L_DEPT | L_STOP},
    {"Fuhrpark", L_DEPT | L_STOP}, {"Projektmanagement", L_DEPT | L_STOP}, {"Forschung", L_DEPT | L_STOP},
    {"Vorstand", L_DEPT | L_STOP}, {"Assistenz", L_DEPT | L_STOP}, {"Redaktion", L_DEPT | L_STOP},
    {"Presse", L_DEPT | L_STOP}, {"Kommunikation", L_DEPT | L_STOP}, {"Schulung", L_DEPT | L_STOP},
    {"Personalwesen", L_DEPT | L_STOP}, {"Lohnbuchhaltung", L_DEPT | L_STOP},
    {"Entgeltabrechnung", L_DEPT | L_STOP},
    {"Zentrale", L_DEPT | L_STOP}, {"Kasse", L_DEPT | L_STOP}, {"Anwendungsbetreuung", L_DEPT | L_STOP},
    {"Helpdesk", L_DEPT | L_STOP}, {"Hotline", L_DEPT | L_STOP}, {"Team", L_DEPT | L_STOP},
    {"Key-Account", L_DEPT | L_STOP}, {"Compliance", L_DEPT | L_STOP}, {"Operations", L_DEPT | L_STOP},
    /* firms */
    {"GmbH", L_FIRM | L_STOP}, {"AG", L_FIRM | L_STOP}, {"KG", L_FIRM | L_STOP}, {"OHG", L_FIRM | L_STOP},
    {"GbR", L_FIRM | L_STOP}, {"UG", L_FIRM | L_STOP}, {"SE", L_FIRM | L_STOP}, {"mbH", L_FIRM},
    {"KGaA", L_FIRM | L_STOP}, {"Inc", L_FIRM | L_STOP}, {"Ltd", L_FIRM | L_STOP}, {"LLC", L_FIRM | L_STOP},
    {"Co", L_FIRM | L_STOP}, {"eG", L_FIRM}, {"eK", L_FIRM}, {"Gruppe", L_FIRM | L_STOP},
    {"Group", L_FIRM | L_STOP}, {"Holding", L_FIRM | L_STOP}, {"Stiftung", L_FIRM | L_STOP},
    {"Partner", L_FIRM | L_STOP}, {"Partnerschaft", L_FIRM | L_STOP}, {"Söhne", L_FIRM | L_STOP},
    {"Verlag", L_FIRM | L_STOP}, {"Bau", L_FIRM | L_STOP}, {"Logistics", L_FIRM | L_STOP},
    {"Consulting", L_FIRM | L_STOP}, {"Solutions", L_FIRM | L_STOP}, {"Software", L_FIRM | L_STOP},
    {"Systems", L_FIRM | L_STOP}, {"Immobilien", L_FIRM | L_STOP}, {"Versicherung", L_FIRM | L_STOP},
    {"Bank", L_FIRM | L_STOP}, {"Sparkasse", L_FIRM | L_STOP}, {"Volksbank", L_FIRM | L_STOP},
    {"Elektro", L_FIRM | L_STOP}, {"Transporte", L_FIRM | L_STOP}, {"Spedition", L_FIRMCTX | L_STOP},
    {"Firma", L_FIRMCTX | L_STOP}, {"Fa", L_FIRMCTX | L_STOP}, {"Unternehmen", L_FIRMCTX | L_STOP},
    {"Autohaus", L_FIRMCTX | L_STOP}, {"Bäckerei", L_FIRMCTX | L_STOP}, {"Metzgerei", L_FIRMCTX | L_STOP},
    {"Hotel", L_FIRMCTX | L_STOP}, {"Restaurant", L_FIRMCTX | L_STOP}, {"Gasthof", L_FIRMCTX | L_STOP},
    {"Apotheke", L_FIRMCTX | L_STOP}, {"Kanzlei", L_FIRMCTX | L_STOP}, {"Lieferanten", L_FIRMCTX | L_STOP},
    {"Marke", L_FIRMCTX | L_STOP}, {"Modell", L_FIRMCTX | L_STOP}, {"Produkt", L_FIRMCTX | L_STOP},
    {"Konzern", L_FIRMCTX | L_STOP}, {"Druckerei", L_FIRMCTX | L_STOP}, {"Schreinerei", L_FIRMCTX | L_STOP},
    {"Brauerei", L_FIRMCTX | L_STOP}, {"Reederei", L_FIRMCTX | L_STOP}, {"Tischlerei", L_FIRMCTX | L_STOP},
    {"Praxis", L_STOP}, {"Klinik", L_FIRMCTX | L_STOP}, {"Klinikum", L_FIRMCTX | L_STOP},
    {"Krankenhaus", L_FIRMCTX | L_STOP}, {"Schule", L_FIRMCTX | L_STOP}, {"Gymnasium", L_FIRMCTX | L_STOP},
    {"Universität", L_FIRMCTX | L_STOP}, {"Hochschule", L_FIRMCTX | L_STOP}, {"Institut", L_FIRMCTX | L_STOP},
    {"Kirche", L_FIRMCTX | L_STOP}, {"Stadion", L_FIRMCTX | L_STOP}, {"Haus", L_FIRMCTX | L_STOP},
    {"Zentrum", L_FIRMCTX | L_STOP}, {"Center", L_FIRMCTX | L_STOP}, {"Kaufhaus", L_FIRMCTX | L_STOP},
    {"Filiale", L_FIRMCTX | L_STOP}, {"Sankt", L_FIRMCTX | L_STOP}, {"St", L_FIRMCTX | L_STOP},
    {"Markt", L_STREET | L_FIRMCTX | L_STOP}, {"Tower", L_STOP},
    /* particles (lower case) */
    {"von", L_PART}, {"van", L_PART}, {"der", L_PART}, {"den", L_PART}, {"de", L_PART},
    {"di", L_PART}, {"da", L_PART}, {"zu", L_PART}, {"vom", L_PART}, {"del", L_PART},
    {"della", L_PART}, {"ten", L_PART}, {"ter", L_PART}, {"le", L_PART}, {"la", L_PART},
    {"al", L_PART}, {"el", L_PART}, {"bin", L_PART}, {"ibn", L_PART}, {"dos", L_PART},
    {"do", L_PART}, {"du", L_PART}, {"des", L_PART}, {"und", 0},
    /* street words and prepositions that start a street name */
    {"Straße", L_STREET | L_STOP}, {"Strasse", L_STREET | L_STOP}, {"Str", L_STREET | L_STOP},
    {"Allee", L_STREET | L_STOP}, {"Weg", L_STREET | L_STOP}, {"Platz", L_STREET | L_STOP},
    {"Ring", L_STREET | L_STOP}, {"Damm", L_STREET | L_STOP}, {"Gasse", L_STREET | L_STOP},
    {"Chaussee", L_STREET | L_STOP}, {"Ufer", L_STREET | L_STOP}, {"Landstraße", L_STREET | L_STOP},
    {"Steig", L_STREET | L_STOP}, {"Pfad", L_STREET | L_STOP}, {"Promenade", L_STREET | L_STOP},
    {"Am", L_SPREP | L_STOP}, {"Im", L_SPREP | L_STOP}, {"Auf", L_SPREP | L_STOP},
    {"Zum", L_SPREP | L_STOP}, {"Zur", L_SPREP | L_STOP}, {"Unter", L_SPREP | L_STOP},
    {"Hinter", L_SPREP | L_STOP}, {"In", L_SPREP | L_STOP}, {"Auf'm", L_SPREP | L_STOP},
    {"Postfach", L_STOP}, {"PLZ", L_STOP}, {"Ort", L_STOP}, {"Hausnummer", L_STOP},
    /* address context */
    {"Adresse", L_ADDRCTX | L_STOP}, {"Anschrift", L_ADDRCTX | L_STOP}, {"wohnhaft", L_ADDRCTX},
    {"wohnt", L_ADDRCTX}, {"Wohnort", L_ADDRCTX | L_STOP}, {"Wohnsitz", L_ADDRCTX | L_STOP},
    {"Lieferadresse", L_ADDRCTX | L_STOP}, {"Rechnungsadresse", L_ADDRCTX | L_STOP},
    {"Postanschrift", L_ADDRCTX | L_STOP}, {"Privatadresse", L_ADDRCTX | L_STOP},
    {"Heimadresse", L_ADDRCTX | L_STOP}, {"Sitz", L_ADDRCTX | L_STOP}, {"Besuchsadresse", L_ADDRCTX | L_STOP},
    {"Straße:", 0}, {"Lieferanschrift", L_ADDRCTX | L_STOP}, {"Neue", L_STOP}, {"neue", 0},
    {"umgezogen", L_ADDRCTX}, {"zugestellt", L_ADDRCTX}, {"liefern", L_ADDRCTX}, {"senden", L_ADDRCTX},
    {"Address", L_ADDRCTX | L_STOP}, {"address", L_ADDRCTX}, {"adresse", L_ADDRCTX},
    /* ID card context */
    {"Ausweis", L_IDCTX | L_STOP}, {"Personalausweis", L_IDCTX | L_STOP}, {"Ausweisnummer", L_IDCTX | L_STOP},
    {"Personalausweisnummer", L_IDCTX | L_STOP}, {"Ausweis-Nr", L_IDCTX | L_STOP},
    {"PA-Nr", L_IDCTX | L_STOP},
    {"Dokumentennummer", L_IDCTX | L_STOP}, {"Reisepass", L_IDCTX | L_STOP}, {"Passnummer", L_IDCTX | L_STOP},
    {"Ausweisdokument", L_IDCTX | L_STOP}, {"Ausweises", L_IDCTX | L_STOP},
    /* units and counted nouns after a number */
    {"Uhr", L_UNIT | L_STOP}, {"Euro", L_UNIT | L_STOP}, {"EUR", L_UNIT | L_STOP},
    {"Minuten", L_UNIT | L_STOP},
    {"Min", L_UNIT | L_STOP}, {"Stunden", L_UNIT | L_STOP}, {"Std", L_UNIT | L_STOP},
    {"Tage", L_UNIT | L_STOP},
    {"Tagen", L_UNIT | L_STOP}, {"Wochen", L_UNIT | L_STOP}, {"Monate", L_UNIT | L_STOP},
    {"Monaten", L_UNIT | L_STOP}, {"Jahre", L_UNIT | L_STOP}, {"Jahren", L_UNIT | L_STOP},
    {"Prozent", L_UNIT | L_STOP}, {"Stück", L_UNIT | L_STOP}, {"Mal", L_UNIT | L_STOP}, {"km", L_UNIT},
    {"m", L_UNIT}, {"kg", L_UNIT}, {"Meter", L_UNIT | L_STOP}, {"Kilometer", L_UNIT | L_STOP},
    {"Liter", L_UNIT | L_STOP}, {"Seiten", L_UNIT | L_STOP}, {"Kunden", L_UNIT | L_ROLE | L_STOP},
    {"Mitarbeitende", L_UNIT | L_STOP}, {"Nutzer", L_UNIT | L_STOP}, {"Benutzer", L_UNIT | L_STOP},
    {"Besucher", L_UNIT | L_FIELD | L_ROLE | L_STOP}, {"Einträge", L_UNIT | L_STOP},
    {"Dateien", L_UNIT | L_STOP},
    {"Zeilen", L_UNIT | L_STOP}, {"Datensätze", L_UNIT | L_STOP}, {"Tickets", L_UNIT | L_STOP},
    {"Bestellungen", L_UNIT | L_STOP}, {"Anfragen", L_UNIT | L_STOP}, {"Artikel", L_UNIT | L_STOP},
    {"Produkte", L_UNIT | L_STOP}, {"Geräte", L_UNIT | L_STOP}, {"Personen", L_UNIT | L_STOP},
    {"Menschen", L_UNIT | L_STOP}, {"Einwohner", L_UNIT | L_STOP}, {"Bewerbungen", L_UNIT | L_STOP},
    {"Punkte", L_UNIT | L_STOP}, {"Exemplare", L_UNIT | L_STOP}, {"Pakete", L_UNIT | L_STOP},
    {"Paletten", L_UNIT | L_STOP}, {"Lizenzen", L_UNIT | L_STOP}, {"Dollar", L_UNIT | L_STOP},
    {"Franken", L_UNIT | L_STOP}, {"Zeichen", L_UNIT | L_STOP}, {"Byte", L_UNIT | L_STOP},
    {"Bytes", L_UNIT | L_STOP}, {"MB", L_UNIT | L_STOP}, {"GB", L_UNIT | L_STOP}, {"Seite", L_UNIT | L_STOP},
    {"Mio", L_UNIT | L_STOP}, {"Millionen", L_UNIT | L_STOP}, {"Tsd", L_UNIT | L_STOP},
    {"Std.", L_UNIT}, {"Kartons", L_UNIT | L_STOP}, {"Teilnehmende", L_UNIT | L_FIELD | L_STOP},
    {"Stellen", L_UNIT | L_STOP}, {"Filialen", L_UNIT | L_STOP}, {"Standorte", L_UNIT | L_STOP},
    {"Fahrzeuge", L_UNIT | L_STOP}, {"Rechnungen", L_UNIT | L_STOP}, {"Positionen", L_UNIT | L_STOP},
    {"Exemplaren", L_UNIT | L_STOP}, {"Versionen", L_UNIT | L_STOP}, {"Zugriffe", L_UNIT | L_STOP},
    /* possessives before a signature */
    {"Ihr", L_POSS | L_STOP}, {"Ihre", L_POSS | L_STOP}, {"Dein", L_POSS | L_STOP},
    {"Deine", L_POSS | L_STOP},
    {"Euer", L_POSS | L_STOP}, {"Eure", L_POSS | L_STOP}, {"Yours", L_POSS | L_STOP},
};

/* Capitalised words that are never part of a person's name here. */
static const char *const g_stop[] = {
    "Der", "Die", "Das", "Den", "Dem", "Des", "Ein", "Eine", "Einen", "Einem", "Einer", "Eines",
    "Ich", "Du", "Er", "Sie", "Es", "Wir", "Ihnen", "Ihrem", "Ihren", "Ihrer", "Mein", "Meine",
    "Meinen", "Unser", "Unsere", "Unseren", "Dieser", "Diese", "Dieses", "Diesen", "Jeder", "Jede",
    "Und", "Oder", "Aber", "Mit", "Vom", "Zu", "Bei", "Beim", "Aus", "Für", "Nach", "Über", "Um",
    "Ohne", "Gegen", "Durch", "Bis", "Seit", "Wie", "Was", "Wer", "Wo", "Wann", "Warum", "Ob", "Dass",
    "Wenn", "Als", "Auch", "Noch", "Nur", "Bitte", "Sehr", "Geehrte", "Geehrter", "Guten", "Gute",
    "Schöne", "Schönen", "Viele", "Vielen", "Beste", "Besten", "Freundliche", "Freundlichen",
    "Herzliche", "Herzlichen", "Liebe", "Sonnige", "Damen", "Herren", "Alle", "Allen", "Zusammen",
    "Ja", "Nein", "Heute", "Morgen", "Gestern", "Hier", "Dort", "Da", "Dann", "Danach", "Vorher",
    "Leider", "Gerne", "Gern", "Laut", "Gemäß", "Wegen", "Trotz", "Statt", "Anbei", "Betreff",
    "Betr", "Re", "AW", "WG", "Fwd", "Info", "Hinweis", "Achtung", "Wichtig", "Dringend", "Neu",
    "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag", "Sonnabend",
    "Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
    "November", "Dezember", "Feb", "Mär", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Okt",
    "Nov", "Dez", "Jänner", "Weihnachten", "Ostern", "Pfingsten", "Silvester", "Neujahr", "Karfreitag",
    "Wochenende", "Feiertag", "Urlaub", "Frühjahr", "Herbst", "Quartal", "Q1",
    "Q2", "Q3", "Q4", "KW", "Uhr", "Nr", "Tel", "Fax", "Mobil", "Handy", "E-Mail", "Mail", "Email",
    "Web", "Internet", "Homepage", "Website", "Telefon", "Telefonnummer", "IBAN", "BIC", "USt",
    "Steuernummer", "Steuer-ID", "Rechnung", "Rechnungen", "Angebot", "Auftrag", "Bestellung",
    "Lieferung", "Lieferschein", "Vertrag", "Kündigung", "Mahnung", "Gutschrift", "Zahlung",
    "Projekt", "Termin", "Termine", "Besprechung", "Meeting", "Protokoll", "Agenda", "Bericht",
    "Zeit", "Bescheid", "Angst", "Lust", "Geld", "Post", "Feierabend", "Dienst", "Fragen", "Frage",
    "Probleme", "Problem", "Zugriff", "Zugang", "Infos", "Unterlagen", "Daten", "Antwort",
    "Nachricht", "Glück", "Pech", "Hunger", "Fieber", "Schmerzen", "Kopfschmerzen", "Besuch",
    "Gäste", "Kinder", "Kind", "Geburtstag", "Hochzeit", "Elternzeit", "Homeoffice", "Home-Office",
    "Schicht", "Spätschicht", "Frühschicht", "Nachtschicht", "Bereitschaft", "Überstunden",
    "Krankmeldung", "Arbeitsunfähigkeitsbescheinigung", "AU", "Attest", "Bewerbung", "Lebenslauf",
    "Zeugnis", "Zeugnisse", "Vorstellungsgespräch", "Gespräch", "Stelle", "Position", "Gehalt",
    "Vertragsbeginn", "Probezeit", "Arbeitsvertrag", "Beschwerde", "Reklamation", "Garantie",
    "Gewährleistung", "Rücksendung", "Ware", "Paket", "Lieferzeit", "Preis", "Preise", "Rabatt",
    "Skonto", "Kosten", "Summe", "Betrag", "Gesamt", "Netto", "Brutto", "MwSt", "Konto",
    "Kontonummer", "Bankverbindung", "Zahlungsziel", "Ticket", "Fehler", "Störung", "Update",
    "Version", "Release", "Server", "Datenbank", "Drucker", "Laptop", "Rechner", "Computer",
    "Monitor", "Passwort", "Login", "Konto", "Account", "Zugangsdaten", "Zahl", "Liste", "Tabelle",
    "Dokument", "Dokumente", "Datei", "Ordner", "Anhang", "Anlage", "Anlagen", "Link", "Seite",
    "Abteilung", "Bereich", "Standort", "Büro", "Raum", "Etage", "Gebäude", "Halle", "Parkplatz",
    "Kantine", "Küche", "Tür", "Schlüssel", "Wagen", "Auto", "Dienstwagen", "Fahrrad", "Zug",
    "Bahn", "Flug", "Reise", "Dienstreise", "Hotelzimmer", "Spesen", "Stunde", "Woche", "Monat",
    "Jahr", "Tages", "Ende", "Anfang", "Mitte", "Beginn", "Start", "Ziel", "Ergebnis", "Ergebnisse",
    "Punkt", "Thema", "Themen", "Aufgabe", "Aufgaben", "Rückfrage", "Rückmeldung", "Rückruf",
    "Ansprechpartner", "Kollegium", "Belegschaft", "Firma", "Kundennummer", "Auftragsnummer",
    "Bestellnummer", "Rechnungsnummer", "Vorgangsnummer", "Aktenzeichen", "Personalnummer",
    "Deutschland", "Österreich", "Schweiz", "Europa", "EU", "Bayern", "Sachsen", "Hessen",
    "Thüringen", "Brandenburg", "Niedersachsen", "Baden-Württemberg", "Nordrhein-Westfalen", "NRW",
    "Rheinland-Pfalz", "Saarland", "Schleswig-Holstein", "Mecklenburg-Vorpommern", "Sachsen-Anhalt",
    "Türkei", "Polen", "Italien", "Frankreich", "Spanien", "Griechenland", "Russland", "Ukraine",
    "Kroatien", "Rumänien", "Ungarn", "Tschechien", "Niederlande", "Belgien", "Dänemark",
    "Schweden", "Norwegen", "England", "USA", "Amerika", "China", "Japan", "Indien", "Syrien",
    "Berlin", "Hamburg", "München", "Köln", "Frankfurt", "Stuttgart", "Düsseldorf", "Dortmund",
    "Essen", "Leipzig", "Bremen", "Dresden", "Hannover", "Nürnberg", "Duisburg", "Bochum",
    "Wuppertal", "Bielefeld", "Bonn", "Münster", "Karlsruhe", "Mannheim", "Augsburg", "Wiesbaden",
    "Mainz", "Kiel", "Aachen", "Freiburg", "Rostock", "Kassel", "Magdeburg", "Erfurt", "Potsdam",
    "Saarbrücken", "Regensburg", "Heidelberg", "Darmstadt", "Würzburg", "Ulm", "Wolfsburg",
    "Göttingen", "Osnabrück", "Oldenburg", "Braunschweig", "Chemnitz", "Lübeck", "Ingolstadt",
    "Trier", "Koblenz", "Jena", "Gera", "Passau", "Bamberg", "Bayreuth", "Konstanz", "Wien",
    "Zürich", "Graz", "Basel", "Bern", "Salzburg", "Linz", "Innsbruck", "Genf", "Luzern",
    "London", "Rom", "Madrid", "Warschau", "Prag", "Istanbul", "Ankara", "Moskau", "Brüssel",
    "Amsterdam", "Mailand", "Neapel", "Athen", "Zagreb", "Bukarest", "Budapest", "Krakau", "Kiew",
    "Microsoft", "Teams", "Outlook", "Excel", "Word", "PowerPoint", "SharePoint", "OneDrive", "SAP",
    "Windows", "Office", "Zoom", "Slack", "Jira", "Confluence", "Google", "Apple", "iPhone", "iPad",
    "MacBook", "Samsung", "Galaxy", "Android", "Linux", "Benz", "BMW", "Audi", "Volkswagen", "VW",
    "Porsche", "Siemens", "Bosch", "Telekom", "Vodafone", "DHL", "Amazon", "Lufthansa", "DATEV",
    "Lexware", "Salesforce", "HubSpot", "Oracle", "IBM", "Dell", "Lenovo", "HP", "Canon", "Epson",
    "Brother", "Cisco", "Adobe", "Acrobat", "Photoshop", "Chrome", "Firefox", "Edge", "Safari",
    "WhatsApp", "Signal", "Telegram", "LinkedIn", "Xing", "Facebook", "Instagram", "YouTube",
    "Deutsche", "Deutschen", "Deutscher", "Bundesagentur", "Arbeitsagentur", "Jobcenter",
    "Finanzamt", "Krankenkasse", "AOK", "TK", "Barmer", "DAK", "IKK", "BKK", "Rentenversicherung",
    "Bundesamt", "Ministerium", "Amt", "Gericht", "Landgericht", "Amtsgericht", "Polizei",
    "Stadt", "Gemeinde", "Kreis", "Landkreis", "Land", "Bund", "Staat", "Regierung", "Behörde",
    "Modul", "Version", "Paket", "Lizenz", "Plan", "Tarif", "Premium", "Basic", "Pro", "Plus",
    "Max", "Mini", "Classic", "Standard", "Business", "Enterprise", "Cloud", "Portal", "App",
    "Plattform", "Dashboard", "Tool", "System", "Software", "Hardware", "Netzwerk", "WLAN", "VPN",
    "Mo", "Di", "Mi", "Do", "Sa", "So", "Fr.", "Sehr", "Herzlich", "Willkommen", "Glückwunsch",
    "Hotline", "Pause", "Mittag", "Mittagspause", "Abstimmung", "Entscheidung", "Freigabe",
    "Genehmigung", "Antrag", "Anträge", "Formular", "Unterschrift", "Stempel", "Prüfung",
    "Schulung", "Workshop", "Seminar", "Konferenz", "Messe", "Veranstaltung", "Feier", "Party",
    "Sommerfest", "Weihnachtsfeier", "Betriebsausflug", "Jubiläum", "Ruhestand", "Rente",
    "Krankheit", "Krankenhausaufenthalt", "Operation", "Reha", "Kur", "Mutterschutz",
    "Sonderurlaub", "Resturlaub", "Gleitzeit", "Arbeitszeit", "Dienstplan", "Vertretungsplan",
    "Kaffee", "Tee", "Wasser", "Essen", "Kuchen", "Blumen", "Geschenk", "Karte", "Glückwunschkarte",
    "Grund", "Gründe", "Sache", "Fall", "Stand", "Status", "Lage", "Ernst", "Art", "Weise",
    "Paris", "Mercedes", "Linde", "Heide",
    "Ausgabe", "Eingang", "Ausgang", "Eingangsbestätigung", "Bestätigung", "Absage", "Zusage",
    "Einladung", "Erinnerung", "Mitteilung", "Anfrage", "Auskunft", "Beratung", "Hilfe",
    "Unterstützung", "Lösung", "Vorschlag", "Idee", "Plan", "Budget", "Umsatz", "Gewinn",
    "Verlust", "Kunde", "Kundenkonto", "Kundenportal", "Servicezeiten", "Öffnungszeiten",
    "Lieferanschrift", "Rechnungsanschrift", "Herkunft", "Sprache", "Deutsch", "Englisch",
    "Türkisch", "Polnisch", "Russisch", "Arabisch", "Italienisch", "Griechisch", "Kroatisch",
    "Rumänisch", "Französisch", "Spanisch", "Kenntnisse", "Erfahrung", "Führerschein", "Klasse",
    "Note", "Abschluss", "Studium", "Ausbildung", "Master", "Bachelor", "Diplom", "Abitur",
    "Staatsangehörigkeit", "Familienstand", "Geburtsort", "Geburtsdatum", "Religion",
    "Krankenversicherung", "Sozialversicherung", "Steuerklasse", "Kinderfreibetrag",
    "Der", "Dear", "The", "A", "An", "And", "Or", "Of", "On", "At", "For", "With", "By", "Please",
    "Thank", "Best", "Kind", "Warm", "Many", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
    "Saturday", "Sunday", "January", "February", "March", "May", "June", "July", "October",
    "December", "Team", "Sales", "Support", "Customer", "Manager", "Director", "Head", "Office",
    "Company", "Ltd", "Inc", "Street", "Road", "Avenue", "Lane", "Drive", "City", "Invoice", "Order",
    "Account", "Meeting", "Hello", "Hi", "Yes", "No", "If", "When", "This", "That", "These", "We",
    "You", "They", "He", "She", "It", "I", "My", "Our", "Your", "Their", "His", "Her", "Sir", "Madam",
    "All", "Everyone", "Hallo", "St", "Sankt", "Bad", "Neu-", "Alt", "Ost", "West",
    "Nord", "Süd", "Mitte", "Zentral", "Innenstadt", "Altstadt", "Hauptbahnhof", "Bahnhof", "Flughafen",
    "Stadtwerke", "Rathaus", "Landratsamt", "Bürgeramt", "Sozialamt", "Ordnungsamt", "Kita",
    "Kindergarten", "Grundschule", "Realschule", "Berufsschule", "Volkshochschule", "VHS",
    "Gesellschaft", "Verein", "Verband", "Genossenschaft", "Kammer", "IHK", "HWK", "TÜV", "DEKRA",
    "ADAC", "GEZ", "DIN", "ISO", "DSGVO", "BDSG", "AGB", "PDF", "CSV", "XML", "HTML", "URL", "ID",
    "OK", "FAQ", "CRM", "ERP", "KI", "AI", "LLM", "API", "Hoheit", "Himmelfahrt", "Fronleichnam",
    "Allerheiligen", "Heiligabend", "Reformationstag", "Buß", "Bettag",
    /* objects that follow a subject name in questions ("Hat Petra Zeit?") */
    "Feedback", "Zahlen", "Nachrichten", "Mails", "Angebote", "Spätdienst", "Frühdienst",
    "Nachtdienst", "Rufbereitschaft", "Husten", "Schnupfen", "Grippe", "Corona", "Covid", "Migräne",
    "Urlaubstage", "Arbeitstage", "Krankentage", "Teilzeit", "Vollzeit", "Kurzarbeit", "Durst",
    "Sorgen", "Ärger", "Stress", "Spaß", "Freude", "Erfolg", "Verständnis", "Interesse", "Bedarf",
    "Anspruch", "Recht", "Unrecht", "Bedenken", "Einwände", "Vorschläge", "Ideen", "Notizen",
    "Schmerz", "Termin", "Zugangsdaten", "Schlüssel", "Tickets", "Aufträge", "Bestellungen",
};


/* Words that mark a capitalised noun, never a surname. */
const lit_t hh_pii_de_noun_suffix[] = {
    LIT("ung"), LIT("ungen"), LIT("heit"), LIT("heiten"), LIT("keit"), LIT("keiten"), LIT("schaft"),
    LIT("schaften"), LIT("tion"), LIT("tionen"), LIT("ität"), LIT("itäten"), LIT("ismus"),
    LIT("nis"), LIT("nisse"), LIT("tum"), LIT("ment"), LIT("ments"), LIT("ware"), LIT("zeug"),
    LIT("gerät"), LIT("plan"), LIT("zeit"), LIT("stelle"), LIT("stellen"), LIT("nummer"),
    LIT("datum"), LIT("liste"), LIT("bericht"), LIT("system"), LIT("vertrag"), LIT("antrag"),
    LIT("termin"), LIT("projekt"), LIT("portal"), LIT("konto"), LIT("daten"), LIT("kosten"),
    LIT("abteilung"), LIT("team"), LIT("leiter"), LIT("leiterin"), LIT("meister"), LIT("arbeit"),
    LIT("bereich"), LIT("ierung"), LIT("logie"), LIT("grafie"), LIT("graphie"), LIT("thek"),
    LIT("schein"), LIT("brief"), LIT("formular"), LIT("meldung"), LIT("gespräch"), LIT("geld"),
    { NULL, 0 },
};

typedef struct lex_entry {
    const char *w;
    uint32_t len;
    uint32_t flags;
} lex_entry_t;

static struct {
    lex_entry_t *tab;
    size_t mask;
    int rc;
} g_lex;
static pthread_once_t g_lex_once = PTHREAD_ONCE_INIT;

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t k = 0; k < n; k++) {
        h ^= (unsigned char)s[k];
        h *= 1099511628211ull;
    }
    return h;
}

static void lex_add(const char *w, size_t n, uint32_t flags)
{
    if (n == 0 || n > 64)
        return;
    size_t i = (size_t)hash_bytes(w, n) & g_lex.mask;
    for (;;) {
        lex_entry_t *e = &g_lex.tab[i];
        if (!e->w) {
            *e = (lex_entry_t){ w, (uint32_t)n, flags };
            return;
        }
        if (e->len == n && !memcmp(e->w, w, n)) {
            e->flags |= flags;
            return;
        }
        i = (i + 1) & g_lex.mask;
    }
}

uint32_t hh_pii_de_lex_get(const char *w, size_t n)
{
    if (!g_lex.tab || n == 0 || n > 64)
        return 0;
    size_t i = (size_t)hash_bytes(w, n) & g_lex.mask;
    for (;;) {
        const lex_entry_t *e = &g_lex.tab[i];
        if (!e->w)
            return 0;
        if (e->len == n && !memcmp(e->w, w, n))
            return e->flags;
        i = (i + 1) & g_lex.mask;
    }
}

/* Adds every line of an embedded list ('#' comments, blank lines and
 * surrounding spaces skipped). The words point into the list itself. */
static void lex_add_list(const char *b, const char *e, uint32_t flags)
{
    while (b < e && *b) {
        const char *nl = memchr(b, '\n', (size_t)(e - b));
        const char *le = nl ? nl : e;
        const char *s = b, *t = le;
        while (s < t && (*s == ' ' || *s == '\t'))
            s++;
        while (t > s && (t[-1] == ' ' || t[-1] == '\t' || t[-1] == '\r' || t[-1] == '\0'))
            t--;
        if (s < t && *s != '#')
            lex_add(s, (size_t)(t - s), flags);
        b = le + 1;
    }
}

static size_t count_lines(const char *b, const char *e)
{
    size_t n = 1;
    for (; b < e; b++)
        n += *b == '\n';
    return n;
}

static void lex_init(void)
{
    size_t n = count_lines(hh_pii_first_names_txt, hh_pii_first_names_txt_end) +
               count_lines(hh_pii_first_ambig_txt, hh_pii_first_ambig_txt_end) +
               count_lines(hh_pii_surnames_txt, hh_pii_surnames_txt_end) +
               sizeof g_words / sizeof g_words[0] + sizeof g_stop / sizeof g_stop[0];
    size_t cap = 1024;
    while (cap < n * 2)
        cap *= 2;
    g_lex.tab = calloc(cap, sizeof *g_lex.tab);
    if (!g_lex.tab) {
        g_lex.rc = HH_ENOMEM;
        return;
    }
    g_lex.mask = cap - 1;
    lex_add_list(hh_pii_first_names_txt, hh_pii_first_names_txt_end, L_FIRST);
    lex_add_list(hh_pii_first_ambig_txt, hh_pii_first_ambig_txt_end, L_FIRST | L_AMBIG);
    lex_add_list(hh_pii_surnames_txt, hh_pii_surnames_txt_end, L_SUR);
    for (size_t k = 0; k < sizeof g_words / sizeof g_words[0]; k++)
        lex_add(g_words[k].w, strlen(g_words[k].w), g_words[k].flags);
    for (size_t k = 0; k < sizeof g_stop / sizeof g_stop[0]; k++)
        lex_add(g_stop[k], strlen(g_stop[k]), L_STOP);
}

int hh_pii_de_lex_ready(void)
{
    pthread_once(&g_lex_once, lex_init);
    return g_lex.rc;
}
