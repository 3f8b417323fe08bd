/*
 * Hash backend tests, for every registered backend (built-ins and the example plugin): determinism from
 * the seed, dense and sparse queries agreeing, codes within code_bits, garbage-filled scratch, hashing
 * from several threads, and locality (similar vectors share more tables than unrelated ones). Then the
 * inner-product property of "simhash-mips", plugin loading and registration errors, and a small network
 * trained through the public API with the plugin backend.
 *
 * Usage: test_hash <example_plugin> <bad_version_plugin> <no_entry_plugin>
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash_family.h"
#include "lsh_table.h"
#include "slide/slide.h"
#include "synthetic_data.h"

static int failures;

#define EXPECT(cond, ...)                                                \
    do {                                                                 \
        if (!(cond)) {                                                   \
            failures++;                                                  \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);         \
            fprintf(stderr, __VA_ARGS__);                                \
            fprintf(stderr, " [last error: %s]\n", slide_last_error()); \
        }                                                                \
    } while (0)

#define OK(call) EXPECT((call) == SLIDE_OK, "%s", #call)

/* ------------------------------------------------------------------ random vectors */

static uint64_t rs = 0x853C49E6748FEA9Bull;
static uint64_t next64(void)
{
    uint64_t x = (rs += 0x9E3779B97F4A7C15ull);
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
static uint32_t below(uint32_t n) { return (uint32_t)((next64() >> 32) * n >> 32); }
static double unit(void) { return (double)(next64() >> 11) * (1.0 / 9007199254740992.0); }
static float gauss(void)
{
    double u = unit(), v = unit();
    return (float)(sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v));
}

/* A sparse vector and its dense copy. */
typedef struct svec {
    uint32_t nnz;
    int32_t *idx;
    float *val;
    float *dense;
} svec;

static void svec_alloc(svec *v, uint32_t dim)
{
    v->nnz = 0;
    v->idx = malloc(sizeof(int32_t) * dim);
    v->val = malloc(sizeof(float) * dim);
    v->dense = calloc(dim, sizeof(float));
}

static void svec_free(svec *v)
{
    free(v->idx);
    free(v->val);
    free(v->dense);
}

static void svec_set(svec *v, int32_t d, float x)
{
    v->idx[v->nnz] = d;
    v->val[v->nnz++] = x;
    v->dense[d] = x;
}

/* Shuffles the stored order: sparse inputs need not be sorted. */
static void svec_shuffle(svec *v)
{
    for (uint32_t i = v->nnz; i > 1; i--) {
        uint32_t j = below(i);
        int32_t ti = v->idx[i - 1];
        float tv = v->val[i - 1];
        v->idx[i - 1] = v->idx[j];
        v->val[i - 1] = v->val[j];
        v->idx[j] = ti;
        v->val[j] = tv;
    }
}

enum { VALUES_GAUSS, VALUES_DYADIC, VALUES_POSITIVE };

static float draw_value(int kind)
{
    switch (kind) {
    case VALUES_DYADIC: return (float)((int)below(65) - 32) / 8.0f; /* sums are exact in float */
    case VALUES_POSITIVE: return 0.2f + (float)unit();
    default: return gauss();
    }
}

/* Random sparse vector: nnz distinct dimensions (some stored as explicit zeros when `zeros`). */
static void random_sparse(svec *v, uint32_t dim, uint32_t nnz, int kind, int zeros)
{
    memset(v->dense, 0, sizeof(float) * dim);
    v->nnz = 0;
    while (v->nnz < nnz) {
        int32_t d = (int32_t)below(dim);
        int dup = 0;
        for (uint32_t i = 0; i < v->nnz && !dup; i++)
            dup = v->idx[i] == d;
        if (!dup)
            svec_set(v, d, zeros && below(8) == 0 ? 0.0f : draw_value(kind));
    }
    svec_shuffle(v);
}

/* Dense vector stored sparsely: every non-zero, plus (when `zeros`) some explicit zeros. */
static void random_dense(svec *v, uint32_t dim, int kind, int zeros)
{
    v->nnz = 0;
    for (uint32_t d = 0; d < dim; d++) {
        float x = below(5) == 0 ? 0.0f : draw_value(kind);
        v->dense[d] = x;
        if (x != 0.0f || (zeros && below(2)))
            svec_set(v, (int32_t)d, x);
    }
    svec_shuffle(v);
}

/* ------------------------------------------------------------------ a backend instance */

typedef struct hasher {
    const slide_hash_family *f;
    void *state;
    uint32_t tables, bits;
    size_t scratch_bytes;
    unsigned char *scratch;
    unsigned char fill;
} hasher;

