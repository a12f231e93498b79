/*
 * db.h: the database layer of the gateway. A pool of libpq connections of the application
 * role, shared by worker threads (the event loop never touches it), reconnection after the
 * server restarts, and the helper that runs a function inside one transaction with
 * app.tenant_id set, so row-level security stands behind every query.
 */
#ifndef CCGW_DB_H
#define CCGW_DB_H

#include <libpq-fe.h>
#include <stddef.h>

#include "pg.h"

#define DB_WUR __attribute__((warn_unused_result))


struct db_pool;

/* Creates a pool of at most size connections to conninfo (a libpq conninfo or URI).
 * Connections are opened lazily. NULL on allocation failure. */
struct db_pool *db_pool_new(const char *conninfo, int size) DB_WUR;
void db_pool_free(struct db_pool *pool);

/* Borrows a connection, waiting up to timeout_ms for one to be free. Returns NULL when none
 * could be had or the database does not answer. A connection that went bad is reset. */
PGconn *db_pool_acquire(struct db_pool *pool, int timeout_ms) DB_WUR;
/* Gives a connection back; a connection in a failed state is closed and replaced later. */
void db_pool_release(struct db_pool *pool, PGconn *conn);
/* Connections currently borrowed and idle, for /metrics. */
void db_pool_stats(struct db_pool *pool, int *in_use, int *idle, int *size);

/* 1 when the database answers a trivial query within timeout_ms. */
int db_ping(struct db_pool *pool, int timeout_ms);

#endif
