/*
 * test_pg_registry.c: the statement registry of common/pg.c on a real database, as the
 * application role. A statement is prepared once per connection and answers as run unnamed;
 * as it keeps running it is prepared again under a new name (so a plan made while its table
 * was empty is made again on the grown table), the old one deallocated, and it keeps
 * answering right throughout; in a failed transaction nothing is prepared. A statement left to
 * the COMMIT (pg_defer) is written with it, under its tenant, or not at all, and one that
 * fails with a serialization failure runs the transaction again. A conversation looked up by
 * its primary key, as PostgreSQL's own foreign-key checks do, is read through that key also
 * before the table has statistics. A transaction's opening goes with its first statement, which is
 * still prepared again as it keeps running. The
 * dispatcher's claim, its plan made on a small outbox, reads no more than its candidates once
 * the outbox grew.
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
	"UPDATE products SET stock = stock + 1 WHERE tenant_id = $1 AND id = $2"                   \
	" AND deleted_at IS NULL"

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
	PGresult *r =
	    PQexecParams(c, "SELECT name FROM pg_prepared_statements WHERE statement = $1", 1, NULL,
	                 &sql, NULL, NULL, 0);
	int n;

	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	n = PQntuples(r);
	if (n > 0)
		snprintf(name, len, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return n;
}

/* EXPLAIN's text of `sql` run on c, one line after another. */
static char *explain_text(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	char *out = calloc(1, 1);
	size_t len = 0;
	int i;

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

/* The plan the session's prepared statement `name` runs with (its generic plan when kept). */
static char *plan_of(PGconn *c, const char *name, const char *a, const char *b)
{
	char sql[256];

	/* the name is the registry's own (ccgw_ and a number); the values are uuids */
	snprintf(sql, sizeof(sql), "EXPLAIN EXECUTE %s('%s', '%s')", name, a, b);
	return explain_text(c, sql);
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
	char prod[64], name[32], name0[32], *plan;
	const char *p[2];
	PGresult *r;
	int i;

	(void)state;
	exec_ok(c, "SELECT set_config('app.tenant_id', $1, false)", 1, tp, -1);

	/* the empty table: the UPDATE runs (and is planned) while there is nothing to find */
	p[0] = tenant;
	p[1] = tenant; /* no product has this id */
	for (i = 0; i < 10; i++)
		exec_ok(c, UPDATE_SQL, 2, p, 0);
	assert_int_equal(prepared_count(c, UPDATE_SQL, name0, sizeof(name0)), 1);
	plan = plan_of(c, name0, tenant, tenant);
	print_message("plan made on the empty table:\n%s", plan);
	free(plan);

	/* the table grows: 2,000 products of the tenant */
	exec_ok(c,
	        "INSERT INTO products (tenant_id, sku, name, description, price_minor, currency,"
	        " stock) SELECT $1, 'sku-' || g, 'Product ' || g, repeat('d', 200), 100, 'KES', 0"
	        " FROM generate_series(1, 2000) g",
	        1, tp, 2000);
	r = pg_exec(c, "SELECT id FROM products WHERE tenant_id = $1 AND sku = 'sku-1000'", 1, tp);
	assert_non_null(r);
	assert_int_equal(PQntuples(r), 1);
	snprintf(prod, sizeof(prod), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);

	/* the statement keeps answering right while it is prepared again */
	p[1] = prod;
	for (i = 0; i < 300; i++)
		exec_ok(c, UPDATE_SQL, 2, p, 1);
	r = pg_exec(c, "SELECT stock FROM products WHERE tenant_id = $1 AND id = $2", 2, p);
	assert_non_null(r);
	assert_string_equal(PQgetvalue(r, 0, 0), "300");
	PQclear(r);

	/* one prepared statement of that text is left, a new one, planned on the grown table
	 * (which plan PostgreSQL picks without statistics is its own business: printed only) */
	assert_int_equal(prepared_count(c, UPDATE_SQL, name, sizeof(name)), 1);
	assert_string_not_equal(name, name0);
	plan = plan_of(c, name, tenant, prod);
	print_message("plan now:\n%s", plan);
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
	assert_null(r);           /* division by zero: the transaction is aborted */
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

/* ---- pg_defer ---- */

#define DEFER_SQL "INSERT INTO customers (tenant_id, name) VALUES ($1, $2) RETURNING name"
/* a product that does not exist runs short: SQLSTATE 40001 (sql/101) */
#define SHORT_SQL "SELECT order_stock_take($1, ARRAY[gen_random_uuid()], ARRAY[1])"

struct defer_run {
	const char *name; /* the customer the deferred statement writes */
	int fail;         /* the function fails after deferring */
	int short_first;  /* the first attempt defers SHORT_SQL */
	int attempts;     /* runs of the function */
	long seen_before; /* the name's rows seen inside the transaction */
	char got[64];     /* what the callback was given */
	int calls;        /* callbacks */
};

static long customers_named(PGconn *c, const char *name)
{
	PGresult *r = pg_exec(c, "SELECT count(*) FROM customers WHERE name = $1", 1, &name);
	long n;

	assert_non_null(r);
	n = atol(PQgetvalue(r, 0, 0));
	PQclear(r);
	return n;
}

static void defer_done(const char *value, void *arg)
{
	struct defer_run *d = *(struct defer_run **)arg;

	d->calls++;
	snprintf(d->got, sizeof(d->got), "%s", value ? value : "(null)");
}

static int defer_fn(PGconn *conn, void *arg)
{
	struct defer_run *d = arg;
	struct defer_run **box = malloc(sizeof(*box));
	const char *p[2] = {tenant, d->name};
	int rc;

	assert_non_null(box);
	*box = d;
	d->attempts++;
	if (d->short_first && d->attempts == 1)
		rc = pg_defer(tenant, SHORT_SQL, 1, p, defer_done, box);
	else
		rc = pg_defer(tenant, DEFER_SQL, 2, p, defer_done, box);
	assert_int_equal(rc, 1);
	d->seen_before = customers_named(conn, d->name);
	return d->fail ? PG_ERR_ABORT : 0;
}

static void test_deferred(void **state)
{
	PGconn *c = testdb_connect_app(&db);
	const char *p[2] = {tenant, "outside"};
	struct defer_run ok = {.name = "deferred-ok"},
	                 failed = {.name = "deferred-failed", .fail = 1},
	                 again = {.name = "deferred-again", .short_first = 1};

	(void)state;
	/* outside a transaction's runner nothing is deferred */
	assert_int_equal(pg_defer(tenant, DEFER_SQL, 2, p, NULL, NULL), 0);

	/* written with the COMMIT, not before; the callback has its value */
	assert_int_equal(pg_tx_run(c, tenant, defer_fn, &ok), 0);
	assert_int_equal(ok.seen_before, 0);
	assert_int_equal(ok.calls, 1);
	assert_string_equal(ok.got, "deferred-ok");
	assert_int_equal(pg_tx_run(c, tenant, defer_fn, &(struct defer_run){.name = "x"}), 0);

	/* the function failed: the statement is not run, the callback not called */
	assert_int_equal(pg_tx_run(c, tenant, defer_fn, &failed), PG_ERR_ABORT);
	assert_int_equal(failed.calls, 0);

	/* a serialization failure at the COMMIT: the transaction runs again */
	assert_int_equal(pg_tx_run(c, tenant, defer_fn, &again), 0);
	assert_int_equal(again.attempts, 2);
	assert_int_equal(again.calls, 1);
	assert_string_equal(again.got, "deferred-again");

	{
		const char *tp[1] = {tenant};

		exec_ok(c, "SELECT set_config('app.tenant_id', $1, false)", 1, tp, -1);
		assert_int_equal(customers_named(c, "deferred-ok"), 1);
		assert_int_equal(customers_named(c, "deferred-failed"), 0);
		assert_int_equal(customers_named(c, "deferred-again"), 1);
	}
	pg_finish(c);
}

/* A group transaction's callers leave statements of two tenants to the COMMIT (tenant x, y,
 * x, x): each runs under its own tenant (row-level security would refuse it otherwise), one
 * tenant's after another's, and within a tenant in the order they were left; one setting is
 * sent per tenant. */
struct defer_caller {
	const char *tenant, *name;
};

static void stats_delta(unsigned long long *rt, unsigned long long *stmts);

static char defer_order[256];

static void defer_order_done(const char *value, void *arg)
{
	(void)arg;
	snprintf(defer_order + strlen(defer_order), sizeof(defer_order) - strlen(defer_order),
	         "%s%s", defer_order[0] ? "," : "", value ? value : "(null)");
}

static int defer_caller_fn(PGconn *conn, void *arg)
{
	const struct defer_caller *d = arg;
	const char *p[2] = {d->tenant, d->name};

	(void)conn;
	return pg_defer(d->tenant, DEFER_SQL, 2, p, defer_order_done, NULL) == 1 ? 0 : -1;
}

static void test_deferred_tenants(void **state)
{
	PGconn *c = testdb_connect_app(&db);
	char *other = testdb_tenant_create(&db, "registry-other", NULL);
	const char *first = strcmp(tenant, other) < 0 ? tenant : other;
	const char *second = first == tenant ? other : tenant;
	struct defer_caller calls[2][4] = {
	    {{second, "w-s"}, {first, "w-f"}, {second, "w-s2"}, {second, "w-s3"}},
	    {{second, "s-1"}, {first, "f-1"}, {second, "s-2"}, {second, "s-3"}}};
	unsigned long long rt = 0, stmts = 0;
	int i, round, broken = 0;

	(void)state;
	assert_non_null(other);
	for (round = 0; round < 2; round++) { /* the first prepares the statement */
		defer_order[0] = '\0';
		assert_int_equal(pg_begin(c), 0);
		stats_delta(&rt, &stmts);
		for (i = 0; i < 4; i++) {
			assert_int_equal(pg_savepoint_run(c, calls[round][i].tenant, defer_caller_fn,
			                                  &calls[round][i], &broken),
			                 0);
			assert_int_equal(broken, 0);
		}
		assert_int_equal(pg_commit(c), 0);
		stats_delta(&rt, &stmts);
	}
	assert_string_equal(defer_order, "f-1,s-1,s-2,s-3");
	/* one round trip: the two settings, the four statements and COMMIT (the savepoints of
	 * callers that ran no statement of their own are never sent) */
	assert_int_equal(rt, 1);
	assert_int_equal(stmts, 7);
	for (i = 0; i < 4; i++) {
		const char *tp[1] = {calls[1][i].tenant};

		exec_ok(c, "SELECT set_config('app.tenant_id', $1, false)", 1, tp, -1);
		assert_int_equal(customers_named(c, calls[1][i].name), 1);
	}
	free(other);
	pg_finish(c);
}

/* A group transaction's callers leave statements that may go as one (pg_defer_batched): a
 * tenant's go as one statement whose parameters are arrays of theirs, values exactly as
 * given (quotes, backslashes, braces, commas, the text "NULL", an empty text, SQL NULL,
 * non-ASCII); a second statement for the same key (a product here) runs on its own after
 * the batch, so the later value stays; another tenant's go under its own setting. */
#define BATCH_ONE_SQL                                                                              \
	"UPDATE products SET stock = $3::int, description = COALESCE($4, '(null)')"                \
	" WHERE tenant_id = $1 AND id = $2"
#define BATCH_SQL                                                                                  \
	"UPDATE products p SET stock = x.s, description = COALESCE(x.d, '(null)')"                 \
	" FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[]) AS x(t, id, s, d)"            \
	" WHERE p.tenant_id = x.t AND p.id = x.id"

struct batch_call {
	const char *tenant, *product, *stock, *description;
};

static int batch_caller_fn(PGconn *conn, void *arg)
{
	const struct batch_call *b = arg;
	const char *p[4] = {b->tenant, b->product, b->stock, b->description};

	(void)conn;
	return pg_defer_batched(b->tenant, BATCH_ONE_SQL, BATCH_SQL, 1, 4, p) == 1 ? 0 : -1;
}

/* A new product of tenant t (its id in out, 37 bytes). */
static void product_new(PGconn *c, const char *t, const char *sku, char *out)
{
	const char *p[2] = {t, sku};
	PGresult *r;

	exec_ok(c, "SELECT set_config('app.tenant_id', $1, false)", 1, p, -1);
	r = pg_exec(c,
	            "INSERT INTO products (tenant_id, sku, name, price_minor, currency)"
	            " VALUES ($1, $2, $2, 100, 'KES') RETURNING id",
	            2, p);
	assert_non_null(r);
	snprintf(out, 37, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
}

/* The product's "stock|description". */
static void product_expect(PGconn *c, const char *t, const char *id, const char *want)
{
	const char *p[2] = {t, id};
	PGresult *r;

	exec_ok(c, "SELECT set_config('app.tenant_id', $1, false)", 1, p, -1);
	r = pg_exec(c,
	            "SELECT stock || '|' || description FROM products WHERE tenant_id = $1"
	            " AND id = $2",
	            2, p);
	assert_non_null(r);
	assert_int_equal(PQntuples(r), 1);
	assert_string_equal(PQgetvalue(r, 0, 0), want);
	PQclear(r);
}

static void test_deferred_batched(void **state)
{
	PGconn *c = testdb_connect_app(&db);
	char *other = testdb_tenant_create(&db, "registry-batch", NULL);
	char p1[37], p2[37], p3[37], p4[37], q1[37], name[32];
	static const char tricky[] = "say \"hi\" \\ {a,b}, 'x' NULL";
	unsigned long long rt = 0, stmts = 0;
	int i, round, broken = 0;

	(void)state;
	assert_non_null(other);
	product_new(c, tenant, "batch-1", p1);
	product_new(c, tenant, "batch-2", p2);
	product_new(c, tenant, "batch-3", p3);
	product_new(c, tenant, "batch-4", p4);
	product_new(c, other, "batch-q1", q1);
	for (round = 0; round < 2; round++) { /* the first prepares the statements */
		struct batch_call calls[6] = {
		    {tenant, p1, "5", "first"}, {other, q1, "10", "asali 🍯 ünï"},
		    {tenant, p2, "6", NULL},    {tenant, p1, "7", "NULL"},
		    {tenant, p3, "8", tricky},  {tenant, p4, "9", ""}};

		assert_int_equal(pg_begin(c), 0);
		for (i = 0; i < 6; i++) {
			assert_int_equal(pg_savepoint_run(c, calls[i].tenant, batch_caller_fn,
			                                  &calls[i], &broken),
			                 0);
			assert_int_equal(broken, 0);
		}
		stats_delta(&rt, &stmts);
		assert_int_equal(pg_commit(c), 0);
		stats_delta(&rt, &stmts);
		/* once prepared, one round trip: two settings, tenant's batch of four and its second p1 after it,
		 * the other tenant's lone statement (sent as it is), COMMIT; six one by one would be
		 * nine */
		if (round == 1) {
			assert_int_equal(rt, 1);
			assert_int_equal(stmts, 6);
		}
		product_expect(c, tenant, p1, "7|NULL");
		product_expect(c, tenant, p2, "6|(null)");
		product_expect(c, tenant, p3, "8|say \"hi\" \\ {a,b}, 'x' NULL");
		product_expect(c, tenant, p4, "9|");
		product_expect(c, other, q1, "10|asali 🍯 ünï");
		exec_ok(c, "UPDATE products SET stock = 0, description = ''", 0, NULL, -1);
	}
	assert_int_equal(prepared_count(c, BATCH_SQL, name, sizeof(name)), 1);
	free(other);
	pg_finish(c);
}

/* ---- a transaction's opening goes with its first statement ---- */

struct open_run {
	const char *name; /* the customer its first statement writes; NULL: no statement */
	int fail;         /* its first statement fails instead (division by zero) */
};

static int open_fn(PGconn *conn, void *arg)
{
	struct open_run *o = arg;
	const char *p[1] = {o->name};
	PGresult *r;

	if (o->fail) {
		r = pg_exec(conn, "SELECT 1/0", 0, NULL);
		assert_null(r);
		return PG_ERR_QUERY;
	}
	if (!o->name)
		return 0;
	/* row-level security lets it in only with the tenant set, inside the transaction */
	r = pg_exec(conn,
	            "INSERT INTO customers (tenant_id, name) VALUES (app_tenant_id(), $1)"
	            " RETURNING current_setting('app.tenant_id', true)",
	            1, p);
	assert_non_null(r);
	assert_string_equal(PQgetvalue(r, 0, 0), tenant);
	PQclear(r);
	return 0;
}

/* The request pool's round trips and statements since the last call. */
static void stats_delta(unsigned long long *rt, unsigned long long *stmts)
{
	static struct pg_stats last;
	struct pg_stats now;

	pg_stats_get(PG_POOL_REQUEST, &now);
	*rt = now.round_trips - last.round_trips;
	*stmts = now.statements - last.statements;
	last = now;
}

/* pg_tx_run's BEGIN and the tenant's setting go with the function's first statement: a
 * transaction of one statement is two round trips (that and COMMIT), one that runs none sends
 * nothing, one whose first statement fails leaves nothing and the connection ready. In a group
 * transaction each caller's savepoint goes with its first statement the same way, and a
 * caller that fails there undoes only its own work. */
static void test_opening(void **state)
{
	PGconn *c = testdb_connect_app(&db);
	struct open_run one = {"opening-one", 0}, none = {NULL, 0}, bad = {"opening-bad", 1};
	struct open_run g1 = {"opening-group-1", 0}, g3 = {"opening-group-3", 0};
	unsigned long long rt, st;
	int broken;

	(void)state;
	exec_ok(c, "SELECT set_config('app.tenant_id', $1, false)", 1, (const char *[]){tenant},
	        -1);
	stats_delta(&rt, &st);
	assert_int_equal(pg_tx_run(c, tenant, open_fn, &one), 0);
	stats_delta(&rt, &st);
	assert_int_equal(rt, 2);
	assert_int_equal(st, 4); /* BEGIN, the setting, the INSERT, COMMIT */
	assert_int_equal(customers_named(c, "opening-one"), 1);
	stats_delta(&rt, &st);

	assert_int_equal(pg_tx_run(c, tenant, open_fn, &none), 0);
	stats_delta(&rt, &st);
	assert_int_equal(rt, 0);
	assert_int_equal(PQtransactionStatus(c), PQTRANS_IDLE);

	assert_int_equal(pg_tx_run(c, tenant, open_fn, &bad), PG_ERR_QUERY);
	assert_string_equal(pg_last_sqlstate(), "22012");
	assert_int_equal(PQtransactionStatus(c), PQTRANS_IDLE);
	assert_int_equal(pg_tx_run(c, tenant, open_fn, &one), 0); /* ready for the next */
	assert_int_equal(customers_named(c, "opening-one"), 2);

	assert_int_equal(pg_begin(c), 0);
	assert_int_equal(pg_savepoint_run(c, tenant, open_fn, &g1, &broken), 0);
	assert_int_equal(broken, 0);
	assert_int_equal(pg_savepoint_run(c, tenant, open_fn, &bad, &broken), PG_ERR_QUERY);
	assert_int_equal(broken, 0);
	assert_int_equal(pg_savepoint_run(c, tenant, open_fn, &none, &broken), 0);
	assert_int_equal(pg_savepoint_run(c, tenant, open_fn, &g3, &broken), 0);
	assert_int_equal(pg_commit(c), 0);
	assert_int_equal(customers_named(c, "opening-group-1"), 1);
	assert_int_equal(customers_named(c, "opening-group-3"), 1);
	assert_int_equal(customers_named(c, "opening-bad"), 0);
	pg_finish(c);
}

#define FIRST_SQL                                                                                  \
	"INSERT INTO customers (tenant_id, name) VALUES (app_tenant_id(), $1) RETURNING id"

/* A customer named arg inserted by the transaction's first (and only) statement. */
static int first_fn(PGconn *conn, void *arg)
{
	PGresult *r = pg_exec(conn, FIRST_SQL, 1, (const char *const[]){arg});

	if (!r)
		return PG_ERR_QUERY;
	PQclear(r);
	return 0;
}

/* A statement that is always its transaction's first goes with the held opening, and is still
 * prepared again as it keeps running (its 64th run sends the opening alone first). Before, it
 * kept the plan of its first preparation for the life of the connection, as the turn's
 * opening statement did. */
static void test_first_statement_reprepared(void **state)
{
	PGconn *c = testdb_connect_app(&db);
	unsigned long long rt, st;
	char name0[32], name[32];
	int i;

	(void)state;
	exec_ok(c, "SELECT set_config('app.tenant_id', $1, false)", 1, (const char *[]){tenant},
	        -1); /* for the count at the end */
	assert_int_equal(pg_tx_run(c, tenant, first_fn, "first-stmt"), 0);
	assert_int_equal(prepared_count(c, FIRST_SQL, name0, sizeof(name0)), 1);
	stats_delta(&rt, &st);
	assert_int_equal(pg_tx_run(c, tenant, first_fn, "first-stmt"), 0);
	stats_delta(&rt, &st);
	assert_int_equal(rt, 2); /* BEGIN, the setting and the statement; COMMIT */
	for (i = 0; i < 70; i++)
		assert_int_equal(pg_tx_run(c, tenant, first_fn, "first-stmt"), 0);
	assert_int_equal(customers_named(c, "first-stmt"), 72);
	assert_int_equal(prepared_count(c, FIRST_SQL, name, sizeof(name)), 1);
	assert_string_not_equal(name, name0);
	pg_finish(c);
}

/* The one value one row of sql gives on c (heap). */
static char *one_value(PGconn *c, const char *sql, int n, const char *const *p)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
	char *v;

	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_int_equal(PQntuples(r), 1);
	v = strdup(PQgetvalue(r, 0, 0));
	assert_non_null(v);
	PQclear(r);
	return v;
}

/* The cluster's superuser on the test database (statistics, plans, no row-level security). */
static PGconn *superuser_connect(void)
{
	PGconn *su;

	if (!db.superuser_url[0])
		fail_msg(
		    "CCGW_SUPERUSER_URL is not in .ccgw/env: run the tests through scripts/test");
	su = PQconnectdb(db.superuser_url);
	assert_int_equal(PQstatus(su), CONNECTION_OK);
	return su;
}

/* The plan tests below make a plan on statistics they ANALYZE themselves: autovacuum's own
 * ANALYZE of these tables, at a moment of its choosing (while 3,000 rows were being added,
 * say), would plan the statements again on statistics the test did not make (it did, about
 * once in thirty runs: outbox_complete's next-message lookup was then planned as a scan of
 * the whole outbox_due index). So autovacuum leaves them alone in the test's database. */
static void statistics_ours(PGconn *su)
{
	static const char *const tables[] = {"outbox", "conversations", "channels"};
	char sql[128];
	size_t i;

	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		PGresult *r;

		snprintf(sql, sizeof(sql), "ALTER TABLE %s SET (autovacuum_enabled = off)", tables[i]);
		r = PQexec(su, sql);
		assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
		PQclear(r);
	}
}

/*
 * Every event, outbox row and inbound message written for a conversation makes PostgreSQL
 * check its foreign key with "SELECT 1 FROM ONLY conversations x WHERE tenant_id = $1 AND
 * id = $2 FOR KEY SHARE OF x", without row-level security, under a plan it keeps for the
 * session until the table's statistics change. A plan made while the table is empty must
 * still read the primary key when the shop has hundreds of conversations: on an empty table
 * every index costs the planner the same, and it took the chat key, which held tenant_id, with
 * id as a filter, so each check read all the tenant's conversations (bench_ingest: 381
 * buffers a check over 1,000 shoppers). sql/106 leaves the primary key the only index that
 * holds tenant_id. The table scan, which the planner prefers on an empty table, is ruled out
 * here so that the choice between the indexes shows.
 */
static void test_conversation_key_lookup(void **state)
{
	PGconn *c = testdb_connect_owner(&db), *su;
	const char *tp[1] = {tenant};
	char *channel, *conv, *plan, sql[512];
	const char *hit;
	PGresult *r;

	(void)state;
	su = superuser_connect();
	statistics_ours(su);
	/* empty, and known to be: autovacuum's first pass over a new shop's table */
	r = PQexec(su, "SELECT count(*) FROM conversations");
	assert_string_equal(PQgetvalue(r, 0, 0), "0");
	PQclear(r);
	r = PQexec(su, "VACUUM conversations");
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	PQclear(PQexec(su, "SET plan_cache_mode = force_generic_plan"));
	PQclear(PQexec(su, "SET enable_seqscan = off"));
	r = PQexec(su, "PREPARE fk_check(uuid, uuid) AS SELECT 1 FROM ONLY public.conversations x"
	               " WHERE tenant_id = $1 AND id = $2 FOR KEY SHARE OF x");
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	/* the plan is made now, on the empty table */
	r = PQexec(su, "EXECUTE fk_check(gen_random_uuid(), gen_random_uuid())");
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	PQclear(r);

	free(one_value(c, "SELECT set_config('app.tenant_id', $1, false)", 1, tp));
	channel = one_value(c,
	                    "INSERT INTO channels (tenant_id, type, external_id)"
	                    " VALUES ($1, 'telegram', 'fk-plan') RETURNING id",
	                    1, tp);
	{
		const char *p[2] = {tenant, channel};

		r = PQexecParams(
		    c,
		    "INSERT INTO conversations (tenant_id, channel_id, external_chat_id,"
		    " external_user_id) SELECT $1, $2, 'chat' || g, 'chat' || g"
		    " FROM generate_series(1, 400) g",
		    2, NULL, p, NULL, NULL, 0);
		assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
		PQclear(r);
	}
	conv = one_value(c,
	                 "SELECT id FROM conversations WHERE tenant_id = $1"
	                 " AND external_chat_id = 'chat200'",
	                 1, tp);
	PQfinish(c);

	PQclear(PQexec(su, "BEGIN"));
	/* two uuids the database made */
	snprintf(sql, sizeof(sql),
	         "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) EXECUTE fk_check('%s', '%s')",
	         tenant, conv);
	plan = explain_text(su, sql);
	PQclear(PQexec(su, "ROLLBACK"));
	if (!strstr(plan, "using conversations_pkey") || strstr(plan, "Filter") ||
	    !strstr(plan, "rows=1 "))
		fail_msg("the key lookup is not one entry of the primary key:\n%s", plan);
	hit = strstr(plan, "shared hit=");
	assert_non_null(hit);
	if (atoi(hit + strlen("shared hit=")) > 8)
		fail_msg("the key lookup read more than 8 buffers for one of 400 rows:\n%s", plan);
	free(plan);
	free(conv);
	free(channel);
	PQfinish(su);
}

/* Runs sql on c, which must work. */
static void run_ok(PGconn *c, const char *sql, int n, const char *const *p)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
}

