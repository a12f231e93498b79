/*
 * poller.c: the supervisor and one thread per channel this process polls (see poller.h).
 */
#include "poller.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel_open.h"
#include "config.h"
#include "inbound.h"
#include "log.h"
#include "outcall.h"
#include "pg.h"
#include "util.h"

#define POLL_LOOK_MS     3000  /* between the supervisor's looks for channels */
#define POLL_TIMEOUT_S   25    /* the long poll's wait, as Telegram suggests */
#define POLL_BACKOFF_MS  2000  /* after a failed fetch or store, at first */
#define POLL_BACKOFF_MAX 60000
#define POLL_MAX         256   /* channels one process polls */

/* One polled channel. */
struct polled {
	struct poller *owner;
	const struct channel_ops *ops;
	char tenant_id[MSG_UUID_LEN], channel_id[MSG_UUID_LEN];
	PGconn *conn;      /* holds the lease; runs the channel's transactions */
	pthread_t thread;
	volatile int stop; /* the channel is gone from the list, or the poller stops */
	volatile int done; /* the thread has ended */
	int seen;          /* in the supervisor's latest list */
};

struct poller {
	struct app *app;
	pthread_t thread;
	int started;
	volatile int stopping;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct polled *chans[POLL_MAX];
	size_t n;
};

struct poller *poller_new(struct app *app)
{
	struct poller *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->app = app;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	return p;
}

/* Sleeps ms unless the poller stops first. */
static void poll_sleep(struct poller *p, long ms)
{
	struct timespec ts;
	int64_t until = util_now_ms() + ms;

	pthread_mutex_lock(&p->lock);
	while (!p->stopping && util_now_ms() < until) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 0;
		ts.tv_nsec += 100 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&p->wake, &p->lock, &ts);
	}
	pthread_mutex_unlock(&p->lock);
}

/* ---- one channel ---- */

struct offset_tx {
	const char *channel_id;
	long long offset;
	int store;
};

static int offset_tx_fn(PGconn *conn, void *arg)
{
	struct offset_tx *t = arg;
	char off[32];
	const char *params[2] = {t->channel_id, off};
	PGresult *res;

	if (t->store) {
		snprintf(off, sizeof(off), "%lld", t->offset);
		return pg_cmd(conn,
		              "INSERT INTO channel_poll_offsets (tenant_id, channel_id, next_offset)"
		              " VALUES (app_tenant_id(), $1, $2::bigint)"
		              " ON CONFLICT (tenant_id, channel_id) DO UPDATE SET"
		              " next_offset = greatest(channel_poll_offsets.next_offset,"
		              " EXCLUDED.next_offset), updated_at = now()",
		              2, params) < 0
		           ? PG_ERR_QUERY
		           : 0;
	}
	res = pg_exec(conn,
	              "SELECT next_offset FROM channel_poll_offsets WHERE tenant_id ="
	              " app_tenant_id() AND channel_id = $1",
	              1, params);
	if (!res)
		return PG_ERR_QUERY;
	t->offset = PQntuples(res) ? atoll(PQgetvalue(res, 0, 0)) : 0;
	PQclear(res);
	return 0;
}

/* Opens the channel as the inbound flow needs it (config and secrets), under its tenant. */
static int polled_open(struct polled *c, struct inbound_channel *ch)
{
	enum inbound_load rc =
	    inbound_channel_load(c->owner->app, &c->conn, NULL, c->ops, 0, c->channel_id, ch);

	return rc == INBOUND_LOAD_OK && ch->active && c->ops->polling(ch->config) ? 0 : -1;
}

