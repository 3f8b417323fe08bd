/*
 * Model files.
 *
 * Layout (little-endian):
 *   header  : magic "SLIDEMDL" | u32 format version | u32 0x01020304 (byte-order check) |
 *             u64 payload bytes
 *   payload : network description, then per layer: rows (weights, then Adam moments), biases (and their
 *             moments), and for sampled layers the hash tables (bucket counts, slots, insertion RNG
 *             states), so a loaded network resumes training exactly where the saved one stopped.
 *             Rows are stored in the layer's storage type: 4-byte floats, or 2-byte bfloat16 values.
 *
 * Versions: 1 has 160-byte layer records and float32 rows only; 2 appends the storage type and the LSH
 * random_fraction to each layer record (168 bytes); 3 has version 2's layout and stores the optimizer's
 * weight_decay in the head word that versions 1 and 2 wrote as 0; 4 appends the LSH logq_correction and a
 * reserved zero word to each layer record (176 bytes), the optimizer's catch_up and a reserved zero word to
 * the head (56 bytes), and with catch_up each layer's row steps (u64 per weight row, after the biases); 5 (0.5)
 * has version 4's layout and stores in the layer record's reserved word the item scale of a simhash-mips layer
 * (1 / the largest row norm at its last table build), without which a resumed network's re-hashes would run
 * as plain SimHash; 6 (0.5) has version 5's layout and, after the tables of a batch-shared softmax layer
 * with the logQ correction, its label counts (u64 rows counted, then u32 per neuron: see sampler.h), written
 * once it has trained; 7 (0.5) appends the LSH rescore and a reserved zero word to each layer record (184
 * bytes; files before 7 rank by table hits alone, rescore 1). Each network is written in the oldest version that holds it (1 when all float32, no
 * random share, no weight decay, no logQ correction and no simhash-mips), so older libraries keep reading
 * what they can represent and refuse the rest. All seven are read.
 *   trailer : u64 checksum of the payload (64-bit FNV-1a over 8-byte words, tail bytes padded with 0)
 *
 * Saving writes "<path>.tmp.XXXXXX" in the same directory, fsyncs it, renames it over <path> and fsyncs
 * the directory, so <path> always holds either the previous complete file or the new one. <path> must be a
 * regular file or not exist (a device, FIFO, socket or directory is refused, never replaced); a symlink is
 * followed and its target replaced the same way (the link stays a link). The new file keeps the mode of the
 * file it replaces, or gets 0666 minus the umask (the temporary file is created with that mode).
 * Loading checks magic, version, byte order, size and checksum before returning a network.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "hash_family.h"
#include "network.h"
#include "rows.h"
#include "sampler.h"

#define MODEL_MAGIC "SLIDEMDL"
#define MODEL_VERSION 7u       /* newest format this library reads and writes */
#define MODEL_VERSION_COUNTS 6u /* label counts */
#define MODEL_VERSION_MIPS 5u  /* simhash-mips item scale */
#define MODEL_VERSION_LOGQ 4u  /* logq_correction and catch_up */
#define MODEL_VERSION_DECAY 3u /* weight_decay in the head */
#define MODEL_VERSION_LAYERS 2u /* storage and random_fraction in the layer records */
#define MODEL_VERSION_F32 1u   /* written when every layer is float32 */
#define MODEL_ENDIAN 0x01020304u
#define MODEL_MAX_LAYERS 64u

/* ------------------------------------------------------------------ checksum */

typedef struct hasher {
    uint64_t h;
    unsigned char pend[8];
    size_t npend;
} hasher;

static void hasher_init(hasher *s)
{
    s->h = 0xcbf29ce484222325ull;
    s->npend = 0;
}

static inline void hasher_word(hasher *s, uint64_t w)
{
    s->h ^= w;
    s->h *= 0x100000001b3ull;
    s->h ^= s->h >> 29;
}

/* Invariant: npend < 8 between calls; whole 8-byte words are hashed as soon as they are complete. */
static void hasher_update(hasher *s, const void *data, size_t n)
{
    const unsigned char *p = data;
    while (n > 0) {
        if (s->npend == 0 && n >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            hasher_word(s, w);
            p += 8;
            n -= 8;
            continue;
        }
        size_t take = 8 - s->npend < n ? 8 - s->npend : n;
        memcpy(s->pend + s->npend, p, take);
        s->npend += take;
        p += take;
        n -= take;
        if (s->npend == 8) {
            uint64_t w;
            memcpy(&w, s->pend, 8);
            hasher_word(s, w);
            s->npend = 0;
        }
    }
}