/* n pending replies on channel, one for each of n new conversations named prefix1..n, due
 * in the past (the oldest first). */
static void replies_add(PGconn *c, const char *channel, const char *prefix, int n)
{
	char count[16];
	const char *p[4] = {tenant, channel, prefix, count};

	snprintf(count, sizeof(count), "%d", n);
	run_ok(
	    c,
	    "WITH cv AS (INSERT INTO conversations (tenant_id, channel_id, external_chat_id,"
	    " external_user_id) SELECT $1, $2, $3 || g, $3 || g FROM generate_series(1, $4::int) g"
	    " RETURNING id, external_chat_id)"
	    " INSERT INTO outbox (tenant_id, kind, conversation_id, channel_id, recipient, payload,"
	    " next_attempt_at) SELECT $1, 'reply', id, $2, external_chat_id, '{\"text\": \"hi\"}',"
	    " now() - interval '1 hour' FROM cv",
	    4, p);
}

/*
 * The dispatcher's claim (outbox_claim, sql/058) keeps one generic plan per session (sql/092),
 * made again when ANALYZE changes the outbox's statistics. autovacuum's first ANALYZE of a
 * new database's outbox can come while it holds a few dozen rows, and a plan made then read
 * the outbox whole for each of the claim's candidates ("an earlier reply of this conversation
 * still waits?") until the next ANALYZE a minute later: in the bench_ingest run examined,
 * 53,000 buffers and 174 ms a claim, PostgreSQL's CPU a message 2.5 times the usual. sql/107
 * takes and parks each row by its key. Here: the outbox analyzed at 60 rows, the plan made
 * then, then 3,000 more rows; the claim must read about its candidates and take its batch
 * (it read 196,040 rows before).
 */