/* One fetch and what it brought. Returns the pause before the next one, in ms. */
static long polled_turn(struct polled *c, struct inbound_channel *ch, long backoff)
{
	struct app *app = c->owner->app;
	const char *base = NULL;
	struct channel_target t = {0};
	struct channel_request req;
	struct channel_batch *b = NULL;
	struct inbound_result res = {0};
	struct offset_tx ot = {c->channel_id, 0, 0};
	struct log_ctx lc = {c->tenant_id, c->channel_id, NULL};
	struct sbuf body;
	long status, pause = 0;
	long long next;
	char err[256];

	if (pg_tx_run(c->conn, c->tenant_id, offset_tx_fn, &ot) != 0)
		return backoff;
	(void)config_get(app->cfg, c->ops->settings.api_base, &base, NULL);
	t.channel_id = c->channel_id;
	t.api_base = base;
	t.config = ch->config;
	if (c->ops->poll_request(&t, ot.offset, POLL_TIMEOUT_S, &req, err, sizeof(err)) < 0) {
		log_error(&lc, "%s: cannot poll: %s", c->ops->type, err);
		return POLL_BACKOFF_MAX;
	}
	sbuf_init(&body);
	status = outcall_perform(&req, (POLL_TIMEOUT_S + 15) * 1000L, &c->stop, &body, err,
	                         sizeof(err));
	channel_request_clear(&req);
	next = ot.offset;
	if (status == 200)
		b = c->ops->poll_parse(body.data ? body.data : "", body.len, &next, err, sizeof(err));
	if (!b) {
		if (!c->stop)
			log_warn(&lc, "%s: polling failed (HTTP %ld): %s", c->ops->type, status,
			         status ? (body.data ? body.data : "") : err);
		sbuf_free(&body);
		return c->stop ? 0 : backoff;
	}
	sbuf_free(&body);
	inbound_run(app, &c->conn, NULL, c->ops, ch, b, &res);
	channel_batch_free(b);
	if (res.db_error || res.retry_later) {
		/* not confirmed: the same updates come again, and what was committed of them is
		 * a duplicate then */
		return backoff;
	}
	if (next != ot.offset) {
		ot.offset = next;
		ot.store = 1;
		if (pg_tx_run(c->conn, c->tenant_id, offset_tx_fn, &ot) != 0)
			pause = backoff;
		log_debug(&lc, "%s: %d handled, %d duplicates; offset %lld", c->ops->type,
		          res.handled, res.duplicates, next);
	}
	return pause;
}

static void *polled_main(void *arg)
{
	struct polled *c = arg;
	struct inbound_channel ch;
	struct log_ctx lc = {c->tenant_id, c->channel_id, NULL};
	long backoff = POLL_BACKOFF_MS, pause;

	log_info(&lc, "%s: polling this channel's updates", c->ops->type);
	while (!c->stop && !c->owner->stopping) {
		if (polled_open(c, &ch) < 0) {
			inbound_channel_clear(&ch);
			if (!pg_conn_ok(c->conn))
				break; /* the lease went with the connection */
			poll_sleep(c->owner, backoff);
			backoff = backoff * 2 > POLL_BACKOFF_MAX ? POLL_BACKOFF_MAX : backoff * 2;
			continue;
		}
		pause = polled_turn(c, &ch, backoff);
		inbound_channel_clear(&ch);
		if (!pg_conn_ok(c->conn))
			break;
		if (pause > 0) {
			poll_sleep(c->owner, pause);
			backoff = backoff * 2 > POLL_BACKOFF_MAX ? POLL_BACKOFF_MAX : backoff * 2;
		} else {
			backoff = POLL_BACKOFF_MS;
		}
	}
	log_info(&lc, "%s: polling stopped", c->ops->type);
	c->done = 1;
	return NULL;
}

/* ---- the supervisor ---- */

