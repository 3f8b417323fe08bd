/*
 * Fuzz target for the model loader, slide_network_load().
 *
 * Input layout: one mode byte, then the model file.
 *   mode bit 0: overwrite the header's payload size (bytes 16..23) with the size the file really has, so
 *               mutations that change the length still reach the payload checks.
 *   mode bit 1: overwrite the trailing checksum with the correct one, so mutated payloads get past the
 *               checksum and exercise what the loader accepts (the format's layout and checksum are
 *               described in libslide/src/model_file.c; the checksum is recomputed here independently).
 * The seeds (corpus/fuzz_model_load) are real files written by slide_network_save, with mode 3.
 *
 * Checked: a failed load returns an error status with a message and leaves *out NULL. A loaded network
 * must describe a consistent chain of layers, and must survive exact and sampled top-k prediction, one
 * training step, and prediction again, on a one-sample input, with every output id in range.
 */
#include "fuzz_common.h"

enum { HEADER_BYTES = 24, TRAILER_BYTES = 8 };

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void store_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* The model checksum: FNV-1a style mixing over little-endian 8-byte words, the tail zero-padded. */
static uint64_t model_checksum(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i += 8) {
        uint8_t w[8] = {0};
        memcpy(w, p + i, n - i < 8 ? n - i : 8);
        h ^= load_le64(w);
        h *= 0x100000001b3ull;
        h ^= h >> 29;
    }
    return h;
}

static void check_predict(slide_network *net, const slide_matrix *X, uint32_t units, uint32_t k, int mode,
                          const uint8_t *data, size_t size)
{
    int32_t ids[8];
    float scores[8];
    int rc = slide_network_predict_topk(net, X, NULL, 1, k, mode, ids, scores);
    if (rc != SLIDE_OK) {
        fuzz_check_failure(rc, data, size);
        if (rc != SLIDE_E_NUMERIC && rc != SLIDE_E_NOMEM)
            fuzz_fail("predict_topk on a loaded network failed with an unexpected status", data, size);
        return;
    }
    for (uint32_t i = 0; i < k; i++)
        if (ids[i] < -1 || (ids[i] >= 0 && (uint32_t)ids[i] >= units) || (mode == SLIDE_PREDICT_EXACT && ids[i] < 0))
            fuzz_fail("predict_topk returned an id out of range", data, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const unsigned mode = data[0];
    size_t n = size - 1;
    uint8_t *file = malloc(n ? n : 1);
    if (!file)
        return 0;
    memcpy(file, data + 1, n);
    if (n >= HEADER_BYTES + TRAILER_BYTES) {
        if (mode & 1u)
            store_le64(file + 16, (uint64_t)(n - HEADER_BYTES - TRAILER_BYTES));
        if (mode & 2u)
            store_le64(file + n - TRAILER_BYTES,
                       model_checksum(file + HEADER_BYTES, n - HEADER_BYTES - TRAILER_BYTES));
    }
    const char *path = fuzz_write(1, file, n);
    free(file);

    slide_network *net = NULL;
    int rc = slide_network_load(path, &net);
    if (rc != SLIDE_OK) {
        fuzz_check_failure(rc, data, size);
        if (rc == SLIDE_E_IO || rc == SLIDE_E_BUSY || rc == SLIDE_E_NUMERIC)
            fuzz_fail("unexpected status for an existing, readable file", data, size);
        if (net)
            fuzz_fail("a failed load left a network in *out", data, size);
        return 0;
    }
    if (!net)
        fuzz_fail("a successful load returned no network", data, size);
    if (slide_network_set_threads(net, 1) != SLIDE_OK)
        fuzz_fail("set_threads(1) failed", data, size);

    uint32_t n_layers = slide_network_layer_count(net);
    if (n_layers < 1 || n_layers > 64)
        fuzz_fail("loaded network has an impossible layer count", data, size);
    slide_layer_info first = {0}, last = {0};
    uint32_t prev_units = 0;
    for (uint32_t l = 0; l < n_layers; l++) {
        slide_layer_info info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        if (slide_network_layer_info(net, l, &info) != SLIDE_OK)
            fuzz_fail("layer_info failed on a loaded network", data, size);
        if (info.units == 0 || info.input_dim == 0 || (l > 0 && info.input_dim != prev_units))
            fuzz_fail("loaded layers do not chain", data, size);
        prev_units = info.units;
        if (l == 0)
            first = info;
        last = info;
    }
    if (last.activation != SLIDE_ACT_SOFTMAX)
        fuzz_fail("loaded network does not end in softmax", data, size);
    if (slide_network_memory_bytes(net) == 0)
        fuzz_fail("loaded network reports no memory", data, size);

    /* One sample with up to two features (ids 0 and input_dim - 1) and label 0. */
    int32_t feat[2] = {0, (int32_t)(first.input_dim - 1)};
    float val[2] = {1.0f, -0.5f};
    int64_t x_ptr[2] = {0, first.input_dim > 1 ? 2 : 1};
    slide_matrix X = {SLIDE_MATRIX_CSR, 1, first.input_dim, val, x_ptr, feat};
    int32_t label = 0;
    int64_t y_ptr[2] = {0, 1};
    slide_matrix Y = {SLIDE_MATRIX_CSR, 1, last.units, NULL, y_ptr, &label};
    uint32_t k = last.units < 8 ? last.units : 8;

    check_predict(net, &X, last.units, k, SLIDE_PREDICT_EXACT, data, size);
    check_predict(net, &X, last.units, k, SLIDE_PREDICT_SAMPLED, data, size);
    slide_batch_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    rc = slide_network_train_batch(net, &X, &Y, NULL, 1, &st);
    if (rc != SLIDE_OK) {
        fuzz_check_failure(rc, data, size);
        if (rc != SLIDE_E_NUMERIC && rc != SLIDE_E_NOMEM)
            fuzz_fail("train_batch on a loaded network failed with an unexpected status", data, size);
    } else {
        check_predict(net, &X, last.units, k, SLIDE_PREDICT_SAMPLED, data, size);
    }
    slide_network_free(net);
    return 0;
}