/* the outbox rows this transaction read so far, by table scans and through indexes */
/* Sets c up as a dispatcher's session of the test's tenant (gateway/dispatch/dispatch_worker.c
 * sets these) and adds a channel of its own; returns the channel's id. */
static char *dispatcher_session(PGconn *c, const char *external_id)
{
	const char *p[2] = {tenant, external_id};

	free(one_value(c, "SELECT set_config('app.tenant_id', $1, false)", 1, p));
	run_ok(c, "SET enable_hashjoin = off", 0, NULL);
	run_ok(c, "SET enable_mergejoin = off", 0, NULL);
	run_ok(c, "SET enable_bitmapscan = off", 0, NULL);
	run_ok(c, "SET plan_cache_mode = force_custom_plan", 0, NULL);
	return one_value(c,
	                 "INSERT INTO channels (tenant_id, type, external_id)"
	                 " VALUES ($1, 'telegram', $2) RETURNING id",
	                 2, p);
}

#define OUTBOX_READS_SQL                                                                           \
	"SELECT seq_tup_read + idx_tup_fetch FROM pg_stat_xact_user_tables"                        \
	" WHERE relname = 'outbox'"

static void test_claim_plan_after_small_analyze(void **state)
{
	PGconn *c = testdb_connect_owner(&db), *su;
	char *channel, *before, *after;
	PGresult *r;

	(void)state;
	su = superuser_connect();
	statistics_ours(su);
	channel = dispatcher_session(c, "claim-plan");
	replies_add(c, channel, "early", 60);
	run_ok(su, "ANALYZE outbox", 0, NULL);
	/* the claim's plan is made now, on 60 rows; the claim is undone */
	run_ok(c, "BEGIN", 0, NULL);
	run_ok(c, "SELECT count(*) FROM outbox_claim('registry-test', 16, 60)", 0, NULL);
	run_ok(c, "ROLLBACK", 0, NULL);
	replies_add(c, channel, "later", 3000);

	run_ok(c, "BEGIN", 0, NULL);
	before = one_value(c, OUTBOX_READS_SQL, 0, NULL);
	r = PQexec(
	    c, "SELECT count(*) FILTER (WHERE claimed) FROM outbox_claim('registry-test', 16, 60)");
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(r, 0, 0), "16"); /* a full batch, oldest first */
	PQclear(r);
	after = one_value(c, OUTBOX_READS_SQL, 0, NULL);
	run_ok(c, "ROLLBACK", 0, NULL);
	print_message("claim: %ld outbox rows read\n", atol(after) - atol(before));
	/* 64 candidates, each with its conversation's earlier replies looked up, 16 taken */
	if (atol(after) - atol(before) > 400)
		fail_msg(
		    "the claim read %ld outbox rows for 16 among 3,060 (a plan made on 60 rows)",
		    atol(after) - atol(before));
	free(before);
	free(after);
	free(channel);
	PQfinish(c);
	PQfinish(su);
}

