/*
 * server.h: the services of a running gateway, shared by route handlers, the dispatcher and
 * the inbound path: configuration, the database pool, NLP, the engine, metrics and the key
 * that seals stored secrets. One struct server lives for the whole `ccgw serve`.
 */
#ifndef CCGW_SERVER_H
#define CCGW_SERVER_H

#include "config.h"
#include "http.h"

struct db_pool;
struct nlp;
struct engine;
struct dispatcher;

struct server {
	const struct config *cfg;
	struct db_pool *pool;        /* request workers' connections */
	const struct nlp *nlp;
	struct engine *engine;
	struct dispatcher *dispatcher; /* NULL when dispatch_workers is 0 */
	unsigned char secret_key[32]; /* AES-256 key for sealed secrets (secrets.h) */
	int has_secret_key;
	volatile int stopping;
};

/* The routes every module registers, in match order (routes.c). */
extern const struct http_route server_routes[];

/* Runs the gateway until SIGINT/SIGTERM. Returns the exit code. */
int server_run(const struct config *cfg);

/* The request handling of serve without a listening socket, a dispatcher, a role check or
 * signal handlers, for the HTTP fuzz target: start it, hand it connected sockets (it owns
 * them), and turn its loop. Not for production use. */
int server_embed_start(const struct config *cfg);
int server_embed_adopt(int fd);
int server_embed_service(void);
int server_embed_busy(void); /* requests read whole and not yet answered */
void server_embed_stop(void);

/* Connections closed because a request was pipelined behind an unanswered one. */
unsigned long long server_pipelined_closed(void);

/* Requests waiting for a worker now, and those refused with 503 because the queue was full. */
void server_queue_stats(long *queued, unsigned long long *rejected);

/* Wakes the dispatcher after outbox rows were committed (cheap; safe from any thread). */
void server_outbox_kick(struct server *srv);

#endif
