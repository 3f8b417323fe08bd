#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "hash_family.h"
#include "slide/slide.h"

#define SLIDE_MAX_BACKENDS 32

/* Written once under pthread_once, then read-only: safe to read from any thread. */
static const slide_hash_family *registry[SLIDE_MAX_BACKENDS];
static int registry_count;
static pthread_once_t registry_once = PTHREAD_ONCE_INIT;

static void register_builtin(const slide_hash_family *f)
{
    if (f->api_version == SLIDE_HASH_API_VERSION && f->can_run() > 0 && registry_count < SLIDE_MAX_BACKENDS)
        registry[registry_count++] = f;
}

static void registry_init(void)
{
    register_builtin(&slide_hash_dwta);
    register_builtin(&slide_hash_simhash);
}

int slide_hash_backend_count(void)
{
    pthread_once(&registry_once, registry_init);
    return registry_count;
}

const char *slide_hash_backend_name(int i)
{
    pthread_once(&registry_once, registry_init);
    return (i >= 0 && i < registry_count) ? registry[i]->name : NULL;
}

const slide_hash_family *slide_hash_find(const char *name)
{
    pthread_once(&registry_once, registry_init);
    for (int i = 0; i < registry_count; i++)
        if (name && strcmp(registry[i]->name, name) == 0)
            return registry[i];
    char names[256] = "";
    for (int i = 0; i < registry_count; i++) {
        size_t used = strlen(names);
        snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", registry[i]->name);
    }
    slide_fail(SLIDE_E_NOT_FOUND, "unknown hash backend '%s' (available: %s)", name ? name : "(null)", names);
    return NULL;
}
