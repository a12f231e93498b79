/*
 * dispatch_store.c: the dispatcher's statements. Claiming is one call of the definer function
 * outbox_claim (sql/030_dispatch.sql); everything after it runs per tenant in a transaction
 * with app.tenant_id set (pg_tx_run): loading channels, targets and the 24-hour window before
 * a send, and writing a batch of outcomes (status, error, conversation events, channel health)
 * in one statement after it. Arrays travel as text parameters, never as SQL text.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dispatch_internal.h"
#include "log.h"
#include "pg.h"
#include "channel_open.h"
#include "secrets.h"
#include "app.h"

void dispatch_row_free(struct dispatch_row *r)
{
	size_t i;

	if (!r)
		return;
	free(r->recipient);
	free(r->reply_to);
	free(r->event_type);
	json_decref(r->payload);
	channel_requests_free(r->reqs, r->nreqs);
	for (i = 0; i < 2; i++)
		free(r->limit_keys[i]);
	if (r->hdrs)
		curl_slist_free_all(r->hdrs);
	sbuf_free(&r->resp);
	free(r);
}

void dispatch_row_finish(struct dispatch_row *r, enum dispatch_result res, long code,
                         const char *fmt, ...)
{
	va_list ap;

	r->result = res;
	r->refund = 0;
	r->error_code = code;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(r->error, sizeof(r->error), fmt, ap);
		va_end(ap);
	} else {
		r->error[0] = '\0';
	}
}

static void copy_uuid(char dst[DISPATCH_UUID], const char *v)
{
	snprintf(dst, DISPATCH_UUID, "%s", v ? v : "");
}

static char *dup_or_null(const char *v)
{
	return v ? strdup(v) : NULL;
}

/* A claimed row from columns c .. c+11 of res (tenant_id, id, kind, channel_id, target_id,
 * conversation_id, recipient, reply_to, event_type, payload, attempts, parts_sent); NULL when
 * out of memory (the row stays claimed and comes back after the lease). */
static struct dispatch_row *row_from_result(PGresult *res, int i, int c, const char *owner,
                                            int64_t now_ms)
{
	struct dispatch_row *r;
	const char *kind;
	json_error_t jerr;

	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	kind = PQgetvalue(res, i, c + 2);
	copy_uuid(r->tenant_id, pg_value(res, i, c));
	copy_uuid(r->id, pg_value(res, i, c + 1));
	r->kind = strcmp(kind, "webhook") == 0        ? DISPATCH_WEBHOOK
	          : strcmp(kind, "notification") == 0 ? DISPATCH_NOTIFICATION
	                                              : DISPATCH_REPLY;
	copy_uuid(r->channel_id, pg_value(res, i, c + 3));
	copy_uuid(r->target_id, pg_value(res, i, c + 4));
	copy_uuid(r->conversation_id, pg_value(res, i, c + 5));
	r->recipient = dup_or_null(pg_value(res, i, c + 6));
	r->reply_to = dup_or_null(pg_value(res, i, c + 7));
	r->event_type = dup_or_null(pg_value(res, i, c + 8));
	r->payload = json_loads(PQgetvalue(res, i, c + 9), 0, &jerr);
	r->attempts = atoi(PQgetvalue(res, i, c + 10));
	r->parts_sent = atoi(PQgetvalue(res, i, c + 11));
	snprintf(r->owner, sizeof(r->owner), "%s", owner);
	r->claimed_ms = now_ms;
	r->window_age = -1;
	sbuf_init(&r->resp);
	if (!r->payload)
		dispatch_row_finish(r, DISPATCH_RES_FAILED, 0, "payload is not JSON: %s",
		                    jerr.text);
	return r;
}

int dispatch_store_claim(PGconn *db, const char *owner, int limit, int lease_s, int64_t now_ms,
                         struct dispatch_row ***tail, int *parked)
{
	char limit_s[16], lease_str[16];
	const char *params[3] = {owner, limit_s, lease_str};
	PGresult *res;
	int i, n, claimed = 0;

	*parked = 0;
	snprintf(limit_s, sizeof(limit_s), "%d", limit);
	snprintf(lease_str, sizeof(lease_str), "%d", lease_s);
	res = pg_exec(db,
	              "SELECT claimed, tenant_id, id, kind, channel_id, target_id, "
	              "conversation_id, recipient,"
	              " reply_to, event_type, payload, attempts, parts_sent"
	              " FROM outbox_claim($1, $2::integer, $3::integer)",
	              3, params);
	if (!res)
		return -1;
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		struct dispatch_row *r;

