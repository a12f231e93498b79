/*
 * dispatch_worker.c: one dispatcher thread. It owns a database connection and a curl multi
 * handle, and loops: collect finished requests and classify them, start waiting requests whose
 * rate-limit tokens are there, write finished rows' outcomes in batches (one transaction per
 * tenant), and claim more due rows when woken (NOTIFY, kick) or when the sweep timer runs out.
 * The thread never blocks on a request: curl_multi_poll waits on all sockets at once.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backoff.h"
#include "config.h"
#include "app.h"
#include "dispatch_internal.h"
#include "log.h"
#include "pg.h"

#define WORKER_FLUSH_BATCH 64 /* write outcomes once this many rows are done ... */
#define WORKER_FLUSH_MS    5  /* ... or the oldest has waited this long */
#define WORKER_EASY_POOL   64 /* idle easy handles kept for reuse */
#define WORKER_MAX_POLL_MS 1000
/* A worker woken for new rows (a kick, a NOTIFY, a finished batch whose conversations may
 * have a next message) claims at most once per this many ms; only a claim that came back
 * full claims again at once. Under load each claim then takes the rows of several messages
 * (one statement and one commit for all of them, and so one dispatch_load and one
 * outbox_complete) instead of one claim per message, most of which found nothing: measured
 * with bench_ingest, 0.97 claims per message before. A quiet gateway claims at once. Kicks
 * go to the first worker that can claim (dispatch.c), so one worker's gap paces them. */
#define WORKER_CLAIM_GAP_MS 20

static struct log_ctx row_ctx(const struct dispatch_row *r)
{
	struct log_ctx c = {r->tenant_id, r->channel_id[0] ? r->channel_id : NULL,
	                    r->conversation_id[0] ? r->conversation_id : NULL};
	return c;
}

static void list_append(struct dispatch_row ***tail, struct dispatch_row *r)
{
	r->next = NULL;
	**tail = r;
	*tail = &r->next;
}

static void worker_to_done(struct dispatch_worker *w, struct dispatch_row *r, int64_t now)
{
	if (!w->done)
		w->oldest_done_ms = now;
	r->done_ms = now;
	list_append(&w->done_tail, r);
	w->ndone++;
}

static void worker_to_waiting(struct dispatch_worker *w, struct dispatch_row *r)
{
	list_append(&w->waiting_tail, r);
	w->nwaiting++;
}

/* ---- database connection ---- */

static int worker_db_ensure(struct dispatch_worker *w, int64_t now)
{
	/* Asynchronous commit for the dispatcher's own bookkeeping (claims, outcomes): a crash of
	 * PostgreSQL may forget the last fraction of a second of it, and then those rows are sent
	 * again; the rows themselves were committed synchronously by whoever wrote them, so nothing
	 * is lost (see docs/DISPATCH.md). It takes a disk flush out of every batch.
	 * Every join the dispatcher makes is a batch of at most a few hundred ids looked up by
	 * index; on a freshly filled or churning outbox the planner's estimates are stale and it
	 * picks hash joins and bitmap scans over the whole table (measured: 10-100x slower), so
	 * those plans are off for these sessions only. For the same reason their statements,
	 * prepared once (pg.c), are planned at every run with the values at hand: a generic plan
	 * made while the outbox was small joined by scanning all of a tenant's rows (one batch
	 * is one statement, so planning is paid once per batch). */
	static const char options[] = "-c synchronous_commit=off -c enable_hashjoin=off"
	                              " -c enable_mergejoin=off -c enable_bitmapscan=off"
	                              " -c plan_cache_mode=force_custom_plan";

	if (w->db && PQstatus(w->db) == CONNECTION_OK)
		return 0;
	if (now < w->db_retry_ms)
		return -1;
	if (w->db) {
		log_warn(NULL, "dispatch worker %d: database connection lost, reconnecting",
		         w->index);
		pg_finish(w->db);
	}
	w->db = app_db_connect(w->d->cfg, w->d->cfg->database_url, "ccgw-dispatch", options);
	if (!w->db || PQstatus(w->db) != CONNECTION_OK) {
		log_warn(NULL, "dispatch worker %d: cannot connect to the database: %s", w->index,
		         w->db ? PQerrorMessage(w->db) : "out of memory");
		pg_finish(w->db);
		w->db = NULL;
		w->db_retry_ms = now + 1000;
		return -1;
	}
	return 0;
}

