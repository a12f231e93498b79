/*
 * sim_shopper.c: a simulated shopper (sim.h): a fresh platform id from its type's simulator
 * (channel_sim.h), its steps as the platform's signed webhook requests to the gateway, or as
 * web chat frames on the page's WebSocket, and the replies it gets: from the fake API
 * (sim_api.h) or from the socket.
 */
#include "sim_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "channel.h"
#include "channel_sim.h"
#include "pg.h"
#include "sim_api.h"
#include "ws_client.h"
#include "tenant.h"
#include "util.h"

struct sim_shopper {
	struct sim *sim;
	struct sim_channel *chan;      /* NULL on the web chat */
	const struct channel_ops *ops; /* its type's adapter, which has a simulator */
	char id[48]; /* the platform's id of the shopper, or the web chat's conversation */
	char name[128];
	struct ws_client *ws;
	int ws_closed;
};

static json_t *ws_next_frame(struct sim_shopper *sh, int ms, int *closed)
{
	int64_t until = util_now_ms() + ms;
	char *text;
	json_t *f;
	int code = 0;

	*closed = 0;
	for (;;) {
		int left = (int)(until - util_now_ms());

		text = ws_client_recv(sh->ws, left > 0 ? left : 0, &code);
		if (!text) {
			*closed = code != 0;
			return NULL;
		}
		f = json_loads(text, 0, NULL);
		free(text);
		if (json_is_object(f))
			return f;
		json_decref(f);
	}
}

static int webchat_open(struct sim_shopper *sh, const char *slug, char *err, size_t errlen)
{
	char path[160];
	json_t *f;
	int rc, closed;

	sh->ws = calloc(1, sizeof(*sh->ws));
	if (!sh->ws) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	sh->ws->fd = -1;
	snprintf(path, sizeof(path), "/ws/chat/%s", slug);
	rc = ws_client_connect(sh->ws, sh->sim->host, sh->sim->port, path, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "the web chat of '%s' refused the socket (%d)", slug, rc);
		return -1;
	}
	if (ws_client_send_text(sh->ws, "{\"type\": \"hello\", \"session\": null}") < 0) {
		snprintf(err, errlen, "the web chat socket closed");
		return -1;
	}
	f = ws_next_frame(sh, 10000, &closed);
	if (!f || strcmp(json_string_value(json_object_get(f, "type"))
	                     ? json_string_value(json_object_get(f, "type"))
	                     : "",
	                 "welcome") != 0) {
		snprintf(err, errlen, "the web chat did not welcome the shopper: %s",
		         f ? json_string_value(json_object_get(f, "message")) : "no answer");
		json_decref(f);
		return -1;
	}
	snprintf(sh->id, sizeof(sh->id), "%.47s",
	         json_string_value(json_object_get(f, "conversation_id"))
	             ? json_string_value(json_object_get(f, "conversation_id"))
	             : "socket");
	json_decref(f);
	return 0;
}

struct sim_shopper *sim_shopper_new(struct sim *sim, const char *slug, const char *type,
                                    const char *name, char *err, size_t errlen)
{
	struct sim_shopper *sh;
	char tenant_id[37], digits[16];

	if (!sim_channel_type_ok(type)) {
		char types[128];

		snprintf(err, errlen, "channel must be %s, not '%s'",
		         sim_channel_types(types, sizeof(types)), type ? type : "");
		return NULL;
	}
	switch (tenant_id_by_slug(sim->conn, slug, tenant_id)) {
	case 0:
		break;
	case TENANT_ERR_NOT_FOUND:
		snprintf(err, errlen, "no tenant with slug '%s'", slug);
		return NULL;
	default:
		snprintf(err, errlen, "database error: %s", PQerrorMessage(sim->conn));
		return NULL;
	}
	sh = calloc(1, sizeof(*sh));
	if (!sh) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	sh->sim = sim;
	sh->ops = channel_ops_find(type);
	snprintf(sh->name, sizeof(sh->name), "%s", name && *name ? name : "Simulated Shopper");
	if (sh->ops->sim->socket) {
		if (webchat_open(sh, slug, err, errlen) < 0)
			goto fail;
		return sh;
	}
	sh->chan = sim_channel_get(sim, tenant_id, type, err, errlen);
	if (!sh->chan)
		goto fail;
	if (sim_random_digits(digits, 12) < 0) {
		snprintf(err, errlen, "no random bytes");
		goto fail;
	}
	sh->ops->sim->shopper_id(digits, sh->id, sizeof(sh->id));
	return sh;
fail:
	sim_shopper_free(sh);
	return NULL;
}

