/*
 * Extreme Classification Repository files (slide_dataset_load_xc): a header line
 * `num_points num_features num_labels`, then exactly num_points point lines with 0-based ids.
 *
 * This file holds only what is particular to the format: the header, which fixes the id limits, and
 * the line policy that keeps the header honest. Streaming, gzip, numbers and points are data_reader.c.
 *
 * Line policy: an empty line (nothing but a line ending) among the points is an error, but it is
 * reported only when another point follows; if only empty lines follow, the real problem is the missing
 * points and that is what the message says. After the last point, lines of blanks are tolerated. A line
 * holding only blanks among the points is a point with no labels and no features.
 */
#include <inttypes.h>
#include <string.h>

#include "data_reader.h"

typedef struct xc_state {
    int64_t n_points;    /* header count; valid once line >= 2 */
    int64_t blank_line;  /* first empty line met while points were still due; 0 if none */
} xc_state;

/* Reads a header count: digits only, at most `max`. Returns the end of the token or NULL. */
static const char *xc_header_count(const char *p, const char *end, int64_t max, int64_t *v)
{
    uint64_t x = 0;
    const char *s = p;
    for (; p < end && dr_is_digit(*p); p++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (x > ((uint64_t)max - d) / 10)
            return NULL;
        x = x * 10 + d;
    }
    if (p == s || (p < end && !dr_is_space(*p)))
        return NULL;
    *v = (int64_t)x;
    return p;
}

static int xc_header(dr_parser *ps, xc_state *st, const char *s, size_t len)
{
    static const char *const names[3] = {"num_points", "num_features", "num_labels"};
    /* Ids are int32, so a width of INT32_MAX is the largest whose every id fits. */
    const int64_t max[3] = {INT64_MAX - 1, INT32_MAX, INT32_MAX};
    int64_t v[3];
    const char *p = s, *end = s + len;
    char b1[DR_SHOW];
    if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
        return dr_fail(ps, "the file starts with a UTF-8 byte-order mark (\\xEF\\xBB\\xBF) before the header; "
                           "save it without one");
    for (int i = 0; i < 3; i++) {
        while (p < end && dr_is_space(*p))
            p++;
        if (p == end)
            return dr_fail(ps, "bad header '%s': expected 'num_points num_features num_labels'",
                           dr_show(b1, s, end));
        const char *tok = p, *q = xc_header_count(p, end, max[i], &v[i]);
        if (!q) {
            const char *te = dr_token_end(tok, end);
            int digits = 1;
            for (const char *c = tok; c < te; c++)
                digits &= dr_is_digit(*c);
            if (digits)
                return dr_fail(ps, "bad header: %s = %s exceeds %" PRId64, names[i], dr_show(b1, tok, te),
                               max[i]);
            return dr_fail(ps, "bad header: %s '%s' is not a non-negative integer", names[i],
                           dr_show(b1, tok, te));
        }
        p = q;
    }
    while (p < end && dr_is_space(*p))
        p++;
    if (p < end)
        return dr_fail(ps, "bad header: unexpected extra token '%s' after num_labels",
                       dr_show(b1, p, dr_token_end(p, end)));
    st->n_points = v[0];
    ps->feat_limit = v[1];
    ps->label_limit = v[2];
    return dr_reserve(ps, v[0]);
}

static int xc_line(dr_parser *ps, char *s, size_t len)
{
    xc_state *st = ps->format;
    if (ps->line == 1)
        return xc_header(ps, st, s, len);

    if (ps->points == st->n_points) {
        /* Blank (or blank-looking) lines after the last point are tolerated; anything else is not. */
        for (size_t i = 0; i < len; i++)
            if (!dr_is_space(s[i]))
                return dr_fail(ps, "more points than the header says (%" PRId64 ")", st->n_points);
        return SLIDE_OK;
    }
    if (len == 0) {
        /* Deferred: if only blank lines follow, the real problem is the missing points. */
        if (st->blank_line == 0)
            st->blank_line = ps->line;
        return SLIDE_OK;
    }
    if (st->blank_line != 0) {
        ps->line = st->blank_line;
        return dr_fail(ps, "empty line");
    }
    return dr_point(ps, s, len);
}

static int xc_finish(dr_parser *ps, const xc_state *st)
{
    if (ps->line == 0) {
        ps->line = 1;
        return dr_fail(ps, "missing header (empty file)");
    }
    if (ps->points < st->n_points) {
        ps->line = ps->points + 2;
        return dr_fail(ps, "file ends after %" PRId64 " points, header says %" PRId64, ps->points,
                       st->n_points);
    }
    return SLIDE_OK;
}

int slide_dataset_load_xc(const char *path, slide_dataset **out)
{
    if (!out)
        return slide_fail(SLIDE_E_INVALID, "slide_dataset_load_xc: out is NULL");
    *out = NULL;
    if (!path)
        return slide_fail(SLIDE_E_INVALID, "slide_dataset_load_xc: path is NULL");

    xc_state st = {0, 0};
    dr_parser ps;
    dr_parser_init(&ps, path);
    ps.format = &st;
    int rc = dr_read(&ps, xc_line);
    if (rc == SLIDE_OK)
        rc = xc_finish(&ps, &st);
    if (rc != SLIDE_OK) {
        dr_parser_free(&ps);
        return rc;
    }
    return dr_make_dataset(&ps, ps.feat_limit, ps.label_limit, out);
}
