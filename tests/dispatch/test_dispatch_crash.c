/*
 * test_dispatch_crash.c: the real `ccgw serve` and its dispatcher. kill -9 while rows are
 * claimed and their requests in flight: a new process claims them again after the lease and
 * every row is delivered, none lost, each conversation in order (the requests the dead process
 * had sent arrive twice: delivery is at least once). SIGTERM while requests are in flight: they
 * finish and are recorded before the process exits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dispatch_fixture.h"
#include "testsrv.h"

static struct fx fx;
static struct testsrv
    srv; /* the server of the running case; stopped by teardown if a check failed */

static void test_kill9_then_restart(void **state)
{
	char api[96];
	const char *env[] = {api,
	                     "CCGW_DISPATCH_LEASE=5",
	                     "CCGW_DISPATCH_TIMEOUT_MS=2500",
	                     "CCGW_DISPATCH_BACKOFF_MS=200",
	                     "CCGW_WHATSAPP_RECIPIENT_RATE=50",
	                     NULL};
	char *tenant = fx_tenant(&fx, "crash"), *chan = fx_wa_channel(&fx, tenant, "200001");
	char *convs[10], *chats[10];
	json_t *reqs;
	long claimed, before_kill, dup;

	(void)state;
	snprintf(api, sizeof(api), "CCGW_WHATSAPP_API_BASE=%s", fx.mock_url);
	fx_conversations(&fx, tenant, chan, "25472000", 10, convs, chats);
	/* the platform holds every answer: the first message of each conversation stays in flight
	 */
	fx_mock_rules(&fx, "[{\"match\": \"/200001/\", \"delay_ms\": 2000}]");
	testsrv_start(&srv, &fx.db, env);
	fx_replies_bulk(&fx, tenant, chan, convs, chats, 10, 5, "cr");
	if (fx_wait_count(&fx, tenant, "sending", 10, 20) < 0)
		fail_msg("the first messages were not claimed (sending: %ld)",
		         fx_count(&fx, tenant, "sending"));
	fx_sleep_ms(300); /* the requests reach the platform */
	testsrv_kill(&srv);

	/* the dead process's claims are still there, leased to it */
	claimed = fx_ql(
	    &fx, tenant,
	    "SELECT count(*) FROM outbox WHERE status = 'sending' AND lease_owner IS NOT NULL", 0,
	    NULL);
	assert_int_equal(claimed, 10);
	assert_int_equal(fx_count(&fx, tenant, "pending"), 40);
	reqs = fx_mock_requests_for(&fx, "/200001/messages");
	before_kill = (long)json_array_size(reqs);
	json_decref(reqs);
	assert_true(before_kill > 0 && before_kill <= 10);

	fx_mock_clear_rules(&fx);
	testsrv_start(&srv, &fx.db, env);
	if (fx_wait_count(&fx, tenant, "sent", 50, 60) < 0)
		fail_msg("only %ld of 50 sent after the restart", fx_count(&fx, tenant, "sent"));
	testsrv_stop(&srv);

	reqs = fx_mock_requests_for(&fx, "/200001/messages");
	assert_int_equal(fx_assert_in_order(reqs, "cr", 5),
	                 10); /* every message arrived, in order */
	dup = (long)json_array_size(reqs) - 50;
	/* the only repeats are the requests the killed process had sent */
	assert_true(dup >= 0 && dup <= before_kill);
	/* the first messages were claimed twice: by the dead process and by the new one */
	assert_int_equal(
	    fx_ql(&fx, tenant, "SELECT count(*) FROM outbox WHERE attempts = 2", 0, NULL), 10);
	assert_int_equal(
	    fx_ql(&fx, tenant, "SELECT count(*) FROM outbox WHERE attempts = 1", 0, NULL), 40);
	assert_int_equal(
	    fx_ql(&fx, tenant,
	          "SELECT count(*) FROM conversation_events WHERE event_type = 'message_sent'", 0,
	          NULL),
	    50);
	json_decref(reqs);
	fx_strings_free(convs, 10);
	fx_strings_free(chats, 10);
	free(tenant);
	free(chan);
}

