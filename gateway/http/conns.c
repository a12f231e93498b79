/*
 * conns.c: the connection guard (see conns.h). Each admitted connection has a small record
 * hung on its wsi (lws opaque user data) and on one list of every open connection; client
 * addresses are counted in a chained hash table keyed by the 16-byte IPv6 form (IPv4 as
 * ::ffff:a.b.c.d). Everything but the counters runs on the loop thread, so nothing is locked.
 */
#include "conns.h"

#include <libwebsockets.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define CONNS_BUCKETS 1024

struct addr_count {
	unsigned char key[16];
	long count;
	struct addr_count *next;
};

struct conn {
	struct lws *wsi;
	struct addr_count *addr;
	int64_t read_since_ms; /* 0 while a request is being handled or written */
	struct conn *prev, *next;
};

static struct conns_limits limits = { 2048, 128, 30000 };
static struct addr_count *buckets[CONNS_BUCKETS];
static struct conn *open_head;
static struct addr_count *pending; /* admitted, not yet attached to a wsi */
static atomic_long n_open, n_addresses;
static atomic_ullong n_refused_total, n_refused_addr, n_read_timeouts;

void conns_configure(const struct conns_limits *lim)
{
	limits = *lim;
}

static void addr_key(const struct sockaddr *sa, socklen_t len, unsigned char key[16])
{
	memset(key, 0, 16);
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		key[10] = 0xff;
		key[11] = 0xff;
		memcpy(key + 12, &in->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	}
}

static unsigned addr_hash(const unsigned char key[16])
{
	unsigned h = 2166136261u;
	int i;

	for (i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	return h % CONNS_BUCKETS;
}

static struct addr_count *addr_find(const unsigned char key[16], int create)
{
	unsigned h = addr_hash(key);
	struct addr_count *a;

	for (a = buckets[h]; a; a = a->next)
		if (memcmp(a->key, key, 16) == 0)
			return a;
	if (!create)
		return NULL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	memcpy(a->key, key, 16);
	a->next = buckets[h];
	buckets[h] = a;
	atomic_fetch_add(&n_addresses, 1);
	return a;
}

static void addr_release(struct addr_count *a)
{
	struct addr_count **pp;

	if (--a->count > 0)
		return;
	for (pp = &buckets[addr_hash(a->key)]; *pp; pp = &(*pp)->next) {
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	}
	free(a);
	atomic_fetch_sub(&n_addresses, 1);
}

int conns_admit(const struct sockaddr *sa, socklen_t len)
{
	unsigned char key[16];
	struct addr_count *a;

	if (pending) { /* admitted but never attached (the adoption failed) */
		addr_release(pending);
		pending = NULL;
	}
	if (atomic_load(&n_open) >= limits.max_total) {
		atomic_fetch_add(&n_refused_total, 1);
		return -1;
	}
	addr_key(sa, len, key);
	a = addr_find(key, 1);
	if (!a)
		return -1;
	if (a->count >= limits.max_per_addr) {
		atomic_fetch_add(&n_refused_addr, 1);
		if (a->count == 0)
			addr_release(a);
		return -1;
	}
	a->count++;
	pending = a;
	return 0;
}

void conns_attach(struct lws *wsi)
{
	struct conn *c;

	if (!pending)
		return;
	c = calloc(1, sizeof(*c));
	if (!c) {
		addr_release(pending);
		pending = NULL;
		return;
	}
	c->wsi = wsi;
	c->addr = pending;
	pending = NULL;
	c->read_since_ms = util_now_ms();
	c->next = open_head;
	if (open_head)
		open_head->prev = c;
	open_head = c;
	lws_set_opaque_user_data(wsi, c);
	atomic_fetch_add(&n_open, 1);
}

void conns_detach(struct lws *wsi)
{
	struct conn *c = lws_get_opaque_user_data(wsi);

	if (!c)
		return;
	lws_set_opaque_user_data(wsi, NULL);
	if (c->prev)
		c->prev->next = c->next;
	else
		open_head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	addr_release(c->addr);
	free(c);
	atomic_fetch_sub(&n_open, 1);
}

void conns_request_read(struct lws *wsi)
{
	struct conn *c = lws_get_opaque_user_data(wsi);

	if (c)
		c->read_since_ms = 0;
}

void conns_request_wait(struct lws *wsi)
{
	struct conn *c = lws_get_opaque_user_data(wsi);

	if (c)
		c->read_since_ms = util_now_ms();
}

void conns_sweep(int64_t now_ms)
{
	struct conn *c;

	for (c = open_head; c; c = c->next) {
		if (c->read_since_ms == 0 || now_ms - c->read_since_ms < limits.read_ms)
			continue;
		c->read_since_ms = 0; /* once */
		atomic_fetch_add(&n_read_timeouts, 1);
		log_debug(NULL, "http: a request was not read within %ld ms; closing", limits.read_ms);
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_HTTP_CONTENT, LWS_TO_KILL_ASYNC);
	}
}

void conns_stats_get(struct conns_stats *out)
{
	out->open = atomic_load(&n_open);
	out->addresses = atomic_load(&n_addresses);
	out->refused_total = atomic_load(&n_refused_total);
	out->refused_per_addr = atomic_load(&n_refused_addr);
	out->read_timeouts = atomic_load(&n_read_timeouts);
}

void conns_reset(void)
{
	struct conn *c, *next;

	for (c = open_head; c; c = next) {
		next = c->next;
		addr_release(c->addr);
		free(c);
	}
	open_head = NULL;
	if (pending)
		addr_release(pending);
	pending = NULL;
	atomic_store(&n_open, 0);
}
