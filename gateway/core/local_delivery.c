/*
 * local_delivery.c: claiming a conversation's replies for a channel that delivers locally,
 * and handing them to its adapter after the commit.
 */
#include "local_delivery.h"

#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "pg.h"

/* {"seq": N, "payload": {...}, "id": "..."} from columns seq, payload::text, id of row i. */
static void row_append(json_t *out, PGresult *res, int i)
{
	json_t *p = json_loads(PQgetvalue(res, i, 1), 0, NULL);
	json_t *row = p ? json_pack("{s:I, s:o, s:s}", "seq", (json_int_t)atoll(PQgetvalue(res, i, 0)),
	                            "payload", p, "id", PQgetvalue(res, i, 2))
	                : NULL;

	if (row)
		json_array_append_new(out, row);
}

int local_read_replies(PGconn *conn, const char *conversation_id, json_t *out)
{
	const char *params[1] = {conversation_id};
	PGresult *res;
	int i;

	json_array_clear(out);
	if (!conversation_id || !conversation_id[0])
		return 0;
	res = pg_exec(conn,
	              "SELECT seq, payload::text, id FROM outbox WHERE tenant_id = app_tenant_id()"
	              " AND conversation_id = $1 AND kind = 'reply' AND status = 'pending'"
	              " ORDER BY seq",
	              1, params);
	if (!res)
		return -1;
	for (i = 0; i < PQntuples(res); i++)
		row_append(out, res, i);
	PQclear(res);
	return 0;
}

int local_mark_sent(PGconn *conn, const char *ids, const char *type)
{
	const char *params[2] = {ids, type};
	PGresult *res;
	int n;

	res = pg_exec(conn,
	              "WITH s AS (UPDATE outbox SET status = 'sent', sent_at = now(),"
	              "  attempts = attempts + 1 WHERE tenant_id = app_tenant_id()"
	              "  AND id = ANY($1::uuid[]) AND kind = 'reply' AND status = 'pending'"
	              "  RETURNING id, conversation_id, seq),"
	              " e AS (INSERT INTO conversation_events (tenant_id, conversation_id,"
	              "  event_type, payload)"
	              "  SELECT app_tenant_id(), s.conversation_id, 'message_sent',"
	              "   jsonb_build_object('outbox_id', s.id, 'status', 'sent', 'channel', $2::text)"
	              "  FROM s ORDER BY s.seq RETURNING 1)"
	              " SELECT count(*) FROM e",
	              2, params);
	if (!res)
		return -1;
	n = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return n;
}

int local_take_replies(PGconn *conn, const char *conversation_id, const char *type,
                       json_t *out)
{
	return local_take_replies_except(conn, conversation_id, type, NULL, out);
}

int local_take_replies_except(PGconn *conn, const char *conversation_id, const char *type,
                              const char *except, json_t *out)
{
	const char *params[2] = {conversation_id, except ? except : "{}"};
	const char *ev[2] = {conversation_id, type};
	PGresult *res;
	int i;

	json_array_clear(out);
	if (!conversation_id || !conversation_id[0])
		return 0;
	/* FOR UPDATE, not SKIP LOCKED: the dispatcher's claim locks local rows for a moment to
	 * park them (058), and a reply skipped then waited for the web chat's 5 s sweep; the
	 * claim never waits (SKIP LOCKED), so waiting for it here cannot deadlock */
	res = pg_exec(conn,
	              "UPDATE outbox SET status = 'sent', sent_at = now(), attempts = attempts + 1"
	              " WHERE id IN (SELECT id FROM outbox WHERE conversation_id = $1"
	              "  AND kind = 'reply' AND status = 'pending' AND NOT (id = ANY($2::uuid[]))"
	              "  ORDER BY seq FOR UPDATE)"
	              " RETURNING seq, payload::text, id",
	              2, params);
	if (!res)
		return -1;
	/* the local end is the delivery: record it as the dispatcher records a send */
	if (PQntuples(res) > 0 &&
	    pg_cmd(conn,
	           "INSERT INTO conversation_events (tenant_id, conversation_id, event_type, payload)"
	           " SELECT app_tenant_id(), $1, 'message_sent',"
	           "  jsonb_build_object('outbox_id', o.id, 'status', 'sent', 'channel', $2::text)"
	           " FROM outbox o WHERE o.conversation_id = $1 AND o.kind = 'reply'"
	           "  AND o.status = 'sent' AND o.sent_at = now()",
	           2, ev) < 0) {
		PQclear(res);
		return -1;
	}
	for (i = 0; i < PQntuples(res); i++)
		row_append(out, res, i);
	PQclear(res);
	return 0;
}

int local_cmp_seq(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "seq"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "seq"));

	return x < y ? -1 : x > y;
}

int local_deliver(const struct channel_ops *ops, const struct channel_sink *sink,
                  const json_t *replies)
{
	size_t i, n = json_array_size(replies);
	json_t **v = calloc(n ? n : 1, sizeof(*v));
	char err[160];
	int refused = 0;

	if (!v || !ops->deliver_local) {
		free(v);
		return (int)n;
	}
	for (i = 0; i < n; i++)
		v[i] = json_array_get(replies, i);
	/* RETURNING does not promise order: by outbox sequence */
	qsort(v, n, sizeof(*v), local_cmp_seq);
	for (i = 0; i < n; i++)
		if (ops->deliver_local(sink, json_object_get(v[i], "payload"), err, sizeof(err)) < 0) {
			refused++;
			log_warn(NULL, "%s: a reply was not delivered: %s", ops->type, err);
		}
	free(v);
	return refused;
}
