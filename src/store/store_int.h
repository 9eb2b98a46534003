/* store_int.h — private to src/store: helpers shared by the writer
 * (store.c) and the read side (query.c). */
#ifndef PEERTRACK_STORE_INT_H
#define PEERTRACK_STORE_INT_H

#include <sqlite3.h>

/* PRAGMA user_version into *v: 0 or -EIO. */
int pt_store_user_version(sqlite3 *db, int *v);

#endif