void sim_shopper_free(struct sim_shopper *sh)
{
	if (!sh)
		return;
	if (sh->ws) {
		ws_client_close(sh->ws);
		free(sh->ws);
	}
	free(sh);
}

const char *sim_shopper_id(const struct sim_shopper *sh)
{
	return sh->id;
}

static int shopper_ws_send(struct sim_shopper *sh, json_t *frame, char *err, size_t errlen)
{
	char mid[37], *text;
	int rc;

	util_uuid_new(mid);
	if (!frame || json_object_set_new(frame, "client_msg_id", json_string(mid)) < 0 ||
	    !(text = json_dumps(frame, JSON_COMPACT))) {
		json_decref(frame);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	json_decref(frame);
	rc = ws_client_send_text(sh->ws, text);
	free(text);
	if (rc < 0)
		snprintf(err, errlen, "the web chat socket closed");
	return rc;
}

/* The shopper's input through the platform: a webhook request built by the type's simulator
 * (signed as the platform signs it), or a web chat frame. */
static int shopper_send(struct sim_shopper *sh, const struct channel_sim_input *in, char *err,
                        size_t errlen)
{
	struct channel_sim_shopper who = {sh->id, sh->name, sim_seq_next()};
	struct channel_request req;
	const char *headers[CHANNEL_MAX_HEADERS + 1];
	char url[256];
	size_t i;
	int rc = -1;

	if (sh->ops->sim->socket) {
		switch (in->act) {
		case CHANNEL_SIM_TEXT:
			return shopper_ws_send(
			    sh, json_pack("{s:s, s:s}", "type", "text", "text", in->text), err,
			    errlen);
		case CHANNEL_SIM_PRESS:
			return shopper_ws_send(sh,
			                       json_pack("{s:s, s:O}", "type", "postback",
			                                 "payload",
			                                 json_object_get(in->choice, "payload")),
			                       err, errlen);
		default:
			snprintf(err, errlen, "the web chat shares no locations or contacts");
			return -1;
		}
	}
	if (sh->ops->sim->inbound(sh->chan->config, &who, in, &req, err, errlen) < 0)
		return -1;
	for (i = 0; i < req.nheaders; i++)
		headers[i] = req.headers[i];
	headers[i] = NULL;
	snprintf(url, sizeof(url), "%s/webhooks/%s/%s", sh->sim->url, sh->ops->type, sh->chan->id);
	if (sim_http_post(url, headers, req.body ? req.body : "", err, errlen) == 200)
		rc = 0;
	channel_request_clear(&req);
	return rc;
}

int sim_shopper_text(struct sim_shopper *sh, const char *text, char *err, size_t errlen)
{
	struct channel_sim_input in = {CHANNEL_SIM_TEXT, text, NULL, 0, 0};

	return shopper_send(sh, &in, err, errlen);
}

int sim_shopper_press(struct sim_shopper *sh, const json_t *choice, char *err, size_t errlen)
{
	struct channel_sim_input in = {CHANNEL_SIM_PRESS, NULL, choice, 0, 0};

	if (!json_string_value(json_object_get(choice, "payload"))) {
		snprintf(err, errlen, "no such choice");
		return -1;
	}
	return shopper_send(sh, &in, err, errlen);
}

int sim_shopper_location(struct sim_shopper *sh, double lat, double lon, char *err, size_t errlen)
{
	struct channel_sim_input in = {CHANNEL_SIM_LOCATION, NULL, NULL, lat, lon};

	return shopper_send(sh, &in, err, errlen);
}

int sim_shopper_contact(struct sim_shopper *sh, const char *phone, char *err, size_t errlen)
{
	struct channel_sim_input in = {CHANNEL_SIM_CONTACT, phone, NULL, 0, 0};

	return shopper_send(sh, &in, err, errlen);
}

/* A web chat message frame as a reply; NULL for other frames (acks). */
static json_t *ws_reply(const json_t *f)
{
	const char *type = json_string_value(json_object_get(f, "type"));
	const json_t *b, *sec, *row, *list = json_object_get(f, "list");
	json_t *choices, *r;
	size_t i, j;

	if (!type)
		return NULL;
	if (strcmp(type, "error") == 0)
		return json_pack("{s:s+, s:[]}", "text", "[error] ",
		                 json_string_value(json_object_get(f, "message"))
		                     ? json_string_value(json_object_get(f, "message"))
		                     : "",
		                 "choices");
	if (strcmp(type, "message") != 0)
		return NULL;
	choices = json_array();
	if (!choices)
		return NULL;
	json_array_foreach(json_object_get(f, "buttons"), i,
	                   b) if (json_string_value(json_object_get(b, "title")) &&
	                          json_string_value(json_object_get(b, "payload")))
	    json_array_append_new(choices,
	                          json_pack("{s:O, s:O}", "title", json_object_get(b, "title"),
	                                    "payload", json_object_get(b, "payload")));
	json_array_foreach(json_object_get(list, "sections"), i, sec)
	    json_array_foreach(json_object_get(sec, "rows"), j,
	                       row) if (json_string_value(json_object_get(row, "title")) &&
	                                json_string_value(json_object_get(row, "payload")))
	{
		json_t *c = json_pack("{s:O, s:O}", "title", json_object_get(row, "title"),
		                      "payload", json_object_get(row, "payload"));

		if (c && json_string_value(json_object_get(row, "description")))
			json_object_set(c, "description", json_object_get(row, "description"));
		json_array_append_new(choices, c);
	}
	r = json_pack("{s:s, s:o}", "text",
	              json_string_value(json_object_get(f, "text"))
	                  ? json_string_value(json_object_get(f, "text"))
	                  : "",
	              "choices", choices);
	if (r && json_string_value(json_object_get(list, "button")))
		json_object_set(r, "list_button", json_object_get(list, "button"));
	return r;
}

struct pending_tx {
	const struct sim_shopper *sh;
	long n;
};

static int pending_tx(PGconn *conn, void *arg)
{
	struct pending_tx *t = arg;
	const char *params[2] = {t->sh->chan->id, t->sh->id};
	PGresult *res = pg_exec(conn,
	                        "SELECT count(*) FROM outbox WHERE tenant_id = app_tenant_id() AND"
	                        " channel_id = $1 AND recipient = $2 AND status IN ('pending',"
	                        " 'sending')",
	                        2, params);

	if (!res)
		return PG_ERR_QUERY;
	t->n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

int sim_shopper_settle(struct sim_shopper *sh, int ms)
{
	int64_t until = util_now_ms() + ms;
	struct pending_tx t = {sh, 0};

	if (sh->ops->sim->socket)
		return -1;
	do {
		struct timespec ts = {0, 20 * 1000000L};

		if (pg_tx_run(sh->sim->conn, sh->chan->tenant_id, pending_tx, &t) != 0)
			return -1;
		if (t.n == 0)
			return 0;
		nanosleep(&ts, NULL);
	} while (util_now_ms() < until);
	return -1;
}

json_t *sim_shopper_reply(struct sim_shopper *sh, int ms)
{
	int64_t until = util_now_ms() + ms;
	json_t *r = NULL, *f;
	int closed;

	if (!sh->ops->sim->socket)
		return sim_api_take(sh->sim->api, sh->id, ms);
	while (!r) {
		int left = (int)(until - util_now_ms());

		if (left < 0)
			left = 0;
		if (sh->ws_closed)
			return NULL;
		f = ws_next_frame(sh, left, &closed);
		if (!f && closed) {
			sh->ws_closed = 1;
			return json_pack("{s:s, s:[]}", "text", "[the web chat closed the socket]",
			                 "choices");
		}
		if (!f)
			return NULL;
		r = ws_reply(f);
		json_decref(f);
	}
	return r;
}