static void row_retry_or_dead(struct dispatcher *d, struct dispatch_row *r, int64_t delay_ms,
                              long code, const char *error);

/* ---- claiming ---- */

static void worker_accept(struct dispatch_worker *w, struct dispatch_row *list, int n, int64_t now);

static void worker_claim(struct dispatch_worker *w, int64_t now)
{
	struct dispatcher *d = w->d;
	struct dispatch_row *list = NULL, **tail = &list;
	char owner[96];
	int limit = (int)(d->inflight_max - (long)w->held), n, parked = 0;

	if (limit <= 0)
		return;
	if (now >= w->due_ms)
		w->due_ms = INT64_MAX;
	snprintf(owner, sizeof(owner), "%s:%d:%lu", d->owner_prefix, w->index, ++w->claim_seq);
	n = dispatch_store_claim(w->db, owner, limit, (int)(d->lease_ms / 1000), now, &tail,
	                         &parked);
	if (n < 0) {
		atomic_fetch_add(&d->stats.db_errors, 1);
		w->next_claim_ms = now + d->sweep_ms;
		return;
	}
	atomic_fetch_add(&d->stats.claims, 1);
	atomic_fetch_add(&d->stats.claimed_rows, (unsigned long long)n);
	if (n >= limit)
		w->claim_now = 1; /* there may be more due rows */
	else if (parked > 0)
		w->claim_soon = 1; /* behind a message being sent: back with its outcome */
	else
		w->next_claim_ms = now + d->sweep_ms;
	if (n > 0 || parked > 0)
		log_debug(NULL, "dispatch worker %d: claimed %d rows, parked %d", w->index, n,
		          parked);
	if (n == 0)
		return;
	worker_accept(w, list, n, now);
}

/* Takes n claimed rows (a list): prepares each tenant's rows in one transaction and queues
 * them to be sent (or to be done, when they cannot go out). */
static void worker_accept(struct dispatch_worker *w, struct dispatch_row *list, int n, int64_t now)
{
	struct dispatcher *d = w->d;
	struct dispatch_row *r, *next;
	struct dispatch_row **group = NULL;
	int i, k;

	group = calloc((size_t)n, sizeof(*group));
	if (!group) { /* out of memory: hand everything back */
		for (r = list; r; r = next) {
			next = r->next;
			dispatch_row_finish(r, DISPATCH_RES_RELEASE, 0, "out of memory");
			r->delay_ms = 1000;
			w->held++;
			worker_to_done(w, r, now);
		}
		return;
	}
	/* prepare each tenant's rows in one transaction */
	while (list) {
		const char *tenant = list->tenant_id;
		struct dispatch_row *rest = NULL, **rest_tail = &rest;

		k = 0;
		for (r = list; r; r = next) {
			next = r->next;
			if (strcmp(r->tenant_id, tenant) == 0) {
				group[k++] = r;
				r->next = NULL;
			} else {
				list_append(&rest_tail, r);
			}
		}
		if (dispatch_store_prepare(d, w->db, tenant, group, (size_t)k) != 0) {
			atomic_fetch_add(&d->stats.db_errors, 1);
			for (i = 0; i < k; i++) {
				dispatch_row_finish(group[i], DISPATCH_RES_RELEASE, 0,
				                    "the database failed while preparing");
				group[i]->delay_ms = 1000;
			}
		}
		for (i = 0; i < k; i++) {
			r = group[i];
			if (r->result ==
			    DISPATCH_RES_RETRY) { /* e.g. secrets that do not open yet */
				char why[sizeof(r->error)];

				snprintf(why, sizeof(why), "%s", r->error);
				row_retry_or_dead(d, r, 0, r->error_code, why);
			}
			r->deadline_ms = r->claimed_ms + d->lease_ms - d->timeout_ms - 1000;
			if (r->deadline_ms < r->claimed_ms + 500)
				r->deadline_ms = r->claimed_ms + d->lease_ms / 2;
			w->held++;
			if (r->result != DISPATCH_RES_NONE)
				worker_to_done(w, r, now);
			else
				worker_to_waiting(w, r);
		}
		list = rest;
	}
	free(group);
}

