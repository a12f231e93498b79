/*
 * pg.c: parameterized statements and tenant-scoped transactions on libpq (see pg.h).
 */
#include "pg.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

static _Thread_local char last_sqlstate[6];
/* A transaction's opening held back to go with its first statement (see exec_opened). */
static _Thread_local struct {
	PGconn *conn; /* NULL: nothing held */
	const char *first;
	char tenant[64];
	int failed; /* the last opening sent failed (its transaction or savepoint is not there) */
} held;

static int held_by(const PGconn *conn)
{
	return conn && held.conn == conn;
}

/* ---- the statement registry ----
 *
 * Every statement pg_exec runs is prepared once per connection under a name of its own (a
 * Parse the first time, then only Bind and Execute): PostgreSQL parses and analyses it once
 * and, after a few runs, keeps a generic plan. ccgw's SQL is fixed text with $n parameters,
 * so the text is the key. A connection is known by its PGconn and its backend's process id:
 * a new session behind the same pointer starts with no statements. Each connection is used by
 * one thread at a time; only the table of connections is shared.
 *
 * A statement is prepared again (under a new name, the old one deallocated) at its 64th run on
 * a connection, then at 4 times that, and so on. PostgreSQL keeps a generic plan until the
 * tables' statistics change (ANALYZE, VACUUM), and one made while a table was empty can pick
 * an index by its first column only: measured with bench_ingest on a new database, the
 * conversation's UPDATE by (tenant_id, id) read all of the tenant's conversations through the
 * (tenant_id, channel_id, external_chat_id) index (since 094 led by channel_id) for the whole
 * run, as autovacuum had not yet analyzed the table. Planned again once the table has pages,
 * the estimates see its size (conversation rows read per message in that run: 700 before,
 * 35 after). Without statistics the planner can still choose badly; ANALYZE settles it. */

#define PG_STMTS_MAX     256 /* per connection; past it statements run unnamed */
#define PG_REPREPARE_1ST 64  /* runs of a statement before it is prepared again ... */
#define PG_REPREPARE_MUL 4   /* ... and the factor by which that grows each time */
#define PG_CONNS_MAX 1024

struct pg_stmt {
	uint64_t hash;
	char *sql;
	char name[24];
	unsigned long runs, reprepare_at; /* runs on this connection; when to prepare it again */
};

struct pg_conn_stmts {
	const PGconn *conn;
	int backend_pid;
	enum pg_pool pool;
	struct pg_stmt *stmts; /* open addressing, PG_STMTS_MAX * 2 slots */
	size_t n;
	unsigned long seq;
};

static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pg_conn_stmts *conns[PG_CONNS_MAX];
static size_t nconns;

static struct {
	atomic_ullong statements, round_trips, transactions, prepared;
} pool_stats[PG_POOL_COUNT];

static uint64_t sql_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static enum pg_pool pool_of(PGconn *conn)
{
	const char *app = PQparameterStatus(conn, "application_name");

	if (app && strncmp(app, "ccgw-dispatch", 13) == 0)
		return PG_POOL_DISPATCH;
	return PG_POOL_REQUEST;
}

static void stmts_clear(struct pg_conn_stmts *c)
{
	size_t i;

	for (i = 0; c->stmts && i < PG_STMTS_MAX * 2; i++)
		free(c->stmts[i].sql);
	free(c->stmts);
	c->stmts = NULL;
	c->n = 0;
}

/* The registry entry of conn (made on first use), or NULL when the table is full. */
static struct pg_conn_stmts *conn_stmts(PGconn *conn)
{
	int pid = PQbackendPID(conn);
	struct pg_conn_stmts *c = NULL;
	size_t i;

	pthread_mutex_lock(&conns_lock);
	for (i = 0; i < nconns; i++)
		if (conns[i]->conn == conn) {
			c = conns[i];
			break;
		}
	if (!c && nconns < PG_CONNS_MAX) {
		c = calloc(1, sizeof(*c));
		if (c) {
			c->conn = conn;
			c->backend_pid = -1;
			conns[nconns++] = c;
		}
	}
	pthread_mutex_unlock(&conns_lock);
	if (c && c->backend_pid != pid) { /* a new session: nothing is prepared in it */
		stmts_clear(c);
		c->backend_pid = pid;
		c->pool = pool_of(conn);
	}
	return c;
}

/* Only plain data statements are prepared; transaction control and the like go as they are. */
static int preparable(const char *sql)
{
	static const char *const verbs[] = {"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"};
	size_t i, n;

	while (isspace((unsigned char)*sql))
		sql++;
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		n = strlen(verbs[i]);
		if (strncasecmp(sql, verbs[i], n) == 0 && !isalnum((unsigned char)sql[n]))
			return 1;
	}
	return 0;
}

/* The slot of sql in c: found (*found = 1), or free for it; NULL when c is full. */
static struct pg_stmt *stmt_slot(struct pg_conn_stmts *c, const char *sql, uint64_t h, int *found)
{
	size_t cap = PG_STMTS_MAX * 2, i = (size_t)(h % cap), k;

	*found = 0;
	if (!c->stmts) {
		c->stmts = calloc(cap, sizeof(*c->stmts));
		if (!c->stmts)
			return NULL;
	}
	for (k = 0; k < cap; k++, i = (i + 1) % cap) {
		struct pg_stmt *st = &c->stmts[i];

		if (!st->sql)
			return c->n < PG_STMTS_MAX ? st : NULL;
		if (st->hash == h && strcmp(st->sql, sql) == 0) {
			*found = 1;
			return st;
		}
	}
	return NULL;
}

