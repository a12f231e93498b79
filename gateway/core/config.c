/*
 * config.c: the declarative table of configuration keys and the loader that merges defaults,
 * the INI file (inih), the embedded cluster's .ccgw/env and CCGW_* environment variables.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KEY_S(n, d, sec, field, h) { n, CONFIG_STRING, d, 0, 0, sec, offsetof(struct config, field), h }
#define KEY_L(n, d, lo, hi, field, h) { n, CONFIG_LONG, d, lo, hi, 0, offsetof(struct config, field), h }

const struct config_key config_keys[] = {
	KEY_S("database_url", NULL, 1, database_url, "libpq conninfo/URI of the application role"),
	KEY_S("migrate_url", NULL, 1, migrate_url, "libpq conninfo/URI of the owner role (migrations)"),
	KEY_S("app_role", "ccgw_app", 0, app_role, "name of the application role granted by migrations"),
	KEY_S("listen", "127.0.0.1:8080", 0, listen, "host:port for HTTP and WebSocket"),
	KEY_S("public_url", "http://127.0.0.1:8080", 0, public_url, "base URL the outside world reaches"),
	KEY_S("whatsapp_api_base", "https://graph.facebook.com", 0, whatsapp_api_base, "Graph API base"),
	KEY_S("whatsapp_api_version", "v21.0", 0, whatsapp_api_version, "Graph API version"),
	KEY_S("telegram_api_base", "https://api.telegram.org", 0, telegram_api_base, "Bot API base"),
	KEY_S("log_level", "info", 0, log_level, "error, warn, info or debug"),
	KEY_S("secret_key", NULL, 1, secret_key, "64 hex characters: AES-256 key sealing stored secrets"),
	KEY_L("max_body", "4194304", 1024, 1073741824L, max_body, "largest request body in bytes (413 above)"),
	KEY_L("read_timeout", "30", 1, 3600, read_timeout, "seconds to receive a whole request, headers and body, from the moment the connection waits for it (not restarted by each chunk); then the connection is closed"),
	KEY_L("max_header", "8192", 1024, 65536, max_header, "largest request line plus headers in bytes; a larger request is answered 431 or its connection closed"),
	KEY_L("max_connections", "2048", 16, 1000000, max_connections, "open HTTP connections in all; new ones are refused above it (also held under the open-files limit)"),
	KEY_L("max_connections_per_address", "128", 1, 1000000, max_connections_per_address, "open HTTP connections from one client address; raise it to max_connections behind a reverse proxy"),
	KEY_L("max_queue", "1024", 1, 1000000, max_queue, "requests waiting for a worker; above it new ones get 503 with Retry-After"),
	KEY_L("db_connect_timeout", "5", 1, 60, db_connect_timeout, "seconds to open a database connection"),
	KEY_L("db_statement_timeout_ms", "10000", 100, 3600000, db_statement_timeout_ms, "statement_timeout of the gateway's database sessions"),
	KEY_L("db_idle_tx_timeout_ms", "30000", 100, 3600000, db_idle_tx_timeout_ms, "idle_in_transaction_session_timeout of the gateway's database sessions"),
	KEY_L("db_hold_timeout_ms", "20000", 200, 3600000, db_hold_timeout_ms, "ms one request may hold a database connection; past it the connection is cut (the database stopped answering) and the request gets 503"),
	KEY_L("webhook_allow_private", "0", 0, 1, webhook_allow_private, "1 lets seller-set URLs reach loopback, private and link-local addresses (local development and tests only)"),
	KEY_L("workers", "16", 1, 256, workers, "worker threads serving requests (a worker waiting for its message's group commit is one of them)"),
	KEY_L("epoll", "1", 0, 1, epoll, "1: serve's event loop is libev's (epoll), which stays fast with thousands of connections open; 0: libwebsockets' poll() loop"),
	KEY_L("ws_ping_secs", "30", 1, 3600, ws_ping_secs, "seconds without a frame from a WebSocket peer (a web chat page) before it is pinged"),
	KEY_L("ws_idle_secs", "75", 2, 7200, ws_idle_secs, "seconds without a frame or a pong before a WebSocket connection is closed (1001, idle)"),
	KEY_L("db_pool_size", "0", 0, 512, db_pool_size, "database connections of the request workers; 0: twice this machine's CPUs, at least 4 (more connections at work than the database has cores only make them wait on each other; where the database runs on another machine, size it by that machine's cores)"),
	KEY_L("db_warm", "1", 0, 1, db_warm, "1: each request worker's database connection rehearses a few turns of the engine in a rolled-back transaction when the server starts, so the first shoppers do not pay for its cold caches"),
	KEY_L("group_commit", "32", 1, 48, group_commit, "most inbound messages written in one transaction when they queue up (group commit); 1 writes each alone"),
	KEY_L("group_commit_leaders", "2", 1, 64, group_commit_leaders, "group-commit transactions that may run at once"),
	KEY_L("group_commit_webchat", "0", 0, 1, group_commit_webchat, "1: web chat messages join group commits too; 0: each is written in a transaction of its own, so a shopper waiting on a socket never waits for other messages of a group"),
	KEY_L("dispatch_workers", "2", 0, 64, dispatch_workers, "outbox dispatcher threads"),
	KEY_L("dispatch_max_attempts", "8", 1, 100, dispatch_max_attempts, "attempts before a row is dead"),
	KEY_L("dispatch_lease", "60", 5, 3600, dispatch_lease, "seconds a claimed outbox row stays claimed"),
	KEY_L("dispatch_backoff_ms", "3000", 10, 3600000, dispatch_backoff_ms, "seller notifications and webhooks: first retry after this many ms; each later one x3 (+-20% jitter): 8 attempts span about an hour"),
	KEY_L("dispatch_reply_backoff_ms", "500", 10, 600000, dispatch_reply_backoff_ms, "conversation replies: first retry after this many ms, x0.5 to x2 jitter (250 to 1000 ms by default), doubling each time up to dispatch_reply_backoff_max_ms"),
	KEY_L("dispatch_reply_backoff_max_ms", "30000", 100, 3600000, dispatch_reply_backoff_max_ms, "conversation replies: the longest wait between tries (a shopper is waiting)"),
	KEY_L("dispatch_timeout_ms", "15000", 100, 120000, dispatch_timeout_ms, "ms one outbound request may take, connect to last byte"),
	KEY_L("dispatch_inflight", "256", 1, 10000, dispatch_inflight, "outbox rows one dispatcher thread works on at once"),
	KEY_L("dispatch_sweep_ms", "1000", 50, 60000, dispatch_sweep_ms, "ms between looks for due rows (retries, expired leases) when idle"),
	KEY_L("whatsapp_rate", "80", 1, 10000, whatsapp_rate, "messages/s per WhatsApp phone number"),
	KEY_L("whatsapp_recipient_rate", "1", 1, 1000, whatsapp_recipient_rate, "messages/s per WhatsApp recipient (bursts of 3)"),
	KEY_L("telegram_rate", "30", 1, 10000, telegram_rate, "messages/s per Telegram bot"),
	KEY_L("telegram_chat_rate", "1", 1, 1000, telegram_chat_rate, "messages/s per Telegram chat (bursts of 3)"),
	KEY_L("whatsapp_mark_read", "1", 0, 1, whatsapp_mark_read, "mark inbound WhatsApp messages read when replying"),
	KEY_L("shutdown_grace", "10", 0, 300, shutdown_grace, "seconds to finish in-flight requests on shutdown"),
	KEY_L("kyc_required", "0", 0, 1, kyc_required, "1: a tenant whose KYC is not verified takes at most kyc_unverified_order_limit orders (docs/TRUST.md)"),
	KEY_L("kyc_unverified_order_limit", "20", 0, 100000000L, kyc_unverified_order_limit, "orders a tenant without verified KYC may take when kyc_required is 1"),
	{ NULL, CONFIG_STRING, NULL, 0, 0, 0, 0, NULL },
};

static char state_dir[PATH_MAX];

const char *config_state_dir(void)
{
	const char *home = getenv("CCGW_HOME");
	char exe[PATH_MAX], *slash;
	ssize_t n;

	if (state_dir[0])
		return state_dir;
	if (home && *home) {
		snprintf(state_dir, sizeof(state_dir), "%s", home);
		return state_dir;
	}
	if (access(".ccgw", F_OK) == 0) {
		snprintf(state_dir, sizeof(state_dir), ".ccgw");
		return state_dir;
	}
	/* the binary lives in <checkout>/build/ccgw */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			slash = strrchr(exe, '/');
			if (slash) {
				*slash = '\0';
				snprintf(state_dir, sizeof(state_dir), "%.*s/.ccgw", (int)(sizeof(state_dir) - 8), exe);
				return state_dir;
			}
		}
	}
	snprintf(state_dir, sizeof(state_dir), ".ccgw");
	return state_dir;
}

