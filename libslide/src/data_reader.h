/*
 * Streaming reader for sparse text datasets: the machinery shared by the Extreme Classification
 * (xc_reader.c) and libsvm (libsvm_reader.c) formats. Both formats write one point per line as
 * `l1,l2,... f:v f:v ...`; they differ only in what surrounds the points (a header, comments) and in
 * the id conventions, which a format sets in the parser before reading.
 *
 * Ownership: a dr_parser owns every array it holds until dr_make_dataset moves them into a dataset;
 * dr_parser_free releases whatever is left, so every exit path of a loader ends in one of the two.
 */
#ifndef SLIDE_DATA_READER_H
#define SLIDE_DATA_READER_H

#include <locale.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "slide/slide.h"

enum {
    DR_CHUNK = 1 << 18,          /* bytes per read from the file (and zlib's internal buffer) */
    DR_RESERVE_ROWS = 1 << 18,   /* at most this many rows are reserved up front from a count hint */
    DR_SMALL_ROW = 24,           /* rows up to this length are checked for duplicates pairwise */
    DR_SHOW = 48                 /* size of the buffer that quotes a token in a message */
};

typedef struct dr_parser dr_parser;

/*
 * Handles one line: s[0..len) without its '\n' and without one trailing '\r'; s[len] exists and may be
 * overwritten temporarily (the parser's float fallback relies on it). ps->line is already its 1-based
 * number. Returns SLIDE_OK or a status with the message set.
 */
typedef int (*dr_line_fn)(dr_parser *ps, char *s, size_t len);

struct dr_parser {
    const char *path;
    int64_t line;        /* 1-based number of the line being parsed */
    int64_t points;      /* rows completed so far; feat_indptr/label_indptr hold points + 1 entries */

    /* Id rules, set by the format before the first point. A file id x is accepted when
     * base <= x < base + limit and stored as x - base, so stored ids lie in [0, limit). */
    int64_t feat_base, label_base;
    int64_t feat_limit, label_limit;
    int64_t feat_max, label_max; /* largest stored id so far; -1 before the first */
    int skip_qid;        /* 1: a `qid:<integer>` token right after the labels is read and dropped */
    void *format;        /* the format's own state, for its line handler */

    int64_t *feat_indptr;
    int64_t *label_indptr;
    size_t indptr_cap;   /* capacity of both indptr arrays, in entries */
    int32_t *feat_indices;
    float *feat_values;  /* same length and capacity as feat_indices */
    size_t feat_nnz, feat_cap;
    int32_t *label_indices;
    size_t label_nnz, label_cap;

    int32_t *scratch;    /* sorted copy of a long row for duplicate detection */
    size_t scratch_cap;

    locale_t c_locale;   /* "C" numeric locale for the strtof fallback; created on first use */
};

static inline int dr_is_space(char c) { return c == ' ' || c == '\t'; }
static inline int dr_is_digit(char c) { return (unsigned)(c - '0') < 10u; }

/* First blank at or after p, or end. */
static inline const char *dr_token_end(const char *p, const char *end)
{
    while (p < end && !dr_is_space(*p))
        p++;
    return p;
}

/* An empty parser for `path` with 0-based ids and limits of INT32_MAX (every int32 id). */
void dr_parser_init(dr_parser *ps, const char *path);
void dr_parser_free(dr_parser *ps);

/* Allocates the arrays with room for `rows` rows (capped at DR_RESERVE_ROWS: counts read from a file
 * are only a hint and must not cost memory when they lie). Must be called once before dr_point. */
int dr_reserve(dr_parser *ps, int64_t rows);

/* Copies the token [s, e) into buf for quoting, truncated, with unprintable bytes shown as '?'. */
const char *dr_show(char buf[DR_SHOW], const char *s, const char *e);
/* SLIDE_E_FORMAT with "<path>:<line>: <problem>" for the line being parsed. */
int dr_fail(const dr_parser *ps, const char *fmt, ...) SLIDE_PRINTF(2, 3);
/* SLIDE_E_NOMEM with "<path>:<line>: cannot allocate memory for <what>". */
int dr_nomem(const dr_parser *ps, const char *what);

/* Parses one point line `l1,l2,... f:v f:v ...` (no labels when it starts with a blank) and appends it
 * as a row. Checks every id against the parser's id rules and rejects repeated ids within the row. */
int dr_point(dr_parser *ps, char *s, size_t len);

/* Streams the file at ps->path (gzip-compressed or not) and calls `fn` for every line, counting lines
 * in ps->line. A last line without a final newline is handed over too. */
int dr_read(dr_parser *ps, dr_line_fn fn);

/* Moves the parsed rows into a new dataset of the given widths (which must exceed every stored id) and
 * frees the rest of the parser. On failure the parser is freed too. */
int dr_make_dataset(dr_parser *ps, int64_t n_features, int64_t n_labels, slide_dataset **out);

#endif /* SLIDE_DATA_READER_H */
