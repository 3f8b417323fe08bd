/*
 * Training: the batch driver. A batch runs in three phases:
 *  1. forward + backward, parallel over samples (forward.c, backprop.c). Each sample selects its own
 *     active neurons in every sampled layer (sampler.c: LSH query + labels + random padding), computes
 *     only those, and back-propagates deltas into per-sample buffers. Weights are only read. A
 *     batch-shared layer splits the forward pass into segments: its set is chosen once all of its inputs
 *     exist, and it is computed for the whole batch at once (batch_shared.c).
 *  2.-3. per layer, the optimizer step (optimizer.c): contributions grouped by row, then a deterministic
 *     per-row reduction and Adam/SGD, independent of the thread count.
 * Then the sampler's schedule rebuilds the tables of layers whose period has run out.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "backprop.h"
#include "backprop_batch.h"
#include "config.h"
#include "batch_shared.h"
#include "error.h"
#include "forward.h"
#include "matrix.h"
#include "network.h"
#include "optimizer.h"
#include "preact_batch.h"
#include "rescore_batch.h"
#include "rng.h"
#include "sampler.h"
#include "scratch.h"

/* Forward of layers [from, to) for every sample of the batch, in parallel. */
static int forward_segment(slide_network *net, const slide_matrix *X, const slide_matrix *Y, const int64_t *rows,
                           int64_t n, uint32_t from, uint32_t to, uint64_t step, int nt, const float *pre,
                           int selected, char *err_msg, size_t err_len)
{
    int err = SLIDE_OK;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 4)
    for (int64_t s = 0; s < n; s++) {
        int my_err;
#pragma omp atomic read
        my_err = err;
        if (my_err)
            continue;
        int64_t row = rows ? rows[s] : s;
        const int32_t *labels = Y->indices + Y->indptr[row];
        uint32_t n_labels = (uint32_t)(Y->indptr[row + 1] - Y->indptr[row]);
        int src = slide_forward_layers(net, slide_matrix_row(X, row), from, to, labels, n_labels, SLIDE_FWD_TRAIN,
                                       &net->acts[(size_t)s * net->n_layers], &net->scratch[slide_thread_id()],
                                       slide_forward_train_seed(net->seed, step, s),
                                       pre ? pre + (size_t)s * net->layers[from].units : NULL, selected);
        if (src) {
#pragma omp critical(slide_train_error)
            if (!err) {
                err = src;
                snprintf(err_msg, err_len, "%s", slide_last_error());
            }
        }
    }
    return err;
}

static int check_sample(const slide_network *net, const slide_matrix *X, const slide_matrix *Y, int64_t row,
                        char *msg, size_t msg_len)
{
    if (row < 0 || row >= X->rows || row >= Y->rows) {
        snprintf(msg, msg_len, "row id %lld out of range [0, %lld)", (long long)row,
                 (long long)(X->rows < Y->rows ? X->rows : Y->rows));
        return SLIDE_E_INVALID;
    }
    if (X->kind == SLIDE_MATRIX_CSR) {
        int64_t b = X->indptr[row], e = X->indptr[row + 1];
        if (e < b || e - b > UINT32_MAX) {
            snprintf(msg, msg_len, "X row %lld: indptr is not non-decreasing", (long long)row);
            return SLIDE_E_INVALID;
        }
        for (int64_t i = b; i < e; i++) {
            if (X->indices[i] < 0 || X->indices[i] >= (int64_t)net->input_dim) {
                snprintf(msg, msg_len, "X row %lld: feature id %d out of range [0, %u)", (long long)row,
                         X->indices[i], net->input_dim);
                return SLIDE_E_INVALID;
            }
            if (!isfinite(X->values[i])) {
                snprintf(msg, msg_len, "X row %lld: value of feature %d is not finite", (long long)row, X->indices[i]);
                return SLIDE_E_INVALID;
            }
        }
    } else {
        const float *v = X->values + (size_t)row * (size_t)X->cols;
        for (int64_t i = 0; i < X->cols; i++)
            if (!isfinite(v[i])) {
                snprintf(msg, msg_len, "X row %lld, column %lld: value is not finite", (long long)row, (long long)i);
                return SLIDE_E_INVALID;
            }
    }
    int64_t b = Y->indptr[row], e = Y->indptr[row + 1];
    uint32_t n_out = net->layers[net->n_layers - 1].units;
    if (e < b) {
        snprintf(msg, msg_len, "Y row %lld: indptr is not non-decreasing", (long long)row);
        return SLIDE_E_INVALID;
    }
    for (int64_t i = b; i < e; i++)
        if (Y->indices[i] < 0 || (uint32_t)Y->indices[i] >= n_out) {
            snprintf(msg, msg_len, "Y row %lld: label id %d out of range [0, %u)", (long long)row, Y->indices[i],
                     n_out);
            return SLIDE_E_INVALID;
        }
    int32_t dup;
    int d = slide_label_row_duplicate(Y->indices + b, e - b, &dup);
    if (d) {
        if (d < 0)
            snprintf(msg, msg_len, "out of memory checking Y row %lld", (long long)row);
        else
            snprintf(msg, msg_len, "Y row %lld: label id %d appears more than once", (long long)row, dup);
        return SLIDE_E_INVALID;
    }
    return SLIDE_OK;
}

