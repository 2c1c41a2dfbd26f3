/*
 * powercut: a SQLite VFS shim that simulates losing power (the same idea as SQLite's own crash-test VFS, test6.c).
 *
 * Every xWrite is held in this process's memory; only xSync moves a file's held writes to the real file (and then
 * fsyncs it). So the real files only ever contain what SQLite has synced. At a chosen cut point (the N-th xWrite or
 * xSync of the process) the shim "loses power": in mode 0 it discards every held write, in mode 1 a seeded random
 * subset of them (each whole) reaches the disk first (writes reordered by the drive), then the process ends with
 * _exit() -- no atexit handlers, no flushing. Reads see held writes, so SQLite behaves normally until the cut.
 *
 * Registered as the default VFS by powercut_register(cut_at, seed, mode), called through ctypes after loading this
 * library with RTLD_GLOBAL: it links against the same libsqlite3.so as Python's sqlite3 module, so the unmodified
 * sigma_bridge.store.EventStore runs on it. Truncation is applied at once (pessimistic for durability); the
 * shared-memory index and locks pass through to the real unix VFS (SQLite rebuilds the index after a crash).
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct Held {
    sqlite3_int64 off;
    int n;
    struct Held *next;
    unsigned char data[];
} Held;

typedef struct PcFile {
    sqlite3_file base;
    struct PcFile *next_open;
    Held *head, *tail;
    sqlite3_file real[]; /* the real VFS's file object follows */
} PcFile;

static sqlite3_vfs pc_vfs;
static sqlite3_vfs *real_vfs;
static long long op_count = 0, cut_at = 0;
static unsigned int rng_state = 1;
static int cut_mode = 0;
static PcFile *open_files = NULL;

static unsigned int rng_next(void) {
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 16) & 0x7fff;
}

static void drop_held(PcFile *f) {
    Held *h = f->head;
    while (h) {
        Held *next = h->next;
        free(h);
        h = next;
    }
    f->head = f->tail = NULL;
}

static int flush_held(PcFile *f, int subset) {
    int rc = SQLITE_OK;
    for (Held *h = f->head; h; h = h->next) {
        if (h->n <= 0 || (subset && (rng_next() & 1))) continue;
        int r = f->real->pMethods->xWrite(f->real, h->data, h->n, h->off);
        if (r != SQLITE_OK) rc = r;
    }
    drop_held(f);
    return rc;
}

static void power_cut(void) {
    if (cut_mode == 1)
        for (PcFile *f = open_files; f; f = f->next_open) flush_held(f, 1);
    _exit(99);
}

static void count_op(void) {
    op_count++;
    if (cut_at > 0 && op_count >= cut_at) power_cut();
}

static int pcClose(sqlite3_file *pf) {
    PcFile *f = (PcFile *)pf;
    drop_held(f); /* close without a sync guarantees nothing */
    for (PcFile **p = &open_files; *p; p = &(*p)->next_open)
        if (*p == f) { *p = f->next_open; break; }
    return f->real->pMethods->xClose(f->real);
}

static int pcRead(sqlite3_file *pf, void *buf, int amt, sqlite3_int64 off) {
    PcFile *f = (PcFile *)pf;
    sqlite3_int64 real_size = 0;
    f->real->pMethods->xFileSize(f->real, &real_size);
    int rc = f->real->pMethods->xRead(f->real, buf, amt, off);
    if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ) return rc;
    sqlite3_int64 end = real_size;
    for (Held *h = f->head; h; h = h->next) {
        sqlite3_int64 lo = h->off > off ? h->off : off;
        sqlite3_int64 hi = (h->off + h->n) < (off + amt) ? (h->off + h->n) : (off + amt);
        if (lo < hi) memcpy((unsigned char *)buf + (lo - off), h->data + (lo - h->off), (size_t)(hi - lo));
        if (h->off + h->n > end) end = h->off + h->n;
    }
    return end >= off + amt ? SQLITE_OK : SQLITE_IOERR_SHORT_READ;
}

static int pcWrite(sqlite3_file *pf, const void *buf, int amt, sqlite3_int64 off) {
    PcFile *f = (PcFile *)pf;
    count_op();
    Held *h = malloc(sizeof(Held) + (size_t)amt);
    if (!h) return SQLITE_IOERR_NOMEM;
    h->off = off;
    h->n = amt;
    h->next = NULL;
    memcpy(h->data, buf, (size_t)amt);
    if (f->tail) f->tail->next = h; else f->head = h;
    f->tail = h;
    return SQLITE_OK;
}

static int pcTruncate(sqlite3_file *pf, sqlite3_int64 size) {
    PcFile *f = (PcFile *)pf;
    for (Held *h = f->head; h; h = h->next)
        if (h->off + h->n > size) h->n = h->off >= size ? 0 : (int)(size - h->off);
    return f->real->pMethods->xTruncate(f->real, size);
}

static int pcSync(sqlite3_file *pf, int flags) {
    PcFile *f = (PcFile *)pf;
    count_op();
    int rc = flush_held(f, 0);
    if (rc != SQLITE_OK) return rc;
    return f->real->pMethods->xSync(f->real, flags);
}

static int pcFileSize(sqlite3_file *pf, sqlite3_int64 *size) {
    PcFile *f = (PcFile *)pf;
    int rc = f->real->pMethods->xFileSize(f->real, size);
    for (Held *h = f->head; h; h = h->next)
        if (h->n > 0 && h->off + h->n > *size) *size = h->off + h->n;
    return rc;
}