/* Tries to take the channel's lease on a new connection; the thread polls while it holds. */
static void polled_take(struct poller *p, const struct channel_ops *ops, const char *tenant_id,
                        const char *channel_id)
{
	struct polled *c;
	const char *params[1] = {channel_id};
	PGresult *res;
	int got;

	if (p->n >= POLL_MAX)
		return;
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->owner = p;
	c->ops = ops;
	snprintf(c->tenant_id, sizeof(c->tenant_id), "%s", tenant_id);
	snprintf(c->channel_id, sizeof(c->channel_id), "%s", channel_id);
	c->conn = app_db_connect(p->app->cfg, p->app->cfg->database_url, "ccgw-poll", NULL);
	res = PQstatus(c->conn) == CONNECTION_OK
	          ? pg_exec(c->conn,
	                    "SELECT pg_try_advisory_lock(hashtextextended('poll:' || $1, 0))", 1,
	                    params)
	          : NULL;
	got = res && PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!got || pthread_create(&c->thread, NULL, polled_main, c) != 0) {
		pg_finish(c->conn);
		free(c);
		return; /* another process polls it */
	}
	c->seen = 1;
	p->chans[p->n++] = c;
}

static void polled_end(struct polled *c)
{
	c->stop = 1;
	pthread_join(c->thread, NULL);
	pg_finish(c->conn); /* releases the lease */
	free(c);
}

static struct polled *polled_find(struct poller *p, const char *channel_id)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (strcmp(p->chans[i]->channel_id, channel_id) == 0)
			return p->chans[i];
	return NULL;
}

/* One look: takes the channels of one type that poll and nobody polls; marks those seen. */
static void supervise_type(struct poller *p, PGconn *conn, const struct channel_ops *ops)
{
	const char *params[1] = {ops->type};
	PGresult *res = pg_exec(conn, "SELECT tenant_id, channel_id FROM channel_poll_list($1)", 1,
	                        params);
	struct polled *c;
	int j;

	if (!res)
		return;
	for (j = 0; j < PQntuples(res); j++) {
		c = polled_find(p, PQgetvalue(res, j, 1));
		if (c)
			c->seen = 1;
		else
			polled_take(p, ops, PQgetvalue(res, j, 0), PQgetvalue(res, j, 1));
	}
	PQclear(res);
}

static void *supervisor_main(void *arg)
{
	struct poller *p = arg;
	const struct channel_ops *ops;
	PGconn *conn = NULL;
	size_t i, k;

	while (!p->stopping) {
		if (!conn || !pg_conn_ok(conn)) {
			pg_finish(conn);
			conn = app_db_connect(p->app->cfg, p->app->cfg->database_url, "ccgw-poll", NULL);
		}
		for (i = 0; i < p->n; i++)
			p->chans[i]->seen = 0;
		if (PQstatus(conn) == CONNECTION_OK)
			for (i = 0; (ops = channel_ops_at(i)); i++)
				if (ops->poll_request && ops->poll_parse && ops->polling)
					supervise_type(p, conn, ops);
		/* a channel gone from the list (switched to webhooks, disabled) or whose
		 * thread ended (its connection died) is let go */
		for (i = 0, k = 0; i < p->n; i++) {
			struct polled *c = p->chans[i];

			if ((!c->seen && PQstatus(conn) == CONNECTION_OK) || c->done)
				polled_end(c);
			else
				p->chans[k++] = c;
		}
		p->n = k;
		poll_sleep(p, POLL_LOOK_MS);
	}
	for (i = 0; i < p->n; i++)
		p->chans[i]->stop = 1;
	for (i = 0; i < p->n; i++)
		polled_end(p->chans[i]);
	p->n = 0;
	pg_finish(conn);
	return NULL;
}

int poller_start(struct poller *p)
{
	if (pthread_create(&p->thread, NULL, supervisor_main, p) != 0)
		return -1;
	p->started = 1;
	return 0;
}

void poller_stop(struct poller *p)
{
	size_t i;

	if (!p || !p->started)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = 1;
	for (i = 0; i < p->n; i++)
		p->chans[i]->stop = 1;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	p->started = 0;
}

void poller_free(struct poller *p)
{
	if (!p)
		return;
	poller_stop(p);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->wake);
	free(p);
}
