/*
 * txgroup.c: group commit (see txgroup.h).
 */
#include "txgroup.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "latency.h"
#include "log.h"

#define TXGROUP_LOCK_WAIT "20ms" /* the longest a message in a group waits for a row lock */

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_ALONE };

struct job {
	const char *tenant_id, *key;
	pg_tx_fn fn;
	void *arg;
	int rc;
	enum job_state state;
	int64_t taken_us, commit_us; /* when its group began, and that group's COMMITs */
	struct job *next;
	pthread_cond_t wake; /* its caller sleeps on it (under the group's lock) */
};

struct txgroup {
	pthread_mutex_t lock;
	int leaders, active, max;
	struct job *head, **tail;
	/* the keys of the groups running now, so no two hold the same conversation */
	const char **running_keys;
	size_t nrunning;
	unsigned long long groups, grouped;
};

struct txgroup *txgroup_new(int leaders, int max)
{
	struct txgroup *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->leaders = leaders > 0 ? leaders : 1;
	g->max = max < 1 ? 1 : max > TXGROUP_MAX ? TXGROUP_MAX : max;
	g->running_keys = calloc((size_t)g->leaders * (size_t)g->max, sizeof(*g->running_keys));
	if (!g->running_keys) {
		free(g);
		return NULL;
	}
	pthread_mutex_init(&g->lock, NULL);
	g->tail = &g->head;
	return g;
}

void txgroup_free(struct txgroup *g)
{
	if (!g)
		return;
	pthread_mutex_destroy(&g->lock);
	free(g->running_keys);
	free(g);
}

void txgroup_stats(struct txgroup *g, unsigned long long *groups, unsigned long long *grouped)
{
	*groups = *grouped = 0;
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	*groups = g->groups;
	*grouped = g->grouped;
	pthread_mutex_unlock(&g->lock);
}

static int key_taken(const struct txgroup *g, const char *key, struct job *const *batch, int n)
{
	size_t i;
	int k;

	if (!key)
		return 0;
	for (i = 0; i < g->nrunning; i++)
		if (strcmp(g->running_keys[i], key) == 0)
			return 1;
	for (k = 0; k < n; k++)
		if (batch[k]->key && strcmp(batch[k]->key, key) == 0)
			return 1;
	return 0;
}