/* Forgets sql on conn (a failed Parse, or a statement the server no longer has). */
static void stmt_forget(struct pg_conn_stmts *c)
{
	stmts_clear(c); /* open addressing: clearing one slot would break later chains */
}

void pg_finish(PGconn *conn)
{
	struct pg_conn_stmts *c = NULL;
	size_t i;

	if (!conn)
		return;
	if (held_by(conn))
		held.conn = NULL;
	pthread_mutex_lock(&conns_lock);
	for (i = 0; i < nconns; i++)
		if (conns[i]->conn == conn) {
			c = conns[i];
			conns[i] = conns[--nconns];
			break;
		}
	pthread_mutex_unlock(&conns_lock);
	if (c) {
		stmts_clear(c);
		free(c);
	}
	PQfinish(conn);
}

void pg_stats_get(enum pg_pool pool, struct pg_stats *out)
{
	out->statements = atomic_load(&pool_stats[pool].statements);
	out->round_trips = atomic_load(&pool_stats[pool].round_trips);
	out->transactions = atomic_load(&pool_stats[pool].transactions);
	out->prepared = atomic_load(&pool_stats[pool].prepared);
}

const char *pg_pool_name(enum pg_pool pool)
{
	return pool == PG_POOL_DISPATCH ? "dispatch" : "request";
}

/* Prepares st's statement again under a new name and deallocates the old one (see the top of
 * the registry). NULL when done or when nothing was changed; otherwise the failed result (a
 * failed Parse inside a transaction has ended it), st then unchanged. */
static PGresult *stmt_reprepare(struct pg_conn_stmts *c, struct pg_stmt *st, PGconn *conn,
                                const char *sql, int nparams, enum pg_pool pool)
{
	char name[sizeof(st->name)], cmd[sizeof(st->name) + 16];
	PGresult *res;

	st->reprepare_at = st->runs * PG_REPREPARE_MUL;
	snprintf(name, sizeof(name), "ccgw_%lu", ++c->seq);
	res = PQprepare(conn, name, sql, nparams, NULL);
	atomic_fetch_add(&pool_stats[pool].round_trips, 1);
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
		return res;
	PQclear(res);
	atomic_fetch_add(&pool_stats[pool].prepared, 1);
	/* the name is ours (ccgw_ and a number), never outside data */
	snprintf(cmd, sizeof(cmd), "DEALLOCATE %s", st->name);
	snprintf(st->name, sizeof(st->name), "%s", name);
	res = PQexec(conn, cmd);
	atomic_fetch_add(&pool_stats[pool].round_trips, 1);
	if (res && PQresultStatus(res) == PGRES_COMMAND_OK) {
		PQclear(res);
		return NULL;
	}
	return res;
}

/* ---- a transaction's opening, sent with its first statement ----
 *
 * pg_tx_run's BEGIN and pg_savepoint_run's SAVEPOINT, with the tenant's setting, are held
 * back on this thread until the transaction function's first statement, and go with it in one
 * pipeline: one round trip fewer per transaction. A transaction function that runs no
 * statement sends nothing at all. A path that cannot take the opening along sends it alone
 * first (held_open_now). */

static int tx_open(PGconn *conn, const char *first, const char *tenant_id);
static int pipeline_take(PGconn *conn, ExecStatusType ok);
static int held_open_now(PGconn *conn);

static void hold_open(PGconn *conn, const char *first, const char *tenant_id)
{
	/* another connection's transaction on this thread, not yet begun: begun now, so that its
	 * statements still run inside it (one held opening per thread) */
	if (held.conn && held.conn != conn)
		(void)held_open_now(held.conn);
	held.conn = conn;
	held.first = first;
	held.failed = 0;
	snprintf(held.tenant, sizeof(held.tenant), "%s", tenant_id ? tenant_id : "");
}

/* Sends the held opening alone, now; 0 when there was none or it went through. */
static int held_open_now(PGconn *conn)
{
	char tenant[sizeof(held.tenant)];

	if (!held_by(conn))
		return 0;
	held.conn = NULL;
	snprintf(tenant, sizeof(tenant), "%s", held.tenant);
	held.failed = tx_open(conn, held.first, tenant) < 0;
	return held.failed ? -1 : 0;
}

int pg_tx_ready(PGconn *conn)
{
	return held_open_now(conn);
}

/* The held opening, the tenant's setting, prepare (the statement as prep, when set) and the
 * statement (prepared as name, or unnamed when name is NULL) in one pipeline. Returns the
 * statement's result (PGRES_PIPELINE_ABORTED when what went before it failed; the SQLSTATE
 * is then kept), NULL when nothing could be sent. *prepared: the Prepare went through. */