/* ---- requests ---- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct dispatch_row *r = arg;
	size_t n = size * nmemb;

	if (r->resp.len < DISPATCH_RESP_MAX)
		sbuf_append(&r->resp, ptr,
		            n < DISPATCH_RESP_MAX - r->resp.len ? n
		                                                : DISPATCH_RESP_MAX - r->resp.len);
	return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct dispatch_row *r = arg;
	size_t n = size * nmemb;

	if (n > 12 && strncasecmp(ptr, "Retry-After:", 12) == 0) {
		char tmp[32];
		size_t len = n - 12 < sizeof(tmp) - 1 ? n - 12 : sizeof(tmp) - 1;
		long v;

		memcpy(tmp, ptr + 12, len);
		tmp[len] = '\0';
		v = strtol(tmp, NULL, 10);
		if (v > 0 && v <= 86400)
			r->retry_after_header = v;
	}
	return n;
}

static CURL *worker_easy_get(struct dispatch_worker *w)
{
	CURL *e;

	if (w->neasy > 0) {
		e = w->easy_pool[--w->neasy];
		curl_easy_reset(e);
		return e;
	}
	return curl_easy_init();
}

static void worker_easy_put(struct dispatch_worker *w, CURL *e)
{
	if (w->neasy < WORKER_EASY_POOL)
		w->easy_pool[w->neasy++] = e;
	else
		curl_easy_cleanup(e);
}

static int worker_start(struct dispatch_worker *w, struct dispatch_row *r)
{
	const struct channel_request *q = &r->reqs[r->part];
	struct curl_slist *h = NULL, *t;
	CURL *e;
	size_t i;

	e = worker_easy_get(w);
	if (!e)
		return -1;
	for (i = 0; i < q->nheaders; i++) {
		t = curl_slist_append(h, q->headers[i]);
		if (!t)
			goto fail;
		h = t;
	}
	t = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
	if (!t)
		goto fail;
	h = t;
	sbuf_free(&r->resp);
	sbuf_init(&r->resp);
	r->retry_after_header = 0;
	r->http_status = 0;
	curl_easy_setopt(e, CURLOPT_URL, q->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)w->d->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	                 (long)(w->d->timeout_ms < 5000 ? w->d->timeout_ms : 5000));
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "ccgw/" CCGW_VERSION);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	if (q->body) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, q->body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(q->body));
	} else {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	}
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	memset(&r->guard, 0, sizeof(r->guard));
	if (r->kind == DISPATCH_WEBHOOK && !w->d->cfg->webhook_allow_private)
		urlguard_pin(e, &r->guard); /* a seller's URL reaches public addresses only */
	if (curl_multi_add_handle(w->multi, e) != CURLM_OK)
		goto fail;
	log_debug(NULL, "dispatch worker %d: outbox %s part %zu of %zu -> %s", w->index, r->id,
	          r->part + 1, r->nreqs, q->url);
	r->easy = e;
	r->hdrs = h;
	r->started_us = util_now_us();
	r->iprev = NULL;
	r->inext = w->inflight;
	if (w->inflight)
		w->inflight->iprev = r;
	w->inflight = r;
	w->ninflight++;
	return 0;
fail:
	curl_slist_free_all(h);
	worker_easy_put(w, e);
	return -1;
}

static void worker_inflight_unlink(struct dispatch_worker *w, struct dispatch_row *r)
{
	if (r->iprev)
		r->iprev->inext = r->inext;
	else
		w->inflight = r->inext;
	if (r->inext)
		r->inext->iprev = r->iprev;
	r->iprev = r->inext = NULL;
	curl_multi_remove_handle(w->multi, r->easy);
	worker_easy_put(w, r->easy);
	r->easy = NULL;
	curl_slist_free_all(r->hdrs);
	r->hdrs = NULL;
	w->ninflight--;
}

/* A failed attempt: retried after a delay, or dead after the last attempt. */
/* The backoff after a row's n-th failure (or n-th unnamed rate limit in a row): short and
 * capped for a conversation reply, whose shopper is waiting; longer for seller notifications
 * and webhooks. */
