/*
 * dispatch.c: the dispatcher's life (see dispatch.h): its worker threads (dispatch_worker.c),
 * the listener thread that holds LISTEN ccgw_outbox on its own connection, wakes the workers
 * on every notification and refreshes the depth and health gauges, and the /metrics lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "app.h"
#include "dispatch_internal.h"
#include "log.h"
#include "pg.h"

#define DISPATCH_STATS_EVERY_MS 5000

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ready;

static void curl_init_once(void)
{
	curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

struct dispatcher *dispatcher_new(struct app *app)
{
	const struct config *cfg = app->cfg;
	struct dispatcher *d;
	unsigned char rnd[4];
	char host[40] = "ccgw", hex[9];
	int i;

	pthread_once(&curl_once, curl_init_once);
	if (!curl_ready) {
		log_error(NULL, "dispatch: libcurl did not initialize");
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->app = app;
	d->cfg = cfg;
	d->wake_pipe[0] = d->wake_pipe[1] = -1;
	d->ops_find = channel_ops_find;
	dispatch_stats_init(&d->stats);
	d->nworkers = cfg->dispatch_workers > 0 ? (int)cfg->dispatch_workers : 1;
	d->lease_ms = (int64_t)cfg->dispatch_lease * 1000;
	d->timeout_ms = cfg->dispatch_timeout_ms > 0 ? cfg->dispatch_timeout_ms : 15000;
	if (d->timeout_ms > d->lease_ms / 2) {
		log_warn(
		    NULL,
		    "dispatch: dispatch_timeout_ms %lld is more than half the lease; using %lld",
		    (long long)d->timeout_ms, (long long)(d->lease_ms / 2));
		d->timeout_ms = d->lease_ms / 2;
	}
	d->backoff_ms = cfg->dispatch_backoff_ms > 0 ? cfg->dispatch_backoff_ms : 3000;
	d->reply_backoff_ms = cfg->dispatch_reply_backoff_ms > 0 ? cfg->dispatch_reply_backoff_ms : 500;
	d->reply_backoff_max_ms =
	    cfg->dispatch_reply_backoff_max_ms > 0 ? cfg->dispatch_reply_backoff_max_ms : 30000;
	d->sweep_ms = cfg->dispatch_sweep_ms > 0 ? cfg->dispatch_sweep_ms : 1000;
	d->inflight_max = cfg->dispatch_inflight > 0 ? cfg->dispatch_inflight : 256;
	d->max_attempts = cfg->dispatch_max_attempts > 0 ? cfg->dispatch_max_attempts : 8;
	gethostname(host, sizeof(host) - 1);
	if (util_random_bytes(rnd, sizeof(rnd)) < 0)
		memset(rnd, 0, sizeof(rnd));
	util_hex_encode(rnd, sizeof(rnd), hex);
	snprintf(d->owner_prefix, sizeof(d->owner_prefix), "%.30s:%d:%s", host, (int)getpid(), hex);
	atomic_init(&d->live, 1);
	d->rl = ratelimit_new();
	d->workers = calloc((size_t)d->nworkers, sizeof(*d->workers));
	if (!d->rl || !d->workers || pipe2(d->wake_pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		goto fail;
	for (i = 0; i < d->nworkers; i++) {
		struct dispatch_worker *w = &d->workers[i];
		long hostconns = d->inflight_max / 2;

		w->d = d;
		w->index = i;
		w->waiting_tail = &w->waiting;
		w->done_tail = &w->done;
		w->multi = curl_multi_init();
		w->easy_pool = calloc(64, sizeof(*w->easy_pool));
		if (!w->multi || !w->easy_pool)
			goto fail;
		if (hostconns < 8)
			hostconns = 8;
		if (hostconns > 256)
			hostconns = 256;
		curl_multi_setopt(w->multi, CURLMOPT_MAX_HOST_CONNECTIONS, hostconns);
		curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, (long)d->inflight_max);
	}
	return d;
fail:
	log_error(NULL, "dispatch: out of resources while creating the dispatcher");
	dispatcher_free(d);
	return NULL;
}

static void dispatch_kick_workers(struct dispatcher *d)
{
	int i;

	for (i = 0; i < d->nworkers; i++) {
		atomic_store(&d->workers[i].kicked, 1);
		if (d->workers[i].multi)
			curl_multi_wakeup(d->workers[i].multi);
	}
}

/* One worker for one notification: each claims everything that is due, so waking them all
 * for one new row made all but one claim nothing (a wasted statement per worker and message
 * under load). The first worker that can claim is woken, so that its claim gap
 * (dispatch_worker.c) gathers the rows of several messages into one claim; the next one
 * takes over while it is full. A worker whose claim came back full claims again at once. */