static PGresult *exec_opened(PGconn *conn, const char *prep, const char *name, const char *sql,
                             int nparams, const char *const *params, enum pg_pool pool,
                             int *prepared)
{
	const char *tp[1] = {held.tenant};
	const char *first = held.first;
	PGresult *res = NULL, *extra;
	int rc;

	held.conn = NULL;
	held.failed = 0;
	*prepared = 0;
	atomic_fetch_add(&pool_stats[pool].statements, 2);
	if (PQenterPipelineMode(conn) != 1 ||
	    PQsendQueryParams(conn, first, 0, NULL, NULL, NULL, NULL, 0) != 1 ||
	    PQsendQueryParams(conn, "SELECT set_config('app.tenant_id', $1, true)", 1, NULL, tp,
	                      NULL, NULL, 0) != 1 ||
	    (prep && PQsendPrepare(conn, prep, sql, nparams, NULL) != 1) ||
	    (name ? PQsendQueryPrepared(conn, name, nparams, params, NULL, NULL, 0)
	          : PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0)) != 1 ||
	    PQpipelineSync(conn) != 1) {
		snprintf(last_sqlstate, sizeof(last_sqlstate), "08006");
		log_warn(NULL, "sql failed [08006]: %s", PQerrorMessage(conn));
		held.failed = 1;
	} else {
		rc = pipeline_take(conn, PGRES_COMMAND_OK);
		rc |= pipeline_take(conn, PGRES_TUPLES_OK);
		held.failed = rc != 0;
		if (prep)
			*prepared = pipeline_take(conn, PGRES_COMMAND_OK) == 0;
		res = PQgetResult(conn);
		while ((extra = PQgetResult(conn))) /* the NULL that ends its results */
			PQclear(extra);
		(void)pipeline_take(conn, PGRES_PIPELINE_SYNC);
	}
	if (PQpipelineStatus(conn) != PQ_PIPELINE_OFF && PQexitPipelineMode(conn) != 1)
		log_warn(NULL, "sql: cannot leave pipeline mode: %s", PQerrorMessage(conn));
	return res;
}

/* Runs sql on conn as a named prepared statement (preparing it on this connection's first
 * use), or unnamed when it is not one to keep. */
static PGresult *exec_registered(PGconn *conn, const char *sql, int nparams,
				 const char *const *params)
{
	struct pg_conn_stmts *c = preparable(sql) ? conn_stmts(conn) : NULL;
	struct pg_stmt *st = NULL;
	enum pg_pool pool = c ? c->pool : pool_of(conn);
	uint64_t h = 0;
	int found = 0;
	PGresult *res;

	atomic_fetch_add(&pool_stats[pool].statements, 1);
	atomic_fetch_add(&pool_stats[pool].round_trips, 1);
	if (c) {
		h = sql_hash(sql);
		st = stmt_slot(c, sql, h, &found);
	}
	if (!st)
		return held_by(conn) ? exec_opened(conn, NULL, NULL, sql, nparams, params, pool, &found)
		                     : PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	if (!found) {
		int prepared = 0;

		snprintf(st->name, sizeof(st->name), "ccgw_%lu", ++c->seq);
		if (held_by(conn)) { /* the opening, Prepare and the first run in one round trip */
			res = exec_opened(conn, st->name, st->name, sql, nparams, params, pool,
			                  &prepared);
			if (!prepared)
				return res; /* the caller reports it; nothing was kept */
		} else {
			res = PQprepare(conn, st->name, sql, nparams, NULL);
			atomic_fetch_add(&pool_stats[pool].round_trips, 1);
			if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
				return res; /* the caller reports it; nothing was kept */
			PQclear(res);
			res = NULL;
		}
		st->sql = strdup(sql);
		if (!st->sql) {
			PQclear(PQexec(conn, "DEALLOCATE ALL"));
			stmts_clear(c);
			return res ? res : PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
		}
		st->hash = h;
		st->runs = 0;
		st->reprepare_at = PG_REPREPARE_1ST;
		c->n++;
		atomic_fetch_add(&pool_stats[pool].prepared, 1);
		if (res) {
			st->runs++;
			return res;
		}
	} else if (st->runs >= st->reprepare_at && PQtransactionStatus(conn) != PQTRANS_INERROR) {
		/* a transaction's first statement goes with its held opening: that is sent alone
		 * first (once per preparation), or a statement that always comes first, as the
		 * turn's opening statement does, would never be prepared again */
		if (held_open_now(conn) < 0)
			return NULL; /* the caller reports it (the SQLSTATE is kept) */
		res = stmt_reprepare(c, st, conn, sql, nparams, pool);
		if (res)
			return res; /* the error that ended the transaction; the old one is kept */
	}
	st->runs++;
	if (held_by(conn)) {
		int unused;

		return exec_opened(conn, NULL, st->name, sql, nparams, params, pool, &unused);
	}
	res = PQexecPrepared(conn, st->name, nparams, params, NULL, NULL, 0);
	if (res && PQresultStatus(res) == PGRES_FATAL_ERROR) {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		if (state && strcmp(state, "26000") == 0) /* the session lost its statements */
			stmt_forget(c);
	}
	return res;
}

const char *pg_last_sqlstate(void)
{
	return last_sqlstate;
}

int pg_conn_ok(PGconn *conn)
{
	return conn && PQstatus(conn) == CONNECTION_OK;
}

const char *pg_value(const PGresult *res, int r, int c)
{
	if (PQgetisnull(res, r, c))
		return NULL;
	return PQgetvalue(res, r, c);
}

