/*
 * wa_wake_test.c: how `ccgw serve` wakes its dispatcher (sql/099, docs/PERFORMANCE.md), end to
 * end on WhatsApp with the real server, a real PostgreSQL and the mock Graph API. A webhook's
 * reply is written without the outbox's NOTIFY (the process that wrote it wakes its own
 * dispatcher) and still reaches the shopper; a reply written by another writer (a person on
 * the seller's side, through the admin API) still notifies ccgw_outbox, naming its
 * conversation, for dispatchers of other processes; and with many messages queued every
 * shopper gets exactly one reply to each message, in order.
 */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "harness_wa.h"
#include "testdb.h"

#define PNID         "106540352242955"
#define APP_SECRET   "wa-app-secret-wake"
#define VERIFY_TOKEN "wa-verify-token-wake"

static PGconn *listener;

static int group_setup(void **state)
{
	json_t *o;
	PGresult *res;

	(void)state;
	hx.wa_pnid = PNID;
	hx.wa_app_secret = APP_SECRET;
	hx.wa_id_prefix = "WAKE";
	hx_setup("wa_wake", "wake-shop");
	hx_serve("graph_mock.py", "CCGW_WHATSAPP_API_BASE", NULL);
	o = hx_wa_register("EAAG-test-token", VERIFY_TOKEN);
	json_decref(o);
	hx_product_create("HN-ACA-500", "Acacia Honey 500g", "Honey", 85000, 30);
	/* what a dispatcher of another process hears */
	listener = testdb_connect_app(&hx.db);
	res = PQexec(listener, "LISTEN ccgw_outbox");
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	PQfinish(listener);
	hx_teardown();
	return 0;
}

/* The ccgw_outbox notifications that arrived within wait_ms, their payloads joined with
 * ";" (heap, "" for none). */
static char *notifications(int wait_ms)
{
	struct pollfd p = {.fd = PQsocket(listener), .events = POLLIN};
	size_t len = 0;
	char *out = calloc(1, 1);
	PGnotify *n;

	assert_non_null(out);
	while (poll(&p, 1, wait_ms) > 0) {
		assert_int_equal(PQconsumeInput(listener), 1);
		while ((n = PQnotifies(listener))) {
			size_t add = strlen(n->extra) + 2;
			char *grown = realloc(out, len + add);

			assert_non_null(grown);
			out = grown;
			snprintf(out + len, add, "%s;", n->extra);
			len += add - 1;
			PQfreemem(n);
		}
		wait_ms = 200; /* anything else that was sent at the same time */
	}
	return out;
}

static char *conversation_of(const char *wa_id)
{
	const char *p[1] = {wa_id};
	char *id = hx_tscalar(hx.tenant_id,
	                      "SELECT id::text FROM conversations WHERE external_chat_id = $1", 1, p);

	assert_non_null(id);
	return id;
}

/* A shopper writes: the reply reaches them, and no NOTIFY went out for it. */
static void test_webhook_reply_without_notify(void **state)
{
	const char *wa_id = "254700555001";
	char wamid[96], *texts, *heard;
	size_t before;
	json_t *reqs;

	(void)state;
	free(notifications(0)); /* whatever the set-up wrote */
	hx_wa_next_wamid(wamid, sizeof(wamid));
	reqs = hx_wa_say(wa_id, hx_wa_text_webhook(wa_id, wamid, "hi"), &before);
	texts = hx_wa_texts_since(reqs, wa_id, before);
	assert_true(strlen(texts) > 0);
	free(texts);
	json_decref(reqs);
	heard = notifications(500);
	assert_string_equal(heard, "");
	free(heard);
}

/* A person on the seller's side writes through the admin API: the shopper gets the text, and
 * ccgw_outbox was notified with the conversation's id. */