static uint64_t hasher_final(hasher *s)
{
    if (s->npend) {
        memset(s->pend + s->npend, 0, 8 - s->npend);
        uint64_t w;
        memcpy(&w, s->pend, 8);
        hasher_word(s, w);
        s->npend = 0;
    }
    return s->h;
}

/* ------------------------------------------------------------------ payload description */

/* Fixed-size, explicitly laid-out records (no padding) so the file does not depend on the compiler. */
typedef struct model_head {
    uint32_t input_dim, n_layers;
    uint64_t seed, step;
    int32_t opt_kind;
    float lr, beta1, beta2, eps;
    float weight_decay; /* version 3; 0 in versions 1 and 2 */
    /* version 4: */
    int32_t catch_up;
    int32_t reserved;
} model_head;

typedef struct model_layer {
    uint32_t units;
    int32_t activation, sampled;
    char hash[SLIDE_HASH_NAME_MAX];
    uint32_t k, tables, bucket_size, bucket_bits;
    int32_t insertion;
    float active_fraction;
    uint32_t min_active, rebuild_period, bin_size;
    int32_t rule;
    uint32_t threshold, max_active;
    float rebuild_growth;
    int32_t rehash_touched;
    int32_t batch_shared;
    uint64_t rebuilds, batches_since_rebuild;
    double period;
    /* version 2: */
    int32_t storage;       /* slide_storage */
    float random_fraction; /* lsh.random_fraction */
    /* version 4: */
    int32_t logq_correction; /* lsh.logq_correction */
    float item_scale;        /* version 5: simhash-mips's item scale (hash_family.h); 0 (reserved) before */
    /* version 7: */
    uint32_t rescore; /* lsh.rescore, >= 1 on a sampled layer */
    int32_t reserved7;
} model_layer;
_Static_assert(sizeof(model_layer) == 184, "model_layer must have no implicit padding");
#define MODEL_LAYER_V4_BYTES offsetof(model_layer, rescore)
_Static_assert(MODEL_LAYER_V4_BYTES == 176, "version 4 to 6 layer records are 176 bytes");
#define MODEL_LAYER_V2_BYTES offsetof(model_layer, logq_correction)
_Static_assert(MODEL_LAYER_V2_BYTES == 168, "version 2 and 3 layer records are 168 bytes");
/* A version 1 layer record is the prefix before `storage`. */
#define MODEL_LAYER_V1_BYTES offsetof(model_layer, storage)
_Static_assert(MODEL_LAYER_V1_BYTES == 160, "version 1 layer records are 160 bytes");

static size_t layer_record_bytes(uint32_t version)
{
    return version == 1   ? MODEL_LAYER_V1_BYTES
           : version < 4 ? MODEL_LAYER_V2_BYTES
           : version < 7 ? MODEL_LAYER_V4_BYTES
                         : sizeof(model_layer);
}

/*
 * The format version for this network: 5 with a simhash-mips layer (its item scale), else 4 with catch_up or a logQ-corrected layer, else 3 with weight decay, else 2 if a
 * layer needs version 2's storage or random_fraction, else 1.
 */
/* simhash-mips's item scale of a layer, or 0 for every other layer. */
static float item_scale(const slide_layer *L)
{
    if (!L->sampled || L->sampler.hash != &slide_hash_simhash_mips || !L->sampler.hash_state)
        return 0.0f;
    return slide_hash_mips_item_scale(L->sampler.hash_state);
}

/* Whether a layer keeps label counts in files of version 6 (slide_sampler_counts_labels of the record). */
static int record_counts_labels(const model_layer *ml)
{
    return ml->sampled && ml->activation == SLIDE_ACT_SOFTMAX && ml->batch_shared && ml->logq_correction;
}

