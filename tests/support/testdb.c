/*
 * testdb.c: a fresh migrated database per test in the cluster that scripts/test started
 * (see testdb.h). Creation and migration go through the gateway's real migration code.
 */
#include "testdb.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "migrate.h"
#include "testsrv.h"

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "testdb: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	fflush(NULL);
	_exit(1); /* no atexit handlers: other threads of the test may hold their locks */
}

/* Reads NAME from the environment, else from the checkout's .ccgw/env. */
static int env_get(const char *name, char *out, size_t outlen)
{
	const char *v = getenv(name);
	char line[2048], path[1024];
	FILE *f;
	size_t nlen = strlen(name);

	if (v && *v) {
		snprintf(out, outlen, "%s", v);
		return 0;
	}
	snprintf(path, sizeof(path), "%s/.ccgw/env", CCGW_SOURCE_DIR);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = line;
		size_t n;

		if (strncmp(p, "export ", 7) == 0)
			p += 7;
		if (strncmp(p, name, nlen) != 0 || p[nlen] != '=')
			continue;
		p += nlen + 1;
		n = strlen(p);
		while (n && (p[n - 1] == '\n' || p[n - 1] == '\r'))
			p[--n] = '\0';
		if (n >= 2 && p[0] == '\'' && p[n - 1] == '\'') {
			p[n - 1] = '\0';
			p++;
		}
		snprintf(out, outlen, "%s", p);
		fclose(f);
		return 0;
	}
	fclose(f);
	return -1;
}

/* Rebuilds a conninfo with another database name. */
static void conninfo_with_db(const char *url, const char *dbname, char *out, size_t outlen)
{
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &err), *o;
	size_t n = 0;

	if (!opts)
		die("bad connection string: %s", err ? err : "?");
	out[0] = '\0';
	for (o = opts; o->keyword; o++) {
		if (!o->val || strcmp(o->keyword, "dbname") == 0)
			continue;
		n += (size_t)snprintf(out + n, outlen - n, "%s='%s' ", o->keyword, o->val);
	}
	snprintf(out + n, outlen - n, "dbname='%s'", dbname);
	PQconninfoFree(opts);
}

void testdb_setup(struct testdb *db, const char *name)
{
	char owner[512], app[512], super[512], admin_url[600], err[1024], sql[256];
	PGconn *c;
	PGresult *r;
	int n;

	memset(db, 0, sizeof(*db));
	snprintf(db->name, sizeof(db->name), "ccgw_t_%s", name);
	for (n = 0; db->name[n]; n++)
		if (!((db->name[n] >= 'a' && db->name[n] <= 'z') || (db->name[n] >= '0' && db->name[n] <= '9')))
			db->name[n] = '_';
	if (env_get("CCGW_MIGRATE_URL", owner, sizeof(owner)) < 0 ||
	    env_get("CCGW_DATABASE_URL", app, sizeof(app)) < 0)
		die("no database cluster: run scripts/test (or scripts/run once, then source .ccgw/env)");
	if (env_get("CCGW_SECRET_KEY", db->secret_key, sizeof(db->secret_key)) < 0)
		snprintf(db->secret_key, sizeof(db->secret_key), "%s",
			 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
	conninfo_with_db(owner, "postgres", admin_url, sizeof(admin_url));
	c = PQconnectdb(admin_url);
	if (PQstatus(c) != CONNECTION_OK)
		die("cannot reach the cluster as the owner role: %s", PQerrorMessage(c));
	PQclear(PQexec(c, "SET client_min_messages = warning"));
	/* identifiers: db->name holds only [a-z0-9_], built above */
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", db->name);
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		die("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db->name);
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		die("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	conninfo_with_db(owner, db->name, db->owner_url, sizeof(db->owner_url));
	conninfo_with_db(app, db->name, db->app_url, sizeof(db->app_url));
	if (env_get("CCGW_SUPERUSER_URL", super, sizeof(super)) == 0)
		conninfo_with_db(super, db->name, db->superuser_url, sizeof(db->superuser_url));
	if (migrate_run(db->owner_url, CCGW_SOURCE_DIR "/sql", "ccgw_app", err, sizeof(err)) < 0)
		die("migrating %s: %s", db->name, err);
}

static PGconn *connect_or_die(const char *url)
{
	PGconn *c = PQconnectdb(url);

	if (PQstatus(c) != CONNECTION_OK)
		die("connect: %s", PQerrorMessage(c));
	PQclear(PQexec(c, "SET client_min_messages = warning"));
	return c;
}

PGconn *testdb_connect_app(const struct testdb *db)
{
	return connect_or_die(db->app_url);
}

PGconn *testdb_connect_owner(const struct testdb *db)
{
	return connect_or_die(db->owner_url);
}

char *testdb_owner_scalar(const struct testdb *db, const char *sql, int nparams,
			  const char *const *params)
{
	PGconn *c = testdb_connect_owner(db);
	PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
	char *out = NULL;

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		die("%s: %s", sql, PQerrorMessage(c));
	if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
		out = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
	return out;
}

char *testdb_tenant_create(const struct testdb *db, const char *slug, char **api_key)
{
	char cmd[2048], buf[4096];
	FILE *p;
	size_t n;
	json_t *o;
	json_error_t jerr;
	char *id;

	/* through the real command line, as an operator would */
	snprintf(cmd, sizeof(cmd), "CCGW_DATABASE_URL=\"%s\" '%s' tenant create --slug '%s' --name 'Shop %s'",
		 db->app_url, CCGW_BINARY, slug, slug);
	p = popen(cmd, "r");
	if (!p)
		die("cannot run ccgw tenant create");
	n = fread(buf, 1, sizeof(buf) - 1, p);
	buf[n] = '\0';
	if (pclose(p) != 0)
		die("ccgw tenant create --slug %s failed: %s", slug, buf);
	o = json_loads(buf, 0, &jerr);
	if (!o || !json_is_string(json_object_get(o, "tenant_id")))
		die("ccgw tenant create printed no tenant_id: %s", buf);
	id = strdup(json_string_value(json_object_get(o, "tenant_id")));
	if (api_key)
		*api_key = json_is_string(json_object_get(o, "api_key")) ?
				   strdup(json_string_value(json_object_get(o, "api_key"))) : NULL;
	json_decref(o);
	return id;
}