static void dispatch_kick_one(struct dispatcher *d)
{
	unsigned i;
	int k;

	/* a worker already kicked has not started its claim yet: that claim will see the rows
	 * committed before this kick, so a second worker would claim nothing */
	for (k = 0; k < d->nworkers; k++)
		if (atomic_load(&d->workers[k].kicked))
			return;
	for (k = 0; k < d->nworkers; k++)
		if (!atomic_load(&d->workers[k].cannot_claim))
			break;
	i = k < d->nworkers ? (unsigned)k
	                    : atomic_fetch_add(&d->next_kick, 1) % (unsigned)d->nworkers;

	atomic_store(&d->workers[i].kicked, 1);
	if (d->workers[i].multi)
		curl_multi_wakeup(d->workers[i].multi);
}

void dispatcher_kick(struct dispatcher *d)
{
	if (d)
		dispatch_kick_one(d);
}

static PGconn *listener_connect(struct dispatcher *d)
{
	PGconn *c = app_db_connect(d->cfg, d->cfg->database_url, "ccgw-dispatch-listen", NULL);

	if (!c || PQstatus(c) != CONNECTION_OK) {
		log_warn(NULL, "dispatch: listener cannot connect: %s",
		         c ? PQerrorMessage(c) : "out of memory");
		pg_finish(c);
		return NULL;
	}
	if (pg_cmd(c, "LISTEN ccgw_outbox", 0, NULL) < 0 ||
	    pg_cmd(c, "LISTEN ccgw_channels", 0, NULL) < 0) {
		pg_finish(c);
		return NULL;
	}
	return c;
}

/* Refreshes this process's row in dispatchers and counts the live ones (rows refreshed in
 * the last DISPATCH_LIVE_S seconds): the rate limits share a channel's rate among them. */
static void dispatch_heartbeat(struct dispatcher *d, PGconn *conn)
{
	const char *p[1] = {d->owner_prefix};
	PGresult *res = pg_exec(
	    conn,
	    "WITH up AS (INSERT INTO dispatchers (owner) VALUES ($1) ON CONFLICT (owner)"
	    " DO UPDATE SET seen_at = now() RETURNING 1),"
	    " gone AS (DELETE FROM dispatchers WHERE seen_at < now() - interval '1 hour')"
	    " SELECT 1 + count(*) FROM dispatchers WHERE owner <> $1"
	    " AND seen_at > now() - make_interval(secs => " DISPATCH_LIVE_S ")",
	    1, p);
	int live, before;

	if (!res)
		return; /* keep the last count */
	live = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (live < 1)
		live = 1;
	before = atomic_exchange(&d->live, live);
	if (before != live)
		log_info(NULL, "dispatch: %d dispatching process%s on the database: each sends at "
		               "1/%d of the configured rates",
		         live, live == 1 ? "" : "es", live);
}

