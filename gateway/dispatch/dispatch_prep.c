/*
 * dispatch_prep.c: what happens to a tenant's claimed rows between loading and sending: each
 * channel's config and secrets opened (channel_open), each row's rate limits and API settings
 * taken from its adapter (channel_ops.settings: the configuration keys it names), and each row
 * rendered by its adapter into requests (or a notification target's signed webhook). No SQL
 * here: dispatch_store.c loads before and writes the outcomes after.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel_open.h"
#include "config.h"
#include "dispatch_internal.h"
#include "pg.h"
#include "app.h"

static const unsigned char *dispatch_key(const struct dispatcher *d)
{
	return app_secret_key(d->app);
}

/* A setting of a channel type by its configuration key (NULL when the type has none). */
/* A simulated channel's fake platform API (ccgw simulate, docs/SIMULATE.md): the channel's
 * config says "simulated": true and "sim_api_base", a loopback URL, which only the simulator
 * writes (the admin API stores no such key). NULL for every other channel. */
static const char *sim_api_base(const json_t *cfg)
{
	const char *base = channel_config_str(cfg, "sim_api_base");

	if (!json_is_true(json_object_get(cfg, "simulated")) || !base ||
	    strncmp(base, "http://127.0.0.1:", 17) != 0)
		return NULL;
	return base;
}

static const char *setting_str(const struct dispatcher *d, const char *key)
{
	const char *v = NULL;

	return key && config_get(d->cfg, key, &v, NULL) == 0 ? v : NULL;
}

static long setting_long(const struct dispatcher *d, const char *key, long def)
{
	long v = def;

	return key && config_get(d->cfg, key, NULL, &v) == 0 ? v : def;
}

static struct dispatch_prep_channel *prep_channel_find(struct dispatch_prep *p, const char *id)
{
	size_t i;

	for (i = 0; i < p->nch; i++)
		if (strcmp(p->ch[i].id, id) == 0)
			return &p->ch[i];
	return NULL;
}

static struct dispatch_prep_target *prep_target_find(struct dispatch_prep *p, const char *id)
{
	size_t i;

	for (i = 0; i < p->ntg; i++)
		if (strcmp(p->tg[i].id, id) == 0)
			return &p->tg[i];
	return NULL;
}


static void prep_channel_open(struct dispatcher *d, const char *tenant_id,
                              struct dispatch_prep_channel *c)
{
	enum channel_open_result rc =
	    channel_open(dispatch_key(d), tenant_id, c->config, c->sealed, c->sealed_len,
	                 &c->merged, c->error, sizeof(c->error));

	/* an operator can fix the key and restart; a config that is not JSON stays so */
	c->retryable = rc == CHANNEL_OPEN_KEY;
}

/* The rate limits of a row: its adapter's per-channel and per-recipient rates (the settings
 * are for all processes on the database together, so each takes its share), or for a
 * notification webhook a key that only carries a 429's pause. Local channels have none. */
static int row_set_limits(struct dispatcher *d, struct dispatch_row *r)
{
	const struct channel_ops *ops = r->ops;
	char key[256];
	double rate, burst, rrate, rburst;
	int live;

	if (r->kind == DISPATCH_WEBHOOK) {
		snprintf(key, sizeof(key), "wh:%s", r->target_id);
		r->limit_keys[0] = strdup(key);
		if (!r->limit_keys[0])
			return -1;
		r->limits[0] = (struct ratelimit_spec){r->limit_keys[0], 1e9, 1e9};
		r->nlimits = 1;
		return 0;
	}
	if (!ops || !ops->limit_prefix || !ops->settings.rate)
		return 0;
	rate = (double)setting_long(d, ops->settings.rate, 1);
	rrate = (double)setting_long(d, ops->settings.recipient_rate, 1);
	live = atomic_load(&d->live);
	if (live > 1) {
		rate /= live;
		rrate /= live;
	}
	burst = rate;
	rburst = ops->recipient_burst > rrate ? ops->recipient_burst : rrate;
	snprintf(key, sizeof(key), "%s:%s", ops->limit_prefix, r->channel_id);
	r->limit_keys[0] = strdup(key);
	snprintf(key, sizeof(key), "%s:%s:%.200s", ops->limit_prefix, r->channel_id,
	         r->recipient ? r->recipient : "");
	r->limit_keys[1] = strdup(key);
	if (!r->limit_keys[0] || !r->limit_keys[1])
		return -1;
	r->limits[0] = (struct ratelimit_spec){r->limit_keys[0], rate, burst};
	r->limits[1] = (struct ratelimit_spec){r->limit_keys[1], rrate, rburst};
	r->nlimits = 2;
	return 0;
}

/* A seller webhook's signed request; 0, or -1 when the row is finished (failed, retry). */
static int prep_render_webhook(struct dispatcher *d, struct dispatch_row *r,
                               const struct dispatch_prep_target *t)
{
	char err[256] = "";
	char *secret = t->sealed ? secret_open_text(dispatch_key(d), r->tenant_id, t->sealed,
	                                            t->sealed_len, err, sizeof(err))
	                         : NULL;
	const char *use = secret;
	json_t *wrapped = NULL;
	int rc;

	if (t->sealed && !secret) {
		dispatch_row_finish(r, DISPATCH_RES_RETRY, 0, "webhook secret: %s", err);
		return -1;
	}
	/* a secret sealed as {"secret": "..."} is accepted as well as the bare string */
	if (secret && secret[0] == '{') {
		wrapped = json_loads(secret, 0, NULL);
		if (json_is_string(json_object_get(wrapped, "secret")))
			use = json_string_value(json_object_get(wrapped, "secret"));
	}
	rc = dispatch_webhook_render(t->url ? t->url : r->recipient, use, r->payload, &r->reqs,
	                             &r->nreqs, err, sizeof(err));
	json_decref(wrapped);
	if (secret) {
		explicit_bzero(secret, strlen(secret));
		free(secret);
	}
	if (rc < 0) {
		dispatch_row_finish(r, DISPATCH_RES_FAILED, 0, "%s", err);
		return -1;
	}
	snprintf(r->channel_type, sizeof(r->channel_type), "webhook");
	return 0;
}