static int hasher_open(hasher *h, const slide_hash_family *f, uint32_t dim, uint32_t k, uint32_t tables,
                       uint32_t bin, uint64_t seed, unsigned char fill)
{
    memset(h, 0, sizeof *h);
    slide_hash_params p = {.input_dim = dim, .k = k, .tables = tables, .bin_size = bin, .seed = seed};
    h->f = f;
    int rc = f->create(&p, &h->state);
    if (rc)
        return rc;
    h->tables = tables;
    h->bits = f->code_bits(h->state);
    h->scratch_bytes = f->scratch_bytes(h->state);
    h->scratch = malloc(h->scratch_bytes + 1);
    h->fill = fill;
    return 0;
}

static void hasher_close(hasher *h)
{
    if (h->state)
        h->f->destroy(h->state);
    free(h->scratch);
}

/* Every call starts from garbage scratch: backends must not rely on its contents. */
static void *dirty(hasher *h)
{
    memset(h->scratch, h->fill++, h->scratch_bytes + 1);
    return h->scratch;
}

static void q_dense(hasher *h, const float *x, uint32_t *codes) { h->f->hash_dense(h->state, x, codes, dirty(h)); }
static void q_sparse(hasher *h, const svec *v, uint32_t *codes)
{
    h->f->hash_sparse(h->state, v->idx, v->val, v->nnz, codes, dirty(h));
}
static void item(hasher *h, const float *w, uint32_t *codes)
{
    if (h->f->hash_item)
        h->f->hash_item(h->state, w, codes, dirty(h));
    else
        h->f->hash_dense(h->state, w, codes, dirty(h));
}
static void prepare(hasher *h, const float *rows, size_t n, size_t stride)
{
    if (h->f->prepare_items)
        h->f->prepare_items(h->state, rows, n, stride);
}

/* ------------------------------------------------------------------ generic backend checks */

#define NVEC 200

typedef struct shape {
    const char *what;
    uint32_t dim, k, tables, bin, nnz; /* nnz == 0: dense vectors */
} shape;

static const shape shapes[] = {
    {"dense dim 64", 64, 4, 16, 8, 0},
    {"sparse dim 1000", 1000, 3, 24, 16, 40},
};

static void make_vectors(svec *v, const shape *s, int kind, int zeros)
{
    for (int i = 0; i < NVEC; i++) {
        if (s->nnz)
            random_sparse(&v[i], s->dim, s->nnz, kind, zeros);
        else
            random_dense(&v[i], s->dim, kind, zeros);
    }
}

/* Item rows for prepare_items: the dense vectors, `stride` floats apart. */
static float *pack_rows(const svec *v, int n, uint32_t dim, size_t stride)
{
    float *rows = malloc(sizeof(float) * stride * (size_t)n);
    for (int i = 0; i < n; i++) {
        memcpy(rows + (size_t)i * stride, v[i].dense, sizeof(float) * dim);
        for (size_t j = dim; j < stride; j++)
            rows[(size_t)i * stride + j] = 1e3f; /* padding must be ignored */
    }
    return rows;
}

typedef struct thread_job {
    const slide_hash_family *f;
    void *state;
    const svec *v;
    uint32_t tables;
    size_t scratch_bytes;
    uint32_t *codes; /* [NVEC * tables] */
} thread_job;

static void *thread_hash(void *arg)
{
    thread_job *j = arg;
    void *scratch = malloc(j->scratch_bytes + 1);
    memset(scratch, 0x77, j->scratch_bytes + 1);
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < NVEC; i++)
            j->f->hash_sparse(j->state, j->v[i].idx, j->v[i].val, j->v[i].nnz, j->codes + (size_t)i * j->tables,
                              scratch);
    free(scratch);
    return NULL;
}

