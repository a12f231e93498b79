/*
 * sim_channel.c: the simulated channels of a run (sim_internal.h). A channel is registered
 * through the admin API's own registration (admin_channels_register) with fresh secrets from
 * its adapter's simulator (channel_sim.h: registration), marked in its config ("simulated":
 * true, "sim_api_base": this run's fake API for the type), which the dispatcher honours for
 * simulated channels alone, and reused by later runs. A run holds a session advisory lock on
 * each one it uses, so runs at the same time never share one.
 */
#include "sim_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "channel.h"
#include "channel_open.h"
#include "channel_sim.h"
#include "http.h"
#include "pg.h"
#include "sim_api.h"

struct chan_tx {
	struct sim *sim;
	struct sim_channel *ch;
	const char *id;     /* the channel to open */
	json_t *candidates; /* ids of the tenant's simulated channels of the type */
	int locked;
};

static int candidates_tx(PGconn *conn, void *arg)
{
	struct chan_tx *t = arg;
	const char *params[1] = {t->ch->type};
	PGresult *res = pg_exec(conn,
	                        "SELECT id FROM channels WHERE tenant_id = app_tenant_id() AND "
	                        "type = $1 AND status = 'active' AND config->>'simulated' = 'true'"
	                        " ORDER BY created_at, id",
	                        1, params);
	int i;

	if (!res)
		return PG_ERR_QUERY;
	json_array_clear(t->candidates);
	for (i = 0; i < PQntuples(res); i++)
		json_array_append_new(t->candidates, json_string(PQgetvalue(res, i, 0)));
	PQclear(res);
	return 0;
}

/* Marks the channel simulated and points it at this run's fake API, then opens it. */
static int claim_tx(PGconn *conn, void *arg)
{
	struct chan_tx *t = arg;
	char base[96], err[160];
	const char *params[2] = {t->id, base};
	PGresult *res;

	snprintf(base, sizeof(base), "%s/%s", sim_api_base_url(t->sim->api), t->ch->type);
	res = pg_exec(conn,
	              "UPDATE channels SET config = config || jsonb_build_object('simulated', true,"
	              " 'sim_api_base', $2::text) WHERE tenant_id = app_tenant_id() AND id = $1"
	              " RETURNING config::text, secrets",
	              2, params);
	if (!res)
		return PG_ERR_QUERY;
	channel_config_free(t->ch->config);
	t->ch->config = NULL;
	if (PQntuples(res) == 1 &&
	    channel_open_bytea(app_secret_key(&t->sim->app), t->ch->tenant_id,
	                       PQgetvalue(res, 0, 0), pg_value(res, 0, 1), &t->ch->config, err,
	                       sizeof(err)) != CHANNEL_OPEN_OK)
		t->ch->config = NULL;
	PQclear(res);
	return 0;
}

/* A session advisory lock on the channel: 1 taken, 0 another run holds it, -1 error. */
static int channel_lock(PGconn *conn, const char *id)
{
	const char *params[1] = {id};
	PGresult *res = pg_exec(conn,
	                        "SELECT pg_try_advisory_lock(hashtextextended("
	                        "'ccgw-simulate:' || $1, 0))",
	                        1, params);
	int rc;

	if (!res)
		return -1;
	rc = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return rc;
}

static void channel_unlock(PGconn *conn, const char *id)
{
	const char *params[1] = {id};

	PQclear(pg_exec(conn,
	                "SELECT pg_advisory_unlock(hashtextextended('ccgw-simulate:' || $1, 0))", 1,
	                params));
}

/* Claims (marks, opens) channel id for this run. 0, or -1 when it cannot be used. */
static int channel_claim(struct sim *sim, struct sim_channel *ch, const char *id)
{
	struct chan_tx t = {sim, ch, id, NULL, 0};

	if (pg_tx_run(sim->conn, ch->tenant_id, claim_tx, &t) != 0 || !ch->config)
		return -1;
	snprintf(ch->id, sizeof(ch->id), "%s", id);
	return 0;
}

/* Registers a new simulated channel through the admin API's registration. */
static int channel_register(struct sim *sim, struct sim_channel *ch, char *err, size_t errlen)
{
	struct http_ctx hctx = {&sim->app, sim->conn};
	struct http_response resp;
	const struct channel_ops *ops = channel_ops_find(ch->type);
	char a[65], b[65], c[65], digits[16], id[37];
	const char *const hex[3] = {a, b, c};
	json_t *body = NULL;
	int rc = -1;

	memset(&resp, 0, sizeof(resp));
	if (!ops || !ops->sim || !ops->sim->registration || sim_random_hex(a, 24) < 0 ||
	    sim_random_hex(b, 24) < 0 || sim_random_hex(c, 24) < 0 ||
	    sim_random_digits(digits, 12) < 0) {
		snprintf(err, errlen, "no random bytes");
		return -1;
	}
	body = ops->sim->registration(hex, digits);
	if (!body) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	admin_channels_register(&hctx, ch->tenant_id, body, &resp, id);
	if (resp.status != 201 || !id[0]) {
		snprintf(err, errlen, "the %s channel could not be registered: %d %s", ch->type,
		         resp.status, resp.body ? resp.body : "");
		goto out;
	}
	if (channel_lock(sim->conn, id) != 1 || channel_claim(sim, ch, id) < 0) {
		snprintf(err, errlen, "the new %s channel could not be opened", ch->type);
		goto out;
	}
	rc = 0;
out:
	/* the body held the secrets */
	channel_config_free(body);
	http_response_clear(&resp);
	return rc;
}

/* The run's simulated channel of type for the tenant: the first free one, else a new one. */
struct sim_channel *sim_channel_get(struct sim *sim, const char *tenant_id, const char *type,
                                    char *err, size_t errlen)
{
	struct sim_channel *ch;
	struct chan_tx t;
	size_t i;

	for (i = 0; i < sim->nchans; i++)
		if (strcmp(sim->chans[i].tenant_id, tenant_id) == 0 &&
		    strcmp(sim->chans[i].type, type) == 0)
			return &sim->chans[i];
	if (sim->nchans == SIM_MAX_CHANNELS) {
		snprintf(err, errlen, "too many tenants and channel types in one run");
		return NULL;
	}
	ch = &sim->chans[sim->nchans];
	memset(ch, 0, sizeof(*ch));
	snprintf(ch->tenant_id, sizeof(ch->tenant_id), "%s", tenant_id);
	snprintf(ch->type, sizeof(ch->type), "%s", type);
	memset(&t, 0, sizeof(t));
	t.sim = sim;
	t.ch = ch;
	t.candidates = json_array();
	if (!t.candidates || pg_tx_run(sim->conn, tenant_id, candidates_tx, &t) != 0) {
		snprintf(err, errlen, "the channels could not be read");
		json_decref(t.candidates);
		return NULL;
	}
	for (i = 0; i < json_array_size(t.candidates); i++) {
		const char *id = json_string_value(json_array_get(t.candidates, i));

		if (channel_lock(sim->conn, id) != 1)
			continue; /* another run's */
		if (channel_claim(sim, ch, id) == 0)
			break;
		channel_unlock(sim->conn, id); /* sealed under another key: not usable here */
	}
	json_decref(t.candidates);
	if (!ch->id[0] && channel_register(sim, ch, err, errlen) < 0)
		return NULL;
	sim->nchans++;
	return ch;
}
