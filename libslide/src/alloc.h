/*
 * Aligned allocation for weight rows and other large arrays. Every block starts on a SLIDE_ALIGN (64-byte,
 * one cache line) boundary, so rows whose stride is a multiple of 64 bytes all start on a cache line; blocks
 * of 4 MiB and more are placed on 2 MiB boundaries and offered transparent huge pages (alloc.c).
 */
#ifndef SLIDE_ALLOC_H
#define SLIDE_ALLOC_H

#include <stddef.h>

#define SLIDE_ALIGN 64

/* A block of at least `bytes` (0 is allowed), aligned as above; free it with slide_aligned_free. */
void *slide_aligned_alloc(size_t bytes);
void slide_aligned_free(void *p);

/*
 * Grows a reusable buffer: *(T **)buf holds *cap elements of `elem` bytes; when need > *cap it is
 * reallocated to `need` elements (contents kept) and *cap updated; need 0 counts as 1, so after a
 * successful call the buffer is never NULL (an offset from it, even by 0, is defined). On failure the buffer
 * is unchanged and SLIDE_E_NOMEM is returned with "cannot allocate <need> <what>" as the message.
 */
int slide_grow(void *buf, size_t *cap, size_t need, size_t elem, const char *what);

#endif