/* A reply or chat notification rendered by its channel's adapter; 0 (*simulated set when the
 * channel talks to ccgw simulate's fake platform), or -1 when the row is finished. */
static int prep_render_channel(struct dispatcher *d, struct dispatch_prep *p, size_t i,
                               int *simulated)
{
	struct dispatch_row *r = p->rows[i];
	struct dispatch_prep_channel *c;
	struct channel_target target;
	char err[256] = "";
	int rc;

	if (!r->channel_id[0] || !(c = prep_channel_find(p, r->channel_id))) {
		dispatch_row_finish(r, DISPATCH_RES_FAILED, 0, "the channel of this message is gone");
		return -1;
	}
	snprintf(r->channel_type, sizeof(r->channel_type), "%s", c->type);
	r->channel_unhealthy = strcmp(c->status, "unhealthy") == 0;
	if (r->conv_blocked) {
		dispatch_row_finish(r, DISPATCH_RES_UNDELIVERABLE, 0, "the shopper blocked the bot");
		return -1;
	}
	if (strcmp(c->status, "disabled") == 0) {
		dispatch_row_finish(r, DISPATCH_RES_FAILED, 0, "the channel is disabled");
		return -1;
	}
	r->ops = d->ops_find(c->type);
	if (!r->ops || !r->ops->render || !r->ops->classify) {
		dispatch_row_finish(r, DISPATCH_RES_FAILED, 0,
		                    "no sender for channel type '%s' in this build", c->type);
		return -1;
	}
	if (!c->merged) {
		dispatch_row_finish(r, c->retryable ? DISPATCH_RES_RETRY : DISPATCH_RES_FAILED, 0,
		                    "%s", c->error);
		return -1;
	}
	memset(&target, 0, sizeof(target));
	target.channel_id = r->channel_id;
	target.api_base = sim_api_base(c->merged);
	*simulated = target.api_base != NULL;
	if (!target.api_base)
		target.api_base = setting_str(d, r->ops->settings.api_base);
	target.api_version = setting_str(d, r->ops->settings.api_version);
	target.config = c->merged;
	target.recipient = r->recipient;
	target.reply_to = r->reply_to;
	target.window_age = p->window[i];
	target.event_type = r->event_type;
	target.mark_read = r->kind == DISPATCH_REPLY &&
	                   setting_long(d, r->ops->settings.mark_read, 0) && r->reply_to;
	r->window_age = p->window[i];
	rc = r->ops->render(&target, r->payload, &r->reqs, &r->nreqs, err, sizeof(err));
	if (rc == CHANNEL_ERR_UNDELIVERABLE) {
		dispatch_row_finish(r, DISPATCH_RES_UNDELIVERABLE, 0, "%s",
		                    err[0] ? err : "undeliverable");
		return -1;
	}
	if (rc < 0) {
		dispatch_row_finish(r, DISPATCH_RES_FAILED, 0, "cannot render the reply: %s",
		                    err[0] ? err : "unknown error");
		return -1;
	}
	return 0;
}

static void prep_render_row(struct dispatcher *d, struct dispatch_prep *p, size_t i)
{
	struct dispatch_row *r = p->rows[i];
	struct dispatch_prep_target *t = NULL;
	int simulated = 0;

	if (r->result != DISPATCH_RES_NONE)
		return;
	if (r->target_id[0])
		t = prep_target_find(p, r->target_id);
	if (r->kind != DISPATCH_REPLY && (!t || !t->active)) {
		dispatch_row_finish(r, DISPATCH_RES_FAILED, 0, "the notification target was %s",
		                    t ? "deactivated" : "removed");
		return;
	}
	if (r->kind == DISPATCH_WEBHOOK ? prep_render_webhook(d, r, t) < 0
	                                : prep_render_channel(d, p, i, &simulated) < 0)
		return;
	/* a simulated channel's fake platform has no rate limits to keep */
	if (!simulated && row_set_limits(d, r) < 0) {
		dispatch_row_finish(r, DISPATCH_RES_RELEASE, 0, "out of memory");
		r->delay_ms = 1000;
		return;
	}
	r->part = (size_t)r->parts_sent;
	if (r->part >= r->nreqs) {
		if (r->nreqs == 0)
			dispatch_row_finish(r, DISPATCH_RES_FAILED, 0,
			                    "the reply renders to nothing to send");
		else
			dispatch_row_finish(r, DISPATCH_RES_SENT, 0,
			                    NULL); /* every part went out before */
	}
}

int dispatch_store_prepare(struct dispatcher *d, PGconn *db, const char *tenant_id,
                           struct dispatch_row **rows, size_t n)
{
	struct dispatch_prep p;
	size_t i;
	int rc;

	memset(&p, 0, sizeof(p));
	p.d = d;
	p.rows = rows;
	p.n = n;
	p.window = calloc(n + 1, sizeof(*p.window));
	if (!p.window)
		return PG_ERR_QUERY;
	rc = dispatch_store_load(db, tenant_id, &p);
	if (rc == 0) {
		for (i = 0; i < p.nch; i++)
			prep_channel_open(d, tenant_id, &p.ch[i]);
		for (i = 0; i < n; i++)
			prep_render_row(d, &p, i);
	}
	dispatch_prep_clear(&p);
	free(p.window);
	return rc;
}

