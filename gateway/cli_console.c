/*
 * cli_console.c: `ccgw console --tenant SLUG [--user ID]`: a shopper's chat in the terminal.
 * Each stdin line becomes a normalized text message on the tenant's console channel and goes
 * through the same engine and transaction as every channel; the conversation's pending
 * replies are then taken from the outbox (the console is its own delivery: marked sent in the
 * same transaction) and printed after the commit as plain text with numbered choices.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "app.h"
#include "engine.h"
#include "log.h"
#include "message.h"
#include "nlp.h"
#include "pg.h"
#include "reply_text.h"
#include "tenant.h"
#include "util.h"

#define CLI_CONSOLE_LINE_MAX (64 * 1024)

struct console_turn {
	struct engine *engine;
	struct msg_inbound *msg;
	struct engine_result res;
	json_t *replies; /* the rendered outbox payloads, filled in the transaction */
	int handled;
};

static int console_channel_tx(PGconn *conn, void *arg)
{
	char **ids = arg; /* [0] tenant id, [1] channel id out */

	return tenant_channel_ensure(conn, ids[0], "console", ids[1]) < 0 ? -1 : 0;
}

/* Claims this conversation's pending replies: marks them sent and keeps their payloads. */
static int console_take_replies(PGconn *conn, struct console_turn *ct)
{
	const char *conv = ct->res.conversation_id;
	PGresult *res;
	int i;

	json_array_clear(ct->replies);
	if (!conv[0])
		return 0;
	res = pg_exec(conn,
	              "UPDATE outbox SET status = 'sent', sent_at = now(), attempts = attempts + 1"
	              " WHERE id IN (SELECT id FROM outbox WHERE conversation_id = $1"
	              "  AND kind = 'reply' AND status = 'pending' ORDER BY seq"
	              "  FOR UPDATE SKIP LOCKED)"
	              " RETURNING seq, payload::text, id",
	              1, &conv);
	if (!res)
		return -1;
	/* the console is the delivery: record it as the dispatcher does for platforms */
	if (PQntuples(res) > 0 &&
	    pg_cmd(
	        conn,
	        "INSERT INTO conversation_events (tenant_id, conversation_id, event_type, payload)"
	        " SELECT app_tenant_id(), $1, 'message_sent',"
	        "  jsonb_build_object('outbox_id', o.id, 'status', 'sent', 'channel', 'console')"
	        " FROM outbox o WHERE o.conversation_id = $1 AND o.kind = 'reply'"
	        "  AND o.status = 'sent' AND o.sent_at = now()",
	        1, &conv) < 0) {
		PQclear(res);
		return -1;
	}
	for (i = 0; i < PQntuples(res); i++) {
		json_t *p = json_loads(PQgetvalue(res, i, 1), 0, NULL);
		json_t *row = p ? json_pack("{s:I, s:o}", "seq",
		                            (json_int_t)atoll(PQgetvalue(res, i, 0)), "payload", p)
		                : NULL;

		if (row)
			json_array_append_new(ct->replies, row);
	}
	PQclear(res);
	return 0;
}

static int console_tx(PGconn *conn, void *arg)
{
	struct console_turn *ct = arg;
	int rc;

	rc = engine_handle(ct->engine, conn, ct->msg, &ct->res);
	if (rc < 0)
		return rc;
	ct->handled = rc == 0;
	return console_take_replies(conn, ct);
}

static int console_cmp_seq(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "seq"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "seq"));

	return x < y ? -1 : x > y;
}

static void console_print(json_t *replies)
{
	size_t i, n = json_array_size(replies);
	json_t **v = calloc(n ? n : 1, sizeof(*v));

	if (!v)
		return;
	for (i = 0; i < n; i++)
		v[i] = json_array_get(replies, i);
	/* RETURNING does not promise order: print by outbox sequence */
	qsort(v, n, sizeof(*v), console_cmp_seq);
	for (i = 0; i < n; i++) {
		char *text = reply_text_render(json_object_get(v[i], "payload"));

		if (text) {
			printf("%s\n\n", text);
			free(text);
		}
	}
	fflush(stdout);
	free(v);
}

static void console_usage(FILE *to)
{
	fprintf(to, "usage: ccgw console --tenant SLUG [--user ID]\n"
	            "  chat with the shop bot: type a message per line, a number picks a choice,\n"
	            "  Ctrl-D quits\n");
}

