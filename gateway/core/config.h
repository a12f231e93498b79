/*
 * config.h: the gateway's configuration, from one declarative table of keys (name, type,
 * default, bounds, secret or not). Sources, later ones winning: built-in defaults, the INI
 * file (--config FILE, else config/ccgw.ini when present), the embedded cluster's .ccgw/env
 * values, then CCGW_* environment variables.
 */
#ifndef CCGW_CONFIG_H
#define CCGW_CONFIG_H

#include <stddef.h>

struct config {
	char *database_url;    /* CCGW_DATABASE_URL: the application role */
	char *migrate_url;     /* CCGW_MIGRATE_URL: the owner role */
	char *app_role;        /* CCGW_APP_ROLE */
	char *listen;          /* CCGW_LISTEN host:port */
	char *public_url;      /* CCGW_PUBLIC_URL */
	char *whatsapp_api_base;
	char *whatsapp_api_version;
	char *telegram_api_base;
	char *log_level;
	char *secret_key;      /* CCGW_SECRET_KEY: 64 hex characters (AES-256 key) */
	long max_body;         /* CCGW_MAX_BODY bytes */
	long read_timeout;     /* CCGW_READ_TIMEOUT seconds to receive a whole request */
	long max_header;       /* bytes of request line plus headers */
	long max_connections;  /* open HTTP connections in all */
	long max_connections_per_address;
	long max_queue;        /* requests waiting for a worker */
	long db_connect_timeout;      /* seconds */
	long db_statement_timeout_ms;
	long db_idle_tx_timeout_ms;
	long db_hold_timeout_ms;      /* a request's hold on a pool connection */
	long webhook_allow_private;   /* 1: seller URLs may reach private addresses */
	long workers;          /* CCGW_WORKERS: worker threads (each owns a DB connection) */
	long epoll;            /* CCGW_EPOLL: 1 = serve's loop is libev's (epoll), 0 = poll() */
	long db_warm;          /* CCGW_DB_WARM: 1 = pool connections rehearse turns at start (warm.h) */
	long ws_ping_secs;     /* a WebSocket quiet this long gets a ping */
	long ws_idle_secs;     /* and is closed when quiet this long */
	long group_commit;         /* CCGW_GROUP_COMMIT: messages per group transaction, 1 = off */
	long group_commit_leaders; /* CCGW_GROUP_COMMIT_LEADERS: group transactions at once */
	long group_commit_webchat; /* CCGW_GROUP_COMMIT_WEBCHAT: 1 = web chat messages join group commits */
	long db_pool_size;     /* CCGW_DB_POOL_SIZE */
	long dispatch_workers; /* CCGW_DISPATCH_WORKERS */
	long dispatch_max_attempts;
	long dispatch_lease;   /* seconds a claimed outbox row stays claimed */
	long dispatch_backoff_ms;  /* first retry delay; each later one x3, +-20% jitter */
	long dispatch_timeout_ms;  /* one outbound request, connect to last byte */
	long dispatch_reply_backoff_ms;     /* replies: first retry delay (x0.5 to x2 jitter) */
	long dispatch_reply_backoff_max_ms; /* replies: the longest retry delay */
	long dispatch_inflight;    /* rows one dispatcher thread works on at once */
	long dispatch_sweep_ms;    /* how often an idle dispatcher thread looks for due rows */
	long whatsapp_rate;    /* messages per second per phone number */
	long whatsapp_recipient_rate; /* per recipient per second (burst 1) */
	long telegram_rate;    /* per bot per second */
	long telegram_chat_rate;      /* per chat per second */
	long whatsapp_mark_read;      /* 1: mark inbound messages read when replying */
	long shutdown_grace;   /* seconds to finish in-flight requests on SIGTERM */
	long kyc_required;     /* CCGW_KYC_REQUIRED: 1 limits the orders of unverified tenants */
	long kyc_unverified_order_limit; /* orders an unverified tenant may take then */
};

enum config_type { CONFIG_STRING, CONFIG_LONG };

struct config_key {
	const char *name;     /* INI key in [ccgw] and, upper-cased with CCGW_, the env variable */
	enum config_type type;
	const char *def;      /* default as text; NULL = unset */
	long min, max;        /* bounds for CONFIG_LONG */
	int secret;           /* never printed or logged */
	size_t offset;        /* into struct config */
	const char *help;
};

/* The table of keys, terminated by a NULL name. */
extern const struct config_key config_keys[];

/* Loads configuration. path may be NULL (then config/ccgw.ini if it exists). Returns 0, or -1
 * with a message a person can act on in err. */
int config_load(struct config *cfg, const char *path, char *err, size_t errlen)
	__attribute__((warn_unused_result));
void config_clear(struct config *cfg);

/* A key's value by name (a channel adapter names its settings' keys): a string key into *s,
 * a number into *l. 0, or -1 when there is no such key. */
int config_get(const struct config *cfg, const char *name, const char **s, long *l);

/* The checkout's state folder (.ccgw under the current directory or CCGW_HOME). */
const char *config_state_dir(void);

#endif
