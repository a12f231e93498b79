/*
 * test_rls.c: row-level security keeps tenants apart. Every tenant-owned table has it
 * enabled and forced (a catalog check, so a future table cannot forget it), and the
 * application role sees nothing without a tenant, only its own rows with one, cannot write
 * another tenant's rows, and cannot point a row into another tenant.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "testdb.h"

static struct testdb db;

static PGresult *q(PGconn *c, const char *sql, int n, const char *const *p)
{
	return PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
}

static void ok(PGconn *c, const char *sql, int n, const char *const *p)
{
	PGresult *r = q(c, sql, n, p);

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
}

static char *scalar(PGconn *c, const char *sql, int n, const char *const *p)
{
	PGresult *r = q(c, sql, n, p);
	char *v;

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	v = PQntuples(r) ? strdup(PQgetvalue(r, 0, 0)) : strdup("");
	PQclear(r);
	return v;
}

/* Runs sql expecting failure with the SQLSTATE class given (e.g. "42501"). */
static void fails_with(PGconn *c, const char *state, const char *sql, int n, const char *const *p)
{
	PGresult *r = q(c, sql, n, p);
	const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	if (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
		fail_msg("expected %s but it succeeded: %s", state, sql);
	assert_non_null(s);
	assert_string_equal(s, state);
	PQclear(r);
}

static void set_tenant(PGconn *c, const char *tenant)
{
	const char *p[1] = { tenant };

	ok(c, "SELECT set_config('app.tenant_id', $1, false)", 1, p);
}

static void test_catalog_every_tenant_table_forced(void **state)
{
	PGconn *c = testdb_connect_owner(&db);
	PGresult *r;
	int i, n;

	(void)state;
	r = q(c, "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,"
		 " (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid)"
		 " FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace"
		 " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped"
		 " WHERE ns.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1", 0, NULL);
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	n = PQntuples(r);
	assert_true(n >= 30); /* the whole design: catalog, orders, gateway, storefront, trust */
	for (i = 0; i < n; i++) {
		const char *t = PQgetvalue(r, i, 0);
		if (strcmp(PQgetvalue(r, i, 1), "t") != 0 || strcmp(PQgetvalue(r, i, 2), "t") != 0)
			fail_msg("table %s: row-level security is not enabled and forced", t);
		if (atoi(PQgetvalue(r, i, 3)) < 1)
			fail_msg("table %s has no policy", t);
	}
	PQclear(r);
	/* the tables reports rely on are among them */
	r = q(c, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename IN"
		 " ('customers','products','carts','cart_items','orders','order_items','order_channel_meta',"
		 "  'conversations','conversation_events') AND rowsecurity", 0, NULL);
	assert_string_equal(PQgetvalue(r, 0, 0), "9");
	PQclear(r);
	PQfinish(c);
}

static void test_app_role_is_plain(void **state)
{
	PGconn *c = testdb_connect_app(&db);
	char *v;

	(void)state;
	v = scalar(c, "SELECT rolsuper::text || rolbypassrls::text FROM pg_roles WHERE rolname = current_user", 0, NULL);
	assert_string_equal(v, "falsefalse");
	free(v);
	PQfinish(c);
}

static void test_isolation(void **state)
{
	PGconn *c = testdb_connect_app(&db);
	const char *a = "aaaaaaaa-0000-4000-8000-000000000001";
	const char *b = "bbbbbbbb-0000-4000-8000-000000000002";
	const char *pa = "aaaaaaaa-1111-4000-8000-000000000001";
	const char *pb = "bbbbbbbb-1111-4000-8000-000000000002";
	const char *oa = "aaaaaaaa-2222-4000-8000-000000000001";
	const char *p[3];
	char *v;

	(void)state;
	/* each tenant writes its own rows with its own setting */
	set_tenant(c, a);
	p[0] = a;
	ok(c, "INSERT INTO tenants (id, slug, name) VALUES ($1, 'shop-a', 'Shop A')", 1, p);
	p[1] = pa;
	ok(c, "INSERT INTO products (tenant_id, id, sku, name, price_minor, currency, stock)"
	      " VALUES ($1, $2, 'MUG', 'Red Mug', 50000, 'KES', 3)", 2, p);
	set_tenant(c, b);
	p[0] = b;
	ok(c, "INSERT INTO tenants (id, slug, name) VALUES ($1, 'shop-b', 'Shop B')", 1, p);
	p[1] = pb;
	ok(c, "INSERT INTO products (tenant_id, id, sku, name, price_minor, currency, stock)"
	      " VALUES ($1, $2, 'MUG', 'Blue Mug', 70000, 'KES', 9)", 2, p);

	/* no tenant set: nothing is visible */
	ok(c, "RESET app.tenant_id", 0, NULL);
	v = scalar(c, "SELECT count(*) FROM products", 0, NULL);
	assert_string_equal(v, "0");
	free(v);
	v = scalar(c, "SELECT count(*) FROM tenants", 0, NULL);
	assert_string_equal(v, "0");
	free(v);
	ok(c, "SELECT set_config('app.tenant_id', '', false)", 0, NULL);
	v = scalar(c, "SELECT count(*) FROM products", 0, NULL);
	assert_string_equal(v, "0");
	free(v);

	/* tenant A sees only its own */
	set_tenant(c, a);
	v = scalar(c, "SELECT string_agg(name, ',') FROM products", 0, NULL);
	assert_string_equal(v, "Red Mug");
	free(v);
	p[0] = pb;
	v = scalar(c, "SELECT count(*) FROM products WHERE id = $1", 1, p);
	assert_string_equal(v, "0");
	free(v);

	/* A cannot write a row of B's, nor move its own row to B, nor touch B's rows */
	p[0] = b;
	fails_with(c, "42501", "INSERT INTO products (tenant_id, sku, name, price_minor, currency)"
			       " VALUES ($1, 'X', 'Stolen', 1, 'KES')", 1, p);
	p[0] = b;
	p[1] = pa;
	fails_with(c, "42501", "UPDATE products SET tenant_id = $1 WHERE id = $2", 2, p);
	p[0] = pb;
	{
		PGresult *r = q(c, "UPDATE products SET stock = 0 WHERE id = $1", 1, p);
		assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
		assert_string_equal(PQcmdTuples(r), "0");
		PQclear(r);
		r = q(c, "DELETE FROM products WHERE id = $1", 1, p);
		assert_string_equal(PQcmdTuples(r), "0");
		PQclear(r);
	}

	/* A's order cannot point at B's product: the key includes tenant_id */
	p[0] = a;
	p[1] = oa;
	ok(c, "INSERT INTO orders (tenant_id, id, order_number, subtotal_minor, total_minor, currency)"
	      " VALUES ($1, $2, 1001, 0, 0, 'KES')", 2, p);
	p[2] = pb;
	fails_with(c, "23503", "INSERT INTO order_items (tenant_id, order_id, product_id, sku, name, quantity,"
			       " unit_price_minor, subtotal_minor) VALUES ($1, $2, $3, 'MUG', 'Blue Mug', 1, 70000, 70000)",
		   3, p);

	/* and B still has its stock */
	set_tenant(c, b);
	v = scalar(c, "SELECT stock FROM products", 0, NULL);
	assert_string_equal(v, "9");
	free(v);
	PQfinish(c);
}

static void test_definer_lookups_are_narrow(void **state)
{
	PGconn *c = testdb_connect_app(&db);

	(void)state;
	/* the application role cannot read across tenants by calling the owner's privileges
	 * through anything but the narrow functions, and cannot create objects */
	fails_with(c, "42501", "CREATE TABLE sneaky (tenant_id uuid)", 0, NULL);
	fails_with(c, "42501", "SELECT * FROM schema_migrations", 0, NULL);
	PQfinish(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_catalog_every_tenant_table_forced),
		cmocka_unit_test(test_app_role_is_plain),
		cmocka_unit_test(test_isolation),
		cmocka_unit_test(test_definer_lookups_are_narrow),
	};
	testdb_setup(&db, "rls");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