PGconn *pg_connect(const char *conninfo, const struct pg_session_opts *o)
{
	char options[1024], connect_timeout[24], *perr = NULL;
	const char *keys[12], *vals[12];
	PQconninfoOption *parsed = PQconninfoParse(conninfo ? conninfo : "", &perr), *p;
	size_t n = 0, k = 0;
	PGconn *c;

	options[0] = '\0';
	for (p = parsed; p && p->keyword; p++)
		if (strcmp(p->keyword, "options") == 0 && p->val)
			n = (size_t)snprintf(options, sizeof(options), "%s ", p->val);
	PQconninfoFree(parsed);
	PQfreemem(perr);
	if (n >= sizeof(options))
		n = sizeof(options) - 1;
	n += (size_t)snprintf(options + n, sizeof(options) - n, "-c client_min_messages=warning");
	if (o->statement_timeout_ms > 0 && n < sizeof(options))
		n += (size_t)snprintf(options + n, sizeof(options) - n, " -c statement_timeout=%ld",
				      o->statement_timeout_ms);
	if (o->idle_tx_timeout_ms > 0 && n < sizeof(options))
		n += (size_t)snprintf(options + n, sizeof(options) - n,
				      " -c idle_in_transaction_session_timeout=%ld", o->idle_tx_timeout_ms);
	if (o->extra_options && n < sizeof(options))
		snprintf(options + n, sizeof(options) - n, " %s", o->extra_options);
	snprintf(connect_timeout, sizeof(connect_timeout), "%ld",
		 o->connect_timeout_s > 0 ? o->connect_timeout_s : 10);

	/* the conninfo first (expand_dbname), then ours override it */
	keys[k] = "dbname", vals[k++] = conninfo ? conninfo : "";
	keys[k] = "connect_timeout", vals[k++] = connect_timeout;
	keys[k] = "application_name", vals[k++] = o->application_name ? o->application_name : "ccgw";
	keys[k] = "options", vals[k++] = options;
	keys[k] = "keepalives", vals[k++] = "1";
	keys[k] = "keepalives_idle", vals[k++] = "10";
	keys[k] = "keepalives_interval", vals[k++] = "5";
	keys[k] = "keepalives_count", vals[k++] = "3";
	keys[k] = "tcp_user_timeout", vals[k++] = "15000";
	keys[k] = NULL, vals[k] = NULL;
	c = PQconnectdbParams(keys, vals, 1);
	return c;
}

