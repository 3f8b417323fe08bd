/* Input matrices (slide_matrix views owned by the caller): validation and per-row views. */
#ifndef SLIDE_MATRIX_H
#define SLIDE_MATRIX_H

#include <stdint.h>

#include "slide/slide.h"

/*
 * A layer's input for one sample: dense (idx == NULL, val[dim]) or sparse (idx/val[nnz]). It borrows the
 * arrays it points into (the caller's matrix or a slide_act) and copies nothing.
 */
typedef struct slide_vec {
    const int32_t *idx;
    const float *val;
    uint32_t nnz; /* == dim when dense */
} slide_vec;

/* Input row i of X as a slide_vec (no copy). */
slide_vec slide_matrix_row(const slide_matrix *X, int64_t i);
/* Checks rows[0..n) (NULL: 0..n-1) index X and their CSR entries are valid feature ids of the network. */
int slide_check_rows(const slide_network *net, const slide_matrix *X, const int64_t *rows, int64_t n);
/*
 * 1 if the label row lab[0..n) holds an id twice (*dup set to it), 0 if not, -1 when out of memory. Label
 * rows are sets: a repeated id would weigh twice in training's uniform target and count twice in metrics.
 */
int slide_label_row_duplicate(const int32_t *lab, int64_t n, int32_t *dup);
/* Validates a matrix view; `name` is used in messages. */
int slide_matrix_check(const slide_matrix *M, const char *name, int64_t want_cols, int labels);

#endif