static int64_t row_backoff_ms(const struct dispatcher *d, const struct dispatch_row *r, int n)
{
	if (r->kind == DISPATCH_REPLY)
		return backoff_reply_delay_ms(d->reply_backoff_ms, d->reply_backoff_max_ms, n,
		                              backoff_random01());
	return backoff_delay_ms(d->backoff_ms, n, backoff_random01());
}

/* The row fails for now: again after named_ms when the platform named a wait (exactly that:
 * no backoff on top), else after the backoff; 'dead' once the attempts are used up. */
static void row_retry_or_dead(struct dispatcher *d, struct dispatch_row *r, int64_t named_ms,
                              long code, const char *error)
{
	if (r->attempts >= d->max_attempts) {
		dispatch_row_finish(r, DISPATCH_RES_DEAD, code, "%s (gave up after %d attempts)",
		                    error, r->attempts);
		return;
	}
	dispatch_row_finish(r, DISPATCH_RES_RETRY, code, "%s", error);
	r->delay_ms = named_ms > 0 ? named_ms : row_backoff_ms(d, r, r->attempts);
}

static const char *verdict_name(enum channel_verdict v)
{
	switch (v) {
	case CHANNEL_SENT:
		return "sent";
	case CHANNEL_RETRY:
		return "retry";
	case CHANNEL_RATE_LIMITED:
		return "rate limited";
	case CHANNEL_PERMANENT:
		return "permanent failure";
	case CHANNEL_AUTH_INVALID:
		return "credentials refused";
	}
	return "?";
}

/* Logs where the time of a slow request went: connect, pretransfer and first-byte times. */
static void worker_log_slow(const struct dispatch_worker *w, CURL *e, double secs)
{
	double tc = 0, tp = 0, ts = 0;
	long nconn = 0;

	curl_easy_getinfo(e, CURLINFO_CONNECT_TIME, &tc);
	curl_easy_getinfo(e, CURLINFO_PRETRANSFER_TIME, &tp);
	curl_easy_getinfo(e, CURLINFO_STARTTRANSFER_TIME, &ts);
	curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &nconn);
	log_debug(NULL,
	          "dispatch worker %d: slow request %.3f s: connect %.3f, pretransfer %.3f,"
	          " first byte %.3f, new connections %ld",
	          w->index, secs, tc, tp, ts, nconn);
}

/* Reads the answer (HTTP status, 0 when there was none) to the row's current request into oc:
 * a webhook the address guard refused, a webhook's answer, or what the channel adapter makes
 * of its platform's answer. */
static void worker_classify(const struct dispatch_row *r, long status, struct channel_outcome *oc)
{
	memset(oc, 0, sizeof(*oc));
	if (r->kind == DISPATCH_WEBHOOK && r->guard.refused) {
		oc->verdict = CHANNEL_PERMANENT; /* the URL now points inside: never retried */
		snprintf(oc->error, sizeof(oc->error),
		         "the webhook URL resolves to %s, a %s address: only public addresses are "
		         "called", r->guard.address, r->guard.what ? r->guard.what : "non-public");
	} else if (r->kind == DISPATCH_WEBHOOK)
		dispatch_webhook_classify(status, r->resp.data, r->resp.len, oc);
	else
		r->ops->classify(status, r->resp.data, r->resp.len, oc);
}

/* The current request q of r went through: its platform message id is kept, and the row's
 * next part waits its turn, or after the last part the row is sent. */
static void worker_on_sent(struct dispatch_worker *w, struct dispatch_row *r,
                           const struct channel_request *q, const struct channel_outcome *oc,
                           const struct log_ctx *lc, double secs, int64_t now)
{
	if (oc->platform_message_id[0] && (q->primary || !r->pmid[0]))
		snprintf(r->pmid, sizeof(r->pmid), "%s", oc->platform_message_id);
	r->part++;
	r->parts_sent = (int)r->part;
	if (r->part < r->nreqs) {
		r->not_before_ms = 0;
		worker_to_waiting(w, r);
		return;
	}
	dispatch_row_finish(r, DISPATCH_RES_SENT, 0, NULL);
	if (r->nlimits > 0)
		ratelimit_forgive(w->d->rl, r->limits, r->nlimits);
	log_debug(lc, "outbox %s: sent (%s) in %.3f s", r->id, r->pmid, secs);
	worker_to_done(w, r, now);
}

