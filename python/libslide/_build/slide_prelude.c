/* C prelude of the cffi extension: the real public header, so the cdef is checked against it. */
#include <slide/slide.h>
