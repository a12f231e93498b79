/*
 * dispatch_internal.h: what the dispatcher's files share: one claimed outbox row and its way
 * through a worker (prepared -> waiting for tokens -> in flight -> done), the worker and the
 * dispatcher, the statements on the outbox (dispatch_store.c), the webhook sender
 * (dispatch_webhook.c) and the counters behind /metrics (dispatch_stats.c).
 */
#ifndef CCGW_DISPATCH_INTERNAL_H
#define CCGW_DISPATCH_INTERNAL_H

#include <curl/curl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "channel.h"
#include "dispatch.h"
#include "ratelimit.h"
#include "urlguard.h"
#include "util.h"

#define DISPATCH_WUR      __attribute__((warn_unused_result))
#define DISPATCH_UUID     37
#define DISPATCH_RESP_MAX 65536 /* bytes of an answer kept for classify */

enum dispatch_kind { DISPATCH_REPLY = 0, DISPATCH_NOTIFICATION, DISPATCH_WEBHOOK };

/* What one attempt of a row came to; decides the row's next status. */
enum dispatch_result {
	DISPATCH_RES_NONE = 0,
	DISPATCH_RES_SENT,          /* 'sent' */
	DISPATCH_RES_RETRY,         /* 'pending' again after delay_ms; the attempt counts */
	DISPATCH_RES_FAILED,        /* 'failed': permanent, never retried */
	DISPATCH_RES_DEAD,          /* 'dead': the last attempt failed too */
	DISPATCH_RES_UNDELIVERABLE, /* 'undeliverable': the adapter refused (24-hour window) */
	DISPATCH_RES_RELEASE        /* 'pending' again after delay_ms, not attempted: not counted */
};
#define DISPATCH_RES_COUNT 7

/* One claimed outbox row. Strings are heap-owned; "" in a uuid field means SQL NULL. */
struct dispatch_row {
	struct dispatch_row *next;          /* in the worker's waiting or done list */
	struct dispatch_row *iprev, *inext; /* in the worker's in-flight list */
	char tenant_id[DISPATCH_UUID], id[DISPATCH_UUID];
	char channel_id[DISPATCH_UUID], target_id[DISPATCH_UUID], conversation_id[DISPATCH_UUID];
	enum dispatch_kind kind;
	char *recipient, *reply_to, *event_type;
	json_t *payload;
	int attempts;   /* including this one */
	int parts_sent; /* requests of the rendered reply accepted in earlier attempts */
	char owner[96]; /* the lease owner this row was claimed under */
	int64_t claimed_ms, deadline_ms; /* no new request is started after deadline_ms */

	/* prepared (dispatch_prepare) */
	char channel_type[16];
	int channel_unhealthy;         /* the channel row was 'unhealthy' when loaded */
	int conv_blocked;              /* the shopper blocked the bot: do not send */
	long window_age;               /* seconds since the shopper last wrote, -1 unknown */
	const struct channel_ops *ops; /* NULL for webhooks */
	struct channel_request *reqs;
	size_t nreqs, part; /* part: the next request to send */
	struct ratelimit_spec limits[2];
	size_t nlimits;
	char *limit_keys[2];
	int64_t not_before_ms; /* waiting for a token: not before this */

	/* the request in flight */
	CURL *easy;
	struct curl_slist *hdrs;
	struct sbuf resp;
	long retry_after_header; /* seconds from a Retry-After header, 0 when none */
	int64_t started_us;
	long http_status;

	/* the outcome, once result is set */
	enum dispatch_result result;
	char error[300];
	long error_code;  /* platform code, else HTTP status, else 0 */
	char pmid[160];   /* platform message id */
	int64_t delay_ms; /* RETRY / RELEASE */
	int auth_invalid; /* mark the channel unhealthy */
	int target_gone;  /* a webhook answered 410: deactivate the target */
	int chat_blocked; /* the shopper blocked the bot: conversations.blocked_at */
	int refund;       /* a rate-limit pause: this attempt does not count toward 'dead' */
	struct urlguard_verdict guard; /* a webhook's send-time address check */
	int64_t done_ms;
	int applied; /* the outcome was written (the lease was still ours) */
};