/*
 * dL/dX for a dense X: each sample's row of grad_input is the sum over layer 0's active neurons of their
 * delta times their weight row, read before the update (the update runs in slide_network_train_apply).
 */
static void input_gradient(slide_network *net, const slide_matrix *X, const int64_t *rows, int64_t n, float *grad,
                           int nt)
{
    const uint32_t NL = net->n_layers, D = net->input_dim;
    const slide_layer *L = &net->layers[0];
    if (slide_layer_batch_shared(L) && L->neuron_major) {
        slide_input_gradient_shared(net, n, nt, grad);
        return;
    }
#pragma omp parallel for num_threads(nt) schedule(dynamic, 4)
    for (int64_t s = 0; s < n; s++) {
        slide_act a = net->acts[(size_t)s * NL];
        if (slide_layer_batch_shared(L)) { /* its set is the batch's */
            a.ids = L->sampler.shared.ids;
            a.n = L->sampler.shared.n;
            a.dense = 0;
        }
        const int64_t row = rows ? rows[s] : s;
        slide_act in = {.n = D, .cap = D, .dense = 1, .val = (float *)X->values + (size_t)row * D,
                        .delta = grad + (size_t)s * D};
        slide_backprop_layer(L, &a, &in, 0);
    }
}

/*
 * The sharded step's forward (shard != NULL): the output layer's logits (with their logQ offsets) are left
 * unnormalised, each sample's max and sum of exp(logit - max) go to shard->max_out / sumexp_out, and the step
 * waits for slide_network_shard_backward (pending.shard_forward) instead of computing deltas.
 */
typedef struct shard_args {
    const uint32_t *label_counts;
    float *max_out, *sumexp_out;
} shard_args;