static void check_shape(const slide_hash_family *f, const shape *s)
{
    const char *name = f->name;
    hasher a, b, c;
    int rc = hasher_open(&a, f, s->dim, s->k, s->tables, s->bin, 11, 0x00);
    EXPECT(rc == 0, "%s, %s: create failed (%d)", name, s->what, rc);
    if (rc)
        return;
    OK(hasher_open(&b, f, s->dim, s->k, s->tables, s->bin, 11, 0x5A));
    OK(hasher_open(&c, f, s->dim, s->k, s->tables, s->bin, 12, 0xC3));
    EXPECT(a.bits >= 1 && a.bits <= 32, "%s: code_bits %u", name, a.bits);
    EXPECT(f->memory_bytes(a.state) > 0, "%s: memory_bytes", name);
    uint64_t limit = a.bits == 32 ? 0 : (uint64_t)1 << a.bits;

    svec v[NVEC];
    for (int i = 0; i < NVEC; i++)
        svec_alloc(&v[i], s->dim);
    size_t n_codes = (size_t)NVEC * s->tables;
    uint32_t *ca = malloc(sizeof(uint32_t) * n_codes), *cb = malloc(sizeof(uint32_t) * n_codes);
    uint32_t *cc = malloc(sizeof(uint32_t) * n_codes), *cs = malloc(sizeof(uint32_t) * n_codes);

    /* Determinism, codes in range, dense == sparse, for three kinds of values. */
    const int kinds[] = {VALUES_DYADIC, VALUES_POSITIVE, VALUES_GAUSS};
    for (int kk = 0; kk < 3; kk++) {
        int kind = kinds[kk];
        make_vectors(v, s, kind, 1);
        float *rows = pack_rows(v, NVEC, s->dim, s->dim + 3);
        prepare(&a, rows, NVEC, s->dim + 3);
        prepare(&b, rows, NVEC, s->dim + 3);
        prepare(&c, rows, NVEC, s->dim + 3);
        size_t mismatch = 0, seed_diff = 0, out_of_range = 0, item_diff = 0;
        for (int i = 0; i < NVEC; i++) {
            uint32_t *A = ca + (size_t)i * s->tables, *B = cb + (size_t)i * s->tables;
            uint32_t *C = cc + (size_t)i * s->tables, *S = cs + (size_t)i * s->tables;
            q_dense(&a, v[i].dense, A);
            q_dense(&b, v[i].dense, B);
            q_dense(&c, v[i].dense, C);
            q_sparse(&a, &v[i], S);
            for (uint32_t t = 0; t < s->tables; t++) {
                EXPECT(A[t] == B[t], "%s, %s: same seed, different dense code", name, s->what);
                seed_diff += A[t] != C[t];
                mismatch += A[t] != S[t];
                out_of_range += limit && A[t] >= limit;
                out_of_range += limit && S[t] >= limit;
            }
            q_sparse(&b, &v[i], B);
            EXPECT(memcmp(S, B, sizeof(uint32_t) * s->tables) == 0, "%s, %s: same seed, different sparse code",
                   name, s->what);
            item(&a, v[i].dense, A);
            item(&b, v[i].dense, B);
            item(&c, v[i].dense, C);
            for (uint32_t t = 0; t < s->tables; t++) {
                EXPECT(A[t] == B[t], "%s, %s: same seed, different item code", name, s->what);
                item_diff += A[t] != C[t];
                out_of_range += limit && A[t] >= limit;
            }
        }
        free(rows);
        EXPECT(out_of_range == 0, "%s, %s: %zu codes >= 2^%u", name, s->what, out_of_range, a.bits);
        EXPECT(seed_diff > n_codes / 4 && item_diff > n_codes / 4,
               "%s, %s: another seed changes only %zu / %zu query and %zu item codes", name, s->what, seed_diff,
               n_codes, item_diff);
        /*
         * Dense and sparse queries must agree exactly when every sum is exact (dyadic values); with
         * Gaussian values, projection backends that add in input order may flip a sign that is within
         * rounding of zero, which is rare.
         */
        if (kind == VALUES_GAUSS)
            EXPECT(mismatch * 1000 <= n_codes, "%s, %s: dense and sparse disagree on %zu / %zu codes", name,
                   s->what, mismatch, n_codes);
        else
            EXPECT(mismatch == 0, "%s, %s: dense and sparse disagree on %zu / %zu codes (values kind %d)", name,
                   s->what, mismatch, n_codes, kind);
        if (kind == VALUES_GAUSS && mismatch)
            printf("  %s, %s: %zu / %zu Gaussian codes differ between dense and sparse\n", name, s->what,
                   mismatch, n_codes);
    }

    /* Several threads hash at once, each with its own scratch, and get the serial codes. */
    for (int i = 0; i < NVEC; i++)
        q_sparse(&a, &v[i], cs + (size_t)i * s->tables);
    thread_job jobs[4];
    pthread_t th[4];
    for (int t = 0; t < 4; t++) {
        jobs[t] = (thread_job){f, a.state, v, s->tables, a.scratch_bytes, malloc(sizeof(uint32_t) * n_codes)};
        pthread_create(&th[t], NULL, thread_hash, &jobs[t]);
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
        EXPECT(memcmp(jobs[t].codes, cs, sizeof(uint32_t) * n_codes) == 0, "%s, %s: thread %d codes differ", name,
               s->what, t);
        free(jobs[t].codes);
    }

    /*
     * Locality: a query against the item made from a perturbed copy of it (similar) and from an
     * independent vector (dissimilar); similar pairs must share clearly more tables.
     */
    svec *sim = malloc(sizeof(svec) * NVEC), *dis = malloc(sizeof(svec) * NVEC);
    for (int i = 0; i < NVEC; i++) {
        svec_alloc(&sim[i], s->dim);
        svec_alloc(&dis[i], s->dim);
    }
    const int lkinds[] = {VALUES_POSITIVE, VALUES_GAUSS};
    for (int kk = 0; kk < 2; kk++) {
        int kind = lkinds[kk];
        make_vectors(v, s, kind, 0);
        make_vectors(dis, s, kind, 0);
        for (int i = 0; i < NVEC; i++) {
            memset(sim[i].dense, 0, sizeof(float) * s->dim);
            sim[i].nnz = 0;
            for (uint32_t j = 0; j < v[i].nnz; j++) {
                if (s->nnz && below(10) == 0) /* sparse: drop 10% of the support and add as many new dims */
                    continue;
                float x = v[i].val[j];
                svec_set(&sim[i], v[i].idx[j], x + 0.25f * (kind == VALUES_POSITIVE ? x : 1.0f) * gauss());
            }
            while (sim[i].nnz < v[i].nnz) {
                int32_t d = (int32_t)below(s->dim);
                if (sim[i].dense[d] == 0.0f && v[i].dense[d] == 0.0f)
                    svec_set(&sim[i], d, draw_value(kind));
            }
        }
        float *rows = malloc(sizeof(float) * s->dim * 2 * NVEC);
        for (int i = 0; i < NVEC; i++) {
            memcpy(rows + (size_t)i * s->dim, sim[i].dense, sizeof(float) * s->dim);
            memcpy(rows + (size_t)(NVEC + i) * s->dim, dis[i].dense, sizeof(float) * s->dim);
        }
        prepare(&a, rows, 2 * NVEC, s->dim);
        double hit_sim = 0, hit_dis = 0;
        uint32_t *q = ca, *w = cb;
        for (int i = 0; i < NVEC; i++) {
            if (s->nnz)
                q_sparse(&a, &v[i], q);
            else
                q_dense(&a, v[i].dense, q);
            item(&a, sim[i].dense, w);
            for (uint32_t t = 0; t < s->tables; t++)
                hit_sim += q[t] == w[t];
            item(&a, dis[i].dense, w);
            for (uint32_t t = 0; t < s->tables; t++)
                hit_dis += q[t] == w[t];
        }
        free(rows);
        hit_sim /= NVEC;
        hit_dis /= NVEC;
        printf("  %-13s %-16s %-8s: tables shared, similar %5.2f, unrelated %5.2f (of %u)\n", name, s->what,
               kind == VALUES_GAUSS ? "signed" : "positive", hit_sim, hit_dis, s->tables);
        EXPECT(hit_sim > 1.25 * hit_dis + 1.0, "%s, %s: no locality: similar %.2f vs unrelated %.2f",
               name, s->what, hit_sim, hit_dis);
    }

    for (int i = 0; i < NVEC; i++) {
        svec_free(&v[i]);
        svec_free(&sim[i]);
        svec_free(&dis[i]);
    }
    free(sim);
    free(dis);
    free(ca);
    free(cb);
    free(cc);
    free(cs);
    hasher_close(&a);
    hasher_close(&b);
    hasher_close(&c);
}

