/*
 * cli_console.c: `ccgw console --tenant SLUG [--user ID]`: a shopper's chat in the terminal.
 * Each stdin line becomes a normalized text message on the tenant's console channel and goes
 * through the same engine and transaction as every channel; the conversation's pending
 * replies are then taken from the outbox in the same transaction (local_delivery.c: the
 * console delivers locally) and handed after the commit to the console adapter, which prints
 * them as plain text with numbered choices.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "app.h"
#include "console.h"
#include "engine.h"
#include "kyc.h"
#include "local_delivery.h"
#include "log.h"
#include "message.h"
#include "nlp.h"
#include "pg.h"
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

	return tenant_channel_ensure(conn, ids[0], console_channel_ops.type, ids[1]) < 0 ? -1 : 0;
}

static int console_tx(PGconn *conn, void *arg)
{
	struct console_turn *ct = arg;
	int rc;

	rc = engine_handle(ct->engine, conn, ct->msg, &ct->res);
	if (rc < 0)
		return rc;
	ct->handled = rc == 0;
	return local_take_replies(conn, ct->res.conversation_id, console_channel_ops.type,
	                          ct->replies);
}

/* The console's sink: the terminal. */
static int console_write(void *user, const char *text, size_t len)
{
	FILE *out = user;

	if (fwrite(text, 1, len, out) != len || fputs("\n\n", out) < 0 || fflush(out) != 0)
		return -1;
	return 0;
}

static void console_usage(FILE *to)
{
	fprintf(to, "usage: ccgw console --tenant SLUG [--user ID]\n"
	            "  chat with the shop bot: type a message per line, a number picks a choice,\n"
	            "  Ctrl-D quits\n");
}

/* Reads console's arguments into *slug and *user (left as they are when not given). Returns -1
 * to go on, else the exit status: 0 after --help, 2 (with the usage on stderr) when the
 * arguments are wrong. */
static int console_args(int argc, char **argv, const char **slug, const char **user)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			console_usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--tenant") == 0 && i + 1 < argc)
			*slug = argv[++i];
		else if (strcmp(argv[i], "--user") == 0 && i + 1 < argc)
			*user = argv[++i];
		else {
			console_usage(stderr);
			return 2;
		}
	}
	if (!*slug || (*user && (!**user || strlen(*user) > 200))) {
		console_usage(stderr);
		return 2;
	}
	return -1;
}

/* Connects to the database (*conn, set even on failure: the caller finishes it) and finds the
 * tenant with this slug and its console channel: ids[0] and ids[1] (37 bytes each). Returns
 * -1 with the reason on stderr. */
static int console_open(const struct config *cfg, const char *slug, PGconn **conn, char **ids)
{
	*conn = app_db_connect(cfg, cfg->database_url, "ccgw-console", NULL);
	if (PQstatus(*conn) != CONNECTION_OK) {
		fprintf(stderr, "ccgw console: cannot connect to the database: %s",
		        PQerrorMessage(*conn));
		return -1;
	}
	switch (tenant_id_by_slug(*conn, slug, ids[0])) {
	case 0:
		break;
	case TENANT_ERR_NOT_FOUND:
		fprintf(stderr, "ccgw console: no tenant with slug '%s'\n", slug);
		return -1;
	default:
		fprintf(stderr, "ccgw console: database error: %s", PQerrorMessage(*conn));
		return -1;
	}
	if (pg_tx_run(*conn, ids[0], console_channel_tx, ids) < 0) {
		fprintf(stderr, "ccgw console: cannot find the console channel\n");
		return -1;
	}
	return 0;
}

/* One line the shopper typed (user, on the console channel ids[1] of tenant ids[0]): a text
 * message through the engine in one transaction, then the replies printed. Returns -1 when
 * the chat cannot go on (out of memory, the connection lost); ct->msg is then the caller's to
 * free. */