static int begin_impl(slide_network *net, const slide_matrix *X, const slide_matrix *Y, const int64_t *rows,
                      int64_t n, slide_batch_stats *stats, float *grad_input, size_t grad_len, const shard_args *shard)
{
    if (!net)
        return slide_fail(SLIDE_E_INVALID, "net is NULL");
    int rc = slide_matrix_check(X, "X", net->input_dim, 0);
    if (!rc)
        rc = slide_matrix_check(Y, "Y", net->layers[net->n_layers - 1].units, 1);
    if (rc)
        return rc;
    if (n <= 0 || n > (1 << 24))
        return slide_fail(SLIDE_E_INVALID, "batch size %lld out of range [1, 2^24]", (long long)n);
    if (!rows && (n > X->rows || n > Y->rows))
        return slide_fail(SLIDE_E_INVALID, "batch of %lld rows but X has %lld and Y %lld", (long long)n,
                          (long long)X->rows, (long long)Y->rows);
    if (stats && stats->struct_size < offsetof(slide_batch_stats, loss) + sizeof(double))
        return slide_fail(SLIDE_E_INVALID, "stats struct_size %zu is too small", stats->struct_size);
    if (grad_input) {
        if (X->kind != SLIDE_MATRIX_DENSE)
            return slide_fail(SLIDE_E_INVALID, "grad_input needs a dense X (the gradient of every input value)");
        if (grad_len / net->input_dim < (size_t)n)
            return slide_fail(SLIDE_E_INVALID, "grad_input holds %zu floats, the batch needs %lld x %u", grad_len,
                              (long long)n, net->input_dim);
    }
    if (shard) {
        const slide_layer *L = &net->layers[0];
        if (net->n_layers != 1 || !slide_layer_batch_shared(L) || L->activation != SLIDE_ACT_SOFTMAX)
            return slide_fail(SLIDE_E_INVALID, "slide_network_shard_forward needs a network of one batch-shared "
                                               "sampled softmax layer (LSH with batch_shared)");
        if (X->kind != SLIDE_MATRIX_DENSE)
            return slide_fail(SLIDE_E_INVALID, "slide_network_shard_forward needs a dense X");
        if (!shard->label_counts || !shard->max_out || !shard->sumexp_out)
            return slide_fail(SLIDE_E_INVALID, "slide_network_shard_forward: label_counts, max_out and sumexp_out "
                                               "must not be NULL");
    }
    rc = slide_network_claim(net, shard ? "slide_network_shard_forward" : "slide_network_train_begin");
    if (rc)
        return rc;

    const int nt = slide_network_threads_for_call(net);
    const uint32_t NL = net->n_layers;
    rc = slide_network_ensure_scratch(net, nt);
    if (!rc)
        rc = slide_network_ensure_acts(net, (size_t)n);
    if (rc) {
        slide_network_release(net);
        return rc;
    }
    const uint64_t step = net->step + 1;
    const float scale = 1.0f / (float)n;
    double loss = 0.0, active_out = 0.0;
    int err = SLIDE_OK;
    char err_msg[256] = "";
    uint64_t *layer_active = shard ? NULL : calloc(NL, sizeof(uint64_t)); /* the sharded step: in its backward */
    if (!shard && !layer_active) {
        slide_network_release(net);
        return slide_fail(SLIDE_E_NOMEM, "out of memory");
    }
    /* Phase 0: validate every sample before computing anything, so a bad row leaves the network untouched. */
    /* A sample's check costs about its non-zeros, and the cache misses it takes are the forward pass's. */
#pragma omp parallel for num_threads(nt) schedule(static) if (n >= 64)
    for (int64_t s = 0; s < n; s++) {
        char my_msg[256];
        int bad = check_sample(net, X, Y, rows ? rows[s] : s, my_msg, sizeof my_msg) != SLIDE_OK;
        if (!bad && shard) {
            const int64_t row = rows ? rows[s] : s;
            const int64_t local = Y->indptr[row + 1] - Y->indptr[row];
            if ((int64_t)shard->label_counts[s] < local) {
                snprintf(my_msg, sizeof my_msg, "label_counts[%lld] = %u is less than the %lld labels of this shard",
                         (long long)s, shard->label_counts[s], (long long)local);
                bad = 1;
            }
        }
        if (bad) {
#pragma omp critical(slide_train_error)
            if (!err) {
                err = SLIDE_E_INVALID;
                snprintf(err_msg, sizeof err_msg, "%s", my_msg);
            }
        }
    }

    net->pending.shard_forward = shard != NULL && !err;
    /*
     * Phase 1: forward in segments. A batch-shared layer needs all of its inputs before its set is chosen;
     * a per-sample exact layer starts a segment whose first layer reads the batch's pre-activations; a
     * per-sample rescoring layer starts one whose first layer's sets the batch chose together.
     */
    uint32_t from = 0;
    const float *pre = NULL; /* pre-activations of layer `from`, or NULL */
    int selected = 0;        /* layer `from`'s active sets are chosen */
    for (uint32_t l = 0; l < NL && !err; l++) {
        const int shared = slide_layer_batch_shared(&net->layers[l]);
        const int exact = !shared && slide_preact_batch_applies(net, l);
        const int rescored = !shared && !exact && slide_rescore_batch_applies(net, l);
        if (!shared && !exact && !rescored)
            continue;
        if (l > from)
            err = forward_segment(net, X, Y, rows, n, from, l, step, nt, pre, selected, err_msg, sizeof err_msg);
        pre = NULL;
        selected = 0;
        from = l;
        if (exact) {
            if (!err && (err = slide_preact_batch(net, l, X, rows, n, nt)) != SLIDE_OK)
                snprintf(err_msg, sizeof err_msg, "%s", slide_last_error());
            pre = net->preact;
            continue;
        }
        if (rescored) {
            if (!err && (err = slide_rescore_batch(net, l, X, Y, rows, n, step, nt)) != SLIDE_OK)
                snprintf(err_msg, sizeof err_msg, "%s", slide_last_error());
            selected = 1;
            continue;
        }
        if (!err && (err = slide_sampler_select_shared(net, l, X, Y, rows, n, step, nt)) != SLIDE_OK)
            snprintf(err_msg, sizeof err_msg, "%s", slide_last_error());
        if (!err && (err = slide_forward_shared_layer(net, l, X, Y, rows, n, nt)) != SLIDE_OK)
            snprintf(err_msg, sizeof err_msg, "%s", slide_last_error());
        from = l + 1;
    }
    if (!err && from < NL)
        err = forward_segment(net, X, Y, rows, n, from, NL, step, nt, pre, selected, err_msg, sizeof err_msg);

    if (shard) {
        net->pending.shard_forward = 0; /* read by slide_forward_shared_layer only during the pass above */
        /* The counts, then the maxima (slide_network_shard_backward checks the normaliser against them). */
        uint32_t *keep = err ? NULL : malloc((sizeof(uint32_t) + sizeof(float)) * (size_t)n);
        if (!err && !keep) {
            err = SLIDE_E_NOMEM;
            snprintf(err_msg, sizeof err_msg, "out of memory");
        }
        if (err) {
            slide_sampler_clear_shared(net);
            slide_network_release(net);
            return slide_fail(err, "%s", err_msg);
        }
        memcpy(keep, shard->label_counts, sizeof(uint32_t) * (size_t)n);
        float *maxima = (float *)(keep + n);
        const uint32_t m = net->layers[0].sampler.shared.n;
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int64_t s = 0; s < n; s++) {
            const float *z = net->acts[(size_t)s].val;
            float mx = -INFINITY;
            for (uint32_t k = 0; k < m; k++)
                mx = z[k] > mx ? z[k] : mx;
            double sum = 0.0;
            for (uint32_t k = 0; k < m; k++)
                sum += exp((double)z[k] - (double)mx);
            maxima[s] = shard->max_out[s] = mx;
            shard->sumexp_out[s] = (float)sum;
        }
        net->pending.awaiting_backward = 1;
        net->pending.label_counts = keep;
        net->pending.Y = *Y;
        net->pending.X = *X;
        net->pending.rows = rows;
        net->pending.n = n;
        net->pending.nt = nt;
        return SLIDE_OK;
    }

    /* Loss and output deltas, per sample. */
    double *sample_loss = err ? NULL : malloc(sizeof(double) * (size_t)n);
    if (!err && !sample_loss) {
        err = SLIDE_E_NOMEM;
        snprintf(err_msg, sizeof err_msg, "out of memory");
    }
    if (!err) {
        /* Per-sample losses summed in sample order: the reported loss does not depend on the threads. */
#pragma omp parallel for num_threads(nt) schedule(dynamic, 4)
        for (int64_t s = 0; s < n; s++) {
            int64_t row = rows ? rows[s] : s;
            const int32_t *labels = Y->indices + Y->indptr[row];
            uint32_t n_labels = (uint32_t)(Y->indptr[row + 1] - Y->indptr[row]);
            sample_loss[s] = slide_output_delta(&net->layers[NL - 1], &net->acts[(size_t)s * NL + NL - 1], labels,
                                                n_labels, scale);
        }
        for (int64_t s = 0; s < n; s++)
            loss += sample_loss[s];
        for (int64_t s = 0; s < n; s++)
            for (uint32_t l = 0; l < NL; l++)
                layer_active[l] += net->acts[(size_t)s * NL + l].n;
        active_out = (double)layer_active[NL - 1];
    }

    /* Back-propagation, layer by layer: batch-shared layers in blocks, per-sample layers into a sparse layer
     * row by row for the batch (backprop_batch.c), the others per sample. */
    for (uint32_t l = NL - 1; l > 0 && !err; l--) {
        slide_layer *L = &net->layers[l];
        if (slide_layer_batch_shared(L) && L->neuron_major && net->acts[l - 1].dense) {
            slide_backprop_shared_layer(net, l, n, nt);
            continue;
        }
        if (slide_backprop_sparse_batch_applies(net, l, n)) {
            if ((err = slide_backprop_sparse_batch(net, l, n, nt)) != SLIDE_OK)
                snprintf(err_msg, sizeof err_msg, "%s", slide_last_error());
            continue;
        }
        const int prev_relu = net->layers[l - 1].activation == SLIDE_ACT_RELU;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 4)
        for (int64_t s = 0; s < n; s++)
            slide_backprop_layer(L, &net->acts[(size_t)s * NL + l], &net->acts[(size_t)s * NL + l - 1], prev_relu);
    }

    free(sample_loss);
    if (!err && !isfinite(loss)) {
        err = SLIDE_E_NUMERIC;
        snprintf(err_msg, sizeof err_msg, "loss is not finite at step %llu; the batch was not applied",
                 (unsigned long long)step);
    }
    if (err) {
        slide_sampler_clear_shared(net);
        free(layer_active);
        slide_network_release(net);
        return slide_fail(err, "%s", err_msg);
    }
    if (grad_input)
        input_gradient(net, X, rows, n, grad_input, nt);
    if (stats) {
        slide_batch_stats full = {sizeof full, loss / (double)n, active_out / (double)n};
        stats->struct_size = slide_copy_out(SLIDE_STRUCT_BATCH_STATS, stats, &full, stats->struct_size);
    }
    net->pending.active = 1;
    net->pending.X = *X;
    net->pending.rows = rows;
    net->pending.n = n;
    net->pending.nt = nt;
    net->pending.layer_active = layer_active;
    return SLIDE_OK;
}

