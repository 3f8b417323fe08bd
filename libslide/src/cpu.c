/*
 * CPU detection and kernel dispatch.
 *
 * The table is filled exactly once (pthread_once) and never written again, so any thread may read it
 * without locks afterwards. Filling is a ladder: scalar first, then each faster instruction set
 * overwrites the entries it implements, as long as the CPU, the OS and the SLIDE_ISA cap allow.
 *
 * meson defines SLIDE_NO_AVX2 / SLIDE_NO_AVX512 when a kernel file was not built (non-x86 host or a
 * compiler without the flags); the matching fill function then does not exist and is not referenced.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "slide/slide.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#  define SLIDE_X86 1
#  include <cpuid.h>
#else
#  define SLIDE_X86 0
#endif

#if !SLIDE_X86 && !defined(SLIDE_NO_AVX2)
#  define SLIDE_NO_AVX2
#endif
#if (!SLIDE_X86 || defined(SLIDE_NO_AVX2)) && !defined(SLIDE_NO_AVX512)
#  define SLIDE_NO_AVX512
#endif

#if !defined(SLIDE_NO_AVX2)
/* XCR0: which register state the OS saves on context switch. */
static uint64_t xcr0(void)
{
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

static slide_isa detect(void)
{
    unsigned a, b, c, d;
    /* Without OSXSAVE, xgetbv would fault and the OS does not save AVX state at all. */
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE))
        return SLIDE_ISA_SCALAR;
    const uint64_t xcr = xcr0();
    const uint64_t ymm_state = 0x6;   /* SSE (bit 1) + AVX upper halves (bit 2) */
    const uint64_t zmm_state = 0xE6;  /* ymm_state + opmask (5), ZMM0-15 upper halves (6), ZMM16-31 (7) */

    __builtin_cpu_init();
    if ((xcr & ymm_state) != ymm_state || !__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        return SLIDE_ISA_SCALAR;
    /* kernels_avx512.c is compiled with -mavx512dq -mavx512vl too, so the compiler may emit those. */
    if ((xcr & zmm_state) != zmm_state || !__builtin_cpu_supports("avx512f") ||
        !__builtin_cpu_supports("avx512dq") || !__builtin_cpu_supports("avx512vl"))
        return SLIDE_ISA_AVX2;
    return SLIDE_ISA_AVX512;
}
#endif

slide_isa slide_cpu_best_isa(void)
{
#if defined(SLIDE_NO_AVX2)
    return SLIDE_ISA_SCALAR;
#else
    const slide_isa isa = detect();
#  if defined(SLIDE_NO_AVX512)
    if (isa > SLIDE_ISA_AVX2)
        return SLIDE_ISA_AVX2;
#  endif
    return isa;
#endif
}

/* SLIDE_ISA caps the ladder; unset, empty or unknown means no cap. */
static slide_isa env_cap(void)
{
    const char *s = getenv("SLIDE_ISA");
    if (s) {
        if (!strcmp(s, "scalar"))
            return SLIDE_ISA_SCALAR;
        if (!strcmp(s, "avx2"))
            return SLIDE_ISA_AVX2;
        if (!strcmp(s, "avx512"))
            return SLIDE_ISA_AVX512;
    }
    return SLIDE_ISA_AVX512;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static slide_kernels table;
static slide_isa table_isa;

static void init_table(void)
{
    const slide_isa best = slide_cpu_best_isa(), cap = env_cap();
    const slide_isa use = best < cap ? best : cap;

    slide_kernels_fill_scalar(&table);
    table_isa = SLIDE_ISA_SCALAR;
#if !defined(SLIDE_NO_AVX2)
    if (use < SLIDE_ISA_AVX2)
        return;
    slide_kernels_fill_avx2(&table);
    table_isa = SLIDE_ISA_AVX2;
#endif
#if !defined(SLIDE_NO_AVX512)
    if (use < SLIDE_ISA_AVX512)
        return;
    slide_kernels_fill_avx512(&table);
    table_isa = SLIDE_ISA_AVX512;
#endif
    (void)use;
}

const slide_kernels *slide_kernels_get(void)
{
    pthread_once(&once, init_table);
    return &table;
}

slide_isa slide_kernels_isa(void)
{
    pthread_once(&once, init_table);
    return table_isa;
}

const char *slide_isa_name(slide_isa isa)
{
    switch (isa) {
    case SLIDE_ISA_SCALAR: return "scalar";
    case SLIDE_ISA_AVX2: return "avx2";
    case SLIDE_ISA_AVX512: return "avx512";
    }
    return "unknown";
}

const char *slide_kernel_isa(void)
{
    return slide_isa_name(slide_kernels_isa());
}
