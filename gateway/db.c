/*
 * db.c: the pool of application-role connections used by the request workers. Connections
 * open lazily, a broken one is replaced on the next acquire, so the gateway rides out a
 * database restart: requests meanwhile get 503 and nothing crashes.
 */
#include "db.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

struct db_slot {
	PGconn *conn;
	int busy;
};

struct db_pool {
	pthread_mutex_t lock;
	pthread_cond_t freed;
	char *conninfo;
	int size;
	int in_use;
	struct db_slot *slots;
};

struct db_pool *db_pool_new(const char *conninfo, int size)
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
	p->size = size;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->freed, NULL);
	return p;
}

void db_pool_free(struct db_pool *p)
{
	int i;

	if (!p)
		return;
	for (i = 0; i < p->size; i++)
		PQfinish(p->slots[i].conn);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->freed);
	free(p->slots);
	free(p->conninfo);
	free(p);
}

static PGconn *db_connect(const char *conninfo)
{
	const char *keys[] = { "dbname", "connect_timeout", "application_name", NULL };
	const char *vals[] = { conninfo, "3", "ccgw", NULL };
	PGconn *c = PQconnectdbParams(keys, vals, 1);

	if (PQstatus(c) != CONNECTION_OK) {
		log_warn(NULL, "database connection failed: %s", PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	PQclear(PQexec(c, "SET client_min_messages = warning"));
	return c;
}

PGconn *db_pool_acquire(struct db_pool *p, int timeout_ms)
{
	struct timespec deadline;
	struct db_slot *slot = NULL;
	int i;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
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
	p->in_use++;
	pthread_mutex_unlock(&p->lock);

	/* connect or repair outside the lock */
	if (slot->conn && PQstatus(slot->conn) != CONNECTION_OK) {
		PQfinish(slot->conn);
		slot->conn = NULL;
	}
	if (slot->conn && PQtransactionStatus(slot->conn) != PQTRANS_IDLE) {
		PQclear(PQexec(slot->conn, "ROLLBACK"));
	}
	if (!slot->conn)
		slot->conn = db_connect(p->conninfo);
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
			if (PQstatus(conn) != CONNECTION_OK) {
				PQfinish(conn);
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