static uint32_t file_version(const slide_network *net)
{
    for (uint32_t l = 0; l < net->n_layers; l++)
        if (net->layers[l].sampled && net->layers[l].sampler.cfg.rescore != 1)
            return MODEL_VERSION;
    for (uint32_t l = 0; l < net->n_layers; l++)
        if (net->layers[l].sampler.label_count && net->layers[l].sampler.label_rows > 0)
            return MODEL_VERSION_COUNTS;
    for (uint32_t l = 0; l < net->n_layers; l++)
        if (item_scale(&net->layers[l]) != 0.0f)
            return MODEL_VERSION_MIPS;
    if (net->opt.catch_up)
        return MODEL_VERSION_LOGQ;
    for (uint32_t l = 0; l < net->n_layers; l++)
        if (net->layers[l].sampled && net->layers[l].sampler.cfg.logq_correction)
            return MODEL_VERSION_LOGQ;
    if (net->opt.weight_decay != 0.0f)
        return MODEL_VERSION_DECAY;
    for (uint32_t l = 0; l < net->n_layers; l++) {
        const slide_layer *L = &net->layers[l];
        if (L->storage != SLIDE_STORAGE_F32 || (L->sampled && L->sampler.cfg.random_fraction != 0.0f))
            return MODEL_VERSION_LAYERS;
    }
    return MODEL_VERSION_F32;
}

/* Start of row r's part (0: weights, 1, 2: Adam moments), in the layer's storage type. */
static inline unsigned char *row_part(const slide_layer *L, size_t r, int part)
{
    return (unsigned char *)L->params + (r * L->block + (size_t)part * L->stride) * slide_elem_bytes(L->storage);
}
_Static_assert(sizeof(model_head) == 56, "model_head must have no implicit padding");
#define MODEL_HEAD_V1_BYTES offsetof(model_head, catch_up)
_Static_assert(MODEL_HEAD_V1_BYTES == 48, "version 1 to 3 heads are 48 bytes");

static size_t head_bytes(uint32_t version) { return version < 4 ? MODEL_HEAD_V1_BYTES : sizeof(model_head); }

/* Bytes of one layer's data in the file: rows without padding (elem bytes per value), biases, tables. */
static uint64_t layer_file_bytes(uint64_t in_dim, uint64_t units, int adam, uint64_t elem, int sampled,
                                 uint64_t tables, uint64_t bucket_bits, uint64_t capacity, int row_steps,
                                 int label_counts)
{
    uint64_t b = (in_dim * units * elem + units * sizeof(float)) * (adam ? 3u : 1u);
    if (label_counts)
        b += sizeof(uint64_t) + units * sizeof(uint32_t);
    if (row_steps)
        b += (sampled ? units : in_dim) * sizeof(uint64_t);
    if (sampled)
        b += tables * (((uint64_t)1 << bucket_bits) * (capacity + 1) * sizeof(uint32_t) + sizeof(uint64_t));
    return b;
}

/* ------------------------------------------------------------------ save */

typedef struct writer {
    FILE *f;
    hasher h;
    int failed;
} writer;

static void put(writer *w, const void *p, size_t n)
{
    if (w->failed)
        return;
    if (fwrite(p, 1, n, w->f) != n)
        w->failed = errno ? errno : EIO;
    hasher_update(&w->h, p, n);
}

