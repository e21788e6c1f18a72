// The module mostly declares functions SQLiteNIO's vendored SQLite defines (see the header). What it defines itself is a thin
// wrapper around SQLite's own page cache, below.
#include "CKeelSQLite.h"

#include <stdlib.h>

// The page-cache interface as SQLite's public header declares it (sqlite3.h, "Application Defined Page Cache").
typedef struct sqlite3_pcache sqlite3_pcache;
typedef struct sqlite3_pcache_page {
    void *pBuf;
    void *pExtra;
} sqlite3_pcache_page;
typedef struct sqlite3_pcache_methods2 {
    int iVersion;
    void *pArg;
    int (*xInit)(void *);
    void (*xShutdown)(void *);
    sqlite3_pcache *(*xCreate)(int szPage, int szExtra, int bPurgeable);
    void (*xCachesize)(sqlite3_pcache *, int nCachesize);
    int (*xPagecount)(sqlite3_pcache *);
    sqlite3_pcache_page *(*xFetch)(sqlite3_pcache *, unsigned key, int createFlag);
    void (*xUnpin)(sqlite3_pcache *, sqlite3_pcache_page *, int discard);
    void (*xRekey)(sqlite3_pcache *, sqlite3_pcache_page *, unsigned oldKey, unsigned newKey);
    void (*xTruncate)(sqlite3_pcache *, unsigned iLimit);
    void (*xDestroy)(sqlite3_pcache *);
    void (*xShrink)(sqlite3_pcache *);
} sqlite3_pcache_methods2;

#define KEEL_SQLITE_CONFIG_PCACHE2 18
#define KEEL_SQLITE_CONFIG_GETPCACHE2 19
// SQLite's default PENDING_BYTE (the first byte past 1 GiB): the page holding it never holds data.
#define KEEL_PENDING_BYTE 0x40000000u

int sqlite_nio_sqlite3_config(int op, ...);

// Why the wrapper exists. When a B-tree balance puts its new pages in ascending order, SQLite parks a page under a
// temporary number, the page holding PENDING_BYTE (262145 with 4 KB pages), for the length of a swap. The default cache
// remembers that number as its largest key ever held. At the end of the transaction the pager truncates the cache to the
// database size, and since that largest key lies far past the end, the default cache scans every one of its hash buckets
// for pages to drop: for the writer's 64 MB cache that was 5% of a contact create's CPU, inside the write lock, and it grows
// with the cache. The page is back under its real number long before the commit, so there is nothing to drop.
//
// The wrapper keeps its own bound on the largest key that may be in the cache: raised by every page fetched or rekeyed, but
// not by the parking number while a page sits there (it counts those instead). A truncation that no cached page can reach
// is skipped; any other goes to the default cache as before, and then the bound is lowered to what that truncation left.
typedef struct KeelPageCache {
    sqlite3_pcache *base;
    unsigned parkingKey;
    unsigned maxKey;
    unsigned parked;
} KeelPageCache;

static sqlite3_pcache_methods2 keel_base_methods;
static int keel_page_cache_installed = 0;
static unsigned long long keel_truncations_skipped = 0;

static int keel_pcache_init(void *arg) {
    (void)arg;
    return keel_base_methods.xInit ? keel_base_methods.xInit(keel_base_methods.pArg) : 0;
}

static void keel_pcache_shutdown(void *arg) {
    (void)arg;
    if (keel_base_methods.xShutdown) keel_base_methods.xShutdown(keel_base_methods.pArg);
}

static sqlite3_pcache *keel_pcache_create(int szPage, int szExtra, int bPurgeable) {
    KeelPageCache *cache = malloc(sizeof(KeelPageCache));
    if (!cache) return 0;
    cache->base = keel_base_methods.xCreate(szPage, szExtra, bPurgeable);
    if (!cache->base) {
        free(cache);
        return 0;
    }
    cache->parkingKey = szPage > 0 ? KEEL_PENDING_BYTE / (unsigned)szPage + 1 : 0;
    cache->maxKey = 0;
    cache->parked = 0;
    return (sqlite3_pcache *)cache;
}

