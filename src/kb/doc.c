/* doc.c - freeing an extracted document (kb/doc.h). */
#include "kb/doc.h"

#include <stdlib.h>
#include <string.h>

void hh_doc_clear(hh_doc_t *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->n_blocks; i++)
        free(d->blocks[i].text);
    free(d->blocks);
    /* Children are documents themselves; attachments nest only a few levels
     * deep (the extractor's attachment depth limit), so recursion is bounded. */
    for (size_t i = 0; i < d->n_children; i++)
        hh_doc_clear(&d->children[i]);
    free(d->children);
    free(d->title);
    free(d->mime);
    free(d->name);
    free(d->encoding);
    memset(d, 0, sizeof *d);
}