static int write_payload(const slide_network *net, writer *w, uint32_t version)
{
    int adam = net->opt.kind == SLIDE_OPT_ADAM;
    model_head hd;
    memset(&hd, 0, sizeof hd);
    hd.input_dim = net->input_dim;
    hd.n_layers = net->n_layers;
    hd.seed = net->seed;
    hd.step = net->step;
    hd.opt_kind = net->opt.kind;
    hd.lr = net->opt.lr;
    hd.beta1 = net->opt.beta1;
    hd.beta2 = net->opt.beta2;
    hd.eps = net->opt.eps;
    hd.weight_decay = net->opt.weight_decay;
    hd.catch_up = net->opt.catch_up;
    put(w, &hd, head_bytes(version));
    for (uint32_t l = 0; l < net->n_layers; l++) {
        const slide_layer *L = &net->layers[l];
        model_layer ml;
        memset(&ml, 0, sizeof ml);
        ml.units = L->units;
        ml.activation = L->activation;
        ml.sampled = L->sampled;
        if (L->sampled) {
            memcpy(ml.hash, L->sampler.hash_name, sizeof ml.hash);
            ml.k = L->sampler.cfg.k;
            ml.tables = L->sampler.cfg.tables;
            ml.bucket_size = L->sampler.cfg.bucket_size;
            ml.bucket_bits = L->sampler.cfg.bucket_bits;
            ml.insertion = L->sampler.cfg.insertion;
            ml.active_fraction = L->sampler.cfg.active_fraction;
            ml.min_active = L->sampler.cfg.min_active;
            ml.rebuild_period = L->sampler.cfg.rebuild_period;
            ml.bin_size = L->sampler.cfg.bin_size;
            ml.rule = L->sampler.cfg.rule;
            ml.threshold = L->sampler.cfg.threshold;
            ml.max_active = L->sampler.cfg.max_active;
            ml.rebuild_growth = L->sampler.cfg.rebuild_growth;
            ml.rehash_touched = L->sampler.cfg.rehash_touched;
            ml.batch_shared = L->sampler.cfg.batch_shared;
            ml.random_fraction = L->sampler.cfg.random_fraction;
            ml.logq_correction = L->sampler.cfg.logq_correction;
            ml.item_scale = item_scale(L);
            ml.rescore = L->sampler.cfg.rescore;
            ml.period = L->sampler.period;
            ml.rebuilds = L->sampler.rebuilds;
            ml.batches_since_rebuild = L->sampler.batches_since_rebuild;
        }
        ml.storage = L->storage;
        put(w, &ml, layer_record_bytes(version));
    }
    for (uint32_t l = 0; l < net->n_layers; l++) {
        const slide_layer *L = &net->layers[l];
        for (int part = 0; part < (adam ? 3 : 1); part++)
            for (size_t r = 0; r < L->rows; r++)
                put(w, row_part(L, r, part), slide_elem_bytes(L->storage) * L->row_len);
        put(w, L->bias, sizeof(float) * L->units);
        if (adam) {
            put(w, L->bias_m, sizeof(float) * L->units);
            put(w, L->bias_v, sizeof(float) * L->units);
        }
        if (L->row_step)
            put(w, L->row_step, sizeof(uint64_t) * L->rows);
        if (L->sampled) {
            const slide_lsh_tables *T = &L->sampler.tables;
            size_t nb = (size_t)T->tables * T->n_buckets;
            put(w, T->counts, sizeof(uint32_t) * nb);
            put(w, T->slots, sizeof(uint32_t) * nb * T->capacity);
            for (uint32_t t = 0; t < T->tables; t++)
                put(w, &T->table_rng[t].s, sizeof(uint64_t));
        }
        if (version >= 6 && L->sampler.label_count) {
            put(w, &L->sampler.label_rows, sizeof(uint64_t));
            put(w, L->sampler.label_count, sizeof(uint32_t) * L->units);
        }
    }
    return w->failed;
}

static int fsync_dir_of(const char *path)
{
    char *dir = strdup(path);
    if (!dir)
        return -1;
    char *slash = strrchr(dir, '/');
    const char *d = ".";
    if (slash) {
        if (slash == dir)
            slash[1] = '\0';
        else
            *slash = '\0';
        d = dir;
    }
    int fd = open(d, O_RDONLY);
    int rc = -1;
    if (fd >= 0) {
        rc = fsync(fd);
        close(fd);
    }
    free(dir);
    return rc;
}

/*
 * Where a save to `path` writes: `path` itself, or the final target of a symlink (malloc'd). Refuses a target
 * that exists and is not a regular file; *mode is the existing file's permission bits, or -1 for a new file.
 */
static int save_target(const char *path, char **target, int *mode)
{
    struct stat st;
    *mode = -1;
    *target = NULL;
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
        *target = realpath(path, NULL);
        if (!*target)
            return slide_fail(SLIDE_E_IO, "%s: symlink whose target cannot be resolved: %s", path, strerror(errno));
    } else {
        *target = strdup(path);
        if (!*target)
            return slide_fail(SLIDE_E_NOMEM, "out of memory");
    }
    if (stat(*target, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return slide_fail(SLIDE_E_IO, "%s: is a directory", path);
        if (!S_ISREG(st.st_mode))
            return slide_fail(SLIDE_E_IO, "%s: not a regular file (a device, FIFO or socket); refusing to replace it",
                              path);
        *mode = (int)(st.st_mode & 07777);
    } else if (errno != ENOENT) {
        return slide_fail(SLIDE_E_IO, "%s: %s", path, strerror(errno));
    }
    return SLIDE_OK;
}

/*
 * Creates "<target>.tmp.XXXXXX" exclusively with mode 0666, so the umask (and a default ACL) applies as to
 * any new file; mkstemp would force 0600. The suffix mixes the address of a local, the pid and a counter.
 */