static void test_admin_reply_notifies(void **state)
{
	const char *wa_id = "254700555002";
	char wamid[96], path[160], *conv, *texts, *heard;
	struct testhttp_resp r;
	size_t before;
	json_t *reqs;

	(void)state;
	hx_wa_next_wamid(wamid, sizeof(wamid));
	reqs = hx_wa_say(wa_id, hx_wa_text_webhook(wa_id, wamid, "hi"), &before);
	json_decref(reqs);
	conv = conversation_of(wa_id);
	free(notifications(300));
	reqs = hx_wa_requests();
	before = hx_wa_count_to(reqs, wa_id, 1);
	json_decref(reqs);
	snprintf(path, sizeof(path), "/api/v1/conversations/%s/messages", conv);
	hx_api("POST", path, "{\"text\": \"Hello from the shop, your honey ships today\"}", &r);
	assert_int_equal(r.status, 201);
	testhttp_resp_clear(&r);
	heard = notifications(3000);
	assert_non_null(strstr(heard, conv));
	free(heard);
	reqs = hx_wa_wait_replies(wa_id, before);
	texts = hx_wa_texts_since(reqs, wa_id, before);
	assert_non_null(strstr(texts, "your honey ships today"));
	free(texts);
	json_decref(reqs);
	free(conv);
}

/* The reply rows of wa_id's conversation with status (heap count). */
static char *replies_with_status(const char *wa_id, const char *status)
{
	const char *p[2] = {wa_id, status};

	return hx_tscalar(hx.tenant_id,
	                  "SELECT count(*)::text FROM outbox o JOIN conversations c"
	                  " ON c.tenant_id = o.tenant_id AND c.id = o.conversation_id"
	                  " WHERE c.external_chat_id = $1 AND o.kind = 'reply' AND o.status = $2",
	                  2, p);
}

/* Twelve shoppers write three messages each, one webhook after another without waiting for
 * the replies (a shopper's next message goes once the previous one was answered 200): every
 * message gets exactly one reply, all are sent, to the shopper, and each shopper's replies
 * went out in the order of their messages. */
static void test_burst_one_reply_each_in_order(void **state)
{
	static const char *const texts[3] = {"hi", "honey", "menu"};
	char wa_id[12][32], wamid[96], *body, *v;
	struct testhttp_resp r;
	const char *p[1];
	json_t *reqs;
	int i, k, tries;

	(void)state;
	for (k = 0; k < 3; k++)
		for (i = 0; i < 12; i++) {
			snprintf(wa_id[i], sizeof(wa_id[i]), "2547005561%02d", i);
			hx_wa_next_wamid(wamid, sizeof(wamid));
			body = hx_wa_text_webhook(wa_id[i], wamid, texts[k]);
			assert_int_equal(hx_wa_post(body, &r), 200);
			testhttp_resp_clear(&r);
			free(body);
		}
	for (i = 0; i < 12; i++) {
		for (tries = 0; tries < 150; tries++) { /* 15 s */
			v = replies_with_status(wa_id[i], "sent");
			k = v && strcmp(v, "3") == 0;
			free(v);
			if (k)
				break;
			poll(NULL, 0, 100);
		}
		v = replies_with_status(wa_id[i], "sent");
		assert_non_null(v);
		assert_string_equal(v, "3");
		free(v);
		p[0] = wa_id[i];
		v = hx_tscalar(hx.tenant_id,
		               "SELECT count(*)::text FROM outbox o JOIN conversations c"
		               " ON c.tenant_id = o.tenant_id AND c.id = o.conversation_id"
		               " WHERE c.external_chat_id = $1",
		               1, p);
		assert_string_equal(v, "3"); /* nothing else was written for them */
		free(v);
		/* sent in the order written: no reply was sent before an earlier one */
		v = hx_tscalar(hx.tenant_id,
		               "SELECT count(*)::text FROM outbox a JOIN outbox b"
		               " ON b.tenant_id = a.tenant_id AND b.conversation_id = a.conversation_id"
		               " AND b.seq > a.seq JOIN conversations c ON c.tenant_id = a.tenant_id"
		               " AND c.id = a.conversation_id WHERE c.external_chat_id = $1"
		               " AND b.sent_at < a.sent_at",
		               1, p);
		assert_string_equal(v, "0");
		free(v);
		reqs = hx_wa_requests();
		assert_true(hx_wa_count_to(reqs, wa_id[i], 1) >= 3);
		json_decref(reqs);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_webhook_reply_without_notify),
	    cmocka_unit_test(test_admin_reply_notifies),
	    cmocka_unit_test(test_burst_one_reply_each_in_order),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
