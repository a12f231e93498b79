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

/* How long a request waits for a connection of the pool. */
#define DB_POOL_WAIT_MS 5000


struct db_pool;

/* Creates a pool of at most size connections to conninfo (a libpq conninfo or URI), opened
 * lazily with opts (copied; its strings must outlive the pool). hold_ms > 0 starts a
 * watchdog: a connection borrowed for longer than hold_ms has its socket shut down, so a
 * worker blocked on a database that stopped answering gets an error at once (its request
 * answers 503) and the pool opens a fresh connection for the next borrower. NULL on
 * failure. */
struct db_pool *db_pool_new(const char *conninfo, int size, const struct pg_session_opts *opts,
			    long hold_ms) DB_WUR;
void db_pool_free(struct db_pool *pool);

/* Borrows a connection, waiting up to timeout_ms for one to be free. Returns NULL when none
 * could be had or the database does not answer. A connection that went bad is reset. */
PGconn *db_pool_acquire(struct db_pool *pool, int timeout_ms) DB_WUR;
/* Gives a connection back; a connection in a failed state is closed and replaced later. */
void db_pool_release(struct db_pool *pool, PGconn *conn);
/* Connections currently borrowed and idle, for /metrics. */
void db_pool_stats(struct db_pool *pool, int *in_use, int *idle, int *size);
/* Connections the watchdog has cut since the pool was made. */
unsigned long long db_pool_cut_count(struct db_pool *pool);

/* Checks that the session's role is what row-level security needs: not a superuser, no
 * BYPASSRLS, and owning (or a member of a role owning) no table in schema public. Returns 0
 * when it is, -1 with err saying why when it is not, PG_ERR_UNAVAILABLE when the check
 * could not run. */
int db_role_check(PGconn *conn, char *err, size_t errlen) DB_WUR;

/* 1 when the database answers a trivial query within timeout_ms. */
int db_ping(struct db_pool *pool, int timeout_ms);

#endif