static void check_backend(const slide_hash_family *f)
{
    printf("backend %s\n", f->name);
    EXPECT(f->api_version == SLIDE_HASH_API_VERSION && f->can_run() > 0, "%s: version / can_run", f->name);
    void *state = NULL;
    slide_hash_params bad = {.input_dim = 10, .k = 0, .tables = 4, .bin_size = 8, .seed = 1};
    EXPECT(f->create(&bad, &state) < 0, "%s: k = 0 accepted", f->name);
    /* Found by fuzzing the model loader: a bin_size above 2^31 made dwta's log2 loop shift by 32. Every
     * backend must refuse or ignore such a value without undefined behaviour. */
    const uint32_t huge_bins[] = {0x80000001u, 0xFFFFFFFFu};
    for (size_t i = 0; i < 2; i++) {
        slide_hash_params huge = {.input_dim = 10, .k = 2, .tables = 4, .bin_size = huge_bins[i], .seed = 1};
        state = NULL;
        if (f->create(&huge, &state) == SLIDE_OK)
            f->destroy(state);
        else
            EXPECT(slide_last_error()[0] != '\0', "%s: bin_size %u refused without a message", f->name, huge_bins[i]);
    }
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        check_shape(f, &shapes[i]);
}

/* ------------------------------------------------------------------ simhash-mips retrieves by inner product */

static int cmp_desc(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a < b) - (a > b);
}

