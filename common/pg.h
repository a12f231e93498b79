/*
 * pg.h: small libpq helpers shared by gateway/ and commerce/: parameterized statements with
 * logged errors, and the helper that runs a function inside one transaction with
 * app.tenant_id set (set_config(..., true)), so row-level security stands behind every query.
 * No SQL here is ever built from outside data.
 */
#ifndef CCGW_PG_H
#define CCGW_PG_H

#include <libpq-fe.h>
#include <stdint.h>

#define PG_WUR __attribute__((warn_unused_result))

/* Error codes (negative). */
#define PG_ERR_UNAVAILABLE (-1) /* the connection is gone, or a timeout or shutdown: answer 503 */
#define PG_ERR_QUERY (-2)       /* a statement failed; the transaction was rolled back */
#define PG_ERR_RETRY (-3)       /* serialization failure or deadlock after all retries */
#define PG_ERR_ABORT (-4)       /* the callback asked for a rollback (its own error) */

/*
 * Runs fn(conn, arg) inside BEGIN ... COMMIT with app.tenant_id set to tenant_id for this
 * transaction only; tenant_id may be NULL for none. fn returns 0 to commit or a negative
 * value to roll back (that value is returned). A serialization failure or deadlock (in fn's
 * statements or at COMMIT) runs fn again, up to 3 times, so fn must be safe to repeat.
 * Returns 0, fn's error, or a PG_ERR_*.
 */
typedef int (*pg_tx_fn)(PGconn *conn, void *arg);
int pg_tx_run(PGconn *conn, const char *tenant_id, pg_tx_fn fn, void *arg) PG_WUR;
/* Runs fn(conn, arg) inside BEGIN ... ROLLBACK with app.tenant_id set to tenant_id, whatever
 * fn returns: nothing it writes stays, and a statement it would leave to the end (pg_defer)
 * runs at once. For warming a new session's caches with real work (gateway/core/warm.c).
 * Returns fn's value, or PG_ERR_UNAVAILABLE when the transaction could not begin. */
int pg_tx_rehearse(PGconn *conn, const char *tenant_id, pg_tx_fn fn, void *arg);
/* One statement as its own transaction (the connection must be outside one), run again like
 * pg_tx_run's body on a serialization failure or deadlock, up to 3 times. For a statement
 * that sets the tenant itself (a function that calls set_config). Returns the result as
 * pg_exec does, or NULL with pg_last_sqlstate() set. */
PGresult *pg_exec_tx(PGconn *conn, const char *sql, int nparams,
                     const char *const *params) PG_WUR;

/* For group commit (gateway/core/txgroup.c): a transaction holding several callers' work.
 * pg_savepoint_run runs fn inside the open transaction in a savepoint with app.tenant_id set
 * to tenant_id; on fn's error it rolls back to the savepoint, and the transaction goes on.
 * Returns fn's result (or PG_ERR_QUERY); *broken is set when the transaction cannot go on.
 * pg_begin and pg_commit return 0 or -1 (pg_commit rolls back what failed to commit). */
int pg_savepoint_run(PGconn *conn, const char *tenant_id, pg_tx_fn fn, void *arg,
		     int *broken) PG_WUR;
/* A transaction function took locks that every writer of its tenant queues for (the order
 * counter, a product's stock): a group transaction commits right after it rather than hold
 * them for the rest of the group. pg_take_hot_locks reads and clears the note (per thread). */
void pg_note_hot_locks(void);
int pg_take_hot_locks(void);
/* Microseconds this thread spent in COMMIT (its round trip: the WAL flush, and for a
 * transaction that sent a NOTIFY the queue for the lock that orders them) since the last
 * call; reads and clears (gateway/core/latency.c). */
int64_t pg_take_commit_us(void);
int pg_begin(PGconn *conn) PG_WUR;
int pg_commit(PGconn *conn) PG_WUR;
/* pg_commit with the statement first (fixed text, no parameters: a SET LOCAL) sent before the
 * deferred statements (pg_defer) and the COMMIT, in the same round trip (pipeline mode). */
int pg_commit_after(PGconn *conn, const char *first) PG_WUR;
void pg_rollback(PGconn *conn);

