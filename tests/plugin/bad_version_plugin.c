/* A plugin written against a future interface version: libslide must refuse it before reading further. */
#include <slide/hash_plugin.h>

static const slide_hash_family future = {
    .api_version = 999,
    .name = "from-the-future",
};

SLIDE_HASH_PLUGIN_EXPORT const slide_hash_family *slide_hash_plugin_entry(void);
SLIDE_HASH_PLUGIN_EXPORT const slide_hash_family *slide_hash_plugin_entry(void) { return &future; }
