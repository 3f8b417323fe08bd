/*
 * Per-call working memory owned by the network: per-sample activations (slide_act, net->acts) and
 * per-thread scratch (slide_thread_scratch, net->scratch). Both grow on demand and are reused across
 * calls; they live as long as the network and are only touched under its busy claim.
 */
#ifndef SLIDE_SCRATCH_H
#define SLIDE_SCRATCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "matrix.h"
#include "slide/slide.h"

/*
 * Per-sample activations of one layer during a batch or a prediction: net->acts[s * n_layers + l] for
 * sample slot s. Each slot is written only by the thread computing sample s (batch-shared layers: by the
 * thread computing s's chunk).
 */
typedef struct slide_act {
    uint32_t n;        /* active neurons (== units for fully computed layers) */
    uint32_t cap;
    int dense;         /* 1: every neuron active, ids unused */
    uint32_t n_forced; /* leading ids that are the sample's labels (training output layer) */
    uint32_t n_fixed;  /* leading ids chosen with certainty (labels, retrieved); the rest are uniform draws */
    uint32_t n_prescored; /* val[n_forced .. n_forced + n_prescored) were set by the selection (batched rescoring) */
    int32_t *ids;      /* active neuron ids when !dense */
    float *val;        /* post-activation values [n] */
    float *delta;      /* d loss / d pre-activation [n] (training only) */
} slide_act;

/* The activations a as the next layer's input (no copy). */
static inline slide_vec slide_act_input(const slide_act *a)
{
    slide_vec v = {a->dense ? NULL : a->ids, a->val, a->n};
    return v;
}

/*
 * Rows whose gradients one thread accumulates together (batch-shared updates): their coefficients are one
 * 64-byte line of each sample's delta; axpy_many_multi takes them four at a time.
 */
#define SLIDE_GRAD_ROWS 16

/*
 * Per-thread scratch, grown on demand, owned by the network. net->scratch[t] belongs to OpenMP thread t of
 * the running parallel region (slide_thread_id()); the one exception is the batch-shared selection
 * (sampler.c), whose partition tasks share slot 0 (mark, hits, cand), each writing only the entries of
 * its own partition's neuron ids and candidate range.
 */
typedef struct slide_thread_scratch {
    uint32_t *mark;      /* [max sampled units]: stamp of the last sample that saw the neuron */
    uint16_t *hits;      /* [max sampled units]: collision count for the current stamp */
    uint32_t stamp;
    uint32_t *cand;      /* candidate ids */
    size_t cand_cap;
    uint32_t *codes;     /* [max tables] */
    void *hash_scratch;
    size_t hash_scratch_bytes;
    float *grad;         /* [SLIDE_GRAD_ROWS * max row_len] gradients of up to SLIDE_GRAD_ROWS rows */
    float *wrow;         /* [max row_len] one bf16 weight row widened to float (hashing, prediction) */
    uint32_t *hist;      /* [max tables + 2] counting sort of candidates by collisions */
    float *scores;       /* [units of the layer] every neuron's pre-activation (the "exact" oracle only) */
    size_t scores_cap;
} slide_thread_scratch;

/* The calling OpenMP thread's index into net->scratch (0 outside parallel regions or without OpenMP). */
static inline int slide_thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}
/* Makes sure `threads` scratch slots exist and are big enough. */
int slide_network_ensure_scratch(slide_network *net, int threads);
int slide_network_ensure_acts(slide_network *net, size_t samples);
int slide_act_reserve(slide_act *a, uint32_t n, int with_ids, int with_delta);
int slide_scratch_reserve_cand(slide_thread_scratch *s, size_t n);
int slide_scratch_reserve_scores(slide_thread_scratch *s, size_t n);
/* Bytes held by the activations and the thread scratch (for slide_network_memory_bytes). */
size_t slide_scratch_memory_bytes(const slide_network *net);
/* Frees the activations and the thread scratch (network teardown). */
void slide_scratch_free_all(slide_network *net);

#endif
