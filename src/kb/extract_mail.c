/* extract_mail.c - e-mail (.eml, RFC 5322 / MIME) through GMime 3: Subject
 * is the title, From/To/Date one header paragraph, the body is text/plain
 * (preferred in multipart/alternative) or text/html through the HTML path;
 * attachments and attached messages become child documents, extracted
 * recursively up to lim->max_attach_depth (deeper ones, and attachments of
 * no supported format, are left out). The MIME tree is walked with an
 * explicit, bounded stack. */
#include "kb/extract_int.h"

#include <gmime/gmime.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAIL_MAX_STACK 512

static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;

static void gmime_start(void)
{
    g_mime_init();
}

/* Text bytes of a document, as hh_xb_add counts them. */
static uint64_t doc_bytes(const hh_doc_t *d)
{
    uint64_t n = 0;
    for (size_t i = 0; i < d->n_blocks; i++)
        n += d->blocks[i].len + 16;
    for (size_t i = 0; i < d->n_children; i++)
        n += doc_bytes(&d->children[i]);
    return n;
}

/* Moves *child into b->doc's children (child is left empty). */
static int add_child(hh_xb_t *b, hh_doc_t *child, hh_err_t *err)
{
    uint64_t n = doc_bytes(child);
    if (b->out_bytes + n > b->lim->output_bytes) {
        hh_doc_clear(child);
        return hh_err_set(err, HH_ERANGE, -1, "e-mail with attachments larger than the output limit of %llu bytes",
                          (unsigned long long)b->lim->output_bytes);
    }
    hh_doc_t *d = b->doc;
    hh_doc_t *nc = realloc(d->children, (d->n_children + 1) * sizeof *nc);
    if (nc == NULL) {
        hh_doc_clear(child);
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    }
    d->children = nc;
    d->children[d->n_children++] = *child;
    memset(child, 0, sizeof *child);
    b->out_bytes += n;
    return 0;
}

static int mail_message(hh_xb_t *b, GMimeMessage *msg, uint32_t depth, hh_err_t *err);

static int add_header_line(hh_xstr_t *s, const char *field, const char *value)
{
    if (value == NULL || value[0] == '\0')
        return 0;
    if ((s->len > 0 && hh_xstr_append(s, "; ", 2)) || hh_xstr_append(s, field, strlen(field)) ||
        hh_xstr_append(s, ": ", 2) || hh_xstr_append(s, value, strlen(value)))
        return HH_ENOMEM;
    return 0;
}

static int mail_headers(hh_xb_t *b, GMimeMessage *msg, hh_err_t *err)
{
    const char *subject = g_mime_message_get_subject(msg);
    if (subject != NULL && hh_xb_title(b, subject, strlen(subject)) != 0)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    hh_xstr_t s = { 0 };
    char *from = NULL, *to = NULL;
    InternetAddressList *l = g_mime_message_get_from(msg);
    if (l != NULL && internet_address_list_length(l) > 0)
        from = internet_address_list_to_string(l, NULL, FALSE);
    l = g_mime_message_get_to(msg);
    if (l != NULL && internet_address_list_length(l) > 0)
        to = internet_address_list_to_string(l, NULL, FALSE);
    const char *date = g_mime_object_get_header(GMIME_OBJECT(msg), "Date");
    int rc = 0;
    if (add_header_line(&s, "From", from) || add_header_line(&s, "To", to) ||
        add_header_line(&s, "Date", date))
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    else if (s.len > 0)
        rc = hh_xb_add(b, HH_BLOCK_PARAGRAPH, 0, s.data, s.len, err);
    g_free(from);
    g_free(to);
    hh_xstr_free(&s);
    return rc;
}

/* An attached message (message/rfc822) as a child document. */
static int attach_message(hh_xb_t *b, GMimeMessagePart *mp, uint32_t depth, hh_err_t *err)
{
    GMimeMessage *inner = g_mime_message_part_get_message(mp);
    if (inner == NULL || depth > b->lim->max_attach_depth) {
        b->truncated = true;
        return 0;
    }
    hh_doc_t child;
    memset(&child, 0, sizeof child);
    hh_xb_t cb = { .doc = &child, .lim = b->lim };
    int rc = mail_message(&cb, inner, depth, err);
    if (rc == 0 && (child.mime = strdup(HH_MIME_EML)) == NULL)
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    const char *fn = g_mime_object_get_content_disposition_parameter(GMIME_OBJECT(mp), "filename");
    size_t nl;
    if (rc == 0 && fn != NULL && (child.name = hh_x_clean(fn, strlen(fn), true, &nl)) == NULL)
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    if (rc != 0) {
        hh_doc_clear(&child);
        /* a broken attached message is left out; limits still fail the mail */
        return rc == HH_ERANGE || rc == HH_ENOMEM ? rc : 0;
    }
    return add_child(b, &child, err);
}