PGresult *pg_exec(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	PGresult *res;
	ExecStatusType st;
	const char *state;

	last_sqlstate[0] = '\0';
	res = exec_registered(conn, sql, nparams, params);
	st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return res;
	state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (state) {
		strncpy(last_sqlstate, state, sizeof(last_sqlstate) - 1);
		last_sqlstate[sizeof(last_sqlstate) - 1] = '\0';
	} else if (!pg_conn_ok(conn)) {
		strcpy(last_sqlstate, "08006"); /* connection failure */
	}
	/* constraint violations and serialization failures are expected outcomes for callers */
	if (strncmp(last_sqlstate, "23", 2) == 0 || strcmp(last_sqlstate, "40001") == 0 ||
	    strcmp(last_sqlstate, "40P01") == 0 || strcmp(last_sqlstate, "55P03") == 0)
		log_debug(NULL, "sql: %s [%s]", PQerrorMessage(conn), last_sqlstate);
	else
		log_warn(NULL, "sql failed [%s]: %s", last_sqlstate,
			 res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
	PQclear(res);
	return NULL;
}

int pg_cmd(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	PGresult *res = pg_exec(conn, sql, nparams, params);

	if (!res)
		return -1;
	PQclear(res);
	return 0;
}

static int sqlstate_retryable(const char *s)
{
	return strcmp(s, "40001") == 0 || strcmp(s, "40P01") == 0;
}

/* Errors that say the database could not take the work now, not that the work is wrong: a
 * statement or lock timeout, a server shutting down, out of resources, a lost connection. */
static int sqlstate_transient(const char *s)
{
	return strcmp(s, "57014") == 0 || strcmp(s, "55P03") == 0 || strncmp(s, "57P", 3) == 0 ||
	       strncmp(s, "53", 2) == 0 || strncmp(s, "08", 2) == 0 || strcmp(s, "25P03") == 0;
}

static void rollback(PGconn *conn)
{
	PGresult *res;

	if (held_by(conn)) { /* nothing was sent: there is nothing to roll back */
		held.conn = NULL;
		return;
	}
	res = PQexec(conn, "ROLLBACK");
	PQclear(res);
}

/* Takes one result of a pipeline; 0 when its status is ok, else -1 with the SQLSTATE kept. */
static int pipeline_take(PGconn *conn, ExecStatusType ok)
{
	PGresult *res = PQgetResult(conn), *extra;
	int rc = res && PQresultStatus(res) == ok ? 0 : -1;

	if (rc < 0 && last_sqlstate[0] == '\0') {
		const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

		snprintf(last_sqlstate, sizeof(last_sqlstate), "%s",
			 state ? state : pg_conn_ok(conn) ? "XX000" : "08006");
		if (!res || PQresultStatus(res) != PGRES_PIPELINE_ABORTED)
			log_warn(NULL, "sql failed [%s]: %s", last_sqlstate,
				 res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
	}
	PQclear(res);
	if (ok != PGRES_PIPELINE_SYNC)
		while ((extra = PQgetResult(conn))) /* the NULL that ends a statement's results */
			PQclear(extra);
	return rc;
}

/* first (BEGIN, SAVEPOINT) and the tenant's setting in one round trip (libpq's pipeline mode). */
static int tx_open(PGconn *conn, const char *first, const char *tenant_id)
{
	const char *params[1] = {tenant_id ? tenant_id : ""};
	enum pg_pool pool = pool_of(conn);
	int rc = 0;

	last_sqlstate[0] = '\0';
	atomic_fetch_add(&pool_stats[pool].statements, 2);
	atomic_fetch_add(&pool_stats[pool].round_trips, 1);
	if (PQenterPipelineMode(conn) != 1 ||
	    PQsendQueryParams(conn, first, 0, NULL, NULL, NULL, NULL, 0) != 1 ||
	    PQsendQueryParams(conn, "SELECT set_config('app.tenant_id', $1, true)", 1, NULL,
			      params, NULL, NULL, 0) != 1 ||
	    PQpipelineSync(conn) != 1) {
		snprintf(last_sqlstate, sizeof(last_sqlstate), "08006");
		log_warn(NULL, "sql failed [08006]: %s", PQerrorMessage(conn));
		rc = -1;
	} else {
		rc |= pipeline_take(conn, PGRES_COMMAND_OK);
		rc |= pipeline_take(conn, PGRES_TUPLES_OK);
		rc |= pipeline_take(conn, PGRES_PIPELINE_SYNC);
	}
	if (PQpipelineStatus(conn) != PQ_PIPELINE_OFF && PQexitPipelineMode(conn) != 1) {
		log_warn(NULL, "sql: cannot leave pipeline mode: %s", PQerrorMessage(conn));
		rc = -1;
	}
	return rc;
}

/* COMMIT; -1 also when the server rolled the transaction back instead (it was in an
 * aborted state: a statement failed that its caller did not see fail). */
static _Thread_local int64_t commit_us;

int64_t pg_take_commit_us(void)
{
	int64_t us = commit_us;

	commit_us = 0;
	return us;
}

/* ---- statements left to the COMMIT (pg_defer) ----
 *
 * A transaction function may leave statements to its transaction's end: they are sent with
 * the COMMIT in one pipeline (one round trip), each tenant's after its setting. For a
 * statement that takes rows every writer of its tenant queues for (an order's stock and
 * counter, commerce/engine_place.c): they are then held only for that round trip; for a
 * statement whose answer nothing waits for (a turn's writing statement,
 * commerce/conversation.c): one round trip less. They are sent in tenant order, so that two
 * transactions take such rows of several tenants in one order (within a tenant, in the order
 * they were left; the statements take their rows in an order of their own). A tenant's
 * statements left with pg_defer_batched and one batch statement (a group transaction's turn
 * endings) go as that one statement, with arrays of their parameters (deferred_batch): a
 * statement costs PostgreSQL its set-up whatever it writes (docs/PERFORMANCE.md). */
#define PG_DEFER_MAX 48

struct pg_deferred {
	char tenant[64];
	char name[24]; /* its prepared statement's, or "" to send it unnamed */
	const char *sql;
	int nparams;
	char **params;
	pg_defer_done_fn done;
	void *arg;   /* free()d with the entry */
	char *value; /* its first row's first column, once run */
	int seq;     /* the order it was left in */
	const char *batch_sql; /* pg_defer_batched's, or NULL */
	int key;               /* the parameter no two of a batch share */
	int in_batch;          /* sent in an earlier entry's batch */
	char **batch;          /* the first of a batch: its parameters, arrays of the batch's */
};

static _Thread_local struct pg_deferred deferred[PG_DEFER_MAX];
static _Thread_local int ndeferred, defer_ok;

static void deferred_drop(int from)
{
	int i;

	while (ndeferred > from) {
		struct pg_deferred *d = &deferred[--ndeferred];

		for (i = 0; d->params && i < d->nparams; i++)
			free(d->params[i]);
		free(d->params);
		for (i = 0; d->batch && i < d->nparams; i++)
			free(d->batch[i]);
		free(d->batch);
		free(d->arg);
		free(d->value);
		memset(d, 0, sizeof(*d));
	}
}

static int defer_add(const char *tenant_id, const char *sql, const char *batch_sql, int key,
		     int nparams, const char *const *params, pg_defer_done_fn done, void *arg)
{
	struct pg_deferred *d;
	int i;

	if (!defer_ok || ndeferred >= PG_DEFER_MAX || !tenant_id ||
	    strlen(tenant_id) >= sizeof(d->tenant))
		return 0;
	d = &deferred[ndeferred];
	memset(d, 0, sizeof(*d));
	d->params = calloc((size_t)nparams + 1, sizeof(*d->params));
	if (!d->params)
		return -1;
	for (i = 0; i < nparams; i++)
		if (params[i] && !(d->params[i] = strdup(params[i]))) {
			while (i-- > 0)
				free(d->params[i]);
			free(d->params);
			memset(d, 0, sizeof(*d));
			return -1;
		}
	snprintf(d->tenant, sizeof(d->tenant), "%s", tenant_id);
	d->sql = sql;
	d->nparams = nparams;
	d->done = done;
	d->arg = arg;
	d->seq = ndeferred;
	d->batch_sql = batch_sql;
	d->key = key;
	ndeferred++;
	return 1;
}

int pg_defer(const char *tenant_id, const char *sql, int nparams, const char *const *params,
	     pg_defer_done_fn done, void *arg)
{
	return defer_add(tenant_id, sql, NULL, 0, nparams, params, done, arg);
}

int pg_defer_batched(const char *tenant_id, const char *sql, const char *batch_sql, int key,
		     int nparams, const char *const *params)
{
	if (key < 0 || key >= nparams)
		return -1;
	return defer_add(tenant_id, sql, batch_sql, key, nparams, params, NULL, NULL);
}

static int deferred_cmp(const void *a, const void *b)
{
	const struct pg_deferred *x = a, *y = b;
	int c = strcmp(x->tenant, y->tenant);

	return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

/* The values as a PostgreSQL array literal ({"a","b\"c",NULL}): heap, NULL out of memory. */
static char *array_literal(const char *const *values, int n)
{
	size_t len = 3;
	char *out, *o;
	int i;

	for (i = 0; i < n; i++)
		len += values[i] ? 2 * strlen(values[i]) + 3 : 5;
	out = o = malloc(len);
	if (!out)
		return NULL;
	*o++ = '{';
	for (i = 0; i < n; i++) {
		const char *v = values[i];

		if (i)
			*o++ = ',';
		if (!v) {
			memcpy(o, "NULL", 4);
			o += 4;
			continue;
		}
		*o++ = '"';
		for (; *v; v++) {
			if (*v == '"' || *v == '\\')
				*o++ = '\\';
			*o++ = *v;
		}
		*o++ = '"';
	}
	*o++ = '}';
	*o = '\0';
	return out;
}

/* Gathers each tenant's pg_defer_batched statements of one batch_sql (deferred is in tenant
 * order) into the first of them: its batch, the arrays of their parameters; the others are
 * then in_batch. A key already in the batch leaves its statement out (it runs on its own,
 * after the batch). 0, or -1 out of memory (nothing is then batched). */
static int deferred_batch(void)
{
	const char *vals[PG_DEFER_MAX];
	int members[PG_DEFER_MAX];
	int i, j, k, n, p;

	for (i = 0; i < ndeferred; i++) {
		struct pg_deferred *d = &deferred[i];

		if (!d->batch_sql || d->in_batch)
			continue;
		members[0] = i;
		n = 1;
		for (j = i + 1; j < ndeferred && strcmp(deferred[j].tenant, d->tenant) == 0; j++) {
			const struct pg_deferred *e = &deferred[j];
			int dup = 0;

			if (!e->batch_sql || strcmp(e->batch_sql, d->batch_sql) != 0 || e->in_batch ||
			    e->nparams != d->nparams)
				continue;
			for (k = 0; k < n && !dup; k++) {
				const char *a = deferred[members[k]].params[d->key];
				const char *b = e->params[d->key];

				dup = a && b ? strcmp(a, b) == 0 : a == b;
			}
			if (!dup)
				members[n++] = j;
		}
		if (n < 2)
			continue;
		d->batch = calloc((size_t)d->nparams + 1, sizeof(*d->batch));
		for (p = 0; d->batch && p < d->nparams; p++) {
			for (k = 0; k < n; k++)
				vals[k] = deferred[members[k]].params[p];
			if (!(d->batch[p] = array_literal(vals, n)))
				goto oom;
		}
		if (!d->batch)
			goto oom;
		for (k = 1; k < n; k++)
			deferred[members[k]].in_batch = 1;
	}
	return 0;
oom:
	for (i = 0; i < ndeferred; i++) {
		for (p = 0; deferred[i].batch && p < deferred[i].nparams; p++)
			free(deferred[i].batch[p]);
		free(deferred[i].batch);
		deferred[i].batch = NULL;
		deferred[i].in_batch = 0;
	}
	return -1;
}

/* The name sql is prepared under on conn (preparing it now when it is not yet), in out; ""
 * when it is not kept (it is then sent unnamed). */
static void stmt_name_prepared(PGconn *conn, const char *sql, int nparams, char *out, size_t len)
{
	struct pg_conn_stmts *c = conn_stmts(conn);
	struct pg_stmt *st;
	uint64_t h = sql_hash(sql);
	int found = 0;
	PGresult *res;

	out[0] = '\0';
	st = c ? stmt_slot(c, sql, h, &found) : NULL;
	if (!st)
		return;
	if (!found) {
		snprintf(st->name, sizeof(st->name), "ccgw_%lu", ++c->seq);
		res = PQprepare(conn, st->name, sql, nparams, NULL);
		atomic_fetch_add(&pool_stats[c->pool].round_trips, 1);
		if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
			PQclear(res); /* the pipeline's statement will fail and say why */
			return;
		}
		PQclear(res);
		st->sql = strdup(sql);
		if (!st->sql) {
			PQclear(PQexec(conn, "DEALLOCATE ALL"));
			stmts_clear(c);
			return;
		}
		st->hash = h;
		st->runs = 0;
		st->reprepare_at = PG_REPREPARE_1ST;
		c->n++;
		atomic_fetch_add(&pool_stats[c->pool].prepared, 1);
	}
	st->runs++;
	snprintf(out, len, "%s", st->name);
}

/* Takes a deferred statement's result: 0 and its first value kept, or -1 (pipeline_take's). */
static int pipeline_take_value(PGconn *conn, struct pg_deferred *d)
{
	PGresult *res = PQgetResult(conn), *extra;
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	int rc = st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK ? 0 : -1;

	if (rc == 0 && PQntuples(res) > 0 && PQnfields(res) > 0 && !PQgetisnull(res, 0, 0))
		d->value = strdup(PQgetvalue(res, 0, 0));
	if (rc < 0 && last_sqlstate[0] == '\0') {
		const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

		snprintf(last_sqlstate, sizeof(last_sqlstate), "%s",
			 state ? state : pg_conn_ok(conn) ? "XX000" : "08006");
		if (strcmp(last_sqlstate, "40001") == 0 || strcmp(last_sqlstate, "40P01") == 0 ||
		    strcmp(last_sqlstate, "55P03") == 0)
			log_debug(NULL, "sql: %s [%s]", res ? PQresultErrorMessage(res) : "",
				  last_sqlstate);
		else if (st != PGRES_PIPELINE_ABORTED)
			log_warn(NULL, "sql failed [%s]: %s", last_sqlstate,
				 res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
	}
	PQclear(res);
	while ((extra = PQgetResult(conn)))
		PQclear(extra);
	return rc;
}

/* first (NULL for none: a fixed statement without parameters, a SET LOCAL), the deferred
 * statements, each tenant's after its setting, and COMMIT, in one round trip (pipeline mode).
 * 0, or -1 when anything failed or the server answered the COMMIT with ROLLBACK. The deferred
 * statements' callbacks run only after the COMMIT; every deferred statement is dropped. */
static int commit_pipeline(PGconn *conn, const char *first)
{
	int64_t t0;
	enum pg_pool pool = pool_of(conn);
	PGresult *res;
	int i, rc = 0, ok = 0, sent = 1, settings = 0, nsent = 0;
	char set_here[PG_DEFER_MAX]; /* deferred[i] is sent after its tenant's setting */

	last_sqlstate[0] = '\0';
	if (held_by(conn)) { /* the last function ran no statement */
		if (strcmp(held.first, "BEGIN") != 0)
			held.conn = NULL; /* a savepoint with nothing in it */
		else if (held_open_now(conn) < 0)
			return -1;
	}
	qsort(deferred, (size_t)ndeferred, sizeof(deferred[0]), deferred_cmp);
	if (deferred_batch() < 0)
		log_warn(NULL, "sql: out of memory: the deferred statements go one by one");
	for (i = 0; i < ndeferred; i++) {
		/* one setting for a run of one tenant's statements (the first is never in_batch) */
		set_here[i] = i == 0 || strcmp(deferred[i].tenant, deferred[i - 1].tenant) != 0;
		settings += set_here[i];
		if (deferred[i].in_batch)
			continue;
		stmt_name_prepared(conn, deferred[i].batch ? deferred[i].batch_sql : deferred[i].sql,
				   deferred[i].nparams, deferred[i].name, sizeof(deferred[i].name));
		nsent++;
	}
	t0 = util_now_us();
	atomic_fetch_add(&pool_stats[pool].statements,
			 (unsigned long long)(1 + (first ? 1 : 0) + settings + nsent));
	atomic_fetch_add(&pool_stats[pool].round_trips, 1);
	if (PQenterPipelineMode(conn) != 1 ||
	    (first && PQsendQueryParams(conn, first, 0, NULL, NULL, NULL, NULL, 0) != 1))
		sent = 0;
	for (i = 0; sent && i < ndeferred; i++) {
		struct pg_deferred *d = &deferred[i];
		const char *tp[1] = {d->tenant};
		const char *const *params = (const char *const *)(d->batch ? d->batch : d->params);

		if ((set_here[i] &&
		     PQsendQueryParams(conn, "SELECT set_config('app.tenant_id', $1, true)", 1,
				       NULL, tp, NULL, NULL, 0) != 1) ||
		    (!d->in_batch &&
		     (d->name[0] ? PQsendQueryPrepared(conn, d->name, d->nparams, params, NULL,
						       NULL, 0)
				 : PQsendQueryParams(conn, d->batch ? d->batch_sql : d->sql,
						     d->nparams, NULL, params, NULL, NULL, 0)) != 1))
			sent = 0;
	}
	if (sent && (PQsendQueryParams(conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) != 1 ||
		     PQpipelineSync(conn) != 1))
		sent = 0;
	if (!sent) {
		snprintf(last_sqlstate, sizeof(last_sqlstate), "08006");
		log_warn(NULL, "sql failed [08006]: %s", PQerrorMessage(conn));
		rc = -1;
	} else {
		if (first)
			rc |= pipeline_take(conn, PGRES_COMMAND_OK);
		for (i = 0; i < ndeferred; i++) {
			if (set_here[i])
				rc |= pipeline_take(conn, PGRES_TUPLES_OK);
			if (!deferred[i].in_batch)
				rc |= pipeline_take_value(conn, &deferred[i]);
		}
		res = PQgetResult(conn); /* COMMIT's: "ROLLBACK" when the transaction had failed */
		ok = res && PQresultStatus(res) == PGRES_COMMAND_OK &&
		     strcmp(PQcmdStatus(res), "COMMIT") == 0;
		if (!ok && last_sqlstate[0] == '\0') {
			snprintf(last_sqlstate, sizeof(last_sqlstate), "25P02");
			log_warn(NULL, "sql: COMMIT answered %s: the transaction had failed",
				 res ? PQcmdStatus(res) : "nothing");
		}
		PQclear(res);
		while ((res = PQgetResult(conn))) /* the NULL that ends COMMIT's results */
			PQclear(res);
		rc |= ok ? 0 : -1;
		rc |= pipeline_take(conn, PGRES_PIPELINE_SYNC);
	}
	if (PQpipelineStatus(conn) != PQ_PIPELINE_OFF && PQexitPipelineMode(conn) != 1) {
		log_warn(NULL, "sql: cannot leave pipeline mode: %s", PQerrorMessage(conn));
		rc = -1;
	}
	commit_us += util_now_us() - t0;
	for (i = 0; rc == 0 && i < ndeferred; i++)
		if (deferred[i].done)
			deferred[i].done(deferred[i].value, deferred[i].arg);
	deferred_drop(0);
	return rc;
}

static int commit(PGconn *conn)
{
	int64_t t0;
	PGresult *res;
	int ok;

	if (ndeferred > 0) /* the deferred statements and COMMIT in one round trip */
		return commit_pipeline(conn, NULL);
	if (held_by(conn)) { /* the function ran no statement: nothing was begun */
		held.conn = NULL;
		return 0;
	}
	t0 = util_now_us();
	res = pg_exec(conn, "COMMIT", 0, NULL);
	ok = res && strcmp(PQcmdStatus(res), "COMMIT") == 0;
	commit_us += util_now_us() - t0;

	if (res && !ok) {
		snprintf(last_sqlstate, sizeof(last_sqlstate), "25P02");
		log_warn(NULL, "sql: COMMIT answered %s: the transaction had failed", PQcmdStatus(res));
	}
	PQclear(res);
	return ok ? 0 : -1;
}

int pg_tx_run(PGconn *conn, const char *tenant_id, pg_tx_fn fn, void *arg)
{
	int attempt, rc = PG_ERR_QUERY;

	for (attempt = 0; attempt < 4; attempt++) {
		if (!pg_conn_ok(conn))
			return PG_ERR_UNAVAILABLE;
		hold_open(conn, "BEGIN", tenant_id); /* sent with fn's first statement */
		deferred_drop(0);
		defer_ok = 1;
		rc = fn(conn, arg);
		defer_ok = 0;
		if (rc < 0)
			goto failed;
		if (commit(conn) < 0) {
			rc = PG_ERR_QUERY;
			goto failed;
		}
		atomic_fetch_add(&pool_stats[pool_of(conn)].transactions, 1);
		return 0;
failed:
		deferred_drop(0);
		if (!pg_conn_ok(conn))
			return PG_ERR_UNAVAILABLE;
		rollback(conn);
		if (sqlstate_transient(last_sqlstate))
			return PG_ERR_UNAVAILABLE;
		if (!sqlstate_retryable(last_sqlstate))
			return rc == PG_ERR_QUERY || rc == -1 ? PG_ERR_QUERY : rc;
		rc = PG_ERR_RETRY;
	}
	return rc;
}

int pg_tx_rehearse(PGconn *conn, const char *tenant_id, pg_tx_fn fn, void *arg)
{
	int rc;

	if (!pg_conn_ok(conn) || tx_open(conn, "BEGIN", tenant_id) < 0) {
		if (pg_conn_ok(conn) && PQtransactionStatus(conn) != PQTRANS_IDLE)
			rollback(conn);
		return PG_ERR_UNAVAILABLE;
	}
	deferred_drop(0);
	rc = fn(conn, arg); /* defer_ok stays 0: what would wait for the COMMIT runs now */
	if (pg_conn_ok(conn))
		rollback(conn);
	return rc;
}

PGresult *pg_exec_tx(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	PGresult *res = NULL;
	int attempt;

	for (attempt = 0; attempt < 4 && !res; attempt++) {
		res = pg_exec(conn, sql, nparams, params);
		if (!res && (!pg_conn_ok(conn) || !sqlstate_retryable(last_sqlstate)))
			break;
	}
	if (res)
		atomic_fetch_add(&pool_stats[pool_of(conn)].transactions, 1);
	return res;
}

static _Thread_local int hot_locks;

void pg_note_hot_locks(void)
{
	hot_locks = 1;
}

int pg_take_hot_locks(void)
{
	int h = hot_locks;

	hot_locks = 0;
	return h;
}

/* Each caller's savepoint is left open when it succeeds (a RELEASE would be one more round
 * trip): the next one nests in it, and ROLLBACK TO names the newest, so a failure still
 * undoes only its own caller's work. */
int pg_savepoint_run(PGconn *conn, const char *tenant_id, pg_tx_fn fn, void *arg, int *broken)
{
	int rc;

	int mark = ndeferred;

	*broken = 0;
	hold_open(conn, "SAVEPOINT ccgw_group", tenant_id); /* sent with fn's first statement */
	defer_ok = 1;
	rc = fn(conn, arg);
	defer_ok = 0;
	if (held_by(conn)) /* fn ran no statement: no savepoint was made, nothing to undo */
		held.conn = NULL;
	else if (rc < 0 && held.failed)
		*broken = 1; /* the savepoint itself failed: ROLLBACK TO would undo another's */
	if (rc >= 0)
		return rc;
	deferred_drop(mark); /* what it left to the COMMIT goes with its savepoint */
	if (!*broken && (!pg_conn_ok(conn) || PQpipelineStatus(conn) != PQ_PIPELINE_OFF ||
	                 pg_cmd(conn, "ROLLBACK TO SAVEPOINT ccgw_group", 0, NULL) < 0))
		*broken = 1; /* the transaction cannot go on */
	return rc;
}

int pg_begin(PGconn *conn)
{
	return pg_cmd(conn, "BEGIN", 0, NULL);
}

int pg_commit_after(PGconn *conn, const char *first)
{
	if (commit_pipeline(conn, first) < 0) {
		if (pg_conn_ok(conn) && PQpipelineStatus(conn) == PQ_PIPELINE_OFF &&
		    PQtransactionStatus(conn) != PQTRANS_IDLE)
			rollback(conn);
		return -1;
	}
	atomic_fetch_add(&pool_stats[pool_of(conn)].transactions, 1);
	return 0;
}

int pg_commit(PGconn *conn)
{
	if (commit(conn) < 0) {
		if (pg_conn_ok(conn) && PQtransactionStatus(conn) != PQTRANS_IDLE)
			rollback(conn);
		return -1;
	}
	atomic_fetch_add(&pool_stats[pool_of(conn)].transactions, 1);
	return 0;
}

void pg_rollback(PGconn *conn)
{
	deferred_drop(0);
	if (pg_conn_ok(conn) && PQtransactionStatus(conn) != PQTRANS_IDLE)
		rollback(conn);
}
