/*
 * slide_adam_rows: one lazy Adam step on listed rows of caller-owned tables (a torch model's embedding
 * tables beside libslide.torch's head). Each touched row is read and written once, in place: no gathered
 * copies of the weights and moments, which is what a lazy Adam written with torch's index_select /
 * index_copy_ costs.
 *
 * Rows may repeat (an uncoalesced sparse gradient). When the list is strictly increasing every entry is
 * its own row; otherwise the entries are sorted by row and each run of one row sums its
 * gradients in list order into a per-thread buffer. Either way a row belongs to one run, so no two
 * threads write the same row, and the sums do not depend on the thread count.
 *
 * With row_step, a row that missed steps is first caught up in the closed form the network's optimizer
 * uses (adam_catch_up.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "adam_catch_up.h"
#include "config.h"
#include "error.h"
#include "kernels.h"
#include "rows.h"

/* Below this many gradient values the step runs on the calling thread (waking threads costs more). */
enum { ROW_ADAM_PARALLEL = 1 << 16 };

typedef struct {
    int64_t row;
    uint64_t pos;
} row_entry;

/*
 * Sorts entries by row, stably (equal rows keep list order), with least-significant-digit radix passes of
 * RADIX_BITS over the bits row ids < n_table can have: O(n) per pass, 2 passes for tables below 4M rows.
 * tmp holds n entries.
 */
enum { RADIX_BITS = 11 };