#define PASS(name, sig, call) static int name sig { PcFile *f = (PcFile *)pf; return f->real->pMethods->call; }
PASS(pcLock, (sqlite3_file *pf, int l), xLock(f->real, l))
PASS(pcUnlock, (sqlite3_file *pf, int l), xUnlock(f->real, l))
PASS(pcCheckReservedLock, (sqlite3_file *pf, int *out), xCheckReservedLock(f->real, out))
PASS(pcFileControl, (sqlite3_file *pf, int op, void *arg), xFileControl(f->real, op, arg))
PASS(pcSectorSize, (sqlite3_file *pf), xSectorSize(f->real))
PASS(pcDeviceCharacteristics, (sqlite3_file *pf), xDeviceCharacteristics(f->real))
PASS(pcShmMap, (sqlite3_file *pf, int i, int sz, int ext, void volatile **pp), xShmMap(f->real, i, sz, ext, pp))
PASS(pcShmLock, (sqlite3_file *pf, int off, int n, int flags), xShmLock(f->real, off, n, flags))
PASS(pcShmUnmap, (sqlite3_file *pf, int del), xShmUnmap(f->real, del))
static void pcShmBarrier(sqlite3_file *pf) { PcFile *f = (PcFile *)pf; f->real->pMethods->xShmBarrier(f->real); }

static const sqlite3_io_methods pc_io = {
    2, /* no xFetch/xUnfetch: every read goes through pcRead */
    pcClose, pcRead, pcWrite, pcTruncate, pcSync, pcFileSize, pcLock, pcUnlock, pcCheckReservedLock,
    pcFileControl, pcSectorSize, pcDeviceCharacteristics, pcShmMap, pcShmLock, pcShmBarrier, pcShmUnmap,
    0, 0,
};

static int pcOpen(sqlite3_vfs *vfs, const char *name, sqlite3_file *pf, int flags, int *out_flags) {
    (void)vfs;
    PcFile *f = (PcFile *)pf;
    memset(f, 0, sizeof(PcFile));
    int rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out_flags);
    if (rc != SQLITE_OK) return rc;
    f->base.pMethods = &pc_io;
    f->next_open = open_files;
    open_files = f;
    return SQLITE_OK;
}

static int pcDelete(sqlite3_vfs *v, const char *n, int s) { (void)v; return real_vfs->xDelete(real_vfs, n, s); }
static int pcAccess(sqlite3_vfs *v, const char *n, int fl, int *o) { (void)v; return real_vfs->xAccess(real_vfs, n, fl, o); }
static int pcFullPathname(sqlite3_vfs *v, const char *n, int sz, char *o) {
    (void)v;
    return real_vfs->xFullPathname(real_vfs, n, sz, o);
}
static void *pcDlOpen(sqlite3_vfs *v, const char *n) { (void)v; return real_vfs->xDlOpen(real_vfs, n); }
static void pcDlError(sqlite3_vfs *v, int n, char *m) { (void)v; real_vfs->xDlError(real_vfs, n, m); }
static void (*pcDlSym(sqlite3_vfs *v, void *h, const char *s))(void) { (void)v; return real_vfs->xDlSym(real_vfs, h, s); }
static void pcDlClose(sqlite3_vfs *v, void *h) { (void)v; real_vfs->xDlClose(real_vfs, h); }
static int pcRandomness(sqlite3_vfs *v, int n, char *o) { (void)v; return real_vfs->xRandomness(real_vfs, n, o); }
static int pcSleep(sqlite3_vfs *v, int us) { (void)v; return real_vfs->xSleep(real_vfs, us); }
static int pcCurrentTime(sqlite3_vfs *v, double *t) { (void)v; return real_vfs->xCurrentTime(real_vfs, t); }
static int pcGetLastError(sqlite3_vfs *v, int n, char *o) { (void)v; return real_vfs->xGetLastError(real_vfs, n, o); }
static int pcCurrentTimeInt64(sqlite3_vfs *v, sqlite3_int64 *t) {
    (void)v;
    return real_vfs->xCurrentTimeInt64(real_vfs, t);
}

/* Register the shim as the default VFS. cut_after: the op (xWrite or xSync) at which power is cut, 0 = never. */
int powercut_register(long long cut_after, unsigned int seed, int mode) {
    real_vfs = sqlite3_vfs_find(NULL);
    if (!real_vfs) return SQLITE_ERROR;
    cut_at = cut_after;
    rng_state = seed ? seed : 1;
    cut_mode = mode;
    pc_vfs = *real_vfs;
    pc_vfs.iVersion = 2;
    pc_vfs.szOsFile = (int)sizeof(PcFile) + real_vfs->szOsFile;
    pc_vfs.zName = "powercut";
    pc_vfs.pNext = NULL;
    pc_vfs.xOpen = pcOpen;
    pc_vfs.xDelete = pcDelete;
    pc_vfs.xAccess = pcAccess;
    pc_vfs.xFullPathname = pcFullPathname;
    pc_vfs.xDlOpen = pcDlOpen;
    pc_vfs.xDlError = pcDlError;
    pc_vfs.xDlSym = pcDlSym;
    pc_vfs.xDlClose = pcDlClose;
    pc_vfs.xRandomness = pcRandomness;
    pc_vfs.xSleep = pcSleep;
    pc_vfs.xCurrentTime = pcCurrentTime;
    pc_vfs.xGetLastError = pcGetLastError;
    pc_vfs.xCurrentTimeInt64 = pcCurrentTimeInt64;
    return sqlite3_vfs_register(&pc_vfs, 1);
}

/* Operations (xWrite + xSync) counted so far: a calibration run reads it to choose cut points. */
long long powercut_ops(void) { return op_count; }
