#include "sqlstore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ft_sql_open(sqlite3 **db, const char *path, int create, const char *pragmas, char *why, size_t whysz)
{
    *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, db, flags, NULL) != SQLITE_OK) {
        snprintf(why, whysz, "cannot open %s: %s", path, *db ? sqlite3_errmsg(*db) : "out of memory");
        sqlite3_close(*db);
        *db = NULL;
        return -EIO;
    }
    sqlite3_busy_timeout(*db, 5000);
    if (pragmas != NULL && sqlite3_exec(*db, pragmas, NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(why, whysz, "cannot set up %s: %s", path, sqlite3_errmsg(*db));
        sqlite3_close(*db);
        *db = NULL;
        return -EIO;
    }
    return 0;
}

static int user_version(sqlite3 *db)
{
    sqlite3_stmt *st;
    int version = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return version;
}

int ft_sql_migrate(sqlite3 *db, const char *const *steps, int n, const char *who, char *why, size_t whysz)
{
    int version = user_version(db);
    if (version < 0) {
        snprintf(why, whysz, "cannot read the schema version: %s", sqlite3_errmsg(db));
        return -EIO;
    }
    if (version > n) {
        snprintf(why, whysz, "the store's schema is version %d; this %s knows up to %d (a newer %s wrote it)", version, who, n, who);
        return -EPROTO;
    }
    for (int v = version; v < n; v++) {
        size_t len = strlen(steps[v]) + 96;
        char *sql = malloc(len), *msg = NULL;
        if (sql == NULL)
            return -ENOMEM;
        snprintf(sql, len, "BEGIN IMMEDIATE;%sPRAGMA user_version=%d;COMMIT;", steps[v], v + 1);
        int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
        free(sql);
        if (rc != SQLITE_OK) {
            snprintf(why, whysz, "cannot migrate the schema from version %d to %d: %s", v, v + 1, msg ? msg : "?");
            sqlite3_free(msg);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return -EIO;
        }
    }
    return 0;
}

int ft_sql_prepare(sqlite3 *db, sqlite3_stmt **st, const char *sql)
{
    return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) == SQLITE_OK ? 0 : -EIO;
}
