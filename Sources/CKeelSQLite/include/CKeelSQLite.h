// Declarations of the few sqlite3 C functions Keel's SQLite writer calls directly. They are not a second copy of SQLite:
// they name the library SQLiteNIO already vendors and links (its symbols carry the `sqlite_nio_` prefix), so the writer
// and SQLiteNIO's reader connections run the very same SQLite build. SQLiteNIO does not export its C module, hence these.
#ifndef CKEELSQLITE_H
#define CKEELSQLITE_H

typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;
typedef long long keel_sqlite3_int64;

#define KEEL_SQLITE_OK 0
#define KEEL_SQLITE_ROW 100
#define KEEL_SQLITE_DONE 101
#define KEEL_SQLITE_INTEGER 1
#define KEEL_SQLITE_FLOAT 2
#define KEEL_SQLITE_TEXT 3
#define KEEL_SQLITE_BLOB 4
#define KEEL_SQLITE_NULL 5
#define KEEL_SQLITE_OPEN_READWRITE 0x00000002
#define KEEL_SQLITE_OPEN_CREATE 0x00000004
#define KEEL_SQLITE_OPEN_NOMUTEX 0x00008000
#define KEEL_SQLITE_PREPARE_PERSISTENT 0x01

int sqlite_nio_sqlite3_initialize(void);
int sqlite_nio_sqlite3_open_v2(const char *filename, sqlite3 **db, int flags, const char *vfs);
int sqlite_nio_sqlite3_close_v2(sqlite3 *db);
int sqlite_nio_sqlite3_extended_result_codes(sqlite3 *db, int onoff);
int sqlite_nio_sqlite3_db_config(sqlite3 *db, int op, ...);
int sqlite_nio_sqlite3_extended_errcode(sqlite3 *db);
const char *sqlite_nio_sqlite3_errmsg(sqlite3 *db);
int sqlite_nio_sqlite3_prepare_v3(sqlite3 *db, const char *sql, int nByte, unsigned int prepFlags, sqlite3_stmt **stmt,
                                  const char **tail);
int sqlite_nio_sqlite3_finalize(sqlite3_stmt *stmt);
int sqlite_nio_sqlite3_reset(sqlite3_stmt *stmt);
int sqlite_nio_sqlite3_clear_bindings(sqlite3_stmt *stmt);
int sqlite_nio_sqlite3_step(sqlite3_stmt *stmt);
int sqlite_nio_sqlite3_bind_int64(sqlite3_stmt *stmt, int index, keel_sqlite3_int64 value);
int sqlite_nio_sqlite3_bind_double(sqlite3_stmt *stmt, int index, double value);
int sqlite_nio_sqlite3_bind_null(sqlite3_stmt *stmt, int index);
int sqlite_nio_sqlite3_bind_text(sqlite3_stmt *stmt, int index, const char *text, int nBytes, void (*destructor)(void *));
int sqlite_nio_sqlite3_bind_blob(sqlite3_stmt *stmt, int index, const void *bytes, int nBytes, void (*destructor)(void *));
int sqlite_nio_sqlite3_column_count(sqlite3_stmt *stmt);
const char *sqlite_nio_sqlite3_column_name(sqlite3_stmt *stmt, int column);
int sqlite_nio_sqlite3_column_type(sqlite3_stmt *stmt, int column);
keel_sqlite3_int64 sqlite_nio_sqlite3_column_int64(sqlite3_stmt *stmt, int column);
double sqlite_nio_sqlite3_column_double(sqlite3_stmt *stmt, int column);
const unsigned char *sqlite_nio_sqlite3_column_text(sqlite3_stmt *stmt, int column);
const void *sqlite_nio_sqlite3_column_blob(sqlite3_stmt *stmt, int column);
int sqlite_nio_sqlite3_column_bytes(sqlite3_stmt *stmt, int column);
int sqlite_nio_sqlite3_stmt_status(sqlite3_stmt *stmt, int op, int resetFlag);
#define KEEL_SQLITE_STMTSTATUS_REPREPARE 5

// SQLITE_TRANSIENT (SQLite copies the value before the call returns), which Swift cannot spell as a constant.
static inline int keel_sqlite3_bind_text_copy(sqlite3_stmt *stmt, int index, const char *text, int nBytes) {
    return sqlite_nio_sqlite3_bind_text(stmt, index, text, nBytes, (void (*)(void *))-1);
}
static inline int keel_sqlite3_bind_blob_copy(sqlite3_stmt *stmt, int index, const void *bytes, int nBytes) {
    return sqlite_nio_sqlite3_bind_blob(stmt, index, bytes, nBytes, (void (*)(void *))-1);
}

// SQLITE_DBCONFIG_ENABLE_QPSG (1007), a variadic call Swift cannot make: the query planner stops looking at bound values,
// so a cached statement is not re-prepared every time one of its parameters is bound anew.
static inline int keel_sqlite3_enable_qpsg(sqlite3 *db) {
    return sqlite_nio_sqlite3_db_config(db, 1007, 1, (int *)0);
}

// Puts a wrapper around SQLite's default page cache (see CKeelSQLite.c for why). Must run before SQLite is initialized;
// returns SQLITE_OK, or an error when SQLite already runs (then the default cache stays, unwrapped).
int keel_sqlite3_install_page_cache(void);
int keel_sqlite3_page_cache_installed(void);
// Cache truncations the wrapper found nothing to drop for and skipped, since the process started.
unsigned long long keel_sqlite3_truncations_skipped(void);

#endif