/* A statement left to the end of the transaction that runs the caller (pg_tx_run's, or a group
 * transaction's through pg_savepoint_run): sent with its COMMIT in one round trip, after
 * tenant_id's setting, so that rows it takes that every writer of the tenant queues for are
 * held only until that answer, or a statement whose answer nothing waits for goes without a
 * round trip of its own. They run in tenant order, a tenant's in the order they were left (a
 * caller's statements must take such rows of one tenant in an order of their own). sql is fixed text (kept by pointer), params are copied. After a successful COMMIT,
 * done(value, arg) is called with the first column of the statement's first row (NULL for
 * none); a failed one fails the COMMIT (its SQLSTATE is the transaction's: pg_tx_run runs a
 * serialization failure again). Returns 1 when deferred (arg, heap memory, is then free()d
 * by pg.c), 0 when not (not inside such a transaction, or 48 are waiting already: run it
 * now), -1 out of memory. */
typedef void (*pg_defer_done_fn)(const char *value, void *arg);
int pg_defer(const char *tenant_id, const char *sql, int nparams, const char *const *params,
	     pg_defer_done_fn done, void *arg) PG_WUR;
/* pg_defer for a statement whose runs in one transaction may go as one: a tenant's statements
 * left with the same batch_sql are sent as one batch_sql (fixed text) in the place of the
 * first, its $n the array (text, in the order they were left) of their $n's, so that one
 * statement's set-up in PostgreSQL serves them all. Two whose parameter key (0-based) is the
 * same never go in one batch (a later one runs after it on its own, in its order): key names
 * what the statement writes, which one statement writes once. Nothing waits for their
 * values (no callback); a lone one is sent as sql. Returns as pg_defer. */
int pg_defer_batched(const char *tenant_id, const char *sql, const char *batch_sql, int key,
		     int nparams, const char *const *params) PG_WUR;

/* Inside pg_tx_run's or pg_savepoint_run's function: the transaction's opening (held back to
 * go with the first statement sent through pg_exec or pg_cmd) is sent now, for code about to
 * use libpq directly on conn. 0, or -1 when it failed. */
int pg_tx_ready(PGconn *conn) PG_WUR;

/* Runs a parameterized statement (text parameters, NULL entries are SQL NULL); returns the
 * result when its status is COMMAND_OK or TUPLES_OK, else logs the error, remembers its
 * SQLSTATE and returns NULL. The caller PQclear()s the result. A SELECT, INSERT, UPDATE,
 * DELETE or WITH statement is prepared on the connection the first time it runs there and
 * runs by name afterwards (see pg.c), so sql must be fixed text: outside data goes only in
 * params. */
PGresult *pg_exec(PGconn *conn, const char *sql, int nparams, const char *const *params) PG_WUR;
/* The same for statements whose result is not needed: 0, or -1 on error. */
int pg_cmd(PGconn *conn, const char *sql, int nparams, const char *const *params) PG_WUR;
/* The SQLSTATE of this thread's last failed pg_exec/pg_cmd ("" when none). */
const char *pg_last_sqlstate(void);
/* 1 when the connection is healthy (CONNECTION_OK). */
int pg_conn_ok(PGconn *conn);

/* How a session is opened: every connection the gateway makes goes through pg_connect, so
 * none can hang it: a bounded connect, TCP keepalives and a TCP user timeout (a dead network
 * path is noticed within seconds), and server-side statement and idle-in-transaction
 * timeouts. Zero leaves a setting at libpq's or the server's default. */
struct pg_session_opts {
	const char *application_name;
	long connect_timeout_s;
	long statement_timeout_ms;
	long idle_tx_timeout_ms;
	const char *extra_options; /* more "-c name=value" settings for this session, or NULL */
};

/* Opens a session on conninfo (a conninfo string or URI; its own "options" are kept and ours
 * appended). Always returns a PGconn (NULL only out of memory): check PQstatus and PQfinish
 * it either way, as with PQconnectdbParams. */
PGconn *pg_connect(const char *conninfo, const struct pg_session_opts *o);

/* What this process's connections asked of the database, by the part that asked: every
 * statement pg_exec ran, the round trips they took (a first run on a connection adds the
 * Parse), the transactions pg_tx_run committed, and the statements prepared. */
enum pg_pool { PG_POOL_REQUEST, PG_POOL_DISPATCH, PG_POOL_COUNT };
struct pg_stats {
	unsigned long long statements, round_trips, transactions, prepared;
};
void pg_stats_get(enum pg_pool pool, struct pg_stats *out);
const char *pg_pool_name(enum pg_pool pool);

/* PQfinish, and forgets what was prepared on conn. Every connection pg_exec ran on is closed
 * with it. NULL is ignored. */
void pg_finish(PGconn *conn);

/* Value of row r, column c, or NULL when SQL NULL. Borrowed from res. */
const char *pg_value(const PGresult *res, int r, int c);

#endif