		if (strcmp(PQgetvalue(res, i, 0), "t") != 0) {
			(*parked)++; /* waits behind an earlier message of its conversation */
			continue;
		}
		claimed++;
		r = row_from_result(res, i, 1, owner, now_ms);
		if (!r)
			continue;
		**tail = r;
		*tail = &r->next;
	}
	PQclear(res);
	return claimed;
}

/* ---- arrays as PostgreSQL array literals (text parameters) ---- */

static void arr_open(struct sbuf *b)
{
	sbuf_init(b);
	sbuf_puts(b, "{");
}

static void arr_add(struct sbuf *b, const char *v)
{
	const char *p;

	if (b->len > 1)
		sbuf_puts(b, ",");
	if (!v) {
		sbuf_puts(b, "NULL");
		return;
	}
	sbuf_puts(b, "\"");
	for (p = v; *p; p++) {
		if (*p == '"' || *p == '\\')
			sbuf_append(b, "\\", 1);
		sbuf_append(b, p, 1);
	}
	sbuf_puts(b, "\"");
}

static void arr_add_long(struct sbuf *b, long long v, int is_null)
{
	char num[32];

	snprintf(num, sizeof(num), "%lld", v);
	arr_add(b, is_null ? NULL : num);
}

static void arr_close(struct sbuf *b)
{
	sbuf_puts(b, "}");
}

/* ---- prepare: load channels, targets and windows (dispatch_prep.c renders) ---- */

void dispatch_prep_clear(struct dispatch_prep *p)
{
	size_t i;

	for (i = 0; i < p->nch; i++) {
		free(p->ch[i].config);
		free(p->ch[i].sealed);
		channel_config_free(p->ch[i].merged);
	}
	for (i = 0; i < p->ntg; i++) {
		free(p->tg[i].url);
		free(p->tg[i].sealed);
	}
	free(p->ch);
	free(p->tg);
	p->ch = NULL;
	p->tg = NULL;
	p->nch = p->ntg = 0;
	for (i = 0; i < p->n; i++)
		p->window[i] = -1;
}

static int bytea_take(const char *text, unsigned char **out, size_t *outlen)
{
	*out = NULL;
	*outlen = 0;
	if (!text)
		return 0;
	return secrets_bytea_decode(text, out, outlen);
}

/* One row of dispatch_load's answer into p. PG_ERR_QUERY when out of memory or a sealed
 * value does not decode. */
static int load_take_row(struct dispatch_prep *p, PGresult *res, int j)
{
	const char *what = PQgetvalue(res, j, 0);
	size_t i;

	if (what[0] == 'c') {
		struct dispatch_prep_channel *c = &p->ch[p->nch++];

		copy_uuid(c->id, PQgetvalue(res, j, 2));
		snprintf(c->type, sizeof(c->type), "%s", PQgetvalue(res, j, 3));
		snprintf(c->status, sizeof(c->status), "%s", PQgetvalue(res, j, 4));
		c->config = strdup(PQgetvalue(res, j, 5));
		if (!c->config || bytea_take(pg_value(res, j, 6), &c->sealed, &c->sealed_len) < 0)
			return PG_ERR_QUERY;
	} else if (what[0] == 't') {
		struct dispatch_prep_target *t = &p->tg[p->ntg++];

		copy_uuid(t->id, PQgetvalue(res, j, 2));
		snprintf(t->kind, sizeof(t->kind), "%s", PQgetvalue(res, j, 3));
		t->url = dup_or_null(pg_value(res, j, 4));
		t->active = strcmp(PQgetvalue(res, j, 7), "t") == 0;
		if (bytea_take(pg_value(res, j, 6), &t->sealed, &t->sealed_len) < 0)
			return PG_ERR_QUERY;
	} else if (what[0] == 'b') {
		for (i = 0; i < p->n; i++)
			if (strcmp(p->rows[i]->conversation_id, PQgetvalue(res, j, 2)) == 0)
				p->rows[i]->conv_blocked = 1;
	} else if (what[0] == 'w') {
		long ord = atol(PQgetvalue(res, j, 1));
		const char *age = pg_value(res, j, 8);

		if (ord >= 1 && (size_t)ord <= p->n && age)
			p->window[ord - 1] = atol(age) < 0 ? 0 : atol(age);
	}
	return 0;
}