static const struct config_key *key_find(const char *name)
{
	const struct config_key *k;

	for (k = config_keys; k->name; k++)
		if (strcmp(k->name, name) == 0)
			return k;
	return NULL;
}

static int key_set(struct config *cfg, const struct config_key *k, const char *value,
		   const char *source, char *err, size_t errlen)
{
	char *end;
	long v;
	char **sp;

	if (k->type == CONFIG_STRING) {
		sp = (char **)((char *)cfg + k->offset);
		free(*sp);
		*sp = value ? strdup(value) : NULL;
		if (value && !*sp) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		return 0;
	}
	errno = 0;
	v = strtol(value, &end, 10);
	if (errno || end == value || *end || v < k->min || v > k->max) {
		snprintf(err, errlen, "%s: %s must be a whole number from %ld to %ld", source, k->name,
			 k->min, k->max);
		return -1;
	}
	*(long *)((char *)cfg + k->offset) = v;
	return 0;
}

struct ini_state {
	struct config *cfg;
	const char *path;
	char *err;
	size_t errlen;
	int failed;
};

static int config_ini_line(void *user, const char *section, const char *name, const char *value)
{
	struct ini_state *st = user;
	const struct config_key *k;

	if (st->failed)
		return 0;
	if (strcmp(section, "ccgw") != 0 && section[0] != '\0') {
		snprintf(st->err, st->errlen, "%s: unknown section [%s] (keys go in [ccgw])", st->path, section);
		st->failed = 1;
		return 0;
	}
	k = key_find(name);
	if (!k) {
		snprintf(st->err, st->errlen, "%s: unknown key '%s'", st->path, name);
		st->failed = 1;
		return 0;
	}
	if (key_set(st->cfg, k, value, st->path, st->err, st->errlen) < 0) {
		st->failed = 1;
		return 0;
	}
	return 1;
}

