/* Test assertions of the C tests that use the public header: count a failure, print it with the library's last error. */
#ifndef SLIDE_TEST_EXPECT_H
#define SLIDE_TEST_EXPECT_H

#include <stdio.h>

#include <slide/slide.h>

static int failures;

#define EXPECT(cond, ...)                                               \
    do {                                                                \
        if (!(cond)) {                                                  \
            failures++;                                                 \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);        \
            fprintf(stderr, __VA_ARGS__);                               \
            fprintf(stderr, " [last error: %s]\n", slide_last_error()); \
        }                                                               \
    } while (0)

#define OK(call) EXPECT((call) == SLIDE_OK, "%s", #call)

#endif