/* The platform rate-limited r: pauses the channel, or the recipient or webhook target, and
 * sets the row to be tried again after the pause with its attempt given back. */
static void worker_on_rate_limited(struct dispatcher *d, struct dispatch_row *r,
                                   const struct channel_outcome *oc, const struct log_ctx *lc,
                                   long code, const char *error, int64_t now)
{
	/* the wait the platform named: a Retry-After header, else what the adapter reads
	 * in the answer (an error code's wait); with neither, a backoff that grows with
	 * the rate limits in a row for this channel or recipient (not with the row's
	 * attempts: a pause is not a failure) */
	long ra = r->retry_after_header > 0 ? r->retry_after_header : oc->retry_after;
	const struct ratelimit_spec *spec = NULL;
	int recipient = oc->recipient_scoped && r->nlimits == 2;
	int64_t pause_ms;

	if (r->nlimits > 0)
		spec = recipient ? &r->limits[1] : &r->limits[0];
	pause_ms = ra > 0 ? (int64_t)ra * 1000
	                  : row_backoff_ms(d, r, spec ? ratelimit_strike(d->rl, spec, now) : 1);
	if (spec && ratelimit_pause(d->rl, spec, now + pause_ms, now) == 0) {
		if (recipient || r->kind == DISPATCH_WEBHOOK)
			atomic_fetch_add(&d->stats.pauses_recipient, 1);
		else
			atomic_fetch_add(&d->stats.pauses_channel, 1);
	}
	log_warn(lc, "outbox %s: rate limited by the platform (%s), pausing the %s for %lld ms",
	         r->id, error,
	         recipient                     ? "recipient"
	         : r->kind == DISPATCH_WEBHOOK ? "webhook target"
	                                       : "channel",
	         (long long)pause_ms);
	/* a pause, not a failure: the attempt is given back and never ends in 'dead' */
	dispatch_row_finish(r, DISPATCH_RES_RETRY, code, "%s", error);
	r->delay_ms = pause_ms;
	r->refund = 1;
}

/* The current request of r failed (oc's verdict, HTTP status, curl's cc when there was no
 * answer): the row is paused, retried, dead or failed, logged, and goes to the outcomes. */
static void worker_on_failed(struct dispatch_worker *w, struct dispatch_row *r,
                             const struct channel_outcome *oc, const struct log_ctx *lc,
                             long status, CURLcode cc, int64_t now)
{
	struct dispatcher *d = w->d;
	char error[300];
	long code;

	if (status == 0 && !r->guard.refused)
		snprintf(error, sizeof(error), "no answer: %s", curl_easy_strerror(cc));
	else if (oc->error[0])
		snprintf(error, sizeof(error), "%s", oc->error);
	else
		snprintf(error, sizeof(error), "HTTP %ld", status);
	code = oc->error_code ? oc->error_code : status;

	switch (oc->verdict) {
	case CHANNEL_RATE_LIMITED:
		worker_on_rate_limited(d, r, oc, lc, code, error, now);
		break;
	case CHANNEL_RETRY: {
		long ra = r->retry_after_header > 0 ? r->retry_after_header : oc->retry_after;

		row_retry_or_dead(d, r, (int64_t)ra * 1000, code, error);
		break;
	}
	case CHANNEL_AUTH_INVALID:
		dispatch_row_finish(r, DISPATCH_RES_FAILED, code, "%s", error);
		r->auth_invalid = 1;
		break;
	case CHANNEL_PERMANENT:
	default:
		dispatch_row_finish(r, DISPATCH_RES_FAILED, code, "%s", error);
		if (r->kind == DISPATCH_WEBHOOK && status == 410)
			r->target_gone = 1;
		if (oc->recipient_blocked && r->conversation_id[0])
			r->chat_blocked = 1;
		break;
	}
	if (r->result == DISPATCH_RES_RETRY)
		log_info(lc, "outbox %s: %s (attempt %d of %ld), again in %lld ms: %s", r->id,
		         verdict_name(oc->verdict), r->attempts, d->max_attempts,
		         (long long)r->delay_ms, error);
	else
		log_warn(lc, "outbox %s: %s after %d attempt(s): %s", r->id,
		         r->result == DISPATCH_RES_DEAD ? "dead" : verdict_name(oc->verdict),
		         r->attempts, error);
	worker_to_done(w, r, now);
}