int dispatch_store_load(PGconn *db, const char *tenant_id, struct dispatch_prep *p)
{
	struct sbuf arr[6]; /* channels, targets, reply conversations; per row: conv, chan, rcpt */
	const char *params[7];
	PGresult *res = NULL;
	size_t i, k;
	int j, rc = PG_ERR_QUERY, failed = 0;

	dispatch_prep_clear(p);
	for (k = 0; k < 6; k++)
		arr_open(&arr[k]);
	for (i = 0; i < p->n; i++) {
		const struct dispatch_row *r = p->rows[i];

		p->rows[i]->conv_blocked = 0;
		if (r->channel_id[0])
			arr_add(&arr[0], r->channel_id);
		if (r->target_id[0])
			arr_add(&arr[1], r->target_id);
		if (r->kind == DISPATCH_REPLY && r->conversation_id[0])
			arr_add(&arr[2], r->conversation_id);
		arr_add(&arr[3], r->conversation_id[0] ? r->conversation_id : NULL);
		arr_add(&arr[4], r->channel_id[0] ? r->channel_id : NULL);
		arr_add(&arr[5], r->recipient);
	}
	params[0] = tenant_id;
	for (k = 0; k < 6; k++) {
		arr_close(&arr[k]);
		failed |= arr[k].failed;
		params[k + 1] = arr[k].data;
	}
	if (failed)
		goto out;
	res = pg_exec_tx(db,
	                 "SELECT what, ord, id, s1, s2, s3, secret, flag, age FROM dispatch_load("
	                 "$1::uuid, $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::uuid[],"
	                 " $7::text[])",
	                 7, params);
	if (!res) {
		rc = pg_conn_ok(db) ? PG_ERR_QUERY : PG_ERR_UNAVAILABLE;
		goto out;
	}
	p->ch = calloc((size_t)PQntuples(res) + 1, sizeof(*p->ch));
	p->tg = calloc((size_t)PQntuples(res) + 1, sizeof(*p->tg));
	if (!p->ch || !p->tg)
		goto out;
	for (j = 0; j < PQntuples(res); j++)
		if (load_take_row(p, res, j) < 0)
			goto out; /* what was read so far stays in p for dispatch_prep_clear */
	rc = 0;
out:
	PQclear(res);
	for (k = 0; k < 6; k++)
		sbuf_free(&arr[k]);
	return rc;
}

/* ---- outcomes ---- */

static const char *result_status(enum dispatch_result res)
{
	switch (res) {
	case DISPATCH_RES_SENT:
		return "sent";
	case DISPATCH_RES_FAILED:
		return "failed";
	case DISPATCH_RES_DEAD:
		return "dead";
	case DISPATCH_RES_UNDELIVERABLE:
		return "undeliverable";
	default:
		return "pending";
	}
}

struct complete_arg {
	struct dispatch_row **rows;
	size_t n;
	const char *params[13];       /* complete_sql's */
	int has_pmids;                /* some row carries a platform message id */
	int applied;                  /* rows whose lease was still ours */
	int64_t now_ms;               /* when the chained rows count as claimed */
	struct dispatch_row *chained; /* next rows of the conversations, claimed here */
};

static void row_list_free(struct dispatch_row *r)
{
	struct dispatch_row *next;

	for (; r; r = next) {
		next = r->next;
		dispatch_row_free(r);
	}
}

/* The outcomes of a batch in one statement (sql/090_outbox_complete.sql, which sets the
 * tenant itself): $1 the tenant; $2..$10 arrays, one element per row: id, lease owner,
 * status, error, error code, platform message id, retry delay, attempts delta, parts sent;
 * $11 the lease in seconds; $12, $13 the channel ids and platform message ids of sent rows
 * (NULL when none). Writes each row whose lease is still ours, claims or brings back its
 * conversation's next message, records conversation events and applies the statuses that
 * arrived before the ids were stored. Returns one row per outcome written (false, -, id) and
 * one per message claimed (true, the claim's columns, lease owner). */
static const char complete_sql[] =
    "SELECT claimed, tenant_id, id, kind, channel_id, target_id, conversation_id, recipient,"
    " reply_to, event_type, payload, attempts, parts_sent, lease_owner"
    " FROM outbox_complete($1::uuid, $2::uuid[], $3::text[], $4::text[], $5::text[],"
    " $6::bigint[], $7::text[], $8::bigint[], $9::integer[], $10::integer[], $11::integer,"
    " $12::text[], $13::text[])";

/* Takes the rows complete_sql returned: marks which of a->rows were written (a->applied) and
 * appends the conversations' next messages it claimed to a->chained. */