static void sort_by_row(row_entry *e, row_entry *tmp, size_t n, uint64_t n_table)
{
    unsigned bits = 0;
    while (bits < 64 && (n_table - 1) >> bits)
        bits++;
    size_t count[1u << RADIX_BITS];
    for (unsigned shift = 0; shift < bits; shift += RADIX_BITS) {
        memset(count, 0, sizeof count);
        for (size_t i = 0; i < n; i++)
            count[((uint64_t)e[i].row >> shift) & ((1u << RADIX_BITS) - 1)]++;
        size_t sum = 0;
        for (size_t b = 0; b < (1u << RADIX_BITS); b++) {
            size_t c = count[b];
            count[b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            tmp[count[((uint64_t)e[i].row >> shift) & ((1u << RADIX_BITS) - 1)]++] = e[i];
        memcpy(e, tmp, n * sizeof *e);
    }
}

/* The update loop prefetches the row this many runs ahead (weights, both moments, its first gradient). */
enum { ROW_ADAM_PREFETCH = 2 };

/* Brings a row last updated at step `last` (0: never) to the state AdamW would give it before step c->step. */
static void catch_up_row(const slide_kernels *K, float *w, float *m, float *v, size_t d, uint64_t last,
                         const slide_row_adam_config *c, slide_catch_up_slot *cache)
{
    if (last + 1 >= c->step)
        return;
    slide_catch_up_apply(K, w, m, v, d,
                         slide_catch_up_cached(cache, last, c->step, c->lr, c->beta1, c->beta2, c->eps,
                                               c->weight_decay, 1));
}

/* The Adam hyperparameters go through the network optimizer's checks; then what only this call has. */
static int check_config(const slide_row_adam_config *c)
{
    slide_optimizer_config opt;
    slide_optimizer_config_init(&opt);
    opt.lr = c->lr;
    opt.beta1 = c->beta1;
    opt.beta2 = c->beta2;
    opt.eps = c->eps;
    opt.weight_decay = c->weight_decay;
    int rc = slide_optimizer_config_check(&opt);
    if (rc)
        return rc;
    if (c->step < 1)
        return slide_fail(SLIDE_E_INVALID, "slide_adam_rows: step must be >= 1 (the number of this step), got 0");
    if (c->threads < 0 || c->threads > 4096)
        return slide_fail(SLIDE_E_INVALID, "slide_adam_rows: threads must be in [0, 4096], got %d", c->threads);
    return SLIDE_OK;
}

int slide_adam_rows(float *weights, float *exp_avg, float *exp_avg_sq, uint64_t *row_step, uint64_t n_table,
                    uint32_t dim, const int64_t *rows, uint64_t n_rows, const float *grad,
                    const slide_row_adam_config *cfg_in)
{
    if (!cfg_in)
        return slide_fail(SLIDE_E_INVALID, "slide_adam_rows: cfg is NULL (call slide_row_adam_config_init)");
    if (cfg_in->struct_size < SLIDE_FIELD_END(slide_row_adam_config, step))
        return slide_fail(SLIDE_E_INVALID, "slide_adam_rows: cfg struct_size %zu is too small (call "
                                           "slide_row_adam_config_init)", cfg_in->struct_size);
    slide_row_adam_config cfg;
    slide_row_adam_config_init(&cfg);
    SLIDE_COPY_CONFIG(&cfg, cfg_in, SLIDE_STRUCT_ROW_ADAM_CONFIG);
    int rc = check_config(&cfg);
    if (rc)
        return rc;
    if (dim == 0)
        return slide_fail(SLIDE_E_INVALID, "slide_adam_rows: dim must be >= 1");
    if (n_table > SIZE_MAX / sizeof(float) / dim)
        return slide_fail(SLIDE_E_INVALID, "slide_adam_rows: a table of %llu x %u floats does not fit in memory",
                          (unsigned long long)n_table, dim);
    if (n_rows == 0)
        return SLIDE_OK;
    if (!weights || !exp_avg || !exp_avg_sq || !rows || !grad)
        return slide_fail(SLIDE_E_INVALID, "slide_adam_rows: weights, exp_avg, exp_avg_sq, rows and grad must not be NULL");
    if (n_rows > SIZE_MAX / sizeof(row_entry) || n_rows > SIZE_MAX / sizeof(float) / dim)
        return slide_fail(SLIDE_E_INVALID, "slide_adam_rows: %llu rows of %u floats do not fit in memory",
                          (unsigned long long)n_rows, dim);

    int increasing = 1;
    for (uint64_t i = 0; i < n_rows; i++) {
        if (rows[i] < 0 || (uint64_t)rows[i] >= n_table)
            return slide_fail(SLIDE_E_INVALID, "slide_adam_rows: rows[%llu] = %lld is outside the table's %llu rows",
                              (unsigned long long)i, (long long)rows[i], (unsigned long long)n_table);
        if (i > 0 && rows[i] <= rows[i - 1])
            increasing = 0;
        if (row_step && row_step[rows[i]] >= cfg.step)
            return slide_fail(SLIDE_E_INVALID, "slide_adam_rows: row %lld was last updated at step %llu, not before "
                              "this step %llu (row_step and cfg->step disagree)", (long long)rows[i],
                              (unsigned long long)row_step[rows[i]], (unsigned long long)cfg.step);
    }
    if (row_step && !(cfg.beta2 > 0.0f))
        return slide_fail(SLIDE_E_INVALID, "slide_adam_rows: the catch-up (row_step) needs beta2 > 0");

    /* Runs of one row: entries order[run_start[r] .. run_start[r + 1]) (order NULL: entry r alone). */
    row_entry *order = NULL;
    uint64_t *run_start = NULL;
    uint64_t n_runs = n_rows;
    if (!increasing) {
        order = malloc((size_t)n_rows * sizeof *order);
        row_entry *tmp = malloc((size_t)n_rows * sizeof *tmp);
        run_start = malloc(((size_t)n_rows + 1) * sizeof *run_start);
        if (!order || !tmp || !run_start) {
            free(order);
            free(tmp);
            free(run_start);
            return slide_fail(SLIDE_E_NOMEM, "slide_adam_rows: cannot sort %llu rows", (unsigned long long)n_rows);
        }
        for (uint64_t i = 0; i < n_rows; i++)
            order[i] = (row_entry){rows[i], i};
        sort_by_row(order, tmp, (size_t)n_rows, n_table);
        free(tmp);
        n_runs = 0;
        for (uint64_t i = 0; i < n_rows; i++)
            if (i == 0 || order[i].row != order[i - 1].row)
                run_start[n_runs++] = i;
        run_start[n_runs] = n_rows;
    }

    int nt = 1;
#ifdef _OPENMP
    nt = cfg.threads > 0 ? cfg.threads : omp_get_max_threads();
    if (nt < 1)
        nt = 1;
#endif
    const int parallel = nt > 1 && (uint64_t)n_rows * dim >= ROW_ADAM_PARALLEL;
    if (!parallel)
        nt = 1;
    float *sums = NULL;
    if (order && n_runs < n_rows) {
        sums = malloc((size_t)nt * dim * sizeof *sums);
        if (!sums) {
            free(order);
            free(run_start);
            return slide_fail(SLIDE_E_NOMEM, "slide_adam_rows: cannot allocate %d gradient buffers", nt);
        }
    }

    const slide_kernels *K = slide_kernels_get();
    const double c1 = 1.0 - pow((double)cfg.beta1, (double)cfg.step);
    const double c2 = 1.0 - pow((double)cfg.beta2, (double)cfg.step);
    /* Bias correction folded into the step, as the network's optimizer does (optimizer.c). */
    const float lr_t = (float)(cfg.lr * sqrt(c2) / c1);
    const float eps_t = (float)(cfg.eps * sqrt(c2));
    const float decay = 1.0f - cfg.lr * cfg.weight_decay;
    const float b1 = cfg.beta1, b2 = cfg.beta2;
    const size_t d = dim;
#pragma omp parallel num_threads(nt) if (parallel)
    {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        float *sum = sums ? sums + (size_t)t * d : NULL;
        slide_catch_up_slot cache[SLIDE_CATCH_UP_CACHE];
        slide_catch_up_cache_clear(cache);
#pragma omp for schedule(static)
        for (int64_t r = 0; r < (int64_t)n_runs; r++) {
            if (r + ROW_ADAM_PREFETCH < (int64_t)n_runs) { /* scattered rows: ask for a later one's lines now */
                const int64_t q = r + ROW_ADAM_PREFETCH;
                const size_t ahead = (size_t)(order ? order[run_start[q]].row : rows[q]) * d;
                const size_t g_ahead = (size_t)(order ? order[run_start[q]].pos : (uint64_t)q) * d;
                slide_prefetch(weights + ahead, d * sizeof(float), 1);
                slide_prefetch(exp_avg + ahead, d * sizeof(float), 1);
                slide_prefetch(exp_avg_sq + ahead, d * sizeof(float), 1);
                slide_prefetch(grad + g_ahead, d * sizeof(float), 0);
            }
            uint64_t first = order ? run_start[r] : (uint64_t)r;
            uint64_t end = order ? run_start[r + 1] : (uint64_t)r + 1;
            const size_t row = (size_t)(order ? order[first].row : rows[r]);
            const float *g = grad + (size_t)(order ? order[first].pos : (uint64_t)r) * d;
            if (end - first > 1) {
                memcpy(sum, g, d * sizeof *sum);
                for (uint64_t e = first + 1; e < end; e++)
                    K->axpy(sum, 1.0f, grad + (size_t)order[e].pos * d, d);
                g = sum;
            }
            if (row_step) {
                catch_up_row(K, weights + row * d, exp_avg + row * d, exp_avg_sq + row * d, d, row_step[row], &cfg,
                             cache);
                row_step[row] = cfg.step;
            }
            K->adam(weights + row * d, exp_avg + row * d, exp_avg_sq + row * d, g, d, lr_t, b1, b2, eps_t, decay);
        }
    }
    free(sums);
    free(order);
    free(run_start);
    return SLIDE_OK;
}