/* Mean inner product of the `top` items sharing most tables with each query, averaged over queries. */
static double retrieved_ip(const char *backend, uint32_t k, uint32_t L, const float *rows, size_t stride, int n_items,
                           uint32_t dim, const float *queries, int n_queries, int top, double *best_ip, double *mean_ip)
{
    const slide_hash_family *f = slide_hash_find(backend);
    hasher h;
    if (!f || hasher_open(&h, f, dim, k, L, 8, 5, 0) != 0) {
        EXPECT(0, "%s unavailable", backend);
        return 0;
    }
    prepare(&h, rows, (size_t)n_items, stride);
    uint32_t *icodes = malloc(sizeof(uint32_t) * L * (size_t)n_items), *qcodes = malloc(sizeof(uint32_t) * L);
    for (int i = 0; i < n_items; i++)
        item(&h, rows + (size_t)i * stride, icodes + (size_t)i * L);
    double *key = malloc(sizeof(double) * (size_t)n_items * 2), *ip = malloc(sizeof(double) * (size_t)n_items);
    double got = 0, best = 0, all = 0;
    for (int q = 0; q < n_queries; q++) {
        const float *x = queries + (size_t)q * dim;
        q_dense(&h, x, qcodes);
        for (int i = 0; i < n_items; i++) {
            double d = 0;
            for (uint32_t j = 0; j < dim; j++)
                d += (double)x[j] * rows[(size_t)i * stride + j];
            int hits = 0;
            for (uint32_t t = 0; t < L; t++)
                hits += qcodes[t] == icodes[(size_t)i * L + t];
            /* Sort by collisions; break ties at random so no item order leaks into the result. */
            key[2 * i] = hits + 0.5 * unit();
            key[2 * i + 1] = d;
            ip[i] = d;
            all += d;
        }
        qsort(key, (size_t)n_items, 2 * sizeof(double), cmp_desc);
        qsort(ip, (size_t)n_items, sizeof(double), cmp_desc);
        for (int i = 0; i < top; i++) {
            got += key[2 * i + 1];
            best += ip[i];
        }
    }
    free(icodes);
    free(qcodes);
    free(key);
    free(ip);
    hasher_close(&h);
    *best_ip = best / (top * n_queries);
    *mean_ip = all / ((double)n_items * n_queries);
    return got / (top * n_queries);
}

static void test_mips(void)
{
    /* Many short codes (k = 2, 64 tables) make collision counts a fine-grained angle estimate. */
    enum { N = 2000, DIM = 32, Q = 50, TOP = 20, K = 2, L = 64 };
    size_t stride = DIM + 16;
    float *rows = malloc(sizeof(float) * stride * N), *queries = malloc(sizeof(float) * DIM * Q);
    for (int i = 0; i < N; i++) {
        float *w = rows + (size_t)i * stride, n2 = 0;
        for (int j = 0; j < DIM; j++) {
            w[j] = gauss();
            n2 += w[j] * w[j];
        }
        float norm = 0.1f + 2.9f * (float)unit() * (float)unit(); /* varied norms, most of them small */
        for (int j = 0; j < DIM; j++)
            w[j] *= norm / sqrtf(n2);
        for (size_t j = DIM; j < stride; j++)
            w[j] = 100.0f; /* padding beyond input_dim: must not count towards the largest norm */
    }
    for (int i = 0; i < Q * DIM; i++)
        queries[i] = gauss();
    double best, mean;
    double mips = retrieved_ip("simhash-mips", K, L, rows, stride, N, DIM, queries, Q, TOP, &best, &mean);
    double plain = retrieved_ip("simhash", K, L, rows, stride, N, DIM, queries, Q, TOP, &best, &mean);
    printf("inner product of the top %d by collisions: simhash-mips %.2f, simhash %.2f; exact top %.2f, "
           "all items %.2f\n", TOP, mips, plain, best, mean);
    EXPECT(mips > mean + 0.5 * (best - mean), "simhash-mips retrieves mean inner product %.2f (best %.2f, all %.2f)",
           mips, best, mean);
    /* Plain SimHash ranks by angle only, so it misses the long rows that win on inner product. */
    EXPECT(mips > plain + 0.5, "simhash-mips (%.2f) is not clearly better than simhash (%.2f) at inner products",
           mips, plain);
    free(rows);
    free(queries);
}

/* ------------------------------------------------------------------ block item hashing */

/*
 * Built-in block item hashing (table builds) against the backend's own one-row item hashing: identical
 * codes for every block size 1..16, odd dimensions, explicit zeros, signed zeros and bf16-exact values,
 * with and without the dense copy of the projections (k * tables * dim above
 * SLIDE_SIGN_PROJECTIONS_DENSE_LIMIT), and for simhash-mips before and after prepare_items.
 */
