/*
 * Batched back-propagation into a sparse previous layer. Sample by sample, each active neuron's weight row
 * is gathered at the previous layer's active positions: a few hundred scattered cache lines from a row that
 * is rarely in cache. Here the batch's samples are split into nt contiguous parts; each part counting-sorts
 * its (neuron, sample, position) contributions by neuron and walks them in that order, so a row is brought
 * into cache once per part and used for all of the part's samples that computed it.
 */
#include <string.h>

#include "alloc.h"
#include "backprop.h"
#include "backprop_batch.h"
#include "error.h"
#include "kernels.h"
#include "rows.h"

int slide_backprop_sparse_batch_applies(const slide_network *net, uint32_t l, int64_t n)
{
    if (l == 0)
        return 0;
    const slide_layer *L = &net->layers[l];
    if (!L->sampled || !L->neuron_major || slide_layer_batch_shared(L) || slide_is_bf16(L))
        return 0;
    const uint32_t NL = net->n_layers;
    for (int64_t s = 0; s < n; s++)
        if (net->acts[(size_t)s * NL + l - 1].dense || net->acts[(size_t)s * NL + l].dense)
            return 0;
    return 1;
}

int slide_backprop_sparse_batch(slide_network *net, uint32_t l, int64_t n, int nt)
{
    const slide_layer *L = &net->layers[l];
    const uint32_t NL = net->n_layers, U = L->units;
    const int prev_relu = net->layers[l - 1].activation == SLIDE_ACT_RELU;
    const int parts = nt < 1 ? 1 : (int64_t)nt > n ? (int)n : nt;
    size_t pairs = 0;
    for (int64_t s = 0; s < n; s++)
        pairs += net->acts[(size_t)s * NL + l].n;
    int rc = slide_grow(&net->bp_sample, &net->bp_sample_cap, pairs, sizeof(uint32_t), "back-propagation entries");
    if (!rc)
        rc = slide_grow(&net->bp_pos, &net->bp_pos_cap, pairs, sizeof(uint32_t), "back-propagation entries");
    if (!rc)
        rc = slide_grow(&net->bp_hist, &net->bp_hist_cap, (size_t)parts * (U + 1), sizeof(uint32_t),
                        "back-propagation counts");
    if (rc)
        return rc;
    const slide_kernels *K = slide_kernels_get();
#pragma omp parallel for num_threads(nt) schedule(static, 1)
    for (int p = 0; p < parts; p++) {
        const int64_t s0 = n * p / parts, s1 = n * (p + 1) / parts;
        size_t base = 0; /* entries of the parts before p */
        for (int64_t s = 0; s < s0; s++)
            base += net->acts[(size_t)s * NL + l].n;
        uint32_t *count = net->bp_hist + (size_t)p * (U + 1);
        memset(count, 0, sizeof(uint32_t) * (U + 1));
        for (int64_t s = s0; s < s1; s++) {
            const slide_act *a = &net->acts[(size_t)s * NL + l];
            for (uint32_t k = 0; k < a->n; k++)
                count[a->ids[k] + 1]++;
        }
        for (uint32_t j = 0; j < U; j++)
            count[j + 1] += count[j];
        /* count[j] is now where neuron j's entries start; placing them in sample order keeps it stable. */
        uint32_t *smp = net->bp_sample + base, *pos = net->bp_pos + base;
        for (int64_t s = s0; s < s1; s++) {
            const slide_act *a = &net->acts[(size_t)s * NL + l];
            for (uint32_t k = 0; k < a->n; k++) {
                const uint32_t at = count[a->ids[k]]++;
                smp[at] = (uint32_t)s;
                pos[at] = k;
            }
        }
        for (int64_t s = s0; s < s1; s++) {
            slide_act *prev = &net->acts[(size_t)s * NL + l - 1];
            memset(prev->delta, 0, sizeof(float) * prev->n);
        }
        const size_t total = count[U - 1]; /* the end of the last neuron's entries: all of this part's */
        for (size_t e = 0; e < total; e++) {
            const int64_t s = smp[e];
            const slide_act *a = &net->acts[(size_t)s * NL + l];
            const float d = a->delta[pos[e]];
            if (d == 0.0f)
                continue;
            slide_act *prev = &net->acts[(size_t)s * NL + l - 1];
            K->axpy_gather(prev->delta, d, slide_row_w(L, (size_t)a->ids[pos[e]]), prev->ids, prev->n);
        }
        if (prev_relu)
            for (int64_t s = s0; s < s1; s++)
                slide_relu_gate_delta(&net->acts[(size_t)s * NL + l - 1]);
    }
    return SLIDE_OK;
}