/*
 * A batch's outcomes (outbox_complete, sql/109) are written by one UPDATE joined to the batch,
 * under a generic plan kept per session. A join planned on a young outbox could read the
 * tenant's rows whole instead of the batch's, and keep doing so as the table grew: the rows
 * are therefore found by their keys first and updated through their places. Here: the plan
 * made on one row (a join by the keys alone then read 3,020 rows for 16, and a join by the
 * rows' places 3,017), then 3,000 more; sixteen sent outcomes must be written, each row read
 * by its key.
 */
static void test_complete_plan_after_small_analyze(void **state)
{
	PGconn *c = testdb_connect_owner(&db), *su;
	char *channel, *ids, *before, *after, *written;
	const char *cp[2];
	int round;
	static const char *claim_sql = "SELECT array_agg(id)::text FROM"
	                               " outbox_claim('complete-test', 16, 60) WHERE claimed";
	static const char *complete_sql =
	    "SELECT count(*) FILTER (WHERE NOT claimed) FROM outbox_complete($1::uuid, $2::uuid[],"
	    " array_fill('complete-test'::text, ARRAY[cardinality($2::uuid[])]),"
	    " array_fill('sent'::text, ARRAY[cardinality($2::uuid[])]),"
	    " array_fill(NULL::text, ARRAY[cardinality($2::uuid[])]),"
	    " array_fill(NULL::bigint, ARRAY[cardinality($2::uuid[])]),"
	    " array_fill(NULL::text, ARRAY[cardinality($2::uuid[])]),"
	    " array_fill(0::bigint, ARRAY[cardinality($2::uuid[])]),"
	    " array_fill(0, ARRAY[cardinality($2::uuid[])]),"
	    " array_fill(1, ARRAY[cardinality($2::uuid[])]), 60, NULL, NULL)";

	(void)state;
	su = superuser_connect();
	statistics_ours(su);
	channel = dispatcher_session(c, "complete-plan");
	/* the earlier tests' replies go, so that the plan is made on few */
	run_ok(su, "TRUNCATE outbox CASCADE", 0, NULL);
	replies_add(c, channel, "complete-early", 1);
	run_ok(su, "ANALYZE outbox", 0, NULL);
	cp[0] = tenant;
	for (round = 0; round < 2; round++) {
		/* round 0 makes the plan on one row and is undone; round 1 runs it among 3,001 */
		if (round == 1)
			replies_add(c, channel, "complete-later", 3000);
		run_ok(c, "BEGIN", 0, NULL);
		ids = one_value(c, claim_sql, 0, NULL);
		cp[1] = ids;
		before = one_value(c, OUTBOX_READS_SQL, 0, NULL);
		written = one_value(c, complete_sql, 2, cp);
		after = one_value(c, OUTBOX_READS_SQL, 0, NULL);
		assert_string_equal(written, round == 0 ? "1" : "16");
		free(written);
		written = one_value(c,
		                    "SELECT count(*) FROM outbox o JOIN conversation_events e"
		                    " ON e.conversation_id = o.conversation_id"
		                    " AND e.event_type = 'message_sent'"
		                    " AND e.payload->>'outbox_id' = o.id::text"
		                    " WHERE o.id = ANY($2::uuid[]) AND o.status = 'sent'"
		                    " AND o.lease_owner IS NULL AND o.tenant_id = $1",
		                    2, cp);
		/* each row sent, with its event */
		assert_string_equal(written, round == 0 ? "1" : "16");
		free(written);
		run_ok(c, "ROLLBACK", 0, NULL);
		if (round == 1) {
			print_message("complete: %ld outbox rows read\n", atol(after) - atol(before));
			/* 16 rows by key, and each conversation's next message looked up */
			if (atol(after) - atol(before) > 100)
				fail_msg("outbox_complete read %ld outbox rows for 16 among 3,001 (a"
				         " plan made on one row)",
				         atol(after) - atol(before));
		}
		free(ids);
		free(before);
		free(after);
	}
	free(channel);
	PQfinish(c);
	PQfinish(su);
}