void dispatch_row_free(struct dispatch_row *r);
/* Sets the outcome with a printf message (kept in r->error). */
void dispatch_row_finish(struct dispatch_row *r, enum dispatch_result res, long code,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Counters and gauges for /metrics (dispatch_stats.c). */
#define DISPATCH_HIST_BUCKETS 12
enum dispatch_depth_status {
	DEPTH_PENDING = 0,
	DEPTH_SENDING,
	DEPTH_FAILED,
	DEPTH_DEAD,
	DEPTH_UNDELIVERABLE,
	DEPTH_COUNT
};
#define DISPATCH_HEALTH_MAX 16
struct dispatch_health_row {
	char type[16], status[16];
	long long n;
};
struct dispatch_stats {
	pthread_mutex_t lock;
	unsigned long long hist[DISPATCH_HIST_BUCKETS], hist_count;
	double hist_sum;
	_Atomic unsigned long long verdicts[6]; /* channel_verdict + "no answer" */
	_Atomic unsigned long long results[DISPATCH_RES_COUNT];
	_Atomic unsigned long long pauses_channel, pauses_recipient, claims, claimed_rows;
	_Atomic unsigned long long db_errors;
	/* refreshed by the listener thread */
	long long depth[DEPTH_COUNT];
	int depth_known;
	struct dispatch_health_row health[DISPATCH_HEALTH_MAX];
	size_t nhealth;
};
void dispatch_stats_init(struct dispatch_stats *s);
void dispatch_stats_clear(struct dispatch_stats *s);
void dispatch_stats_observe_send(struct dispatch_stats *s, double seconds, long http_status,
                                 int verdict);
void dispatch_stats_write(struct dispatch_stats *s, struct ratelimit *rl, int64_t now_ms,
                          struct sbuf *out);

struct dispatcher;

/* One worker thread: its own database connection and curl multi handle. */
struct dispatch_worker {
	struct dispatcher *d;
	int index;
	pthread_t thread;
	int started;
	PGconn *db;
	int64_t db_retry_ms;
	CURLM *multi;
	atomic_int kicked;
	atomic_int cannot_claim; /* full, stopping or without its database: kick another */
	struct dispatch_row *waiting, *done; /* waiting: prepared, not in flight */
	struct dispatch_row **waiting_tail, **done_tail;
	struct dispatch_row *inflight;
	size_t nwaiting, ninflight, ndone, held; /* held = waiting + in flight + done */
	int64_t next_claim_ms, oldest_done_ms;
	int64_t due_ms; /* the earliest retry this worker scheduled is due (INT64_MAX: none) */
	int claim_now;  /* the last claim came back full: claim again at once */
	int claim_soon; /* there may be due rows: claim after WORKER_CLAIM_GAP_MS */
	int64_t last_claim_ms;
	unsigned long claim_seq;
	CURL **easy_pool;
	size_t neasy;
};

#define DISPATCH_BEAT_MS 2000 /* heartbeat into the dispatchers table (054) */
#define DISPATCH_LIVE_S "10"  /* a heartbeat older than this is a process that died */

struct dispatcher {
	_Atomic unsigned next_kick; /* the worker the next notification wakes */
	struct app *app;
	const struct config *cfg;
	struct ratelimit *rl;
	struct dispatch_worker *workers;
	int nworkers;
	pthread_t listener;
	int listener_started;
	int wake_pipe[2];
	atomic_int stopping;
	char owner_prefix[64];
	atomic_int live; /* dispatching processes on the database, this one included (>= 1) */
	int64_t lease_ms, timeout_ms, backoff_ms, sweep_ms;
	int64_t reply_backoff_ms, reply_backoff_max_ms;
	long inflight_max, max_attempts;
	struct dispatch_stats stats;
	/* the adapter lookup; channel_ops_find, replaceable by tests */
	const struct channel_ops *(*ops_find)(const char *type);
};

/* dispatch_store.c: the statements. */
/* Claims up to limit due rows under owner; appends them to *tail (in claim order) and sets
 * *parked to the number of rows put aside behind an earlier message of their conversation.
 * Returns the number claimed or -1 on a database error. */
int dispatch_store_claim(PGconn *db, const char *owner, int limit, int lease_s, int64_t now_ms,
                         struct dispatch_row ***tail, int *parked) DISPATCH_WUR;
/* Loads channels, targets and windows for the rows of one tenant (a tenant transaction) and
 * renders them; rows that cannot go out get their result set. Returns 0 or a PG_ERR_*. */
/* What one tenant's group of claimed rows needs before its sends: loaded in one statement
 * (dispatch_store_load), then opened and rendered outside it (dispatch_prep.c). */
struct dispatch_prep_channel {
	char id[DISPATCH_UUID];
	char type[16], status[16];
	char *config;          /* JSON text */
	unsigned char *sealed; /* channels.secrets */
	size_t sealed_len;
	json_t *merged;  /* config with the opened secrets, after the transaction */
	char error[160]; /* why merged is NULL */
	int retryable;
};

struct dispatch_prep_target {
	char id[DISPATCH_UUID];
	char kind[16];
	char *url;
	unsigned char *sealed;
	size_t sealed_len;
	int active;
};

struct dispatch_prep {
	struct dispatcher *d;
	struct dispatch_row **rows;
	size_t n;
	struct dispatch_prep_channel *ch;
	size_t nch;
	struct dispatch_prep_target *tg;
	size_t ntg;
	long *window; /* per row */
};

/* Loads the channels, targets, blocked conversations and windows of p's rows in one
 * statement (sql/091_dispatch_load.sql, its own transaction). 0 or a PG_ERR_*. */
int dispatch_store_load(PGconn *db, const char *tenant_id, struct dispatch_prep *p);
/* Frees what a load left in p, so that it can run again. */
void dispatch_prep_clear(struct dispatch_prep *p);
int dispatch_store_prepare(struct dispatcher *d, PGconn *db, const char *tenant_id,
                           struct dispatch_row **rows, size_t n) DISPATCH_WUR;
/* Writes the outcome of the rows of one tenant (a tenant transaction): status, error, events,
 * channel health, target deactivation. In the same transaction it claims (lease_s, under the
 * finished row's owner) the next row of each conversation whose row is finished, when that row
 * may go now, and appends those rows to *chain_tail (not yet prepared). Returns 0 or a
 * PG_ERR_*. */
int dispatch_store_complete(PGconn *db, const char *tenant_id, struct dispatch_row **rows, size_t n,
                            int lease_s, int64_t now_ms,
                            struct dispatch_row ***chain_tail) DISPATCH_WUR;
/* Refreshes depth and channel health in stats (cross-tenant definer functions). */
int dispatch_store_stats(PGconn *db, struct dispatch_stats *stats) DISPATCH_WUR;

/* dispatch_webhook.c: a seller webhook as one signed request. */
int dispatch_webhook_render(const char *url, const char *secret, const json_t *payload,
                            struct channel_request **reqs, size_t *nreqs, char *err,
                            size_t errlen) DISPATCH_WUR;
void dispatch_webhook_classify(long http_status, const char *body, size_t len,
                               struct channel_outcome *out);

/* dispatch_worker.c */
void *dispatch_worker_main(void *arg);

#endif
