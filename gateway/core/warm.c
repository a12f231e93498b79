/*
 * warm.c: rehearsed turns on a new pool connection (see warm.h).
 */
#include "warm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "engine.h"
#include "log.h"
#include "message.h"
#include "pg.h"

/* Rounds of rehearsal per channel: PostgreSQL plans a prepared statement afresh for its first
 * five runs on a session and settles on a generic plan at the sixth, so two rounds of three
 * turns bring the turn's statements to their kept plan before a shopper's turn pays for it
 * (measured with bench_webchat: the trust statement alone costs 2.9 ms to plan). */
#define WARM_ROUNDS 2

/* What a shopper new to the shop would write first: a greeting, a search, the cart. */
static const char *const rehearsal_texts[] = {"hi", "honey", "show my cart"};

struct rehearsal {
	struct engine *engine;
	struct msg_inbound *m;
	int turns;
};

static int rehearse(PGconn *conn, void *arg)
{
	struct rehearsal *r = arg;
	struct engine_result res;
	size_t i;

	for (i = 0; i < sizeof(rehearsal_texts) / sizeof(rehearsal_texts[0]); i++) {
		char id[64];

		snprintf(id, sizeof(id), "ccgw-warm-%d-%zu", PQbackendPID(conn), i);
		free(r->m->text);
		free(r->m->message_id);
		r->m->text = strdup(rehearsal_texts[i]);
		r->m->message_id = strdup(id);
		if (!r->m->text || !r->m->message_id)
			return PG_ERR_ABORT;
		if (engine_handle(r->engine, conn, r->m, &res) < 0)
			return PG_ERR_ABORT;
		r->turns++;
	}
	return 0;
}

int app_db_warm(struct app *app, PGconn *conn)
{
	PGresult *res;
	int i, n = 0, round;

	if (!app->engine)
		return 0;
	res = pg_exec(conn, "SELECT tenant_id::text, channel_id::text, type FROM warm_targets()", 0,
	              NULL);
	if (!res)
		return -1;
	for (i = 0; i < PQntuples(res); i++) {
		struct msg_inbound *m = msg_inbound_new();
		struct rehearsal r = {app->engine, m, 0};
		char chat[48];

		if (!m)
			break;
		if (msg_channel_parse(PQgetvalue(res, i, 2), &m->channel) < 0) {
			msg_inbound_free(m);
			continue;
		}
		snprintf(m->tenant_id, sizeof(m->tenant_id), "%s", PQgetvalue(res, i, 0));
		snprintf(m->channel_id, sizeof(m->channel_id), "%s", PQgetvalue(res, i, 1));
		m->kind = MSG_KIND_TEXT;
		m->timestamp = (int64_t)time(NULL);
		for (round = 0; round < WARM_ROUNDS; round++) {
			/* a chat of its own per session and round: rehearsals on other connections
			 * never wait on it, and each round begins with a shopper's first contact */
			snprintf(chat, sizeof(chat), "ccgw-warm-%d-%d", PQbackendPID(conn), round);
			free(m->chat_id);
			free(m->user_id);
			m->chat_id = strdup(chat);
			m->user_id = strdup(chat);
			if (!m->chat_id || !m->user_id)
				break;
			(void)pg_tx_rehearse(conn, m->tenant_id, rehearse, &r);
		}
		if (r.turns > 0)
			n++;
		msg_inbound_free(m);
	}
	PQclear(res);
	return n;
}
