/* Thread-local error message behind slide_last_error(). */
#ifndef SLIDE_ERROR_H
#define SLIDE_ERROR_H

#if defined(__GNUC__)
#  define SLIDE_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#  define SLIDE_PRINTF(a, b)
#endif

/* Records a printf-style message for the calling thread and returns `status` (a negative slide_status). */
int slide_fail(int status, const char *fmt, ...) SLIDE_PRINTF(2, 3);

/* Returns `status`; when it is an error, prefixes the current message with "<context>: ". */
int slide_fail_context(int status, const char *context);

#endif
