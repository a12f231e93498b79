/*
 * test_migrate.c: migrations apply to an empty database, a second run is a no-op, two
 * processes migrating at once do not collide, and a changed old file is refused.
 */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "migrate.h"
#include "testdb.h"

static int sql_file_count(void)
{
	DIR *d = opendir(CCGW_SOURCE_DIR "/sql");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strstr(e->d_name, ".sql") && e->d_name[0] >= '0' && e->d_name[0] <= '9')
			n++;
	closedir(d);
	return n;
}

static void test_apply_then_noop(void **state)
{
	struct testdb db;
	char err[1024];
	char *count;

	(void)state;
	testdb_setup(&db, "migrate_noop"); /* applies everything */
	count = testdb_owner_scalar(&db, "SELECT count(*) FROM schema_migrations", 0, NULL);
	assert_int_equal(atoi(count), sql_file_count());
	free(count);
	assert_int_equal(migrate_run(db.owner_url, CCGW_SOURCE_DIR "/sql", "ccgw_app", err, sizeof(err)), 0);
	count = testdb_owner_scalar(&db, "SELECT count(*) FROM schema_migrations", 0, NULL);
	assert_int_equal(atoi(count), sql_file_count());
	free(count);
	/* the schema is there and the application role owns nothing */
	count = testdb_owner_scalar(&db,
		"SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = 'ccgw_app'", 0, NULL);
	assert_string_equal(count, "0");
	free(count);
}

struct race {
	const char *url;
	int applied;
	char err[1024];
};

static void *race_main(void *arg)
{
	struct race *r = arg;

	r->applied = migrate_run(r->url, CCGW_SOURCE_DIR "/sql", "ccgw_app", r->err, sizeof(r->err));
	return NULL;
}

static void test_two_at_once(void **state)
{
	struct testdb db;
	PGconn *c;
	PGresult *res;
	struct race a, b;
	pthread_t ta, tb;

	(void)state;
	testdb_setup(&db, "migrate_race");
	/* empty the database again, then race two migrators on it */
	c = testdb_connect_owner(&db);
	res = PQexec(c, "DROP SCHEMA public CASCADE; CREATE SCHEMA public;");
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	PQfinish(c);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.url = b.url = db.owner_url;
	pthread_create(&ta, NULL, race_main, &a);
	pthread_create(&tb, NULL, race_main, &b);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	if (a.applied < 0)
		fprintf(stderr, "a: %s\n", a.err);
	if (b.applied < 0)
		fprintf(stderr, "b: %s\n", b.err);
	assert_true(a.applied >= 0 && b.applied >= 0);
	assert_int_equal(a.applied + b.applied, sql_file_count());
}

static void test_changed_file_refused(void **state)
{
	struct testdb db;
	char dir[] = "/tmp/ccgw-sql-XXXXXX", cmd[1024], err[1024], path[600];
	FILE *f;

	(void)state;
	testdb_setup(&db, "migrate_changed");
	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "cp %s/sql/*.sql %s/", CCGW_SOURCE_DIR, dir);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/001_core.sql", dir);
	f = fopen(path, "a");
	assert_non_null(f);
	fputs("\n-- an edit after shipping\n", f);
	fclose(f);
	assert_int_equal(migrate_run(db.owner_url, dir, "ccgw_app", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "001_core.sql was changed"));
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apply_then_noop),
		cmocka_unit_test(test_two_at_once),
		cmocka_unit_test(test_changed_file_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
