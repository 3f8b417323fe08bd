/*
 * The registry of hash backends: built-ins (registered once, first, in a fixed order) and third-party
 * backends added by slide_hash_backend_register / slide_hash_backend_load.
 *
 * Concurrency: the registry is an append-only fixed array. Writers hold `registry_lock`, fill the next
 * slot and only then publish it by a release store of `registry_count`; readers take no lock, load the
 * count with acquire and read only slots below it, so they never see a half-written entry. Slots are
 * never modified or removed once published, and the families they point to must live for the rest of
 * the process: plugin modules are never unloaded.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "hash_family.h"
#include "slide/slide.h"

#define SLIDE_MAX_BACKENDS 32

static const slide_hash_family *registry[SLIDE_MAX_BACKENDS];
static atomic_int registry_count;
static pthread_once_t registry_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;

/* Validates `f` and appends it; the caller holds registry_lock. Sets the error message on failure. */
static int registry_add_locked(const slide_hash_family *f)
{
    if (!f)
        return slide_fail(SLIDE_E_INVALID, "hash backend family is NULL");
    /* The version comes first: a struct written against another version may have another layout. */
    if (f->api_version != SLIDE_HASH_API_VERSION)
        return slide_fail(SLIDE_E_UNSUPPORTED, "plugin API version %u, libslide supports %u", f->api_version,
                          SLIDE_HASH_API_VERSION);
    if (!f->name || !f->name[0])
        return slide_fail(SLIDE_E_INVALID, "hash backend name is empty");
    if (strlen(f->name) >= SLIDE_HASH_NAME_MAX)
        return slide_fail(SLIDE_E_INVALID, "hash backend name '%.32s...' is longer than %d bytes", f->name,
                          SLIDE_HASH_NAME_MAX - 1);
    const char *missing = !f->can_run         ? "can_run"
                          : !f->create        ? "create"
                          : !f->destroy       ? "destroy"
                          : !f->code_bits     ? "code_bits"
                          : !f->scratch_bytes ? "scratch_bytes"
                          : !f->memory_bytes  ? "memory_bytes"
                          : !f->hash_dense    ? "hash_dense"
                          : !f->hash_sparse   ? "hash_sparse"
                                              : NULL;
    if (missing)
        return slide_fail(SLIDE_E_INVALID, "hash backend '%s' has no %s function", f->name, missing);
    int n = atomic_load_explicit(&registry_count, memory_order_relaxed); /* only writers change it */
    for (int i = 0; i < n; i++)
        if (strcmp(registry[i]->name, f->name) == 0)
            return slide_fail(SLIDE_E_INVALID, "backend name '%s' is already registered", f->name);
    if (f->can_run() <= 0)
        return slide_fail(SLIDE_E_UNSUPPORTED, "hash backend '%s' cannot run on this machine", f->name);
    if (n == SLIDE_MAX_BACKENDS)
        return slide_fail(SLIDE_E_NOMEM, "cannot register hash backend '%s': the registry holds at most %d",
                          f->name, SLIDE_MAX_BACKENDS);
    registry[n] = f;
    atomic_store_explicit(&registry_count, n + 1, memory_order_release);
    return SLIDE_OK;
}

static void registry_init(void)
{
    /*
     * Built-ins are valid by construction; one that cannot run on this CPU is skipped without touching
     * the caller's error message. The order is the listing order users see ("dwta" first: the default).
     */
    const slide_hash_family *builtin[] = {&slide_hash_dwta, &slide_hash_simhash, &slide_hash_wta,
                                          &slide_hash_minhash, &slide_hash_simhash_mips};
    pthread_mutex_lock(&registry_lock);
    int n = 0;
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
        if (builtin[i]->can_run() > 0)
            registry[n++] = builtin[i];
    atomic_store_explicit(&registry_count, n, memory_order_release);
    pthread_mutex_unlock(&registry_lock);
}

/* Number of published entries; acquire pairs with the release in registry_add_locked. */
static int registry_size(void)
{
    pthread_once(&registry_once, registry_init);
    return atomic_load_explicit(&registry_count, memory_order_acquire);
}

int slide_hash_backend_count(void) { return registry_size(); }

const char *slide_hash_backend_name(int i)
{
    int n = registry_size();
    return (i >= 0 && i < n) ? registry[i]->name : NULL;
}

int slide_hash_backend_register(const slide_hash_family *family)
{
    pthread_once(&registry_once, registry_init);
    pthread_mutex_lock(&registry_lock);
    int rc = registry_add_locked(family);
    pthread_mutex_unlock(&registry_lock);
    return rc;
}

int slide_hash_backend_load(const char *path)
{
    if (!path || !path[0])
        return slide_fail(SLIDE_E_INVALID, "hash backend path is empty");
    /*
     * The module is opened and asked for its family outside the registry lock, so a slow load does not
     * block readers' first call or other loads (glibc's dlerror is per thread).
     */
    void *module = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!module) {
        const char *why = dlerror();
        return slide_fail(SLIDE_E_IO, "%s: cannot load: %s", path, why ? why : "unknown error");
    }
    void *sym = dlsym(module, SLIDE_HASH_PLUGIN_ENTRY);
    if (!sym) {
        dlclose(module);
        return slide_fail(SLIDE_E_INVALID, "%s: no entry point %s", path, SLIDE_HASH_PLUGIN_ENTRY);
    }
    /* ISO C has no conversion from void * to a function pointer; POSIX guarantees the bits match. */
    slide_hash_plugin_entry_fn entry;
    _Static_assert(sizeof entry == sizeof sym, "function and data pointers differ in size");
    memcpy(&entry, &sym, sizeof entry);
    const slide_hash_family *family = entry();
    if (!family) {
        dlclose(module);
        return slide_fail(SLIDE_E_INVALID, "%s: %s returned NULL", path, SLIDE_HASH_PLUGIN_ENTRY);
    }
    int rc = slide_hash_backend_register(family);
    if (rc) {
        slide_fail_context(rc, path);
        /*
         * Nothing refers to the module. If the same file was loaded before, dlopen returned the same
         * handle with a raised reference count, so this dlclose leaves the earlier load in place.
         */
        dlclose(module);
    }
    /* On success `module` is deliberately never closed: the registry points into it for good. */
    return rc;
}

const slide_hash_family *slide_hash_find(const char *name)
{
    int n = registry_size();
    for (int i = 0; i < n; i++)
        if (name && strcmp(registry[i]->name, name) == 0)
            return registry[i];
    char names[SLIDE_MAX_BACKENDS * 24] = "";
    for (int i = 0; i < n; i++) {
        size_t used = strlen(names);
        snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", registry[i]->name);
    }
    slide_fail(SLIDE_E_NOT_FOUND, "unknown hash backend '%s' (available: %s)", name ? name : "(null)", names);
    return NULL;
}

const slide_hash_items_block *slide_hash_items_block_of(const slide_hash_family *family)
{
    /* By identity, not by name: a plugin may not take a built-in's name, but only the built-in struct counts. */
    if (family == &slide_hash_simhash)
        return &slide_hash_simhash_items;
    if (family == &slide_hash_simhash_mips)
        return &slide_hash_simhash_mips_items;
    return NULL;
}