/* A request finished (cc is curl's result): takes it out of flight, classifies the answer,
 * counts it, and moves its row on (worker_on_sent, worker_on_failed). A failed best-effort
 * request counts as sent unless the credentials were refused. */
static void worker_on_done(struct dispatch_worker *w, CURL *e, CURLcode cc, int64_t now)
{
	struct dispatch_row *r = NULL;
	const struct channel_request *q;
	struct channel_outcome oc;
	struct log_ctx lc;
	long status = 0;
	double secs;

	char *priv = NULL;

	curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
	r = (struct dispatch_row *)(void *)priv;
	if (!r)
		return;
	if (cc == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	secs = (double)(util_now_us() - r->started_us) / 1e6;
	if (secs > 0.5 && log_threshold >= LOG_DEBUG)
		worker_log_slow(w, e, secs);
	worker_inflight_unlink(w, r);
	r->http_status = status;
	q = &r->reqs[r->part];
	worker_classify(r, status, &oc);
	dispatch_stats_observe_send(&w->d->stats, secs, status, (int)oc.verdict);
	lc = row_ctx(r);

	if (oc.verdict != CHANNEL_SENT && q->best_effort && oc.verdict != CHANNEL_AUTH_INVALID) {
		log_info(&lc, "outbox %s: a best-effort request failed (%s), going on", r->id,
		         status ? oc.error : curl_easy_strerror(cc));
		oc.verdict = CHANNEL_SENT;
		oc.platform_message_id[0] = '\0';
	}
	if (oc.verdict == CHANNEL_SENT)
		worker_on_sent(w, r, q, &oc, &lc, secs, now);
	else
		worker_on_failed(w, r, &oc, &lc, status, cc, now);
}

/* Starts what may start; returns the earliest time a waiting row could start (or INT64_MAX). */
static int64_t worker_schedule(struct dispatch_worker *w, int64_t now, int stopping)
{
	struct dispatcher *d = w->d;
	struct dispatch_row **pp = &w->waiting, *r;
	int64_t next = INT64_MAX, wait;

	while ((r = *pp)) {
		if (!stopping && r->not_before_ms > now) {
			if (r->not_before_ms < next)
				next = r->not_before_ms;
			pp = &r->next;
			continue;
		}
		wait = 0;
		if (!stopping && now <= r->deadline_ms && r->nlimits > 0) {
			wait = ratelimit_take(d->rl, r->limits, r->nlimits, now);
			if (wait < 0)
				wait = 100;
		}
		if (!stopping && now <= r->deadline_ms && wait > 0 &&
		    now + wait <= r->deadline_ms) {
			r->not_before_ms = now + wait;
			if (r->not_before_ms < next)
				next = r->not_before_ms;
			pp = &r->next;
			continue;
		}
		/* unlink: it starts, or goes back to the outbox */
		*pp = r->next;
		if (!*pp)
			w->waiting_tail = pp;
		w->nwaiting--;
		if (stopping || now > r->deadline_ms || wait > 0) {
			/* not attempted: back to pending without counting an attempt; the parts
			 * already accepted are remembered */
			dispatch_row_finish(r, DISPATCH_RES_RELEASE, 0, NULL);
			r->delay_ms = stopping ? 0 : wait;
			worker_to_done(w, r, now);
			continue;
		}
		if (worker_start(w, r) < 0) {
			row_retry_or_dead(d, r, 0, 0,
			                  "could not start the request (out of memory)");
			worker_to_done(w, r, now);
		}
	}
	return next;
}

/* ---- outcomes ---- */

static void worker_flush(struct dispatch_worker *w, int64_t now)
{
	struct dispatcher *d = w->d;
	struct dispatch_row *list = w->done, *r, *next, **group;
	struct dispatch_row *keep = NULL, **keep_tail = &keep;
	struct dispatch_row *chained = NULL, **chain_tail = &chained;
	size_t n = w->ndone, k, i;
	int rc, nchained = 0;

	group = calloc(n, sizeof(*group));
	if (!group)
		return;
	w->done = NULL;
	w->done_tail = &w->done;
	w->ndone = 0;
	while (list) {
		const char *tenant = list->tenant_id;
		struct dispatch_row *rest = NULL, **rest_tail = &rest;

		k = 0;
		for (r = list; r; r = next) {
			next = r->next;
			if (strcmp(r->tenant_id, tenant) == 0) {
				group[k++] = r;
				r->next = NULL;
			} else {
				list_append(&rest_tail, r);
			}
		}
		rc = dispatch_store_complete(w->db, tenant, group, k, (int)(d->lease_ms / 1000),
		                             util_now_ms(), &chain_tail);
		for (i = 0; i < k; i++) {
			r = group[i];
			if (rc != 0) {
				list_append(&keep_tail, r);
				continue;
			}
			if (r->applied)
				atomic_fetch_add(&d->stats.results[r->result], 1);
			if (r->result == DISPATCH_RES_RETRY || r->result == DISPATCH_RES_RELEASE) {
				/* come back for it when it is due, not only at the next sweep */
				int64_t due = util_now_ms() + r->delay_ms + 10;

				if (due < w->due_ms)
					w->due_ms = due;
			} else {
				w->claim_soon = 1; /* the conversation's next message may be due */
			}
			w->held--;
			dispatch_row_free(r);
		}
		if (rc != 0)
			atomic_fetch_add(&d->stats.db_errors, 1);
		list = rest;
	}
	free(group);
	/* the conversations' next rows, claimed with the outcomes: send them at once */
	for (r = chained; r; r = r->next)
		nchained++;
	if (nchained > 0) {
		atomic_fetch_add(&d->stats.claimed_rows, (unsigned long long)nchained);
		worker_accept(w, chained, nchained, now);
	}
	/* outcomes that could not be written are tried again next time round */
	for (r = keep; r; r = next) {
		next = r->next;
		if (!w->done)
			w->oldest_done_ms = now;
		list_append(&w->done_tail, r);
		w->ndone++;
	}
	if (keep && w->db && PQstatus(w->db) == CONNECTION_OK)
		w->db_retry_ms = now + 200;
}

static void worker_abort_inflight(struct dispatch_worker *w, int64_t now)
{
	struct dispatch_row *r;

	while ((r = w->inflight)) {
		worker_inflight_unlink(w, r);
		/* the platform may have taken it: at least once, it goes again */
		row_retry_or_dead(w->d, r, 0, 0,
		                  "aborted at shutdown before the platform answered");
		r->delay_ms = 0;
		worker_to_done(w, r, now);
	}
}

static void worker_free_all(struct dispatch_worker *w)
{
	struct dispatch_row *r, *next;

	while (w->inflight) {
		r = w->inflight;
		worker_inflight_unlink(w, r);
		dispatch_row_free(r);
	}
	for (r = w->waiting; r; r = next) {
		next = r->next;
		dispatch_row_free(r);
	}
	for (r = w->done; r; r = next) {
		next = r->next;
		dispatch_row_free(r);
	}
	w->waiting = w->done = NULL;
	w->waiting_tail = &w->waiting;
	w->done_tail = &w->done;
	w->nwaiting = w->ndone = w->held = 0;
}

/* Lets curl move every transfer on and handles the finished ones; returns how many finished. */
static int worker_drive(struct dispatch_worker *w, int64_t now)
{
	CURLMsg *msg;
	int running, left, n = 0;

	curl_multi_perform(w->multi, &running);
	while ((msg = curl_multi_info_read(w->multi, &left))) {
		if (msg->msg == CURLMSG_DONE) {
			worker_on_done(w, msg->easy_handle, msg->data.result, now);
			n++;
		}
	}
	return n;
}

void *dispatch_worker_main(void *arg)
{
	struct dispatch_worker *w = arg;
	struct dispatcher *d = w->d;
	int64_t now, stop_deadline = 0, next_wait, timeout;
	int stop_seen = 0, stopping, db_ok, kicked, can_claim, pending_claim = 1, busy, soon;
	long claim_room;
	sigset_t set;
	size_t i;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	w->waiting_tail = &w->waiting;
	w->done_tail = &w->done;
	w->due_ms = INT64_MAX;
	claim_room = d->inflight_max / 4 > 1 ? d->inflight_max / 4 : 1;

	for (;;) {
		now = util_now_ms();
		stopping = atomic_load(&d->stopping);
		if (stopping && !stop_seen) {
			int64_t grace = (int64_t)d->cfg->shutdown_grace * 1000;

			stop_seen = 1;
			stop_deadline = now + (grace < d->timeout_ms ? grace : d->timeout_ms);
		}
		db_ok = worker_db_ensure(w, now) == 0;

		worker_drive(w, now);
		if (stopping && now >= stop_deadline)
			worker_abort_inflight(w, now);
		next_wait = worker_schedule(w, now, stopping);
		/* start what was just added; what finishes meanwhile is handled next time round
		 * without waiting (busy) */
		busy = worker_drive(w, now) > 0;

		if (db_ok && w->ndone > 0 &&
		    (w->ndone >= WORKER_FLUSH_BATCH || now - w->oldest_done_ms >= WORKER_FLUSH_MS ||
		     w->ninflight == 0 || stopping))
			worker_flush(w, now);
		db_ok = w->db && PQstatus(w->db) == CONNECTION_OK;

		if (stopping && w->nwaiting == 0 && w->ninflight == 0 &&
		    (w->ndone == 0 || (!db_ok && now >= stop_deadline) ||
		     now >= stop_deadline + 5000))
			break;

		can_claim = !stopping && db_ok &&
		            (d->inflight_max - (long)w->held >= claim_room || w->held == 0);
		/* a kick stays set until the claim it asks for starts (dispatch_kick_one wakes no
		 * other worker meanwhile: this claim will see the rows); a worker that cannot
		 * claim now lets the next kick go to another */
		atomic_store(&w->cannot_claim, !can_claim);
		kicked = atomic_load(&w->kicked);
		if (kicked && !can_claim) {
			atomic_store(&w->kicked, 0);
			pending_claim = 1;
		}
		soon = kicked || pending_claim || w->claim_soon || now >= w->due_ms;
		if (can_claim && (w->claim_now || now >= w->next_claim_ms ||
		                  (soon && now >= w->last_claim_ms + WORKER_CLAIM_GAP_MS))) {
			atomic_store(&w->kicked, 0); /* before the claim's snapshot */
			pending_claim = 0;
			w->claim_now = 0;
			w->claim_soon = 0;
			w->last_claim_ms = now;
			worker_claim(w, now);
			continue; /* start what was claimed at once */
		}

		timeout = WORKER_MAX_POLL_MS;
		if (!stopping && db_ok && w->next_claim_ms - now < timeout)
			timeout = w->next_claim_ms - now;
		if (!stopping && db_ok && w->due_ms != INT64_MAX && w->due_ms - now < timeout)
			timeout = w->due_ms - now;
		if (can_claim && soon && w->last_claim_ms + WORKER_CLAIM_GAP_MS - now < timeout)
			timeout = w->last_claim_ms + WORKER_CLAIM_GAP_MS - now;
		if (next_wait != INT64_MAX && next_wait - now < timeout)
			timeout = next_wait - now;
		if (w->ndone > 0 && w->oldest_done_ms + WORKER_FLUSH_MS - now < timeout)
			timeout = w->oldest_done_ms + WORKER_FLUSH_MS - now;
		if (!db_ok && w->db_retry_ms - now < timeout)
			timeout = w->db_retry_ms - now;
		if (stopping)
			timeout = timeout > 50 ? 50 : timeout;
		if (busy)
			timeout = 0;
		if (timeout < 0)
			timeout = 0;
		curl_multi_poll(w->multi, NULL, 0, (int)timeout, NULL);
	}
	if (w->ndone > 0)
		log_warn(
		    NULL,
		    "dispatch worker %d: %zu outcomes could not be written; those rows go out again"
		    " after their lease",
		    w->index, w->ndone);
	worker_free_all(w);
	for (i = 0; i < w->neasy; i++)
		curl_easy_cleanup(w->easy_pool[i]);
	w->neasy = 0;
	pg_finish(w->db);
	w->db = NULL;
	return NULL;
}
