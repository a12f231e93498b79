/*
 * db.c: the pool of application-role connections used by the request workers. Connections
 * open lazily, a broken one is replaced on the next acquire, so the gateway rides out a
 * database restart: requests meanwhile get 503 and nothing crashes. A watchdog thread cuts
 * a connection held past the hold limit (a database that stopped answering), so no worker
 * waits on it for ever.
 */
#include "db.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"
#include "pg.h"
#include "util.h"

#define DB_WATCH_MS 200

struct db_slot {
	PGconn *conn;
	int busy;
	int64_t since_ms; /* when it was borrowed */
	int cut;          /* the watchdog shut its socket down */
};

struct db_pool {
	pthread_mutex_t lock;
	pthread_cond_t freed;
	pthread_cond_t quit_cond;
	char *conninfo;
	struct pg_session_opts opts;
	int size;
	int in_use;
	struct db_slot *slots;
	long hold_ms;
	pthread_t watchdog;
	int has_watchdog;
	int quit;
	unsigned long long cuts;
};

static void abs_deadline(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Shuts down the socket of every connection held past the limit. shutdown() (not close())
 * under the pool lock: the descriptor stays the connection's until its owner pg_finish()es it,
 * which happens under the same lock or after the slot is handed back. */
static void *db_watchdog_main(void *arg)
{
	struct db_pool *p = arg;
	struct timespec ts;
	int i;

	pthread_mutex_lock(&p->lock);
	while (!p->quit) {
		int64_t now = util_now_ms();

		for (i = 0; i < p->size; i++) {
			struct db_slot *s = &p->slots[i];

			if (!s->busy || s->cut || !s->conn || now - s->since_ms < p->hold_ms)
				continue;
			if (PQsocket(s->conn) >= 0)
				shutdown(PQsocket(s->conn), SHUT_RDWR);
			s->cut = 1;
			p->cuts++;
			log_warn(NULL, "database: a request held its connection for %lld ms (limit %ld): "
				       "connection cut, the database is not answering",
				 (long long)(now - s->since_ms), p->hold_ms);
		}
		abs_deadline(&ts, DB_WATCH_MS);
		pthread_cond_timedwait(&p->quit_cond, &p->lock, &ts);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct db_pool *db_pool_new(const char *conninfo, int size, const struct pg_session_opts *opts,
			    long hold_ms)
{
	struct db_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->conninfo = strdup(conninfo);
	p->slots = calloc((size_t)size, sizeof(*p->slots));
	if (!p->conninfo || !p->slots) {
		free(p->conninfo);
		free(p->slots);
		free(p);
		return NULL;
	}
	p->opts = *opts;
	p->size = size;
	p->hold_ms = hold_ms;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->freed, NULL);
	pthread_cond_init(&p->quit_cond, NULL);
	if (hold_ms > 0) {
		if (pthread_create(&p->watchdog, NULL, db_watchdog_main, p) != 0) {
			db_pool_free(p);
			return NULL;
		}
		p->has_watchdog = 1;
	}
	return p;
}

void db_pool_free(struct db_pool *p)
{
	int i;

	if (!p)
		return;
	if (p->has_watchdog) {
		pthread_mutex_lock(&p->lock);
		p->quit = 1;
		pthread_cond_signal(&p->quit_cond);
		pthread_mutex_unlock(&p->lock);
		pthread_join(p->watchdog, NULL);
	}
	for (i = 0; i < p->size; i++)
		pg_finish(p->slots[i].conn);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->freed);
	pthread_cond_destroy(&p->quit_cond);
	free(p->slots);
	free(p->conninfo);
	free(p);
}

unsigned long long db_pool_cut_count(struct db_pool *p)
{
	unsigned long long n;

	pthread_mutex_lock(&p->lock);
	n = p->cuts;
	pthread_mutex_unlock(&p->lock);
	return n;
}

int db_role_check(PGconn *conn, char *err, size_t errlen)
{
	PGresult *res = pg_exec(
	    conn,
	    "SELECT current_user, r.rolsuper, r.rolbypassrls,"
	    " (SELECT string_agg(c.relname, ', ' ORDER BY c.relname) FROM ("
	    "   SELECT c.relname FROM pg_catalog.pg_class c"
	    "   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	    "   WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
	    "     AND pg_catalog.pg_has_role(current_user, c.relowner, 'MEMBER')"
	    "   ORDER BY c.relname LIMIT 3) c)"
	    " FROM pg_catalog.pg_roles r WHERE r.rolname = current_user",
	    0, NULL);
	const char *owned;
	int rc = 0;

	if (!res || PQntuples(res) != 1) {
		PQclear(res);
		snprintf(err, errlen, "the database role could not be checked");
		return PG_ERR_UNAVAILABLE;
	}
	owned = pg_value(res, 0, 3);
	if (strcmp(PQgetvalue(res, 0, 1), "t") == 0) {
		snprintf(err, errlen, "the database role %s is a superuser", PQgetvalue(res, 0, 0));
		rc = -1;
	} else if (strcmp(PQgetvalue(res, 0, 2), "t") == 0) {
		snprintf(err, errlen, "the database role %s has BYPASSRLS", PQgetvalue(res, 0, 0));
		rc = -1;
	} else if (owned) {
		snprintf(err, errlen, "the database role %s owns tables (%s...): it is the owner role",
			 PQgetvalue(res, 0, 0), owned);
		rc = -1;
	}
	PQclear(res);
	return rc;
}

static PGconn *db_connect(struct db_pool *p)
{
	PGconn *c = pg_connect(p->conninfo, &p->opts);
	char err[256];

	if (PQstatus(c) != CONNECTION_OK) {
		log_warn(NULL, "database connection failed: %s", c ? PQerrorMessage(c) : "out of memory");
		pg_finish(c);
		return NULL;
	}
	/* every new session, not only the first: the URL may point elsewhere after a failover */
	if (db_role_check(c, err, sizeof(err)) != 0) {
		log_error(NULL, "database: %s; row-level security would not hold: use the "
				"application role (CCGW_DATABASE_URL, NOSUPERUSER NOBYPASSRLS)", err);
		pg_finish(c);
		return NULL;
	}
	return c;
}

PGconn *db_pool_acquire(struct db_pool *p, int timeout_ms)
{
	struct timespec deadline;
	struct db_slot *slot = NULL;
	int i;

	abs_deadline(&deadline, timeout_ms);
	pthread_mutex_lock(&p->lock);
	for (;;) {
		for (i = 0; i < p->size; i++) {
			if (!p->slots[i].busy) {
				slot = &p->slots[i];
				break;
			}
		}
		if (slot)
			break;
		if (pthread_cond_timedwait(&p->freed, &p->lock, &deadline) == ETIMEDOUT) {
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
	}
	slot->busy = 1;
	slot->cut = 0;
	slot->since_ms = util_now_ms();
	p->in_use++;
	/* a broken connection is closed under the lock (the watchdog reads slot->conn) */
	if (slot->conn && PQstatus(slot->conn) != CONNECTION_OK) {
		pg_finish(slot->conn);
		slot->conn = NULL;
	}
	pthread_mutex_unlock(&p->lock);

	/* connect or repair outside the lock */
	if (slot->conn && PQtransactionStatus(slot->conn) != PQTRANS_IDLE) {
		PQclear(PQexec(slot->conn, "ROLLBACK"));
	}
	if (!slot->conn) {
		PGconn *c = db_connect(p);

		pthread_mutex_lock(&p->lock);
		slot->conn = c;
		slot->since_ms = util_now_ms(); /* the hold starts when the borrower gets it */
		pthread_mutex_unlock(&p->lock);
	}
	if (!slot->conn) {
		pthread_mutex_lock(&p->lock);
		slot->busy = 0;
		p->in_use--;
		pthread_cond_signal(&p->freed);
		pthread_mutex_unlock(&p->lock);
		return NULL;
	}
	return slot->conn;
}

void db_pool_release(struct db_pool *p, PGconn *conn)
{
	int i;

	if (!conn)
		return;
	pthread_mutex_lock(&p->lock);
	for (i = 0; i < p->size; i++) {
		if (p->slots[i].conn == conn && p->slots[i].busy) {
			if (PQstatus(conn) != CONNECTION_OK || p->slots[i].cut) {
				pg_finish(conn);
				p->slots[i].conn = NULL;
			}
			p->slots[i].busy = 0;
			p->in_use--;
			pthread_cond_signal(&p->freed);
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
}

void db_pool_stats(struct db_pool *p, int *in_use, int *idle, int *size)
{
	int i, open = 0;

	pthread_mutex_lock(&p->lock);
	for (i = 0; i < p->size; i++)
		if (p->slots[i].conn && !p->slots[i].busy)
			open++;
	*in_use = p->in_use;
	*idle = open;
	*size = p->size;
	pthread_mutex_unlock(&p->lock);
}

int db_ping(struct db_pool *p, int timeout_ms)
{
	PGconn *c = db_pool_acquire(p, timeout_ms);
	PGresult *res;
	int ok;

	if (!c)
		return 0;
	res = PQexec(c, "SELECT 1");
	ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	PQclear(res);
	db_pool_release(p, c);
	return ok;
}
