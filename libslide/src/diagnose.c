/*
 * Sampling diagnostics: how many neurons each layer computes, how many multiply-adds that costs, and how
 * well the hash tables find the neurons with the largest pre-activations (recall against exact top-k).
 *
 * Each sample runs through the network in sampled inference mode; then, per sampled layer, the exact
 * pre-activations of every neuron are computed for the same layer input and the k-th largest is found
 * by quickselect (k = the sample's active count). Work per sample is that of a dense forward pass, so
 * callers diagnose a subset of rows.
 */
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "config.h"
#include "error.h"
#include "forward.h"
#include "sampler.h"
#include "kernels.h"
#include "network.h"
#include "rows.h"
#include "rng.h"

/* k-th largest (1 <= k <= n) of a[0..n), reordering a (quickselect, Lomuto partition, signed indices). */
static float kth_largest(float *a, uint32_t n, uint32_t k)
{
    int64_t lo = 0, hi = (int64_t)n - 1, target = (int64_t)k - 1;
    uint64_t state = 0x9E3779B97F4A7C15ull;
    while (lo < hi) {
        state = slide_mix64(state);
        int64_t p = lo + (int64_t)(state % (uint64_t)(hi - lo + 1));
        float pivot = a[p];
        a[p] = a[hi];
        a[hi] = pivot;
        int64_t store = lo;
        for (int64_t i = lo; i < hi; i++)
            if (a[i] > pivot) {
                float t = a[i];
                a[i] = a[store];
                a[store] = t;
                store++;
            }
        a[hi] = a[store];
        a[store] = pivot;
        if (store == target)
            return pivot;
        if (store < target)
            lo = store + 1;
        else
            hi = store - 1;
    }
    return a[target];
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int slide_network_diagnose(slide_network *net, const slide_matrix *X, const int64_t *rows, int64_t n,
                           slide_layer_diagnosis *out, uint32_t n_out)
{
    if (!net)
        return slide_fail(SLIDE_E_INVALID, "net is NULL");
    int rc = slide_matrix_check(X, "X", net->input_dim, 0);
    if (rc)
        return rc;
    if (!out || n_out < net->n_layers)
        return slide_fail(SLIDE_E_INVALID, "out needs room for %u layer records", net->n_layers);
    const size_t stride = out[0].struct_size;
    if (stride < offsetof(slide_layer_diagnosis, madds_dense) + sizeof(double))
        return slide_fail(SLIDE_E_INVALID, "diagnosis struct_size %zu is too small", stride);
    if (n <= 0 || (!rows && n > X->rows))
        return slide_fail(SLIDE_E_INVALID, "n = %lld out of range for X with %lld rows", (long long)n, (long long)X->rows);
    rc = slide_check_rows(net, X, rows, n);
    if (rc)
        return rc;
    rc = slide_network_claim(net, "slide_network_diagnose");
    if (rc)
        return rc;
    const uint32_t NL = net->n_layers;
    const int nt = slide_network_threads_for_call(net);
    const int64_t chunk = 256;
    uint32_t max_units = 1;
    for (uint32_t l = 0; l < NL; l++)
        max_units = net->layers[l].units > max_units ? net->layers[l].units : max_units;
    double *active = malloc(sizeof(double) * (size_t)n * NL);
    double *recall = calloc(NL, sizeof(double));
    double *madds = calloc(NL, sizeof(double));
    double *madds_dense = calloc(NL, sizeof(double));
    rc = slide_network_ensure_scratch(net, nt);
    if (!rc)
        rc = slide_network_ensure_acts(net, (size_t)chunk);
    if (!rc)
        rc = slide_sampler_refresh(net); /* tables that training did not read lag the weights */
    if (!rc && (!active || !recall || !madds || !madds_dense))
        rc = slide_fail(SLIDE_E_NOMEM, "out of memory");
    int err = SLIDE_OK;
    const slide_kernels *K = slide_kernels_get();

    for (int64_t base = 0; base < n && !rc && !err; base += chunk) {
        int64_t cn = n - base < chunk ? n - base : chunk;
#pragma omp parallel num_threads(nt)
        {
            float *z = malloc(sizeof(float) * max_units);
            float *zs = malloc(sizeof(float) * max_units);
            double *my_recall = calloc(NL, sizeof(double));
            double *my_madds = calloc(NL, sizeof(double));
            double *my_dense = calloc(NL, sizeof(double));
            int ok = z && zs && my_recall && my_madds && my_dense;
#pragma omp for schedule(dynamic, 2)
            for (int64_t s = 0; s < cn; s++) {
                if (!ok)
                    continue;
                slide_thread_scratch *scr = &net->scratch[slide_thread_id()];
                int64_t row = rows ? rows[base + s] : base + s;
                slide_act *acts = &net->acts[(size_t)s * NL];
                slide_vec x = slide_matrix_row(X, row);
                if (slide_forward_sample(net, x, NULL, 0, SLIDE_FWD_SAMPLED, 0, acts, scr,
                                         slide_seed3(net->seed, 0xD1A6, (uint64_t)(base + s), 0)) != SLIDE_OK) {
#pragma omp atomic write
                    err = SLIDE_E_NOMEM;
                    continue;
                }
                slide_vec in = x;
                for (uint32_t l = 0; l < NL; l++) {
                    const slide_layer *L = &net->layers[l];
                    const slide_act *a = &acts[l];
                    uint32_t in_nnz = 0;
                    for (uint32_t i = 0; i < in.nnz; i++)
                        in_nnz += in.val[i] != 0.0f;
                    /* The dense reference multiplies every input for a dense input, non-zeros for sparse X. */
                    double dense_inputs = (l == 0 && x.idx) ? (double)in.nnz : (double)L->in_dim;
                    my_dense[l] += dense_inputs * L->units;
                    active[(size_t)(base + s) * NL + l] = a->n;
                    if (!L->sampled) {
                        my_madds[l] += (double)in_nnz * L->units;
                        my_recall[l] += 1.0;
                    } else {
                        my_madds[l] += (double)a->n * (in.idx ? in.nnz : L->in_dim);
                        for (uint32_t j = 0; j < L->units; j++)
                            z[j] = L->bias[j] + (in.idx ? slide_row_dot_sparse(K, L, j, in.idx, in.val, in.nnz)
                                                        : slide_row_dot(K, L, j, in.val, in.nnz));
                        uint32_t k = a->n < L->units ? a->n : L->units;
                        if (k == 0) {
                            my_recall[l] += 0.0;
                        } else {
                            /* Quickselect on a copy: z must keep neuron order for the lookups below. */
                            memcpy(zs, z, sizeof(float) * L->units);
                            float tau = kth_largest(zs, L->units, k);
                            uint32_t hit = 0;
                            for (uint32_t i = 0; i < a->n; i++)
                                hit += z[a->dense ? i : (uint32_t)a->ids[i]] >= tau;
                            my_recall[l] += (double)(hit < k ? hit : k) / (double)k;
                        }
                    }
                    in = (slide_vec){a->dense ? NULL : a->ids, a->val, a->n};
                }
            }
#pragma omp critical(slide_diagnose_sum)
            {
                if (!ok && !err)
                    err = SLIDE_E_NOMEM;
                for (uint32_t l = 0; l < NL && ok; l++) {
                    recall[l] += my_recall[l];
                    madds[l] += my_madds[l];
                    madds_dense[l] += my_dense[l];
                }
            }
            free(z);
            free(zs);
            free(my_recall);
            free(my_madds);
            free(my_dense);
        }
    }
    if (!rc && err)
        rc = slide_fail(err, "out of memory during diagnosis");
    if (!rc) {
        double *col = malloc(sizeof(double) * (size_t)n);
        if (!col)
            rc = slide_fail(SLIDE_E_NOMEM, "out of memory");
        for (uint32_t l = 0; l < NL && !rc; l++) {
            double sum = 0.0;
            for (int64_t i = 0; i < n; i++) {
                col[i] = active[(size_t)i * NL + l];
                sum += col[i];
            }
            qsort(col, (size_t)n, sizeof(double), cmp_double);
            slide_layer_diagnosis d = {
                .struct_size = sizeof d,
                .layer = l,
                .sampled = net->layers[l].sampled,
                .mean_active = sum / (double)n,
                .min_active = col[0],
                .p50_active = col[(size_t)(n - 1) / 2],
                .p90_active = col[(size_t)((double)(n - 1) * 0.9)],
                .max_active = col[n - 1],
                .recall = recall[l] / (double)n,
                .madds = madds[l] / (double)n,
                .madds_dense = madds_dense[l] / (double)n,
            };
            /* Records are out[0].struct_size bytes apart, so older callers with shorter records still work. */
            d.struct_size = slide_whole_fields(SLIDE_STRUCT_LAYER_DIAGNOSIS, stride);
            slide_copy_out(SLIDE_STRUCT_LAYER_DIAGNOSIS, (char *)out + (size_t)l * stride, &d, stride);
        }
        free(col);
    }
    free(active);
    free(recall);
    free(madds);
    free(madds_dense);
    slide_network_release(net);
    return rc;
}
