/*
 * conns.h: the HTTP server's connection guard. It admits or refuses each new TCP connection
 * (a cap on open connections in all and per client address), and gives every request an
 * absolute deadline for being read whole, headers and body, so that a client trickling bytes
 * or holding idle connections cannot keep others from being served. Loop thread only: every
 * function but conns_stats must be called from the libwebsockets service thread.
 */
#ifndef CCGW_CONNS_H
#define CCGW_CONNS_H

#include <stdint.h>
#include <sys/socket.h>

struct lws;

struct conns_limits {
	long max_total;     /* open connections in all */
	long max_per_addr;  /* open connections from one client address */
	long read_ms;       /* ms to read one whole request, from its first wait to its last byte */
};

struct conns_stats {
	long open;               /* connections open now */
	long addresses;          /* distinct client addresses now */
	unsigned long long refused_total;    /* refused: the cap on all connections */
	unsigned long long refused_per_addr; /* refused: the cap per address */
	unsigned long long read_timeouts;    /* closed: the request was not read in time */
};

/* Sets the limits; call before the loop starts. */
void conns_configure(const struct conns_limits *lim);

/* A new connection from sa: 0 to accept it (it is remembered until conns_attach), -1 to
 * refuse it (the caller closes the socket). */
int conns_admit(const struct sockaddr *sa, socklen_t len);

/* Binds the connection admitted last to wsi (LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED); does nothing for a
 * wsi that was not admitted (the listening socket, adopted sockets). */
void conns_attach(struct lws *wsi);

/* Forgets wsi's connection (LWS_CALLBACK_WSI_DESTROY). */
void conns_detach(struct lws *wsi);

/* The request on wsi has been read whole: its read deadline stops. */
void conns_request_read(struct lws *wsi);

/* wsi waits for its next request (keep-alive): a new read deadline starts now. */
void conns_request_wait(struct lws *wsi);

/* Closes every connection whose request was not read by its deadline. */
void conns_sweep(int64_t now_ms);

/* A snapshot of the counters (any thread). */
void conns_stats_get(struct conns_stats *out);

/* Closes every tracked connection's bookkeeping (after the loop is destroyed). */
void conns_reset(void);

#endif
