/*
 * The closed-form catch-up of Adam (AdamW) steps a row missed, shared by the network's optimizer
 * (optimizer.c, slide_optimizer_config.catch_up) and slide_adam_rows (row_adam.c).
 *
 * With zero gradients the moments decay geometrically, m_j = beta1^j m, v_j = beta2^j v, and the weights
 * keep moving by lr_j m_j / (sqrt(v_j) + eps_j); taking the bias correction of the first skipped step for
 * all of them (the terms fall off as (beta1 / sqrt(beta2))^j, so the first few dominate) the k steps sum in
 * closed form to lr_s * q (1 - q^k) / (1 - q) * m / (sqrt(v) + eps_s), q = beta1 / sqrt(beta2). Weight
 * decay compounds to (1 - lr wd)^k. A row never updated before (last 0) has zero moments: only decay applies.
 */
#ifndef SLIDE_ADAM_CATCH_UP_H
#define SLIDE_ADAM_CATCH_UP_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels.h"

/*
 * The factors of kernels.h's adam_catch_up: w = w * decay - move * m / (sqrt(v) + eps); m *= mk; v *= vk.
 * moments: the row has Adam moments to advance (move may still be 0, e.g. beta1 = 0, while v decays);
 * otherwise only the decay applies.
 */
typedef struct {
    float decay, move, eps, mk, vk;
    int moments;
} slide_catch_up;

/* What the steps last + 1 .. step - 1 (none when last + 1 >= step) do to a row; adam 0: SGD, decay only. */
static inline slide_catch_up slide_catch_up_factors(uint64_t last, uint64_t step, float lr, float beta1,
                                                    float beta2, float eps, float weight_decay, int adam)
{
    slide_catch_up f = {1.0f, 0.0f, 0.0f, 1.0f, 1.0f, 0};
    if (last + 1 >= step)
        return f;
    const double k = (double)(step - 1 - last), b1 = beta1, b2 = beta2;
    f.decay = (float)pow(1.0 - (double)lr * weight_decay, k);
    if (adam && last > 0) {
        const double s1 = (double)last + 1.0, c1 = 1.0 - pow(b1, s1), c2 = 1.0 - pow(b2, s1);
        const double q = b1 / sqrt(b2);
        /* evaluated in this order since 0.4 (trained models' digests depend on the bits); q = 1: the sum is k */
        f.move = (float)(fabs(1.0 - q) < 1e-12 ? lr * sqrt(c2) / c1 * k
                                               : lr * sqrt(c2) / c1 * q * (1.0 - pow(q, k)) / (1.0 - q));
        f.eps = (float)(eps * sqrt(c2));
        f.mk = (float)pow(b1, k);
        f.vk = (float)pow(b2, k);
        f.moments = 1;
    }
    return f;
}

/*
 * Within one optimizer step the factors depend on `last` only, and the rows of a batch share few distinct
 * last steps, so each thread keeps the recent ones in a direct-mapped cache: a few powers per distinct
 * step instead of per row. Cached or not, the factors are the same numbers. A cache serves one step of one
 * table with one set of hyperparameters: start it empty (slide_catch_up_cache_clear) for every step.
 */
enum { SLIDE_CATCH_UP_CACHE = 256 };

typedef struct {
    uint64_t last; /* UINT64_MAX: empty */
    slide_catch_up f;
} slide_catch_up_slot;

static inline void slide_catch_up_cache_clear(slide_catch_up_slot *cache)
{
    for (size_t i = 0; i < SLIDE_CATCH_UP_CACHE; i++)
        cache[i].last = UINT64_MAX;
}

/* slide_catch_up_factors(last, step, ...) through the cache (last + 1 < step). */
static inline const slide_catch_up *slide_catch_up_cached(slide_catch_up_slot *cache, uint64_t last, uint64_t step,
                                                         float lr, float beta1, float beta2, float eps,
                                                         float weight_decay, int adam)
{
    slide_catch_up_slot *slot = &cache[last % SLIDE_CATCH_UP_CACHE];
    if (slot->last != last) {
        slot->last = last;
        slot->f = slide_catch_up_factors(last, step, lr, beta1, beta2, eps, weight_decay, adam);
    }
    return &slot->f;
}

/* Applies f to a float32 row of n weights and, when f.moments, its moments m and v. */
static inline void slide_catch_up_apply(const slide_kernels *K, float *w, float *m, float *v, size_t n,
                                        const slide_catch_up *f)
{
    if (f->moments) {
        K->adam_catch_up(w, m, v, n, f->decay, f->move, f->eps, f->mk, f->vk);
    } else if (f->decay != 1.0f) {
        for (size_t i = 0; i < n; i++)
            w[i] *= f->decay;
    }
}

#endif