/* Reads `export CCGW_NAME=value` lines (value optionally single-quoted) from .ccgw/env. */
static int env_file_load(struct config *cfg, char *err, size_t errlen)
{
	char path[PATH_MAX + 8], line[4096];
	FILE *f;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/env", config_state_dir());
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *eq, *v, *e;
		const struct config_key *k;
		char lower[64];
		size_t i;

		if (strncmp(p, "export ", 7) == 0)
			p += 7;
		if (strncmp(p, "CCGW_", 5) != 0)
			continue;
		eq = strchr(p, '=');
		if (!eq)
			continue;
		*eq = '\0';
		v = eq + 1;
		e = v + strlen(v);
		while (e > v && (e[-1] == '\n' || e[-1] == '\r'))
			*--e = '\0';
		if (*v == '\'' && e > v + 1 && e[-1] == '\'') {
			v++;
			e[-1] = '\0';
		}
		for (i = 0; p[5 + i] && i < sizeof(lower) - 1; i++)
			lower[i] = (char)tolower((unsigned char)p[5 + i]);
		lower[i] = '\0';
		k = key_find(lower);
		if (!k || getenv(p))
			continue; /* the environment wins */
		if (key_set(cfg, k, v, path, err, errlen) < 0) {
			rc = -1;
			break;
		}
	}
	fclose(f);
	return rc;
}

int config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
	const struct config_key *k;
	struct ini_state st;
	char envname[80];
	size_t i;
	int r;

	memset(cfg, 0, sizeof(*cfg));
	for (k = config_keys; k->name; k++)
		if (k->def && key_set(cfg, k, k->def, "default", err, errlen) < 0)
			return -1;
	if (!path && access("config/ccgw.ini", R_OK) == 0)
		path = "config/ccgw.ini";
	if (path) {
		memset(&st, 0, sizeof(st));
		st.cfg = cfg;
		st.path = path;
		st.err = err;
		st.errlen = errlen;
		r = ini_parse(path, config_ini_line, &st);
		if (st.failed)
			return -1;
		if (r < 0) {
			snprintf(err, errlen, "%s: cannot read the config file", path);
			return -1;
		}
		if (r > 0) {
			snprintf(err, errlen, "%s:%d: not an INI line", path, r);
			return -1;
		}
	}
	if (env_file_load(cfg, err, errlen) < 0)
		return -1;
	for (k = config_keys; k->name; k++) {
		const char *v;

		snprintf(envname, sizeof(envname), "CCGW_%s", k->name);
		for (i = 5; envname[i]; i++)
			envname[i] = (char)toupper((unsigned char)envname[i]);
		v = getenv(envname);
		if (v && *v && key_set(cfg, k, v, envname, err, errlen) < 0)
			return -1;
	}
	if (cfg->db_pool_size == 0) {
		/* PostgreSQL's rule of thumb: twice the cores, plus the disks that data waits on
		 * (none, when it is cached) */
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		cfg->db_pool_size = cpus > 2 ? (cpus < 256 ? cpus * 2 : 512) : 4;
	}
	return 0;
}

int config_get(const struct config *cfg, const char *name, const char **s, long *l)
{
	const struct config_key *k = name ? key_find(name) : NULL;

	if (!k)
		return -1;
	if (k->type == CONFIG_STRING) {
		if (s)
			*s = *(char *const *)((const char *)cfg + k->offset);
	} else if (l) {
		*l = *(const long *)((const char *)cfg + k->offset);
	}
	return 0;
}

void config_clear(struct config *cfg)
{
	const struct config_key *k;

	for (k = config_keys; k->name; k++)
		if (k->type == CONFIG_STRING)
			free(*(char **)((char *)cfg + k->offset));
	memset(cfg, 0, sizeof(*cfg));
}
