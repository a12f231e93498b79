/*
 * migrate.c: the migration runner behind `ccgw migrate` and the test databases.
 */
#include "migrate.h"

#include <dirent.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pg.h"
#include "util.h"

#define MIGRATE_LOCK_KEY "7263677700000001" /* advisory lock id: "ccgw" migrations */

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int sql_files_list(const char *dir, char ***out, size_t *n, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL, **grown;
	size_t count = 0;

	if (!d) {
		snprintf(err, errlen, "cannot open the migrations folder %s", dir);
		return -1;
	}
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len < 5 || strcmp(e->d_name + len - 4, ".sql") != 0 || e->d_name[0] < '0' ||
		    e->d_name[0] > '9')
			continue;
		grown = realloc(names, (count + 1) * sizeof(*names));
		if (!grown)
			break;
		names = grown;
		names[count] = strdup(e->d_name);
		if (!names[count])
			break;
		count++;
	}
	closedir(d);
	qsort(names, count, sizeof(*names), name_cmp);
	*out = names;
	*n = count;
	return 0;
}

static char *file_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct sbuf b;
	char chunk[8192];
	size_t n;

	if (!f)
		return NULL;
	sbuf_init(&b);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		sbuf_append(&b, chunk, n);
	fclose(f);
	*len = b.len;
	return sbuf_take(&b);
}

/* Replaces every :"app_role" with the quoted role identifier. */
static char *sql_substitute(PGconn *conn, const char *sql, const char *app_role)
{
	const char *token = ":\"app_role\"", *p = sql, *hit;
	char *quoted = PQescapeIdentifier(conn, app_role, strlen(app_role));
	struct sbuf b;

	if (!quoted)
		return NULL;
	sbuf_init(&b);
	while ((hit = strstr(p, token))) {
		sbuf_append(&b, p, (size_t)(hit - p));
		sbuf_puts(&b, quoted);
		p = hit + strlen(token);
	}
	sbuf_puts(&b, p);
	PQfreemem(quoted);
	return sbuf_take(&b);
}

static int simple_exec(PGconn *conn, const char *sql, char *err, size_t errlen, const char *what)
{
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);
	int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

	if (!ok)
		snprintf(err, errlen, "%s: %s", what, PQresultErrorMessage(res));
	PQclear(res);
	return ok ? 0 : -1;
}

static int apply_one(PGconn *conn, const char *dir, const char *name, const char *app_role,
		     char *err, size_t errlen)
{
	char path[4096], sum[65];
	const char *params[2];
	char *sql = NULL, *final = NULL;
	size_t len;
	PGresult *res = NULL;
	int rc = -1;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	sql = file_read(path, &len);
	if (!sql) {
		snprintf(err, errlen, "cannot read %s", path);
		goto out;
	}
	util_sha256_hex(sql, len, sum);
	params[0] = name;
	res = pg_exec(conn, "SELECT checksum FROM schema_migrations WHERE version = $1", 1, params);
	if (!res) {
		snprintf(err, errlen, "reading schema_migrations: %s", PQerrorMessage(conn));
		goto out;
	}
	if (PQntuples(res) == 1) {
		if (strcmp(PQgetvalue(res, 0, 0), sum) != 0) {
			snprintf(err, errlen,
				 "%s was changed after it was applied (checksum %.12s..., now %.12s...); "
				 "never edit a shipped migration, add a new file",
				 name, PQgetvalue(res, 0, 0), sum);
			goto out;
		}
		rc = 0; /* already applied */
		goto out;
	}
	final = sql_substitute(conn, sql, app_role);
	if (!final) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (simple_exec(conn, "BEGIN", err, errlen, name) < 0)
		goto out;
	if (simple_exec(conn, final, err, errlen, name) < 0) {
		PQclear(PQexec(conn, "ROLLBACK"));
		goto out;
	}
	params[1] = sum;
	if (pg_cmd(conn, "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)", 2,
		   params) < 0) {
		snprintf(err, errlen, "%s: recording it failed: %s", name, PQerrorMessage(conn));
		PQclear(PQexec(conn, "ROLLBACK"));
		goto out;
	}
	if (simple_exec(conn, "COMMIT", err, errlen, name) < 0)
		goto out;
	log_info(NULL, "migrate: applied %s", name);
	rc = 1;
out:
	PQclear(res);
	free(sql);
	free(final);
	return rc;
}

int migrate_run(const char *conninfo, const char *sql_dir, const char *app_role, char *err,
		size_t errlen)
{
	PGconn *conn = NULL;
	char **names = NULL;
	size_t n = 0, i;
	int applied = 0, r, rc = -1;

	conn = PQconnectdb(conninfo);
	if (PQstatus(conn) != CONNECTION_OK) {
		snprintf(err, errlen, "cannot connect to the database: %s", PQerrorMessage(conn));
		goto out;
	}
	PQclear(PQexec(conn, "SET client_min_messages = warning"));
	if (simple_exec(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", err, errlen,
			"advisory lock") < 0)
		goto out;
	if (simple_exec(conn,
			"CREATE TABLE IF NOT EXISTS schema_migrations ("
			" version text PRIMARY KEY, checksum text NOT NULL,"
			" applied_at timestamptz NOT NULL DEFAULT now())",
			err, errlen, "schema_migrations") < 0)
		goto unlock;
	if (sql_files_list(sql_dir, &names, &n, err, errlen) < 0)
		goto unlock;
	for (i = 0; i < n; i++) {
		r = apply_one(conn, sql_dir, names[i], app_role, err, errlen);
		if (r < 0)
			goto unlock;
		applied += r;
	}
	rc = applied;
unlock:
	PQclear(PQexec(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	pg_finish(conn);
	return rc;
}
