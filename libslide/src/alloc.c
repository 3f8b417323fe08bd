/* Aligned and huge-page allocation (see alloc.h). */
#define _DEFAULT_SOURCE /* madvise flags */
#include <stdlib.h>
#include <string.h>

#ifdef __linux__
#include <sys/mman.h>
#endif

#include "alloc.h"
#include "error.h"
#include "slide/slide.h"

/* Arrays from this size on are placed on 2 MiB boundaries and offered transparent huge pages. */
#define SLIDE_HUGE_BYTES ((size_t)4 << 20)
#define SLIDE_HUGE_PAGE ((size_t)2 << 20)

void *slide_aligned_alloc(size_t bytes)
{
    if (bytes == 0)
        bytes = SLIDE_ALIGN;
    size_t align = bytes >= SLIDE_HUGE_BYTES ? SLIDE_HUGE_PAGE : SLIDE_ALIGN;
    bytes = (bytes + align - 1) / align * align;
    void *p = aligned_alloc(align, bytes);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    /*
     * A batch touches rows scattered over the whole layer: with 4 KiB pages nearly every row costs a TLB
     * miss. Huge pages are a hint (the kernel may refuse them, e.g. THP "never"); failure changes nothing.
     */
    if (p && align == SLIDE_HUGE_PAGE)
        (void)madvise(p, bytes, MADV_HUGEPAGE);
#endif
    return p;
}

void slide_aligned_free(void *p) { free(p); }

int slide_grow(void *buf, size_t *cap, size_t need, size_t elem, const char *what)
{
    if (need == 0) /* never leave the buffer NULL: callers offset into it even when it holds nothing */
        need = 1;
    if (need <= *cap)
        return SLIDE_OK;
    void *p;
    memcpy(&p, buf, sizeof p); /* buf points at a T *: read and write it as bytes, not through a void ** */
    p = realloc(p, need * elem);
    if (!p)
        return slide_fail(SLIDE_E_NOMEM, "cannot allocate %zu %s", need, what);
    memcpy(buf, &p, sizeof p);
    *cap = need;
    return SLIDE_OK;
}