static void test_sigterm_finishes_in_flight(void **state)
{
	char api[96];
	const char *env[] = {api, "CCGW_WHATSAPP_RECIPIENT_RATE=50", NULL};
	char *tenant = fx_tenant(&fx, "graceful"), *chan = fx_wa_channel(&fx, tenant, "200002");
	char *convs[5], *chats[5];
	json_t *reqs;

	(void)state;
	snprintf(api, sizeof(api), "CCGW_WHATSAPP_API_BASE=%s", fx.mock_url);
	fx_conversations(&fx, tenant, chan, "25472002", 5, convs, chats);
	fx_mock_rules(&fx, "[{\"match\": \"/200002/\", \"delay_ms\": 1000}]");
	testsrv_start(&srv, &fx.db, env);
	fx_replies_bulk(&fx, tenant, chan, convs, chats, 5, 2, "gr");
	if (fx_wait_count(&fx, tenant, "sending", 5, 20) < 0)
		fail_msg("the first messages were not claimed");
	fx_sleep_ms(200);
	testsrv_stop(&srv); /* SIGTERM: the answers come within the grace time */

	/* the in-flight sends finished and were recorded; nothing is left claimed */
	assert_int_equal(fx_count(&fx, tenant, "sent"), 5);
	assert_int_equal(fx_count(&fx, tenant, "sending"), 0);
	assert_int_equal(fx_count(&fx, tenant, "pending"), 5);
	reqs = fx_mock_requests_for(&fx, "/200002/messages");
	assert_int_equal(json_array_size(reqs), 5);
	json_decref(reqs);

	/* a new process sends the rest */
	fx_mock_clear_rules(&fx);
	testsrv_start(&srv, &fx.db, env);
	if (fx_wait_count(&fx, tenant, "sent", 10, 30) < 0)
		fail_msg("only %ld of 10 sent", fx_count(&fx, tenant, "sent"));
	testsrv_stop(&srv);
	reqs = fx_mock_requests_for(&fx, "/200002/messages");
	assert_int_equal(json_array_size(reqs), 10);
	assert_int_equal(fx_assert_in_order(reqs, "gr", 2), 5);
	json_decref(reqs);
	fx_strings_free(convs, 5);
	fx_strings_free(chats, 5);
	free(tenant);
	free(chan);
}

static int reset_mock(void **state)
{
	(void)state;
	fx_mock_reset(&fx);
	return 0;
}

static int stop_server(void **state)
{
	(void)state;
	if (srv.pid > 0)
		testsrv_kill(&srv);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_kill9_then_restart, reset_mock, stop_server),
	    cmocka_unit_test_setup_teardown(test_sigterm_finishes_in_flight, reset_mock,
	                                    stop_server),
	};
	int rc;

	fx_setup(&fx, "dispatch_crash");
	/* a ccgw serve left over from an earlier run of this test (its test process killed)
	 * reconnects to the recreated database and competes for the rows: say so plainly */
	fx_sleep_ms(2500);
	{
		char *other = testdb_owner_scalar(&fx.db,
		                                  "SELECT count(*) FROM pg_stat_activity"
		                                  " WHERE datname = current_database()"
		                                  " AND application_name LIKE 'ccgw-dispatch%'",
		                                  0, NULL);

		if (other && atol(other) > 0) {
			fprintf(
			    stderr,
			    "test_dispatch_crash: %s dispatcher connection(s) of a ccgw serve from "
			    "an"
			    " earlier run are attached to database %s; stop that process first\n",
			    other, fx.db.name);
			free(other);
			fx_teardown(&fx);
			return 1;
		}
		free(other);
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	fx_teardown(&fx);
	return rc;
}