static void keel_pcache_cachesize(sqlite3_pcache *p, int n) {
    keel_base_methods.xCachesize(((KeelPageCache *)p)->base, n);
}

static int keel_pcache_pagecount(sqlite3_pcache *p) {
    return keel_base_methods.xPagecount(((KeelPageCache *)p)->base);
}

static sqlite3_pcache_page *keel_pcache_fetch(sqlite3_pcache *p, unsigned key, int createFlag) {
    KeelPageCache *cache = (KeelPageCache *)p;
    sqlite3_pcache_page *page = keel_base_methods.xFetch(cache->base, key, createFlag);
    if (page && key > cache->maxKey) cache->maxKey = key;
    return page;
}

static void keel_pcache_unpin(sqlite3_pcache *p, sqlite3_pcache_page *page, int discard) {
    keel_base_methods.xUnpin(((KeelPageCache *)p)->base, page, discard);
}

static void keel_pcache_rekey(sqlite3_pcache *p, sqlite3_pcache_page *page, unsigned oldKey, unsigned newKey) {
    KeelPageCache *cache = (KeelPageCache *)p;
    keel_base_methods.xRekey(cache->base, page, oldKey, newKey);
    if (oldKey == cache->parkingKey && cache->parked > 0) cache->parked--;
    if (newKey == cache->parkingKey && newKey > cache->maxKey) {
        cache->parked++;
    } else if (newKey > cache->maxKey) {
        cache->maxKey = newKey;
    }
}

static void keel_pcache_truncate(sqlite3_pcache *p, unsigned limit) {
    KeelPageCache *cache = (KeelPageCache *)p;
    if (limit > cache->maxKey && cache->parked == 0) {
        __atomic_fetch_add(&keel_truncations_skipped, 1, __ATOMIC_RELAXED);
        return;
    }
    keel_base_methods.xTruncate(cache->base, limit);
    if (limit == 0) {
        cache->maxKey = 0;
    } else if (cache->maxKey >= limit) {
        cache->maxKey = limit - 1;
    }
    if (cache->parkingKey >= limit) cache->parked = 0;
}

static void keel_pcache_destroy(sqlite3_pcache *p) {
    KeelPageCache *cache = (KeelPageCache *)p;
    keel_base_methods.xDestroy(cache->base);
    free(cache);
}

static void keel_pcache_shrink(sqlite3_pcache *p) {
    if (keel_base_methods.xShrink) keel_base_methods.xShrink(((KeelPageCache *)p)->base);
}

int keel_sqlite3_install_page_cache(void) {
    if (keel_page_cache_installed) return KEEL_SQLITE_OK;
    sqlite3_pcache_methods2 base = {0};
    int rc = sqlite_nio_sqlite3_config(KEEL_SQLITE_CONFIG_GETPCACHE2, &base);
    if (rc != KEEL_SQLITE_OK) return rc;
    if (base.iVersion < 1 || !base.xCreate || !base.xFetch || !base.xTruncate) return 1;
    keel_base_methods = base;
    sqlite3_pcache_methods2 wrapper = {
        .iVersion = 1,
        .pArg = 0,
        .xInit = keel_pcache_init,
        .xShutdown = keel_pcache_shutdown,
        .xCreate = keel_pcache_create,
        .xCachesize = keel_pcache_cachesize,
        .xPagecount = keel_pcache_pagecount,
        .xFetch = keel_pcache_fetch,
        .xUnpin = keel_pcache_unpin,
        .xRekey = keel_pcache_rekey,
        .xTruncate = keel_pcache_truncate,
        .xDestroy = keel_pcache_destroy,
        .xShrink = keel_pcache_shrink,
    };
    rc = sqlite_nio_sqlite3_config(KEEL_SQLITE_CONFIG_PCACHE2, &wrapper);
    if (rc == KEEL_SQLITE_OK) keel_page_cache_installed = 1;
    return rc;
}

int keel_sqlite3_page_cache_installed(void) { return keel_page_cache_installed; }

unsigned long long keel_sqlite3_truncations_skipped(void) { return __atomic_load_n(&keel_truncations_skipped, __ATOMIC_RELAXED); }
