/*
 * A shared module without the plugin entry point: loading it must fail with a clear message. It defines
 * nothing; the header's declarations keep the translation unit non-empty, as ISO C requires.
 */
#include <slide/hash_plugin.h>
