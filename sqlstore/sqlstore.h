/*
 * sqlstore — how every fabtel store opens SQLite: one file, WAL, the
 * durability asked for, and a schema versioned by PRAGMA user_version with
 * forward migrations. Used by flowd (flows.sqlite) and orchd (orchd.sqlite),
 * each the only writer of its file.
 *
 * Migrations: steps[i] takes a database from version i to i + 1; a file at
 * version v runs steps v..n-1, each with its user_version bump in one
 * transaction (a crash between two leaves a file at a version in between,
 * which the next open continues). A file newer than the build (v > n) is
 * refused with -EPROTO: an older binary never writes a schema it does not
 * know.
 *
 * Who may call: any thread owning the connection. Errors: 0 or a negative
 * errno, `why` one sentence.
 */
#ifndef FT_SQLSTORE_H
#define FT_SQLSTORE_H

#include <sqlite3.h>
#include <stddef.h>

/*
 * Open `path` (created when create is set) with SQLITE_OPEN_NOMUTEX, a 5 s busy timeout and `pragmas` (a
 * ";"-separated list, run once). -EIO with why on failure (*db is then NULL).
 */
int ft_sql_open(sqlite3 **db, const char *path, int create, const char *pragmas, char *why, size_t whysz);

/* Bring the schema to version n (see above). who: what the program is called in the message ("flowd"). */
int ft_sql_migrate(sqlite3 *db, const char *const *steps, int n, const char *who, char *why, size_t whysz);

/* A statement prepared once for many runs. 0 or -EIO. */
int ft_sql_prepare(sqlite3 *db, sqlite3_stmt **st, const char *sql);

#endif
