/* Forward pass of one sample (forward.c), shared by training, prediction and diagnosis. */
#ifndef SLIDE_FORWARD_H
#define SLIDE_FORWARD_H

#include <stdint.h>

#include "matrix.h"
#include "rng.h"
#include "scratch.h"
#include "slide/slide.h"

/*
 * Forward pass of one sample through every layer. mode: 0 = train (labels forced in), 1 = sampled
 * inference, 2 = exact inference (every neuron of every layer, except that `skip_last` stops before
 * the output layer so predict.c can score it in blocks).
 */
enum { SLIDE_FWD_TRAIN = 0, SLIDE_FWD_SAMPLED = 1, SLIDE_FWD_EXACT = 2 };
int slide_forward_sample(slide_network *net, slide_vec x, const int32_t *labels, uint32_t n_labels, int mode,
                         int skip_last, slide_act *acts, slide_thread_scratch *scr, uint64_t sample_seed);
/*
 * Forward through layers [from, to); the input of `from` is x when from == 0, else acts[from - 1].
 * pre_from: NULL, or every pre-activation of layer `from` for this sample (bias included), computed for the
 * batch by slide_preact_batch; the layer's exact selection and its values then come from it.
 * selected_from: layer `from` is sampled and its active set acts[from] was already chosen (batched
 * rescoring, rescore_batch.h); only the values the selection did not compute are computed.
 */
int slide_forward_layers(slide_network *net, slide_vec x, uint32_t from, uint32_t to, const int32_t *labels,
                         uint32_t n_labels, int mode, slide_act *acts, slide_thread_scratch *scr,
                         uint64_t sample_seed, const float *pre_from, int selected_from);

/* Training: the forward seed of batch position s at optimizer step `step`, and the one its selection in
 * layer l draws padding from. Batched selection (rescore_batch.c) uses the same seeds. */
static inline uint64_t slide_forward_train_seed(uint64_t net_seed, uint64_t step, int64_t s)
{
    return slide_seed3(net_seed, step, (uint64_t)s, 0xF0);
}
static inline uint64_t slide_forward_select_seed(uint64_t sample_seed, uint32_t l)
{
    return slide_seed3(sample_seed, l, 0x9AD, 0);
}

/* z[0..n) = softmax(z), in place. */
void slide_softmax_inplace(float *z, uint32_t n);

#endif