static int console_turn_run(PGconn *conn, char **ids, const char *user, const char *line,
                            struct console_turn *ct)
{
	struct channel_sink sink = {stdout, console_write};
	char mid[37];

	ct->msg = msg_inbound_new();
	if (!ct->msg)
		return -1;
	util_uuid_new(mid);
	snprintf(ct->msg->tenant_id, sizeof(ct->msg->tenant_id), "%s", ids[0]);
	snprintf(ct->msg->channel_id, sizeof(ct->msg->channel_id), "%s", ids[1]);
	ct->msg->channel = MSG_CHANNEL_CONSOLE;
	ct->msg->kind = MSG_KIND_TEXT;
	ct->msg->chat_id = strdup(user);
	ct->msg->user_id = strdup(user);
	ct->msg->message_id = strdup(mid);
	ct->msg->text = strdup(line);
	ct->msg->timestamp = (int64_t)time(NULL);
	if (!ct->msg->chat_id || !ct->msg->user_id || !ct->msg->message_id || !ct->msg->text) {
		fprintf(stderr, "ccgw console: out of memory\n");
		return -1;
	}
	if (pg_tx_run(conn, ids[0], console_tx, ct) < 0) {
		fprintf(stderr, "ccgw console: the message could not be handled (database: %s)\n",
		        pg_conn_ok(conn) ? "error" : "connection lost");
		if (!pg_conn_ok(conn))
			return -1;
	} else {
		local_deliver(&console_channel_ops, &sink, ct->replies);
	}
	msg_inbound_free(ct->msg);
	ct->msg = NULL;
	return 0;
}

/* Reads stdin a line at a time (line ends stripped, empty lines skipped, long ones cut at
 * CLI_CONSOLE_LINE_MAX) and runs a turn for each, until the end of input. Returns -1 when a
 * turn cannot go on (see console_turn_run). */
static int console_read_loop(PGconn *conn, char **ids, const char *user, struct console_turn *ct)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int rc = -1;

	while ((len = getline(&line, &cap, stdin)) >= 0) {
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		if ((size_t)len > CLI_CONSOLE_LINE_MAX)
			line[CLI_CONSOLE_LINE_MAX] = '\0';
		if (console_turn_run(conn, ids, user, line, ct) < 0)
			goto out;
	}
	rc = 0;
out:
	free(line);
	return rc;
}

/* `ccgw console`: reads the arguments and the config, opens the tenant's console channel and
 * chats until the end of input. Returns the exit status. */
int cli_console(int argc, char **argv)
{
	const char *slug = NULL, *user = NULL;
	char tenant_id[37] = "", channel_id[37] = "", user_buf[64], err[512];
	char *ids[2] = {tenant_id, channel_id};
	struct console_turn ct;
	struct config cfg;
	struct nlp *nlp = NULL;
	PGconn *conn = NULL;
	int rc, tty = isatty(STDIN_FILENO);

	memset(&ct, 0, sizeof(ct));
	rc = console_args(argc, argv, &slug, &user);
	if (rc >= 0)
		return rc;
	rc = 1;
	if (!user) {
		snprintf(user_buf, sizeof(user_buf), "console-%lu", (unsigned long)getuid());
		user = user_buf;
	}
	if (app_config_load(&cfg) < 0)
		return 1;
	if (console_open(&cfg, slug, &conn, ids) < 0)
		goto out;
	nlp = nlp_new(NULL, err, sizeof(err));
	if (!nlp) {
		fprintf(stderr, "ccgw console: %s\n", err);
		goto out;
	}
	kyc_policy_set((int)cfg.kyc_required, cfg.kyc_unverified_order_limit);
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
	if (console_read_loop(conn, ids, user, &ct) < 0)
		goto out;
	rc = 0;
out:
	msg_inbound_free(ct.msg);
	json_decref(ct.replies);
	engine_free(ct.engine);
	nlp_free(nlp);
	pg_finish(conn);
	config_clear(&cfg);
	return rc;
}
