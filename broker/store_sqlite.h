// store_sqlite.h - the store's SQLite backend (the only module that includes sqlite3.h)
#ifndef STORE_SQLITE_H_INCLUDED
#define STORE_SQLITE_H_INCLUDED

#include "zchat_prelude.h"
#include "store.h"

// store_new on SQLite: the database file at path, or ":memory:". A database of an older schema
// is upgraded in place. A seq is below 2^40, and a database holds at most 2^22 - 1 rooms: an
// append past either fails as a storage error would.
store_t *store_sqlite_new(const char *path, size_t keep, char **error);

// store_new_exclusive on SQLite. The claim is an flock on the file, so it holds by whatever
// path the file is reached, released when the store is destroyed.
store_t *store_sqlite_new_exclusive(const char *path, size_t keep, char **error);

void store_sqlite_test(bool verbose);

// The accounts functions: a self-test of their own.
void store_sqlite_users_test(bool verbose);

#endif