static void complete_take_result(struct complete_arg *a, PGresult *res)
{
	struct dispatch_row **ctail = &a->chained;
	size_t i;
	int j;

	a->applied = 0;
	for (i = 0; i < a->n; i++)
		a->rows[i]->applied = 0;
	for (j = 0; j < PQntuples(res); j++) {
		const char *id = PQgetvalue(res, j, 2);

		if (strcmp(PQgetvalue(res, j, 0), "t") == 0) {
			struct dispatch_row *c =
			    row_from_result(res, j, 1, PQgetvalue(res, j, 13), a->now_ms);

			if (c) { /* else it stays claimed and comes back after the lease */
				*ctail = c;
				ctail = &c->next;
			}
			continue;
		}
		a->applied++;

		for (i = 0; i < a->n; i++)
			if (strcmp(a->rows[i]->id, id) == 0)
				a->rows[i]->applied = 1;
	}
}

/* What the written outcomes say about channels and targets: a send on an unhealthy channel
 * makes it active again, rejected credentials make it unhealthy, a target that is gone is
 * deactivated. PG_ERR_QUERY on failure. */
static int complete_update_health(PGconn *db, struct complete_arg *a)
{
	const char *p1[2];
	size_t i;

	for (i = 0; i < a->n; i++) {
		struct dispatch_row *r = a->rows[i];

		if (!r->applied)
			continue; /* the lease was lost: the row is someone else's now */
		if (r->result == DISPATCH_RES_SENT && r->channel_unhealthy && r->channel_id[0]) {
			p1[0] = r->channel_id;
			if (pg_cmd(db,
			           "UPDATE channels SET status = 'active', health_error = NULL"
			           " WHERE id = $1 AND status = 'unhealthy'",
			           1, p1) < 0)
				return PG_ERR_QUERY;
			r->channel_unhealthy = 0;
		}
		if (r->auth_invalid && r->channel_id[0]) {
			p1[0] = r->channel_id;
			p1[1] = r->error;
			if (pg_cmd(db,
			           "UPDATE channels SET status = 'unhealthy', health_error = $2"
			           " WHERE id = $1 AND status <> 'disabled'",
			           2, p1) < 0)
				return PG_ERR_QUERY;
		}
		if (r->chat_blocked) {
			p1[0] = r->conversation_id;
			if (pg_cmd(db,
			           "UPDATE conversations SET blocked_at = COALESCE(blocked_at, now())"
			           " WHERE tenant_id = app_tenant_id() AND id = $1",
			           1, p1) < 0)
				return PG_ERR_QUERY;
		}
		if (r->target_gone && r->target_id[0]) {
			p1[0] = r->target_id;
			if (pg_cmd(db,
			           "UPDATE notification_targets SET active = false WHERE id = $1",
			           1, p1) < 0)
				return PG_ERR_QUERY;
		}
	}
	return 0;
}

/* Whether writing these outcomes also changes channels, targets or conversations
 * (complete_update_health): then it runs in a transaction of several statements. */
static int complete_needs_health(const struct complete_arg *a)
{
	size_t i;

	for (i = 0; i < a->n; i++) {
		const struct dispatch_row *r = a->rows[i];

		if ((r->result == DISPATCH_RES_SENT && r->channel_unhealthy && r->channel_id[0]) ||
		    (r->auth_invalid && r->channel_id[0]) || r->chat_blocked ||
		    (r->target_gone && r->target_id[0]))
			return 1;
	}
	return 0;
}

/* pg_tx_run body (arg is a struct complete_arg): writes a batch of outcomes (complete_sql)
 * and updates channel and target health. */
static int complete_tx(PGconn *db, void *arg)
{
	struct complete_arg *a = arg;
	PGresult *res;

	row_list_free(a->chained); /* pg_tx_run may run this again */
	a->chained = NULL;
	res = pg_exec(db, complete_sql, 13, a->params);
	if (!res)
		return PG_ERR_QUERY;
	complete_take_result(a, res);
	PQclear(res);
	return complete_update_health(db, a);
}

/* The common case: complete_sql as its own transaction, one statement in all. */
static int complete_alone(PGconn *db, struct complete_arg *a)
{
	PGresult *res = pg_exec_tx(db, complete_sql, 13, a->params);

	if (!res)
		return pg_conn_ok(db) ? PG_ERR_QUERY : PG_ERR_UNAVAILABLE;
	complete_take_result(a, res);
	PQclear(res);
	return 0;
}