int slide_network_train_begin(slide_network *net, const slide_matrix *X, const slide_matrix *Y, const int64_t *rows,
                              int64_t n, slide_batch_stats *stats, float *grad_input, size_t grad_len)
{
    return begin_impl(net, X, Y, rows, n, stats, grad_input, grad_len, NULL);
}

int slide_network_shard_forward(slide_network *net, const slide_matrix *X, const slide_matrix *Y, const int64_t *rows,
                                int64_t n, const uint32_t *label_counts, float *max_out, float *sumexp_out)
{
    const shard_args shard = {label_counts, max_out, sumexp_out};
    return begin_impl(net, X, Y, rows, n, NULL, NULL, 0, &shard);
}

int slide_network_shard_backward(slide_network *net, const float *log_norm, slide_batch_stats *stats, float *grad_input,
                                 size_t grad_len)
{
    if (!net)
        return slide_fail(SLIDE_E_INVALID, "net is NULL");
    if (!net->pending.awaiting_backward)
        return slide_fail(SLIDE_E_INVALID, "slide_network_shard_backward: no sharded forward is pending");
    const int64_t n = net->pending.n;
    if (!log_norm)
        return slide_fail(SLIDE_E_INVALID, "slide_network_shard_backward: log_norm is NULL");
    if (stats && stats->struct_size < offsetof(slide_batch_stats, loss) + sizeof(double))
        return slide_fail(SLIDE_E_INVALID, "stats struct_size %zu is too small", stats->struct_size);
    if (grad_input && grad_len / net->input_dim < (size_t)n)
        return slide_fail(SLIDE_E_INVALID, "grad_input holds %zu floats, the batch needs %lld x %u", grad_len,
                          (long long)n, net->input_dim);
    slide_layer *L = &net->layers[0];
    const uint32_t m = L->sampler.shared.n;
    const float *maxima = (const float *)(net->pending.label_counts + n); /* kept by the forward */
    for (int64_t s = 0; s < n; s++) {
        /* The normaliser covers this shard's set: it is at least the log of its own sum of exps. */
        const float mx = maxima[s];
        if (!isfinite(log_norm[s]) || log_norm[s] < mx - 1e-3f * (1.0f + fabsf(mx)))
            return slide_fail(SLIDE_E_INVALID, "slide_network_shard_backward: log_norm[%lld] = %g is not finite or "
                                               "below this shard's largest logit %g; the step stays pending",
                              (long long)s, (double)log_norm[s], (double)mx);
    }
    uint64_t *layer_active = calloc(net->n_layers, sizeof(uint64_t));
    double *sample_loss = malloc(sizeof(double) * (size_t)n);
    if (!layer_active || !sample_loss) {
        free(layer_active);
        free(sample_loss);
        return slide_fail(SLIDE_E_NOMEM, "out of memory");
    }
    const slide_matrix *Y = &net->pending.Y;
    const int64_t *rows = net->pending.rows;
    const float scale = 1.0f / (float)n;
#pragma omp parallel for num_threads(net->pending.nt) schedule(dynamic, 4)
    for (int64_t s = 0; s < n; s++) {
        slide_act *a = &net->acts[(size_t)s];
        for (uint32_t k = 0; k < m; k++)
            a->val[k] = (float)exp((double)a->val[k] - (double)log_norm[s]);
        const uint32_t count = net->pending.label_counts[s];
        double loss = 0.0;
        if (count == 0) { /* no label in any shard: the sample contributes nothing, as in slide_output_delta */
            memset(a->delta, 0, sizeof(float) * m);
        } else {
            const float t = 1.0f / (float)count;
            for (uint32_t k = 0; k < m; k++)
                a->delta[k] = a->val[k] * scale;
            const int64_t row = rows ? rows[s] : s;
            for (int64_t p = Y->indptr[row]; p < Y->indptr[row + 1]; p++) {
                const int32_t k = L->sampler.shared.pos[Y->indices[p]];
                a->delta[k] -= t * scale;
                loss -= t * log((double)a->val[k] + 1e-30);
            }
        }
        sample_loss[s] = loss;
    }
    double loss = 0.0;
    for (int64_t s = 0; s < n; s++)
        loss += sample_loss[s];
    free(sample_loss);
    layer_active[0] = (uint64_t)n * m;
    if (grad_input)
        input_gradient(net, &net->pending.X, rows, n, grad_input, net->pending.nt);
    if (stats) {
        slide_batch_stats full = {sizeof full, loss / (double)n, (double)m};
        stats->struct_size = slide_copy_out(SLIDE_STRUCT_BATCH_STATS, stats, &full, stats->struct_size);
    }
    free(net->pending.label_counts);
    net->pending.label_counts = NULL;
    net->pending.awaiting_backward = 0;
    net->pending.active = 1;
    net->pending.layer_active = layer_active;
    return SLIDE_OK;
}