static void test_items_block(void)
{
    static const struct { uint32_t dim, k, tables; } cases[] = {
        {1, 3, 5}, {7, 2, 9}, {17, 6, 13}, {300, 4, 50}, {1000, 6, 200}, {4099, 5, 205},
    };
    static const char *const names[] = {"simhash", "simhash-mips"};
    enum { ROWS = 40 };
    for (size_t n = 0; n < sizeof names / sizeof *names; n++)
        for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
            const slide_hash_family *f = slide_hash_find(names[n]);
            const slide_hash_items_block *block = slide_hash_items_block_of(f);
            EXPECT(block != NULL, "%s has no block item hashing", names[n]);
            if (!block)
                continue;
            const uint32_t dim = cases[c].dim, tables = cases[c].tables;
            hasher h;
            if (hasher_open(&h, f, dim, cases[c].k, tables, 0, 29 + c, 0x3C)) {
                EXPECT(0, "%s: create failed", names[n]);
                continue;
            }
            const size_t stride = dim + 3; /* rows are not 16-float aligned */
            float *rows = malloc(sizeof(float) * stride * ROWS);
            for (size_t i = 0; i < stride * ROWS; i++) {
                const uint32_t kind = below(16);
                float x = kind < 3 ? 0.0f : kind == 3 ? -0.0f : gauss();
                if (kind == 4) { /* a bf16 value: the high half of a float */
                    union { float f; uint32_t u; } b = {x};
                    b.u &= 0xFFFF0000u;
                    x = b.f;
                }
                rows[i] = x;
            }
            for (uint32_t d = 0; d < dim; d++)
                rows[d] = 0.0f; /* an all-zero row: every projection 0, every bit 0 */
            uint32_t *want = malloc(sizeof(uint32_t) * tables * ROWS), *got = malloc(sizeof(uint32_t) * tables * ROWS);
            float *work = malloc(sizeof(float) * block->work_floats(h.state));
            for (int prepared = 0; prepared < 2; prepared++) {
                if (prepared)
                    prepare(&h, rows, ROWS, stride);
                for (int i = 0; i < ROWS; i++)
                    item(&h, rows + (size_t)i * stride, want + (size_t)i * tables);
                for (uint32_t m = 1; m <= SLIDE_HASH_ITEMS_BLOCK; m++) {
                    memset(got, 0xEE, sizeof(uint32_t) * tables * ROWS);
                    for (uint32_t i0 = 0; i0 < ROWS; i0 += m) {
                        const uint32_t b = ROWS - i0 < m ? ROWS - i0 : m;
                        const float *xs[SLIDE_HASH_ITEMS_BLOCK];
                        for (uint32_t r = 0; r < b; r++)
                            xs[r] = rows + (size_t)(i0 + r) * stride;
                        memset(work, 0x5A, sizeof(float) * block->work_floats(h.state)); /* garbage work */
                        block->hash(h.state, xs, b, got + (size_t)i0 * tables, work);
                    }
                    EXPECT(memcmp(got, want, sizeof(uint32_t) * tables * ROWS) == 0,
                           "%s dim %u k %u tables %u, blocks of %u%s: block codes differ from one-row codes", names[n],
                           dim, cases[c].k, tables, m, prepared ? " (after prepare_items)" : "");
                }
            }
            free(rows);
            free(want);
            free(got);
            free(work);
            hasher_close(&h);
        }
    EXPECT(slide_hash_items_block_of(slide_hash_find("dwta")) == NULL, "dwta claims block item hashing");
}

/* ------------------------------------------------------------------ plugins and registration */

static int zero(void) { return 0; }

typedef struct reader_job {
    volatile int stop;
    long reads;
    int bad;
} reader_job;

static void *reader(void *arg)
{
    reader_job *j = arg;
    while (!j->stop) {
        int n = slide_hash_backend_count();
        for (int i = 0; i < n; i++) {
            const char *name = slide_hash_backend_name(i);
            j->bad += !name || !name[0];
        }
        j->reads++;
    }
    return NULL;
}

