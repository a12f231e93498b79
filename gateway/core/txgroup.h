/*
 * txgroup.h: group commit. Messages that arrive while others are being written share one
 * transaction and one commit: each runs in a savepoint of its own with its tenant set, so one
 * that fails is rolled back alone (and tried again on its own transaction), and each caller
 * returns only after the commit that holds its work. With nothing queued a message runs
 * alone, exactly as pg_tx_run runs it, so a quiet gateway answers as fast as before.
 *
 * The caller that finds a leader's place free leads: it takes the queued messages (up to
 * txgroup_max) in arrival order, runs them on its own connection and wakes their callers.
 * Two messages with the same key (a conversation) are never in groups running at the same
 * time, so groups do not wait on each other's conversation locks.
 */
#ifndef CCGW_TXGROUP_H
#define CCGW_TXGROUP_H

#include "pg.h"

struct db_pool;

struct txgroup;

/* leaders: groups that may run at once; max: messages in one transaction (1 turns grouping
 * off; at most TXGROUP_MAX, which keeps a transaction's subtransactions within PostgreSQL's
 * per-backend cache of 64). NULL when out of memory. */
#define TXGROUP_MAX 48
struct txgroup *txgroup_new(int leaders, int max);
void txgroup_free(struct txgroup *g);

/* Runs fn(conn, arg) with app.tenant_id = tenant_id, in a transaction of its own or in a
 * group's; key (may be NULL) names what fn locks (its conversation). Returns what pg_tx_run
 * returns for it (PG_ERR_UNAVAILABLE when no connection could be had). fn must be safe to run
 * again (pg_tx_run's rule) and must not keep anything of conn: in a group it runs on the
 * leader's connection, on the leader's thread. g NULL runs pg_tx_run.
 *
 * *conn is the caller's connection. When pool is where it came from, the caller gives it back
 * while it waits for a leader to write its message, and borrows one again only to lead or to
 * run alone: so a pool much smaller than the workers still lets every waiting message join a
 * group, and the connections at work stay few. *conn may then be NULL or another connection
 * of pool on return. pool NULL: *conn is the caller's own and stays with it. */
int txgroup_run(struct txgroup *g, struct db_pool *pool, PGconn **conn, const char *tenant_id,
                const char *key, pg_tx_fn fn, void *arg) __attribute__((warn_unused_result));

/* Transactions committed by groups and the messages they held, for /metrics. */
void txgroup_stats(struct txgroup *g, unsigned long long *groups, unsigned long long *grouped);

#endif