int slide_network_train_apply(slide_network *net)
{
    if (!net)
        return slide_fail(SLIDE_E_INVALID, "net is NULL");
    if (!net->pending.active)
        return slide_fail(SLIDE_E_INVALID, net->pending.awaiting_backward
                                               ? "slide_network_train_apply: the sharded step needs "
                                                 "slide_network_shard_backward first"
                                               : "slide_network_train_apply: no training step is pending");
    const uint32_t NL = net->n_layers;
    const slide_matrix *X = &net->pending.X;
    const int64_t *rows = net->pending.rows;
    const int64_t n = net->pending.n;
    const int nt = net->pending.nt;
    uint64_t *layer_active = net->pending.layer_active;
    int rc = SLIDE_OK;

    net->step += 1;
    for (uint32_t l = 0; l < NL && !rc; l++)
        rc = slide_update_layer(net, l, X, rows, (uint32_t)n, nt);
    for (uint32_t l = 0; l < NL; l++)
        slide_sampler_count_batch(&net->layers[l], n);
    slide_sampler_clear_shared(net);
    for (uint32_t l = 0; l < NL; l++) {
        slide_layer *L = &net->layers[l];
        L->samples_seen += (uint64_t)n;
        L->active_total += layer_active[l];
        if (rc || !L->sampled)
            continue;
        rc = slide_sampler_end_batch(net, L);
    }
    free(layer_active);
    memset(&net->pending, 0, sizeof net->pending);
    slide_network_release(net);
    return rc;
}

int slide_network_train_cancel(slide_network *net)
{
    if (!net)
        return slide_fail(SLIDE_E_INVALID, "net is NULL");
    if (!net->pending.active && !net->pending.awaiting_backward)
        return slide_fail(SLIDE_E_INVALID, "slide_network_train_cancel: no training step is pending");
    slide_sampler_clear_shared(net);
    free(net->pending.layer_active);
    free(net->pending.label_counts);
    memset(&net->pending, 0, sizeof net->pending);
    slide_network_release(net);
    return SLIDE_OK;
}

int slide_network_train_batch(slide_network *net, const slide_matrix *X, const slide_matrix *Y,
                              const int64_t *rows, int64_t n, slide_batch_stats *stats)
{
    int rc = slide_network_train_begin(net, X, Y, rows, n, stats, NULL, 0);
    return rc ? rc : slide_network_train_apply(net);
}