int cli_console(int argc, char **argv)
{
	const char *slug = NULL, *user = NULL;
	char tenant_id[37] = "", channel_id[37] = "", user_buf[64], err[512];
	char *ids[2] = {tenant_id, channel_id};
	struct console_turn ct;
	struct config cfg;
	struct nlp *nlp = NULL;
	PGconn *conn = NULL;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int i, rc = 1, tty = isatty(STDIN_FILENO);

	memset(&ct, 0, sizeof(ct));
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			console_usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--tenant") == 0 && i + 1 < argc)
			slug = argv[++i];
		else if (strcmp(argv[i], "--user") == 0 && i + 1 < argc)
			user = argv[++i];
		else {
			console_usage(stderr);
			return 2;
		}
	}
	if (!slug || (user && (!*user || strlen(user) > 200))) {
		console_usage(stderr);
		return 2;
	}
	if (!user) {
		snprintf(user_buf, sizeof(user_buf), "console-%lu", (unsigned long)getuid());
		user = user_buf;
	}
	if (app_config_load(&cfg) < 0)
		return 1;
	conn = app_db_connect(&cfg, cfg.database_url, "ccgw-console", NULL);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "ccgw console: cannot connect to the database: %s",
		        PQerrorMessage(conn));
		goto out;
	}
	switch (tenant_id_by_slug(conn, slug, tenant_id)) {
	case 0:
		break;
	case TENANT_ERR_NOT_FOUND:
		fprintf(stderr, "ccgw console: no tenant with slug '%s'\n", slug);
		goto out;
	default:
		fprintf(stderr, "ccgw console: database error: %s", PQerrorMessage(conn));
		goto out;
	}
	if (pg_tx_run(conn, tenant_id, console_channel_tx, ids) < 0) {
		fprintf(stderr, "ccgw console: cannot find the console channel\n");
		goto out;
	}
	nlp = nlp_new(NULL, err, sizeof(err));
	if (!nlp) {
		fprintf(stderr, "ccgw console: %s\n", err);
		goto out;
	}
	ct.engine = engine_new(nlp);
	ct.replies = json_array();
	if (!ct.engine || !ct.replies) {
		fprintf(stderr, "ccgw console: out of memory\n");
		goto out;
	}
	if (tty)
		fprintf(stderr,
		        "Chatting with '%s' as %s. Type a message (\"hi\" to start); Ctrl-D "
		        "quits.\n",
		        slug, user);
	while ((len = getline(&line, &cap, stdin)) >= 0) {
		char mid[37];

		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		if ((size_t)len > CLI_CONSOLE_LINE_MAX)
			line[CLI_CONSOLE_LINE_MAX] = '\0';
		ct.msg = msg_inbound_new();
		if (!ct.msg)
			goto out;
		util_uuid_new(mid);
		snprintf(ct.msg->tenant_id, sizeof(ct.msg->tenant_id), "%s", tenant_id);
		snprintf(ct.msg->channel_id, sizeof(ct.msg->channel_id), "%s", channel_id);
		ct.msg->channel = MSG_CHANNEL_CONSOLE;
		ct.msg->kind = MSG_KIND_TEXT;
		ct.msg->chat_id = strdup(user);
		ct.msg->user_id = strdup(user);
		ct.msg->message_id = strdup(mid);
		ct.msg->text = strdup(line);
		ct.msg->timestamp = (int64_t)time(NULL);
		if (!ct.msg->chat_id || !ct.msg->user_id || !ct.msg->message_id || !ct.msg->text) {
			fprintf(stderr, "ccgw console: out of memory\n");
			goto out;
		}
		if (pg_tx_run(conn, tenant_id, console_tx, &ct) < 0) {
			fprintf(stderr,
			        "ccgw console: the message could not be handled (database: %s)\n",
			        pg_conn_ok(conn) ? "error" : "connection lost");
			if (!pg_conn_ok(conn))
				goto out;
		} else {
			console_print(ct.replies);
		}
		msg_inbound_free(ct.msg);
		ct.msg = NULL;
	}
	rc = 0;
out:
	msg_inbound_free(ct.msg);
	free(line);
	json_decref(ct.replies);
	engine_free(ct.engine);
	nlp_free(nlp);
	PQfinish(conn);
	config_clear(&cfg);
	return rc;
}
