/*
 * test_pg_registry.c: the statement registry of common/pg.c on a real database, as the
 * application role. A statement is prepared once per connection and answers the same as run
 * unnamed; it is prepared again as it keeps running, so a plan made while its table was empty
 * does not stay: after the table has grown, the conversation's UPDATE by (tenant_id, id) uses
 * the primary key, and only one prepared statement of that text is left in the session.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pg.h"
#include "testdb.h"

#define UPDATE_SQL                                                                                 \
	"UPDATE conversations SET misunderstandings = misunderstandings + 1"                       \
	" WHERE tenant_id = $1 AND id = $2"

static struct testdb db;
static char *tenant;

static int setup(void **state)
{
	(void)state;
	testdb_setup(&db, "pg_registry");
	tenant = testdb_tenant_create(&db, "registry", NULL);
	return tenant ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(tenant);
	return 0;
}

/* The session's prepared statements with this text: their count, and the first one's name. */
static int prepared_count(PGconn *c, const char *sql, char *name, size_t len)
{
	PGresult *r = PQexecParams(c, "SELECT name FROM pg_prepared_statements WHERE statement = $1",
	                           1, NULL, &sql, NULL, NULL, 0);
	int n;

	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	n = PQntuples(r);
	if (n > 0)
		snprintf(name, len, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return n;
}

/* The plan the session's prepared statement `name` runs with (its generic plan when kept). */
static char *plan_of(PGconn *c, const char *name, const char *a, const char *b)
{
	char sql[256], *out = NULL;
	size_t len = 0;
	PGresult *r;
	int i;

	/* the name is the registry's own (ccgw_ and a number); the values are uuids */
	snprintf(sql, sizeof(sql), "EXPLAIN EXECUTE %s('%s', '%s')", name, a, b);
	r = PQexec(c, sql);
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	for (i = 0; i < PQntuples(r); i++) {
		size_t l = strlen(PQgetvalue(r, i, 0));

		out = realloc(out, len + l + 2);
		assert_non_null(out);
		memcpy(out + len, PQgetvalue(r, i, 0), l);
		len += l;
		out[len++] = '\n';
		out[len] = '\0';
	}
	PQclear(r);
	return out;
}

static void exec_ok(PGconn *c, const char *sql, int n, const char *const *p, int rows)
{
	PGresult *r = pg_exec(c, sql, n, p);

	assert_non_null(r);
	if (rows >= 0)
		assert_int_equal(atoi(PQcmdTuples(r)), rows);
	PQclear(r);
}

static void test_reprepared_after_growth(void **state)
{
	PGconn *c = testdb_connect_app(&db);
	const char *tp[1] = {tenant};
	char chan[64], conv[64], name[32], name0[32], *plan;
	const char *p[2];
	PGresult *r;
	int i;

	(void)state;
	exec_ok(c, "SELECT set_config('app.tenant_id', $1, false)", 1, tp, -1);
	r = pg_exec(c, "INSERT INTO channels (tenant_id, type) VALUES ($1, 'console') RETURNING id",
	            1, tp);
	assert_non_null(r);
	snprintf(chan, sizeof(chan), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);

	/* the empty table: the UPDATE runs (and is planned) while there is nothing to find */
	p[0] = tenant;
	p[1] = chan; /* no conversation has this id */
	for (i = 0; i < 10; i++)
		exec_ok(c, UPDATE_SQL, 2, p, 0);
	assert_int_equal(prepared_count(c, UPDATE_SQL, name0, sizeof(name0)), 1);
	plan = plan_of(c, name0, tenant, chan);
	print_message("plan made on the empty table:\n%s", plan);
	free(plan);

	/* the table grows: 2,000 conversations of the tenant */
	{
		const char *gp[2] = {tenant, chan};

		exec_ok(c,
		        "INSERT INTO conversations (tenant_id, channel_id, external_chat_id,"
		        " context) SELECT $1, $2, 'chat-' || g, jsonb_build_object('note',"
		        " repeat('x', 200)) FROM generate_series(1, 2000) g",
		        2, gp, 2000);
	}
	r = pg_exec(c, "SELECT id FROM conversations WHERE tenant_id = $1 AND external_chat_id ="
	               " 'chat-1000'", 1, tp);
	assert_non_null(r);
	assert_int_equal(PQntuples(r), 1);
	snprintf(conv, sizeof(conv), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);

	/* the statement keeps answering right while it is prepared again */
	p[1] = conv;
	for (i = 0; i < 300; i++)
		exec_ok(c, UPDATE_SQL, 2, p, 1);
	r = pg_exec(c, "SELECT misunderstandings FROM conversations WHERE tenant_id = $1 AND id = $2",
	            2, p);
	assert_non_null(r);
	assert_string_equal(PQgetvalue(r, 0, 0), "300");
	PQclear(r);

	/* one prepared statement of that text is left, a new one, planned on the grown table */
	assert_int_equal(prepared_count(c, UPDATE_SQL, name, sizeof(name)), 1);
	assert_string_not_equal(name, name0);
	plan = plan_of(c, name, tenant, conv);
	print_message("plan now:\n%s", plan);
	assert_non_null(strstr(plan, "conversations_pkey"));
	assert_non_null(strstr(plan, "id = $2"));
	assert_null(strstr(plan, "Filter: (id = $2)"));
	free(plan);
	pg_finish(c);
}

/* A transaction that failed is not made worse: the registry prepares nothing inside it, and
 * the statement works again after ROLLBACK. */
static void test_failed_transaction(void **state)
{
	PGconn *c = testdb_connect_app(&db);
	const char *tp[1] = {tenant};
	const char *p[2] = {tenant, tenant};
	PGresult *r;
	int i;

	(void)state;
	exec_ok(c, "SELECT set_config('app.tenant_id', $1, false)", 1, tp, -1);
	for (i = 0; i < 63; i++)
		exec_ok(c, UPDATE_SQL, 2, p, 0);
	PQclear(PQexec(c, "BEGIN"));
	r = pg_exec(c, "SELECT 1/0", 0, NULL);
	assert_null(r); /* division by zero: the transaction is aborted */
	for (i = 0; i < 3; i++) { /* 64th and later runs: due to be prepared again */
		r = pg_exec(c, UPDATE_SQL, 2, p);
		assert_null(r);
		assert_string_equal(pg_last_sqlstate(), "25P02");
	}
	PQclear(PQexec(c, "ROLLBACK"));
	exec_ok(c, UPDATE_SQL, 2, p, 0);
	{
		char name[32];

		assert_int_equal(prepared_count(c, UPDATE_SQL, name, sizeof(name)), 1);
	}
	pg_finish(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reprepared_after_growth),
	    cmocka_unit_test(test_failed_transaction),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