/* Twelve conversations whose chats begin with prefix, as a uuid[] literal. */
static char *batch_of(PGconn *c, const char *prefix)
{
	const char *p[1] = {prefix};

	return one_value(c,
	                 "SELECT array_agg(id)::text FROM (SELECT id FROM conversations"
	                 " WHERE external_chat_id LIKE $1 || '%' ORDER BY external_chat_id"
	                 " LIMIT 12) s",
	                 1, p);
}

#define CONVERSATION_READS_SQL                                                                     \
	"SELECT seq_tup_read + idx_tup_fetch FROM pg_stat_xact_user_tables"                        \
	" WHERE relname = 'conversations'"

/* A group's turn endings (conv_turns_write, sql/112) written for the twelve conversations of
 * ids on c, in a transaction rolled back: 0, or the conversation rows it read; each of the
 * twelve must be written with its event and its reply. */
static long turns_write_reads(PGconn *c, const char *channel, const char *ids)
{
	const char *p[3] = {tenant, ids, channel};
	char *before, *after, *v;
	long reads;

	run_ok(c, "BEGIN", 0, NULL);
	before = one_value(c, CONVERSATION_READS_SQL, 0, NULL);
	run_ok(c,
	       "SELECT conv_turns_write(array_fill($1::uuid, ARRAY[12]), $2::uuid[],"
	       " array_fill('[{\"type\": \"plan_test\"}]'::jsonb, ARRAY[12]),"
	       " array_fill($3::uuid, ARRAY[12]), array_fill('r'::text, ARRAY[12]),"
	       " array_fill(NULL::text, ARRAY[12]), array_fill('{\"text\": \"x\"}'::jsonb,"
	       " ARRAY[12]), array_fill('plan-test'::text, ARRAY[12]), array_fill('{}'::jsonb,"
	       " ARRAY[12]), array_fill('[]'::jsonb, ARRAY[12]), array_fill('en'::text, ARRAY[12]),"
	       " array_fill(0, ARRAY[12]), array_fill(false, ARRAY[12]),"
	       " array_fill(false, ARRAY[12]))",
	       3, p);
	after = one_value(c, CONVERSATION_READS_SQL, 0, NULL);
	reads = atol(after) - atol(before);
	v = one_value(c,
	              "SELECT count(*) FROM conversations c WHERE c.id = ANY($2::uuid[])"
	              " AND c.tenant_id = $1 AND c.state = 'plan-test'"
	              " AND EXISTS (SELECT 1 FROM conversation_events e WHERE e.tenant_id = $1"
	              "  AND e.conversation_id = c.id AND e.event_type = 'plan_test')"
	              " AND EXISTS (SELECT 1 FROM outbox o WHERE o.tenant_id = $1"
	              "  AND o.conversation_id = c.id AND o.payload->>'text' = 'x')",
	              2, p);
	assert_string_equal(v, "12");
	run_ok(c, "ROLLBACK", 0, NULL);
	free(v);
	free(before);
	free(after);
	return reads;
}

