/*
 * Shared by the fuzz targets: the readers under test take a path, so each input is written to a file in
 * a private directory created once per process (under $TMPDIR, default /tmp) and removed at exit.
 *
 * A target treats a broken promise of the library as a crash by calling fuzz_fail(), which prints the
 * reason and aborts, so libFuzzer (or the replay driver) records the input.
 */
#ifndef SLIDE_FUZZ_COMMON_H
#define SLIDE_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "slide/slide.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir[4096];
static char fuzz_paths[2][4200];

static void fuzz_cleanup(void)
{
    for (int i = 0; i < 2; i++)
        if (fuzz_paths[i][0])
            unlink(fuzz_paths[i]);
    if (fuzz_dir[0])
        rmdir(fuzz_dir);
}

static void fuzz_fail(const char *what, const uint8_t *data, size_t size)
{
    fprintf(stderr, "fuzz target: %s (input of %zu bytes, first byte 0x%02x)\n", what, size,
            size ? data[0] : 0u);
    abort();
}

/* Path of scratch file `i` (0 or 1) in the process's private directory; exits when it cannot be made. */
static const char *fuzz_path(int i)
{
    if (!fuzz_dir[0]) {
        const char *tmp = getenv("TMPDIR");
        if (!tmp || !*tmp)
            tmp = "/tmp";
        snprintf(fuzz_dir, sizeof fuzz_dir, "%s/slide-fuzz-XXXXXX", tmp);
        if (!mkdtemp(fuzz_dir)) {
            perror("fuzz target: mkdtemp");
            exit(2);
        }
        for (int j = 0; j < 2; j++)
            snprintf(fuzz_paths[j], sizeof fuzz_paths[j], "%s/input%d", fuzz_dir, j);
        atexit(fuzz_cleanup);
    }
    return fuzz_paths[i];
}

/* Writes data[0..size) to scratch file `i` and returns its path; exits on I/O failure (not a finding). */
static const char *fuzz_write(int i, const void *data, size_t size)
{
    const char *path = fuzz_path(i);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror("fuzz target: cannot write the input file");
        exit(2);
    }
    return path;
}

/* A failed call must report an error status with a message. */
static void fuzz_check_failure(int rc, const uint8_t *data, size_t size)
{
    if (rc >= 0)
        fuzz_fail("a failing call returned a non-negative status", data, size);
    if (rc < SLIDE_E_NOT_FOUND)
        fuzz_fail("status outside the documented range", data, size);
    const char *msg = slide_last_error();
    if (!msg || !*msg)
        fuzz_fail("a failing call left slide_last_error() empty", data, size);
}

#endif