/* Any other attachment: decoded, then extracted by content like a file. */
static int attach_part(hh_xb_t *b, GMimePart *part, uint32_t depth, hh_err_t *err)
{
    if (depth > b->lim->max_attach_depth) {
        b->truncated = true;
        return 0;
    }
    GMimeDataWrapper *w = g_mime_part_get_content(part);
    if (w == NULL)
        return 0;
    GMimeStream *ms = g_mime_stream_mem_new();
    if (ms == NULL)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    int rc = 0;
    if (g_mime_data_wrapper_write_to_stream(w, ms) >= 0) {
        GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(ms));
        const char *name = g_mime_part_get_filename(part);
        hh_doc_t child;
        hh_err_t cerr;
        if (ba != NULL && ba->len > 0 &&
            hh_x_extract_mem(ba->data, ba->len, NULL, name ? name : "attachment", b->lim, depth,
                             &child, &cerr) == 0) {
            if (name == NULL) {
                free(child.name);
                child.name = NULL;
            }
            rc = add_child(b, &child, err);
        }
        /* an attachment of no supported format (an image) is left out */
    }
    g_object_unref(ms);
    return rc;
}

static int body_part(hh_xb_t *b, GMimePart *part, bool html, hh_err_t *err)
{
    char *text = NULL;
    if (GMIME_IS_TEXT_PART(part))
        text = g_mime_text_part_get_text(GMIME_TEXT_PART(part));
    if (text == NULL)
        return 0;
    size_t n = strlen(text);
    int rc = html ? hh_x_html(b, (const uint8_t *)text, n, true, err)
                  : hh_x_text_paragraphs(b, text, n, false, err);
    g_free(text);
    return rc;
}

static int mail_message(hh_xb_t *b, GMimeMessage *msg, uint32_t depth, hh_err_t *err)
{
    int rc = mail_headers(b, msg, err);
    if (rc != 0)
        return rc;
    GMimeObject *stack[MAIL_MAX_STACK];
    int n = 0;
    GMimeObject *root = g_mime_message_get_mime_part(msg);
    if (root != NULL)
        stack[n++] = root;
    while (n > 0 && rc == 0) {
        GMimeObject *obj = stack[--n];
        GMimeContentType *ct = g_mime_object_get_content_type(obj);
        if (GMIME_IS_MULTIPART(obj)) {
            GMimeMultipart *mp = GMIME_MULTIPART(obj);
            int count = g_mime_multipart_get_count(mp);
            if (ct != NULL && g_mime_content_type_is_type(ct, "multipart", "alternative")) {
                /* one rendering of the body: plain text, else HTML, else the last */
                int pick = -1, html = -1;
                for (int i = 0; i < count; i++) {
                    GMimeContentType *c = g_mime_object_get_content_type(g_mime_multipart_get_part(mp, i));
                    if (c != NULL && g_mime_content_type_is_type(c, "text", "plain") && pick < 0)
                        pick = i;
                    if (c != NULL && g_mime_content_type_is_type(c, "text", "html") && html < 0)
                        html = i;
                }
                if (pick < 0)
                    pick = html >= 0 ? html : count - 1;
                if (pick >= 0 && n < MAIL_MAX_STACK)
                    stack[n++] = g_mime_multipart_get_part(mp, pick);
            } else {
                for (int i = count - 1; i >= 0; i--) {
                    if (n >= MAIL_MAX_STACK) {
                        b->truncated = true;
                        break;
                    }
                    stack[n++] = g_mime_multipart_get_part(mp, i);
                }
            }
        } else if (GMIME_IS_MESSAGE_PART(obj)) {
            rc = attach_message(b, GMIME_MESSAGE_PART(obj), depth + 1, err);
        } else if (GMIME_IS_PART(obj)) {
            GMimePart *part = GMIME_PART(obj);
            bool plain = ct != NULL && g_mime_content_type_is_type(ct, "text", "plain");
            bool html = ct != NULL && g_mime_content_type_is_type(ct, "text", "html");
            if ((plain || html) && !g_mime_part_is_attachment(part))
                rc = body_part(b, part, html, err);
            else
                rc = attach_part(b, part, depth + 1, err);
        }
    }
    return rc;
}

int hh_x_mail(hh_xb_t *b, const uint8_t *data, size_t len, uint32_t depth, hh_err_t *err)
{
    pthread_once(&gmime_once, gmime_start);
    GMimeStream *st = g_mime_stream_mem_new_with_buffer((const char *)data, len);
    if (st == NULL)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    GMimeParser *parser = g_mime_parser_new_with_stream(st);
    g_object_unref(st);
    if (parser == NULL)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    GMimeMessage *msg = g_mime_parser_construct_message(parser, NULL);
    g_object_unref(parser);
    if (msg == NULL)
        return hh_err_set(err, HH_EFORMAT, -1, "not a parseable e-mail message");
    int rc = mail_message(b, msg, depth, err);
    g_object_unref(msg);
    return rc;
}