/* dispatch_load must read a batch's conversations by their keys however many the shop has. Its
 * one statement of 091 read 3,052 rows for a batch of 12 among 3,040 when its plan was made on
 * statistics of 40 conversations: with a generic plan kept, and sometimes even planned at each
 * call. Since 108 each conversation is one statement that looks a row up by its whole key,
 * under a generic plan. This keeps such a plan from coming back unnoticed. Runs last: it
 * empties the conversations. */
static void test_load_plan_after_small_analyze(void **state)
{
	PGconn *c = testdb_connect_owner(&db), *su;
	const char *lp[3];
	char *channel, *ids, *before, *after;
	PGresult *r;
	long reads;
	static const char *load_sql =
	    "SELECT count(*) FROM dispatch_load($1::uuid, ARRAY[$2::uuid], '{}'::uuid[],"
	    " $3::uuid[], $3::uuid[], array_fill($2::uuid, ARRAY[12]),"
	    " array_fill(NULL::text, ARRAY[12]))";

	(void)state;
	su = superuser_connect();
	statistics_ours(su);
	channel = dispatcher_session(c, "load-plan");
	/* the last test: the other tests' conversations go, so that the plan is made on few */
	run_ok(su, "TRUNCATE conversations CASCADE", 0, NULL);
	replies_add(c, channel, "load-early", 40);
	run_ok(su, "ANALYZE conversations", 0, NULL);
	run_ok(su, "ANALYZE channels", 0, NULL);
	lp[0] = tenant;
	lp[1] = channel;
	ids = batch_of(c, "load-early");
	lp[2] = ids;
	/* the plan is made now, on statistics of the few */
	run_ok(c, "BEGIN", 0, NULL);
	run_ok(c, load_sql, 3, lp);
	run_ok(c, "ROLLBACK", 0, NULL);
	(void)turns_write_reads(c, channel, ids);
	free(ids);
	replies_add(c, channel, "load-later", 3000);
	ids = batch_of(c, "load-later");
	lp[2] = ids;

	run_ok(c, "BEGIN", 0, NULL);
	before = one_value(c, CONVERSATION_READS_SQL, 0, NULL);
	r = PQexecParams(c, load_sql, 3, NULL, lp, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(r, 0, 0), "13"); /* the channel, and 12 windows */
	PQclear(r);
	after = one_value(c, CONVERSATION_READS_SQL, 0, NULL);
	run_ok(c, "ROLLBACK", 0, NULL);
	print_message("load: %ld conversation rows read\n", atol(after) - atol(before));
	/* 12 blocked-or-not lookups and 12 windows, each by a key */
	if (atol(after) - atol(before) > 100)
		fail_msg("dispatch_load read %ld conversation rows for 12 among %d (a plan made on"
		         " 40 rows)",
		         atol(after) - atol(before), 3040);
	/* the same for a group's turn endings: twelve looked up by their keys, updated through
	 * their places, and each event's and reply's foreign key checked by its key */
	reads = turns_write_reads(c, channel, ids);
	print_message("turn endings: %ld conversation rows read\n", reads);
	if (reads > 100)
		fail_msg("conv_turns_write read %ld conversation rows for 12 among %d (a plan made"
		         " on 40 rows)",
		         reads, 3040);
	free(ids);
	free(before);
	free(after);
	free(channel);
	PQfinish(c);
	PQfinish(su);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reprepared_after_growth),
	    cmocka_unit_test(test_failed_transaction),
	    cmocka_unit_test(test_deferred),
	    cmocka_unit_test(test_deferred_tenants),
	    cmocka_unit_test(test_deferred_batched),
	    cmocka_unit_test(test_opening),
	    cmocka_unit_test(test_first_statement_reprepared),
	    cmocka_unit_test(test_conversation_key_lookup),
	    cmocka_unit_test(test_claim_plan_after_small_analyze),
	    cmocka_unit_test(test_complete_plan_after_small_analyze),
	    cmocka_unit_test(test_load_plan_after_small_analyze),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
