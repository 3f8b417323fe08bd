#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "slide/slide.h"

/* One message buffer per thread; messages longer than the buffer are truncated, never overflowed. */
static _Thread_local char last_error[1024];

int slide_fail(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

int slide_fail_context(int status, const char *context)
{
    if (status < 0) {
        char tmp[sizeof last_error];
        snprintf(tmp, sizeof tmp, "%s: %s", context, last_error);
        memcpy(last_error, tmp, sizeof tmp);
    }
    return status;
}

const char *slide_last_error(void) { return last_error; }

const char *slide_status_string(int status)
{
    switch (status) {
    case SLIDE_OK: return "success";
    case SLIDE_E_INVALID: return "invalid argument";
    case SLIDE_E_NOMEM: return "out of memory";
    case SLIDE_E_IO: return "input/output error";
    case SLIDE_E_FORMAT: return "malformed file";
    case SLIDE_E_UNSUPPORTED: return "not supported";
    case SLIDE_E_BUSY: return "handle in use by another thread";
    case SLIDE_E_NUMERIC: return "numeric error (NaN or Inf)";
    case SLIDE_E_NOT_FOUND: return "not found";
    default: return "unknown status";
    }
}

unsigned slide_version(void) { return SLIDE_VERSION_NUMBER; }

#define SLIDE_STR2(x) #x
#define SLIDE_STR(x) SLIDE_STR2(x)
const char *slide_version_string(void)
{
    return SLIDE_STR(SLIDE_VERSION_MAJOR) "." SLIDE_STR(SLIDE_VERSION_MINOR) "." SLIDE_STR(SLIDE_VERSION_PATCH);
}