/* Takes up to g->max queued jobs whose keys are free, in arrival order (lock held). */
static int take_batch(struct txgroup *g, struct job **batch)
{
	struct job **pp = &g->head, *j;
	int n = 0;

	while ((j = *pp) && n < g->max) {
		if (key_taken(g, j->key, batch, n)) {
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		if (g->tail == &j->next)
			g->tail = pp;
		j->next = NULL;
		j->state = JOB_RUNNING;
		batch[n++] = j;
	}
	return n;
}

/* Takes a job that is still queued out of the queue (lock held). */
static void queue_remove(struct txgroup *g, struct job *self)
{
	struct job **pp = &g->head;

	while (*pp && *pp != self)
		pp = &(*pp)->next;
	if (!*pp)
		return;
	*pp = self->next;
	if (g->tail == &self->next)
		g->tail = pp;
	self->next = NULL;
}

/* The caller's connection for leading or running alone: the one it holds, or one borrowed
 * from pool again (its wait counted as the pool stage). NULL when none can be had. */
static PGconn *conn_get(struct db_pool *pool, PGconn **conn)
{
	int64_t t0;

	if (*conn || !pool)
		return *conn;
	t0 = util_now_us();
	*conn = db_pool_acquire(pool, DB_POOL_WAIT_MS);
	latency_add(LATENCY_POOL, util_now_us() - t0);
	return *conn;
}

/* Wakes the first queued job (lock held), if a leader's place may be free: it leads, or
 * waits again when all places are taken or only held conversations are queued. Each caller
 * sleeps on its own condition, and only the callers that have something to do are woken:
 * a group's members when it ends, and one job to lead (waking every waiter at every group's
 * end woke some thirty threads a group under load, most of which went back to sleep). */
static void wake_next_leader(struct txgroup *g)
{
	if (g->head && g->active < g->leaders)
		pthread_cond_signal(&g->head->wake);
}

static void keys_add(struct txgroup *g, struct job **batch, int n)
{
	int k;

	for (k = 0; k < n; k++)
		if (batch[k]->key)
			g->running_keys[g->nrunning++] = batch[k]->key;
}

static void keys_remove(struct txgroup *g, struct job **batch, int n)
{
	size_t i;
	int k;

	for (k = 0; k < n; k++)
		for (i = 0; batch[k]->key && i < g->nrunning; i++)
			if (g->running_keys[i] == batch[k]->key) {
				g->running_keys[i] = g->running_keys[--g->nrunning];
				break;
			}
}

/* Runs n > 1 jobs in one transaction on conn: each in a savepoint; one that fails is rolled
 * back and marked to run alone; a failed BEGIN or COMMIT sends all of them alone. The jobs'
 * callers may look at their jobs at any time, so the outcome goes to out[] and rcs[] and is
 * published under the lock only after the commit. */
/* COMMIT waits as long as it must: it takes the lock that orders NOTIFYs (the outbox's
 * trigger), and giving up there would throw the whole group away. */
static int group_commit(PGconn *conn)
{
	/* one round trip: after an order, the shop's hot rows are held until this answer */
	return pg_commit_after(conn, "SET LOCAL lock_timeout = 0");
}

static void run_batch(PGconn *conn, struct job **batch, int n, enum job_state *out, int *rcs)
{
	int k, rc, broken = 0, open = 0, first = 0;

	for (k = 0; k < n; k++)
		out[k] = JOB_ALONE;
	pg_take_hot_locks();
	for (k = 0; k < n && !broken; k++) {
		/* a group never waits long on a lock: the holder may be another group (two could
		 * then wait on each other until the deadlock detector's second) or hold it for a
		 * whole group; a message that would wait is rolled back to its savepoint and
		 * written alone, where it waits as any transaction does */
		if (!open) {
			if (pg_begin(conn) < 0 ||
			    pg_cmd(conn, "SET LOCAL lock_timeout = '" TXGROUP_LOCK_WAIT "'", 0,
			           NULL) < 0) {
				pg_rollback(conn);
				return; /* these and the rest: alone */
			}
			open = 1;
			first = k;
		}
		rc = pg_savepoint_run(conn, batch[k]->tenant_id, batch[k]->fn, batch[k]->arg, &broken);
		rcs[k] = rc;
		out[k] = rc < 0 ? JOB_ALONE : JOB_DONE;
		/* it took locks all its tenant's orders queue for: commit now, not at the end */
		if (pg_take_hot_locks() && !broken && k + 1 < n) {
			if (group_commit(conn) < 0)
				goto failed;
			open = 0;
		}
	}
	if (broken) {
		pg_rollback(conn);
		goto failed;
	}
	if (open && group_commit(conn) < 0)
		goto failed;
	return;
failed:
	log_warn(NULL, "group commit of %d messages failed [%s]: each is written alone", k - first,
	         pg_last_sqlstate());
	for (; first < n; first++)
		out[first] = JOB_ALONE;
}

/* pg_tx_run, its time counted as stage (its COMMIT as LATENCY_COMMIT). */
static int tx_alone(PGconn *conn, const char *tenant_id, pg_tx_fn fn, void *arg,
                    enum latency_stage stage)
{
	int64_t t0 = util_now_us(), c;
	int rc;

	(void)pg_take_commit_us();
	rc = pg_tx_run(conn, tenant_id, fn, arg);
	c = pg_take_commit_us();
	latency_add(stage, util_now_us() - t0 - c);
	latency_add(LATENCY_COMMIT, c);
	return rc;
}

int txgroup_run(struct txgroup *g, struct db_pool *pool, PGconn **conn, const char *tenant_id,
                const char *key, pg_tx_fn fn, void *arg)
{
	struct job self = {.tenant_id = tenant_id, .key = key, .fn = fn, .arg = arg}; /* queued */
	struct job *batch[TXGROUP_MAX];
	enum job_state out[TXGROUP_MAX];
	int n, k, rcs[TXGROUP_MAX];
	int64_t t_enq = util_now_us(), t_run, commit_us;

	if (!g || g->max <= 1)
		return tx_alone(conn_get(pool, conn), tenant_id, fn, arg, LATENCY_TX);
	pthread_cond_init(&self.wake, NULL);
	pthread_mutex_lock(&g->lock);
	*g->tail = &self;
	g->tail = &self.next;
	while (self.state == JOB_QUEUED || self.state == JOB_RUNNING) {
		if (self.state == JOB_RUNNING || g->active >= g->leaders) {
			/* a leader writes this message: the connection serves others meanwhile */
			if (pool && *conn) {
				db_pool_release(pool, *conn);
				*conn = NULL;
			}
			pthread_cond_wait(&self.wake, &g->lock);
			continue;
		}
		if (!*conn) {
			/* to lead, a connection first, without the group's lock; then look again */
			pthread_mutex_unlock(&g->lock);
			conn_get(pool, conn);
			pthread_mutex_lock(&g->lock);
			if (!*conn && self.state == JOB_QUEUED) {
				queue_remove(g, &self);
				wake_next_leader(g); /* it may find a connection */
				pthread_mutex_unlock(&g->lock);
				pthread_cond_destroy(&self.wake);
				return PG_ERR_UNAVAILABLE;
			}
			continue;
		}
		n = take_batch(g, batch);
		if (n == 0) { /* only jobs whose conversations are held: wait for those groups */
			pthread_cond_wait(&self.wake, &g->lock);
			continue;
		}
		g->active++;
		keys_add(g, batch, n);
		wake_next_leader(g); /* another place may be free for the jobs left */
		pthread_mutex_unlock(&g->lock);

		t_run = util_now_us();
		(void)pg_take_commit_us();
		if (n == 1) {
			rcs[0] = pg_tx_run(*conn, batch[0]->tenant_id, batch[0]->fn, batch[0]->arg);
			out[0] = JOB_DONE;
		} else {
			run_batch(*conn, batch, n, out, rcs);
		}
		commit_us = pg_take_commit_us();

		pthread_mutex_lock(&g->lock);
		keys_remove(g, batch, n);
		g->active--;
		if (n > 1) {
			g->groups++;
			g->grouped += (unsigned long long)n;
		}
		for (k = 0; k < n; k++) {
			batch[k]->rc = rcs[k];
			batch[k]->state = out[k];
			batch[k]->taken_us = t_run;
			batch[k]->commit_us = commit_us;
			if (batch[k] != &self)
				pthread_cond_signal(&batch[k]->wake);
		}
		wake_next_leader(g);
	}
	pthread_mutex_unlock(&g->lock);
	pthread_cond_destroy(&self.wake);
	/* where the time went (latency.h): queued, then in its group's transaction and COMMIT */
	if (self.taken_us) {
		latency_add(LATENCY_GROUP_WAIT, self.taken_us - t_enq);
		latency_add(LATENCY_TX, util_now_us() - self.taken_us - self.commit_us);
		latency_add(LATENCY_COMMIT, self.commit_us);
	}
	if (self.state == JOB_ALONE) /* failed in a group, or the group failed: on its own now */
		return tx_alone(conn_get(pool, conn), tenant_id, fn, arg, LATENCY_ALONE);
	return self.rc;
}