static int open_temp(const char *target, char *tmp, size_t plen)
{
    static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    static _Atomic unsigned long counter;
    uint64_t x = (uint64_t)(uintptr_t)&plen ^ ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL);
    memcpy(tmp, target, plen);
    memcpy(tmp + plen, ".tmp.", 5);
    for (int attempt = 0; attempt < 100; attempt++) {
        x += 0x9E3779B97F4A7C15ull * (uint64_t)(++counter);
        uint64_t z = x;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        for (int i = 0; i < 6; i++, z /= 62)
            tmp[plen + 5 + i] = letters[z % 62];
        tmp[plen + 11] = '\0';
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

int slide_network_save(const slide_network *net, const char *path)
{
    if (!net || !path)
        return slide_fail(SLIDE_E_INVALID, "%s is NULL", net ? "path" : "net");
    if (!*path)
        return slide_fail(SLIDE_E_INVALID, "path is empty");
    int rc = slide_network_claim((slide_network *)net, "slide_network_save");
    if (rc)
        return rc;
    char *target = NULL;
    int mode = -1;
    rc = save_target(path, &target, &mode);
    size_t plen = target ? strlen(target) : 0;
    char *tmp = rc ? NULL : malloc(plen + 16);
    if (!rc && !tmp)
        rc = slide_fail(SLIDE_E_NOMEM, "out of memory");
    if (rc) {
        free(target);
        slide_network_release((slide_network *)net);
        return rc;
    }
    int fd = open_temp(target, tmp, plen);
    if (fd < 0) {
        rc = slide_fail(SLIDE_E_IO, "%s: cannot create temporary file: %s", path, strerror(errno));
        free(tmp);
        free(target);
        slide_network_release((slide_network *)net);
        return rc;
    }
    if (mode >= 0)
        (void)fchmod(fd, (mode_t)mode); /* keep the replaced file's permissions */
    writer w = {fdopen(fd, "wb"), {0, {0}, 0}, 0};
    if (!w.f) {
        rc = slide_fail(SLIDE_E_IO, "%s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        free(tmp);
        free(target);
        slide_network_release((slide_network *)net);
        return rc;
    }
    int adam = net->opt.kind == SLIDE_OPT_ADAM;
    uint32_t version = file_version(net), endian = MODEL_ENDIAN;
    uint64_t payload = head_bytes(version) + (uint64_t)net->n_layers * layer_record_bytes(version);
    for (uint32_t l = 0; l < net->n_layers; l++) {
        const slide_layer *L = &net->layers[l];
        payload += layer_file_bytes(L->in_dim, L->units, adam, slide_elem_bytes(L->storage), L->sampled,
                                    L->sampler.cfg.tables, L->sampler.tables.bucket_bits, L->sampler.cfg.bucket_size,
                                    L->row_step != NULL, version >= 6 && L->sampler.label_count != NULL);
    }
    errno = 0;
    int failed = fwrite(MODEL_MAGIC, 1, 8, w.f) != 8 || fwrite(&version, 4, 1, w.f) != 1 ||
                 fwrite(&endian, 4, 1, w.f) != 1 || fwrite(&payload, 8, 1, w.f) != 1;
    hasher_init(&w.h);
    if (!failed)
        failed = write_payload(net, &w, version);
    uint64_t sum = hasher_final(&w.h);
    if (!failed)
        failed = fwrite(&sum, 8, 1, w.f) != 1;
    if (!failed)
        failed = fflush(w.f) != 0 || fsync(fileno(w.f)) != 0;
    int saved_errno = errno ? errno : EIO;
    if (fclose(w.f) != 0 && !failed) {
        failed = 1;
        saved_errno = errno;
    }
    if (!failed && rename(tmp, target) != 0) {
        failed = 1;
        saved_errno = errno;
    }
    if (failed) {
        unlink(tmp);
        rc = slide_fail(SLIDE_E_IO, "%s: cannot write model: %s", path, strerror(saved_errno));
    } else {
        fsync_dir_of(target);
    }
    free(tmp);
    free(target);
    slide_network_release((slide_network *)net);
    return rc;
}

/* ------------------------------------------------------------------ load */

typedef struct reader {
    FILE *f;
    hasher h;
    uint64_t left; /* payload bytes not yet read */
    const char *path;
} reader;

static int get(reader *r, void *p, size_t n, const char *what)
{
    if (n > r->left)
        return slide_fail(SLIDE_E_FORMAT, "%s: corrupt model file: %s extends past the declared payload", r->path, what);
    if (fread(p, 1, n, r->f) != n)
        return slide_fail(SLIDE_E_FORMAT, "%s: truncated model file (while reading %s)", r->path, what);
    hasher_update(&r->h, p, n);
    r->left -= n;
    return SLIDE_OK;
}

int slide_network_load(const char *path, slide_network **out)
{
    if (!out)
        return slide_fail(SLIDE_E_INVALID, "out is NULL");
    *out = NULL;
    if (!path)
        return slide_fail(SLIDE_E_INVALID, "path is NULL");
    struct stat pst;
    if (stat(path, &pst) == 0 && !S_ISREG(pst.st_mode)) /* a FIFO would block fopen; a directory reads as EISDIR */
        return slide_fail(SLIDE_E_IO, "%s: cannot load: %s", path,
                          S_ISDIR(pst.st_mode) ? "is a directory" : "not a regular file (a device, FIFO or socket)");
    FILE *f = fopen(path, "rb");
    if (!f)
        return slide_fail(SLIDE_E_IO, "%s: cannot open: %s", path, strerror(errno));
    int rc = SLIDE_OK;
    slide_network *net = NULL;
    char magic[8];
    uint32_t version = 0, endian = 0;
    uint64_t payload = 0;
    struct stat st;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, MODEL_MAGIC, 8) != 0) {
        rc = slide_fail(SLIDE_E_FORMAT, "%s: not a libslide model file (bad magic)", path);
        goto done;
    }
    if (fread(&version, 4, 1, f) != 1 || fread(&endian, 4, 1, f) != 1 || fread(&payload, 8, 1, f) != 1) {
        rc = slide_fail(SLIDE_E_FORMAT, "%s: truncated model file (header)", path);
        goto done;
    }
    if (endian != MODEL_ENDIAN) {
        rc = slide_fail(SLIDE_E_FORMAT, "%s: model file has a different byte order", path);
        goto done;
    }
    if (version < 1 || version > MODEL_VERSION) {
        rc = slide_fail(SLIDE_E_FORMAT, "%s: model format version %u is not supported (this library reads 1 to %u)",
                        path, version, MODEL_VERSION);
        goto done;
    }
    if (fstat(fileno(f), &st) == 0 && (uint64_t)st.st_size != 24 + payload + 8) {
        rc = slide_fail(SLIDE_E_FORMAT, "%s: file is %lld bytes but its header declares %llu (truncated or extended)",
                        path, (long long)st.st_size, (unsigned long long)(24 + payload + 8));
        goto done;
    }
    reader r = {f, {0, {0}, 0}, payload, path};
    hasher_init(&r.h);
    model_head hd;
    memset(&hd, 0, sizeof hd); /* versions 1 to 3: no catch_up */
    if ((rc = get(&r, &hd, head_bytes(version), "network header")))
        goto done;
    if (hd.n_layers == 0 || hd.n_layers > MODEL_MAX_LAYERS || hd.input_dim == 0) {
        rc = slide_fail(SLIDE_E_FORMAT, "%s: corrupt model file: %u layers, input_dim %u", path, hd.n_layers,
                        hd.input_dim);
        goto done;
    }
    model_layer ml[MODEL_MAX_LAYERS];
    slide_layer_config lc[MODEL_MAX_LAYERS];
    const slide_layer_config *lcp[MODEL_MAX_LAYERS];
    slide_lsh_config lsh[MODEL_MAX_LAYERS];
    for (uint32_t l = 0; l < hd.n_layers; l++) {
        memset(&ml[l], 0, sizeof ml[l]); /* version 1: storage stays 0, float32 */
        if ((rc = get(&r, &ml[l], layer_record_bytes(version), "layer description")))
            goto done;
        ml[l].hash[SLIDE_HASH_NAME_MAX - 1] = '\0';
        if (ml[l].storage != SLIDE_STORAGE_F32 && ml[l].storage != SLIDE_STORAGE_BF16) {
            rc = slide_fail(SLIDE_E_FORMAT, "%s: corrupt model file: layer %u has unknown storage %d", path, l,
                            ml[l].storage);
            goto done;
        }
        slide_layer_config_init(&lc[l]);
        lc[l].units = ml[l].units;
        lc[l].activation = ml[l].activation;
        lc[l].storage = ml[l].storage;
        if (ml[l].sampled) {
            slide_lsh_config_init(&lsh[l]);
            lsh[l].hash = ml[l].hash;
            lsh[l].k = ml[l].k;
            lsh[l].tables = ml[l].tables;
            lsh[l].bucket_size = ml[l].bucket_size;
            lsh[l].bucket_bits = ml[l].bucket_bits;
            lsh[l].insertion = ml[l].insertion;
            lsh[l].active_fraction = ml[l].active_fraction;
            lsh[l].min_active = ml[l].min_active;
            lsh[l].rebuild_period = ml[l].rebuild_period;
            lsh[l].bin_size = ml[l].bin_size;
            lsh[l].rule = ml[l].rule;
            lsh[l].threshold = ml[l].threshold;
            lsh[l].max_active = ml[l].max_active;
            lsh[l].rebuild_growth = ml[l].rebuild_growth;
            lsh[l].rehash_touched = ml[l].rehash_touched;
            lsh[l].batch_shared = ml[l].batch_shared;
            lsh[l].random_fraction = ml[l].random_fraction;
            lsh[l].logq_correction = ml[l].logq_correction;
            lsh[l].rescore = version < 7 ? 1 : ml[l].rescore;
            lc[l].lsh = &lsh[l];
        }
        lcp[l] = &lc[l];
    }
    slide_network_config cfg;
    slide_network_config_init(&cfg);
    cfg.input_dim = hd.input_dim;
    cfg.n_layers = hd.n_layers;
    cfg.layers = lcp;
    cfg.seed = hd.seed;
    slide_optimizer_config opt;
    slide_optimizer_config_init(&opt);
    opt.kind = hd.opt_kind;
    opt.lr = hd.lr;
    opt.beta1 = hd.beta1;
    opt.beta2 = hd.beta2;
    opt.eps = hd.eps;
    if (version < 3 && hd.weight_decay != 0.0f) {
        rc = slide_fail(SLIDE_E_FORMAT, "%s: model format version %u has a non-zero reserved header word", path, version);
        goto done;
    }
    for (uint32_t l = 0; l < hd.n_layers; l++) {
        if (ml[l].reserved7 != 0 || (version >= 7 && ml[l].sampled && ml[l].rescore == 0) ||
            (!ml[l].sampled && ml[l].rescore != 0)) {
            rc = slide_fail(SLIDE_E_FORMAT, "%s: corrupt model file: layer %u rescore %u, reserved word %d", path, l,
                            ml[l].rescore, ml[l].reserved7);
            goto done;
        }
        if (version < 5 && ml[l].item_scale != 0.0f) {
            rc = slide_fail(SLIDE_E_FORMAT, "%s: layer %u has a non-zero reserved word", path, l);
            goto done;
        }
        if (!(ml[l].item_scale >= 0.0f && isfinite(ml[l].item_scale)) ||
            (ml[l].item_scale != 0.0f && (!ml[l].sampled || strcmp(ml[l].hash, "simhash-mips") != 0))) {
            rc = slide_fail(SLIDE_E_FORMAT, "%s: corrupt model file: layer %u item scale %g", path, l,
                            (double)ml[l].item_scale);
            goto done;
        }
    }
    opt.weight_decay = hd.weight_decay;
    if (hd.reserved != 0 || (hd.catch_up != 0 && hd.catch_up != 1)) {
        rc = slide_fail(SLIDE_E_FORMAT, "%s: corrupt model file: catch_up %d, reserved word %d", path, hd.catch_up,
                        hd.reserved);
        goto done;
    }
    opt.catch_up = hd.catch_up;
    /* Check the declared size before allocating anything big: a corrupt header must not cause a huge allocation. */
    {
        uint64_t need = head_bytes(version) + (uint64_t)hd.n_layers * layer_record_bytes(version);
        uint64_t in = hd.input_dim;
        int adam = hd.opt_kind == SLIDE_OPT_ADAM;
        for (uint32_t l = 0; l < hd.n_layers; l++) {
            /* Files store the resolved bucket size, never 0 (auto). */
            if (ml[l].units > (1u << 30) || ml[l].tables > 4096 || ml[l].bucket_bits > 24 ||
                ml[l].bucket_size > 65536 || (ml[l].sampled && ml[l].bucket_size == 0)) {
                rc = slide_fail(SLIDE_E_FORMAT, "%s: corrupt model file: layer %u has impossible sizes", path, l);
                goto done;
            }
            need += layer_file_bytes(in, ml[l].units, adam, slide_elem_bytes(ml[l].storage), ml[l].sampled != 0,
                                     ml[l].tables, ml[l].bucket_bits, ml[l].bucket_size, hd.catch_up,
                                     version >= 6 && record_counts_labels(&ml[l]));
            in = ml[l].units;
        }
        if (need != payload) {
            rc = slide_fail(SLIDE_E_FORMAT, "%s: corrupt model file: shapes need %llu payload bytes, header says %llu",
                            path, (unsigned long long)need, (unsigned long long)payload);
            goto done;
        }
    }
    rc = slide_network_create_internal(&cfg, &opt, 0, &net);
    if (rc) {
        rc = slide_fail_context(rc == SLIDE_E_NOT_FOUND ? rc : SLIDE_E_FORMAT, path);
        goto done;
    }
    net->step = hd.step;
    int adam = net->opt.kind == SLIDE_OPT_ADAM;
    for (uint32_t l = 0; l < net->n_layers && !rc; l++) {
        slide_layer *L = &net->layers[l];
        for (int part = 0; part < (adam ? 3 : 1) && !rc; part++)
            for (size_t row = 0; row < L->rows && !rc; row++)
                rc = get(&r, row_part(L, row, part), slide_elem_bytes(L->storage) * L->row_len, "weights");
        if (!rc)
            rc = get(&r, L->bias, sizeof(float) * L->units, "biases");
        if (!rc && adam) {
            rc = get(&r, L->bias_m, sizeof(float) * L->units, "bias moments");
            if (!rc)
                rc = get(&r, L->bias_v, sizeof(float) * L->units, "bias moments");
        }
        if (!rc && L->row_step) {
            rc = get(&r, L->row_step, sizeof(uint64_t) * L->rows, "row steps");
            for (size_t row = 0; row < L->rows && !rc; row++)
                if (L->row_step[row] > hd.step)
                    rc = slide_fail(SLIDE_E_FORMAT, "%s: corrupt model file: layer %u row %zu updated after the last step",
                                    path, l, row);
        }
        if (!rc && L->sampled) {
            slide_lsh_tables *T = &L->sampler.tables;
            size_t nb = (size_t)T->tables * T->n_buckets;
            if (T->bucket_bits != ml[l].bucket_bits) {
                rc = slide_fail(SLIDE_E_FORMAT, "%s: corrupt model file: layer %u bucket bits", path, l);
                break;
            }
            rc = get(&r, T->counts, sizeof(uint32_t) * nb, "hash table counts");
            if (!rc)
                rc = get(&r, T->slots, sizeof(uint32_t) * nb * T->capacity, "hash table slots");
            for (uint32_t t = 0; t < T->tables && !rc; t++)
                rc = get(&r, &T->table_rng[t].s, sizeof(uint64_t), "hash table state");
            /* Slots are trusted only after the checksum; still, never let a bad id index out of bounds. */
            for (size_t i = 0; i < nb * T->capacity && !rc; i++)
                if (T->slots[i] >= L->units)
                    rc = slide_fail(SLIDE_E_FORMAT, "%s: corrupt model file: neuron id out of range in a hash table",
                                    path);
            if (L->sampler.hash == &slide_hash_simhash_mips && L->sampler.hash_state)
                slide_hash_mips_set_item_scale(L->sampler.hash_state, ml[l].item_scale);
            L->sampler.rebuilds = ml[l].rebuilds;
            L->sampler.stale = L->sampler.draws_only; /* saved tables may lag the weights */
            L->sampler.batches_since_rebuild = ml[l].batches_since_rebuild;
            L->sampler.period = ml[l].period;
        }
        if (!rc && version >= 6 && L->sampler.label_count) {
            rc = get(&r, &L->sampler.label_rows, sizeof(uint64_t), "label counts");
            if (!rc)
                rc = get(&r, L->sampler.label_count, sizeof(uint32_t) * L->units, "label counts");
        }
    }
    if (rc)
        goto done;
    uint64_t want = hasher_final(&r.h), got = 0;
    if (fread(&got, 8, 1, f) != 1) {
        rc = slide_fail(SLIDE_E_FORMAT, "%s: truncated model file (checksum missing)", path);
        goto done;
    }
    if (got != want) {
        rc = slide_fail(SLIDE_E_FORMAT, "%s: checksum mismatch: the model file is corrupt", path);
        goto done;
    }
    for (uint32_t l = 0; l < net->n_layers && !rc; l++)
        rc = slide_sampler_record_buckets(net, &net->layers[l]);
done:
    fclose(f);
    if (rc) {
        slide_network_free(net);
        return rc;
    }
    *out = net;
    return SLIDE_OK;
}
