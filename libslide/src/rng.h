/*
 * Small deterministic random numbers. Every random choice in libslide derives from the network seed
 * through slide_mix64 so results do not depend on thread count or scheduling.
 */
#ifndef SLIDE_RNG_H
#define SLIDE_RNG_H

#include <stdint.h>

/* splitmix64 finaliser: a bijective 64-bit mixer. */
static inline uint64_t slide_mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* Combines a seed with up to three coordinates into an independent stream seed. */
static inline uint64_t slide_seed3(uint64_t seed, uint64_t a, uint64_t b, uint64_t c)
{
    return slide_mix64(slide_mix64(slide_mix64(seed ^ 0x5A17u) ^ a) ^ (b * 0x9E3779B97F4A7C15ull) ^ (c << 17));
}

/* xorshift-style generator state (splitmix64 stream); one per thread or per task, never shared. */
typedef struct slide_rng { uint64_t s; } slide_rng;

static inline uint64_t slide_rng_next(slide_rng *r)
{
    r->s += 0x9E3779B97F4A7C15ull;
    uint64_t x = r->s;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* Uniform integer in [0, n), n > 0 (Lemire's multiply-shift; bias < n / 2^32, negligible here). */
static inline uint32_t slide_rng_below(slide_rng *r, uint32_t n)
{
    return (uint32_t)(((slide_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform float in [0, 1). */
static inline float slide_rng_unit(slide_rng *r)
{
    return (float)(slide_rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

/* Fisher-Yates shuffle of a uint32 array. */
void slide_shuffle_u32(slide_rng *r, uint32_t *a, uint32_t n);

#endif