static void test_plugins(const char *good, const char *bad, const char *noentry)
{
    int n0 = slide_hash_backend_count();
    EXPECT(n0 >= 5, "built-in count %d", n0);
    const char *order[] = {"dwta", "simhash", "wta", "minhash", "simhash-mips"};
    for (int i = 0; i < 5 && i < n0; i++)
        EXPECT(strcmp(slide_hash_backend_name(i), order[i]) == 0, "backend %d is %s, want %s", i,
               slide_hash_backend_name(i), order[i]);

    OK(slide_hash_backend_load(good));
    EXPECT(slide_hash_backend_count() == n0 + 1, "count after load");
    EXPECT(slide_hash_backend_name(n0) && strcmp(slide_hash_backend_name(n0), "example-srp") == 0,
           "plugin listed as %s", slide_hash_backend_name(n0) ? slide_hash_backend_name(n0) : "(null)");
    EXPECT(slide_hash_find("example-srp") != NULL, "plugin found by name");

    EXPECT(slide_hash_backend_load(bad) == SLIDE_E_UNSUPPORTED, "bad version refused");
    EXPECT(strstr(slide_last_error(), bad) && strstr(slide_last_error(), "plugin API version 999, libslide supports 1"),
           "bad version message");
    EXPECT(slide_hash_backend_load(noentry) == SLIDE_E_INVALID, "no entry point refused");
    EXPECT(strstr(slide_last_error(), noentry) && strstr(slide_last_error(), "no entry point slide_hash_plugin_entry"),
           "no entry message");
    EXPECT(slide_hash_backend_load("/nonexistent/plugin.so") == SLIDE_E_IO, "missing file");
    EXPECT(strstr(slide_last_error(), "/nonexistent/plugin.so: cannot load: "), "missing file message");
    EXPECT(slide_hash_backend_load(good) == SLIDE_E_INVALID, "duplicate load refused");
    EXPECT(strstr(slide_last_error(), "backend name 'example-srp' is already registered"), "duplicate load message");
    EXPECT(slide_hash_backend_load(NULL) == SLIDE_E_INVALID && slide_hash_backend_load("") == SLIDE_E_INVALID,
           "empty path");
    EXPECT(slide_hash_backend_count() == n0 + 1, "refused plugins are not listed");

    EXPECT(slide_hash_backend_register(&slide_hash_dwta) == SLIDE_E_INVALID, "built-in registered twice");
    EXPECT(strstr(slide_last_error(), "backend name 'dwta' is already registered"), "duplicate message");
    EXPECT(slide_hash_backend_register(NULL) == SLIDE_E_INVALID, "NULL family");
    slide_hash_family f = slide_hash_wta;
    f.name = "";
    EXPECT(slide_hash_backend_register(&f) == SLIDE_E_INVALID, "empty name");
    f.name = NULL;
    EXPECT(slide_hash_backend_register(&f) == SLIDE_E_INVALID, "NULL name");
    f.name = "wta-broken";
    f.hash_sparse = NULL;
    EXPECT(slide_hash_backend_register(&f) == SLIDE_E_INVALID, "missing hash_sparse");
    EXPECT(strstr(slide_last_error(), "hash_sparse"), "message names the missing function");
    f = slide_hash_wta;
    f.name = "wta-cannot-run";
    f.can_run = zero;
    EXPECT(slide_hash_backend_register(&f) == SLIDE_E_UNSUPPORTED, "can_run 0 refused");
    f = slide_hash_wta;
    f.name = "wta-v7";
    f.api_version = 7;
    EXPECT(slide_hash_backend_register(&f) == SLIDE_E_UNSUPPORTED, "version 7 refused");
    EXPECT(strstr(slide_last_error(), "plugin API version 7, libslide supports 1"), "version message");
    EXPECT(slide_hash_backend_count() == n0 + 1, "refused families are not listed");

    /* Readers run concurrently with registrations and never see a missing name. */
    static slide_hash_family copies[4];
    static const char *names[4] = {"wta-copy-0", "wta-copy-1", "wta-copy-2", "wta-copy-3"};
    reader_job rj = {0, 0, 0};
    pthread_t th;
    pthread_create(&th, NULL, reader, &rj);
    for (int i = 0; i < 4; i++) {
        copies[i] = slide_hash_wta;
        copies[i].name = names[i];
        OK(slide_hash_backend_register(&copies[i]));
    }
    rj.stop = 1;
    pthread_join(th, NULL);
    EXPECT(rj.bad == 0, "a reader saw %d missing names", rj.bad);
    EXPECT(slide_hash_backend_count() == n0 + 5, "count after registrations");
    EXPECT(slide_hash_find("wta-copy-3") == &copies[3], "registered family found");

    /* Names up to SLIDE_HASH_NAME_MAX - 1 bytes (the public limit) register; longer ones are refused. */
    static char longest[SLIDE_HASH_NAME_MAX + 1];
    static slide_hash_family named;
    named = slide_hash_wta;
    named.name = longest;
    memset(longest, 'w', SLIDE_HASH_NAME_MAX);
    EXPECT(slide_hash_backend_register(&named) == SLIDE_E_INVALID, "name of %d bytes refused", SLIDE_HASH_NAME_MAX);
    EXPECT(strstr(slide_last_error(), "is longer than 63 bytes"), "long name message");
    longest[SLIDE_HASH_NAME_MAX - 1] = '\0';
    OK(slide_hash_backend_register(&named));
    EXPECT(slide_hash_find(longest) == &named, "longest name found");
}

/* ------------------------------------------------------------------ training with the plugin backend */

static double p_at_1(slide_network *net, const data *D, int mode)
{
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)D->n);
    float *sc = malloc(sizeof(float) * (size_t)D->n);
    double hits[1] = {0};
    OK(slide_network_predict_topk(net, &D->X, NULL, D->n, 1, mode, ids, sc));
    OK(slide_precision_at_k(&D->Y, NULL, D->n, ids, 1, 1, hits));
    free(ids);
    free(sc);
    return hits[0] / (double)D->n;
}

