/*
 * libsvm / svmlight files with multi-label lists (slide_dataset_load_libsvm): no header, one point per
 * line `l1,l2,... f:v f:v ...`, `#` comments, an optional `qid:<n>` after the labels.
 *
 * This file holds only what is particular to the format: options, comments, skipped lines and the
 * widths inferred from the largest ids. Streaming, gzip, numbers and points are data_reader.c.
 */
#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#include "config.h"
#include "data_reader.h"

/* True when [s, s + len) is three unsigned integers separated by blanks: an XC header line. */
static int svm_is_xc_header(const char *s, size_t len)
{
    const char *p = s, *end = s + len;
    for (int i = 0; i < 3; i++) {
        while (p < end && dr_is_space(*p))
            p++;
        const char *t = p;
        while (p < end && dr_is_digit(*p))
            p++;
        if (p == t || (p < end && !dr_is_space(*p)))
            return 0;
    }
    while (p < end && dr_is_space(*p))
        p++;
    return p == end;
}

static int svm_line(dr_parser *ps, char *s, size_t len)
{
    /* Cutting at '#' keeps the parser's invariant: s[len] is then the '#', a byte of the line. */
    const char *hash = memchr(s, '#', len);
    if (hash)
        len = (size_t)(hash - s);
    size_t i = 0;
    while (i < len && dr_is_space(s[i]))
        i++;
    if (i == len)
        return SLIDE_OK; /* blank or comment only: not a point */
    if (ps->line == 1 && svm_is_xc_header(s, len)) {
        /* The point parser would say only "missing ':'"; name the likely cause too. */
        const char *t = dr_token_end(s + i, s + len);
        while (t < s + len && dr_is_space(*t))
            t++;
        char b[DR_SHOW];
        return dr_fail(ps, "missing ':' in feature '%s' (is line 1 an Extreme Classification header "
                           "'num_points num_features num_labels'? libsvm files have none)",
                       dr_show(b, t, dr_token_end(t, s + len)));
    }
    return dr_point(ps, s, len);
}

static int svm_check_width(const char *name, int64_t v)
{
    if (v < 0 || v > INT32_MAX)
        return slide_fail(SLIDE_E_INVALID, "slide_dataset_load_libsvm: %s = %" PRId64 " is not in [0, %d]", name,
                          v, INT32_MAX);
    return SLIDE_OK;
}

static int svm_check_base(const char *name, int v)
{
    if (v != 0 && v != 1)
        return slide_fail(SLIDE_E_INVALID, "slide_dataset_load_libsvm: %s = %d must be 0 or 1", name, v);
    return SLIDE_OK;
}

int slide_dataset_load_libsvm(const char *path, const slide_libsvm_options *opt_in, slide_dataset **out)
{
    if (!out)
        return slide_fail(SLIDE_E_INVALID, "slide_dataset_load_libsvm: out is NULL");
    *out = NULL;
    if (!path)
        return slide_fail(SLIDE_E_INVALID, "slide_dataset_load_libsvm: path is NULL");

    slide_libsvm_options opt;
    slide_libsvm_options_init(&opt);
    if (opt_in) {
        /* Every field of the first version is required; later versions append, and an older caller's
         * shorter struct keeps the defaults for what it does not know. */
        const size_t min_size = offsetof(slide_libsvm_options, label_base) + sizeof opt.label_base;
        if (opt_in->struct_size < min_size)
            return slide_fail(SLIDE_E_INVALID,
                              "slide_dataset_load_libsvm: options struct_size %zu is too small (call "
                              "slide_libsvm_options_init)",
                              opt_in->struct_size);
        SLIDE_COPY_CONFIG(&opt, opt_in, SLIDE_STRUCT_LIBSVM_OPTIONS);
    }
    int rc = svm_check_width("n_features", opt.n_features);
    if (rc == SLIDE_OK)
        rc = svm_check_width("n_labels", opt.n_labels);
    if (rc == SLIDE_OK)
        rc = svm_check_base("feature_base", opt.feature_base);
    if (rc == SLIDE_OK)
        rc = svm_check_base("label_base", opt.label_base);
    if (rc != SLIDE_OK)
        return rc;

    dr_parser ps;
    dr_parser_init(&ps, path);
    ps.feat_base = opt.feature_base;
    ps.label_base = opt.label_base;
    if (opt.n_features > 0)
        ps.feat_limit = opt.n_features;
    if (opt.n_labels > 0)
        ps.label_limit = opt.n_labels;
    ps.skip_qid = 1;
    rc = dr_reserve(&ps, 0);
    if (rc == SLIDE_OK)
        rc = dr_read(&ps, svm_line);
    if (rc != SLIDE_OK) {
        dr_parser_free(&ps);
        return rc;
    }
    /* Stored ids are below the limits, which are at most INT32_MAX, so max + 1 fits the same bound. */
    int64_t n_features = opt.n_features > 0 ? opt.n_features : ps.feat_max + 1;
    int64_t n_labels = opt.n_labels > 0 ? opt.n_labels : ps.label_max + 1;
    return dr_make_dataset(&ps, n_features, n_labels, out);
}