int dispatch_store_complete(PGconn *db, const char *tenant_id, struct dispatch_row **rows, size_t n,
                            int lease_s, int64_t now_ms, struct dispatch_row ***chain_tail)
{
	char lease_str[16];
	struct sbuf arr[11];
	struct complete_arg a;
	size_t i, k;
	int rc = PG_ERR_QUERY, failed = 0;

	memset(&a, 0, sizeof(a));
	for (k = 0; k < 11; k++)
		arr_open(&arr[k]);
	for (i = 0; i < n; i++) {
		const struct dispatch_row *r = rows[i];
		int has_err = r->result != DISPATCH_RES_SENT && r->error[0];

		arr_add(&arr[0], r->id);
		arr_add(&arr[1], r->owner);
		arr_add(&arr[2], result_status(r->result));
		arr_add(&arr[3], has_err ? r->error : NULL);
		arr_add_long(&arr[4], r->error_code,
		             r->error_code == 0 || r->result == DISPATCH_RES_SENT ||
		                 r->result == DISPATCH_RES_RELEASE);
		arr_add(&arr[5], r->pmid[0] ? r->pmid : NULL);
		arr_add_long(&arr[6], r->delay_ms < 0 ? 0 : r->delay_ms, 0);
		arr_add_long(&arr[7], r->result == DISPATCH_RES_RELEASE || r->refund ? -1 : 0, 0);
		arr_add_long(&arr[8], (long long)r->parts_sent, 0);
		if (r->pmid[0] && r->channel_id[0]) {
			arr_add(&arr[9], r->channel_id);
			arr_add(&arr[10], r->pmid);
			a.has_pmids = 1;
		}
	}
	for (k = 0; k < 11; k++) {
		arr_close(&arr[k]);
		failed |= arr[k].failed;
		if (k < 9)
			a.params[k + 1] = arr[k].data;
	}
	if (failed)
		goto out;
	snprintf(lease_str, sizeof(lease_str), "%d", lease_s);
	a.params[0] = tenant_id;
	a.params[10] = lease_str;
	a.params[11] = a.has_pmids ? arr[9].data : NULL;
	a.params[12] = a.has_pmids ? arr[10].data : NULL;
	a.rows = rows;
	a.n = n;
	a.applied = 0;
	a.now_ms = now_ms;
	a.chained = NULL;
	rc = complete_needs_health(&a) ? pg_tx_run(db, tenant_id, complete_tx, &a)
	                               : complete_alone(db, &a);
	if (rc != 0) { /* rolled back: nothing was claimed */
		row_list_free(a.chained);
		a.chained = NULL;
	}
	while (a.chained) {
		struct dispatch_row *c = a.chained;

		a.chained = c->next;
		c->next = NULL;
		**chain_tail = c;
		*chain_tail = &c->next;
	}
	if (rc == 0) {
		for (i = 0; i < n; i++)
			if (!rows[i]->applied)
				log_warn(&(struct log_ctx){.tenant = tenant_id},
				         "outbox %s: lease lost before the outcome was written "
				         "(another process"
				         " claimed it again)",
				         rows[i]->id);
	}
out:
	for (k = 0; k < 11; k++)
		sbuf_free(&arr[k]);
	return rc;
}

int dispatch_store_stats(PGconn *db, struct dispatch_stats *s)
{
	static const char *const names[DEPTH_COUNT] = {"pending", "sending", "failed", "dead",
	                                               "undeliverable"};
	long long depth[DEPTH_COUNT] = {0};
	struct dispatch_health_row health[DISPATCH_HEALTH_MAX];
	size_t nhealth = 0;
	PGresult *res;
	int j, k;

	res = pg_exec(db, "SELECT status, n FROM outbox_depth()", 0, NULL);
	if (!res)
		return -1;
	for (j = 0; j < PQntuples(res); j++)
		for (k = 0; k < DEPTH_COUNT; k++)
			if (strcmp(PQgetvalue(res, j, 0), names[k]) == 0)
				depth[k] = atoll(PQgetvalue(res, j, 1));
	PQclear(res);
	res = pg_exec(
	    db,
	    "SELECT type, status, n FROM channel_health()"
	    " ORDER BY type, status",
	    0, NULL);
	if (!res)
		return -1;
	memset(health, 0, sizeof(health));
	for (j = 0; j < PQntuples(res) && nhealth < DISPATCH_HEALTH_MAX; j++) {
		struct dispatch_health_row *h = &health[nhealth++];
		snprintf(h->type, sizeof(h->type), "%s", PQgetvalue(res, j, 0));
		snprintf(h->status, sizeof(h->status), "%s", PQgetvalue(res, j, 1));
		h->n = atoll(PQgetvalue(res, j, 2));
	}
	PQclear(res);
	pthread_mutex_lock(&s->lock);
	memcpy(s->depth, depth, sizeof(depth));
	s->depth_known = 1;
	memcpy(s->health, health, sizeof(health));
	s->nhealth = nhealth;
	pthread_mutex_unlock(&s->lock);
	return 0;
}