static void *listener_main(void *arg)
{
	struct dispatcher *d = arg;
	PGconn *conn = NULL;
	int64_t now, retry_at = 0, backoff = 500, next_stats = 0, next_beat = 0, timeout;
	struct pollfd fds[2];
	char buf[64];
	int nfds, got;

	while (!atomic_load(&d->stopping)) {
		now = util_now_ms();
		if (!conn && now >= retry_at) {
			conn = listener_connect(d);
			if (conn) {
				backoff = 500;
				app_channels_watch(d->app, 1);
				dispatch_kick_workers(d); /* notifications may have been missed */
			} else {
				retry_at = now + backoff;
				backoff = backoff * 2 > 30000 ? 30000 : backoff * 2;
			}
		}
		if (conn && now >= next_beat) {
			dispatch_heartbeat(d, conn);
			next_beat = now + DISPATCH_BEAT_MS;
		}
		if (conn && now >= next_stats) {
			if (dispatch_store_stats(conn, &d->stats) < 0)
				atomic_fetch_add(&d->stats.db_errors, 1);
			next_stats = now + DISPATCH_STATS_EVERY_MS;
		}
		if (conn && PQstatus(conn) != CONNECTION_OK) {
			log_warn(NULL, "dispatch: listener connection lost");
			app_channels_watch(d->app, 0);
			pg_finish(conn);
			conn = NULL;
			retry_at = now + backoff;
			continue;
		}
		nfds = 0;
		fds[nfds++] = (struct pollfd){.fd = d->wake_pipe[0], .events = POLLIN};
		if (conn)
			fds[nfds++] = (struct pollfd){.fd = PQsocket(conn), .events = POLLIN};
		timeout = conn ? (next_stats < next_beat ? next_stats : next_beat) - now
		               : retry_at - now;
		if (timeout < 0)
			timeout = 0;
		if (timeout > DISPATCH_STATS_EVERY_MS)
			timeout = DISPATCH_STATS_EVERY_MS;
		if (poll(fds, (nfds_t)nfds, (int)timeout) < 0 && errno != EINTR)
			break;
		if (fds[0].revents & POLLIN)
			while (read(d->wake_pipe[0], buf, sizeof(buf)) > 0)
				;
		if (conn && nfds > 1 && (fds[1].revents & (POLLIN | POLLERR | POLLHUP))) {
			PGnotify *n;

			got = 0;
			if (!PQconsumeInput(conn)) {
				log_warn(NULL, "dispatch: listener connection lost");
				app_channels_watch(d->app, 0);
				pg_finish(conn);
				conn = NULL;
				retry_at = now + backoff;
				continue;
			}
			while ((n = PQnotifies(conn))) {
				if (strcmp(n->relname, "ccgw_channels") == 0)
					app_channels_changed(d->app);
				else
					got = 1;
				PQfreemem(n);
			}
			if (got)
				dispatch_kick_one(d);
		}
	}
	app_channels_watch(d->app, 0);
	if (conn) { /* gone: the others take up its share at once */
		const char *p[1] = {d->owner_prefix};

		if (pg_cmd(conn, "DELETE FROM dispatchers WHERE owner = $1", 1, p) < 0)
			log_debug(NULL, "dispatch: could not remove the heartbeat row");
	}
	pg_finish(conn);
	return NULL;
}

int dispatcher_start(struct dispatcher *d)
{
	int i;

	if (!d)
		return -1;
	for (i = 0; i < d->nworkers; i++) {
		if (pthread_create(&d->workers[i].thread, NULL, dispatch_worker_main,
		                   &d->workers[i]) != 0) {
			log_error(NULL, "dispatch: cannot start worker thread %d", i);
			dispatcher_stop(d);
			return -1;
		}
		d->workers[i].started = 1;
	}
	if (pthread_create(&d->listener, NULL, listener_main, d) != 0) {
		log_error(NULL, "dispatch: cannot start the listener thread");
		dispatcher_stop(d);
		return -1;
	}
	d->listener_started = 1;
	log_info(NULL,
	         "dispatch: %d workers, %ld rows in flight each, lease %lld s, timeout %lld ms, "
	         "backoff %lld ms,"
	         " %ld attempts",
	         d->nworkers, d->inflight_max, (long long)(d->lease_ms / 1000),
	         (long long)d->timeout_ms, (long long)d->backoff_ms, d->max_attempts);
	return 0;
}

void dispatcher_stop(struct dispatcher *d)
{
	int i;
	ssize_t ignored;

	if (!d)
		return;
	atomic_store(&d->stopping, 1);
	dispatch_kick_workers(d);
	if (d->wake_pipe[1] >= 0) {
		ignored = write(d->wake_pipe[1], "x", 1);
		(void)ignored;
	}
	for (i = 0; i < d->nworkers; i++) {
		if (d->workers[i].started) {
			pthread_join(d->workers[i].thread, NULL);
			d->workers[i].started = 0;
		}
	}
	if (d->listener_started) {
		pthread_join(d->listener, NULL);
		d->listener_started = 0;
	}
}

void dispatcher_free(struct dispatcher *d)
{
	int i;

	if (!d)
		return;
	dispatcher_stop(d);
	for (i = 0; d->workers && i < d->nworkers; i++) {
		if (d->workers[i].multi)
			curl_multi_cleanup(d->workers[i].multi);
		free(d->workers[i].easy_pool);
	}
	free(d->workers);
	ratelimit_free(d->rl);
	dispatch_stats_clear(&d->stats);
	if (d->wake_pipe[0] >= 0)
		close(d->wake_pipe[0]);
	if (d->wake_pipe[1] >= 0)
		close(d->wake_pipe[1]);
	free(d);
}

void dispatcher_metrics_write(struct dispatcher *d, struct sbuf *out)
{
	int64_t now;

	if (!d)
		return;
	now = util_now_ms();
	ratelimit_gc(d->rl, now);
	dispatch_stats_write(&d->stats, d->rl, now, out);
}