static void test_training_with_plugin(void)
{
    data D;
    make_data(&D, 3000, 40, 6, below);
    int64_t *freq = calloc((size_t)D.L, sizeof(int64_t));
    for (int64_t i = 0; i < D.yp[D.n]; i++)
        freq[D.yi[i]]++;
    int64_t top = 0;
    for (int64_t y = 0; y < D.L; y++)
        top = freq[y] > freq[top] ? y : top;
    int64_t hit = 0;
    for (int64_t i = 0; i < D.n; i++)
        for (int64_t k = D.yp[i]; k < D.yp[i + 1]; k++)
            hit += D.yi[k] == top;
    double base = (double)hit / (double)D.n;
    free(freq);

    slide_lsh_config lsh;
    slide_lsh_config_init(&lsh);
    lsh.hash = "example-srp";
    lsh.k = 4;
    lsh.tables = 16;
    lsh.bucket_size = 32;
    lsh.active_fraction = 0.25f;
    lsh.rebuild_period = 10;
    slide_layer_config h, o;
    slide_layer_config_init(&h);
    h.units = 32;
    slide_layer_config_init(&o);
    o.units = (uint32_t)D.L;
    o.activation = SLIDE_ACT_SOFTMAX;
    o.lsh = &lsh;
    const slide_layer_config *layers[] = {&h, &o};
    slide_network_config cfg;
    slide_network_config_init(&cfg);
    cfg.input_dim = (uint32_t)D.d;
    cfg.n_layers = 2;
    cfg.layers = layers;
    cfg.seed = 7;
    cfg.threads = 2;
    slide_optimizer_config opt;
    slide_optimizer_config_init(&opt);
    opt.lr = 5e-3f;
    slide_network *net = NULL;
    OK(slide_network_create(&cfg, &opt, &net));
    if (!net) {
        free_data(&D);
        return;
    }
    for (int e = 0; e < 4; e++)
        for (int64_t b0 = 0; b0 < D.n; b0 += 64) {
            int64_t m = D.n - b0 < 64 ? D.n - b0 : 64, rows[64];
            for (int64_t i = 0; i < m; i++)
                rows[i] = b0 + i;
            OK(slide_network_train_batch(net, &D.X, &D.Y, rows, m, NULL));
        }
    double exact = p_at_1(net, &D, SLIDE_PREDICT_EXACT), sampled = p_at_1(net, &D, SLIDE_PREDICT_SAMPLED);
    printf("plugin example-srp: P@1 exact %.3f, sampled %.3f (most-frequent baseline %.3f)\n", exact, sampled, base);
    EXPECT(exact > base + 0.3, "plugin backend did not learn: %.3f vs %.3f", exact, base);
    EXPECT(sampled > base + 0.15, "plugin backend sampled prediction: %.3f", sampled);
    slide_layer_info info = {.struct_size = sizeof info};
    OK(slide_network_layer_info(net, 1, &info));
    EXPECT(info.sampled && info.rebuilds > 1, "output layer sampled and rebuilt");
    slide_network_free(net);
    free_data(&D);
}

/* insert_unique keeps one copy of an id per bucket, for FIFO and reservoir tables alike. */
static void test_insert_unique(void)
{
    for (int insertion = 0; insertion < 2; insertion++) {
        slide_lsh_tables t;
        OK(slide_lsh_tables_init(&t, 2, 4, 3, 3, insertion ? SLIDE_INSERT_RESERVOIR : SLIDE_INSERT_FIFO, 7));
        for (int round = 0; round < 5; round++)
            for (uint32_t id = 10; id < 13; id++)
                slide_lsh_tables_insert_unique(&t, 1, 5, id);
        const uint32_t *ids;
        uint32_t m = slide_lsh_tables_bucket(&t, 1, 5, &ids);
        EXPECT(m == 3, "insert_unique (insertion %d): bucket holds %u ids, want 3", insertion, m);
        for (uint32_t i = 0; i < m; i++)
            EXPECT(ids[i] == 10 + i, "insert_unique: slot %u holds %u", i, ids[i]);
        slide_lsh_tables_insert(&t, 1, 5, 10); /* plain insert does add a copy */
        EXPECT(slide_lsh_tables_bucket(&t, 1, 5, &ids) == 4, "plain insert after insert_unique");
        m = slide_lsh_tables_bucket(&t, 0, 5, &ids);
        EXPECT(m == 0, "insert_unique wrote into another table (%u ids)", m);
        slide_lsh_tables_destroy(&t);
    }
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s <example_plugin> <bad_version_plugin> <no_entry_plugin>\n", argv[0]);
        return 2;
    }
    int builtins = slide_hash_backend_count();
    for (int i = 0; i < builtins; i++)
        check_backend(slide_hash_find(slide_hash_backend_name(i)));
    test_mips();
    test_items_block();
    test_insert_unique();
    test_plugins(argv[1], argv[2], argv[3]);
    const slide_hash_family *plugin = slide_hash_find("example-srp");
    if (plugin) {
        check_backend(plugin);
        test_training_with_plugin();
    }
    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("all hash tests passed\n");
    return 0;
}
