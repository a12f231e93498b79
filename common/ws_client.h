/*
 * ws_client.h: a small blocking WebSocket client, for `ccgw simulate`'s web chat shopper and
 * the protocol tests (see ws_client.c).
 */
#ifndef CCGW_WS_CLIENT_H
#define CCGW_WS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

struct ws_client {
	int fd;
	unsigned char buf[256 * 1024];
	size_t len;
	int answer_pings; /* 1 (ws_client_connect's default): a ping gets its pong */
	long pings;       /* pings received */
};

/* Connects to ws://host:port<path> (host an IPv4 address) with Origin (NULL: none). 0 when
 * upgraded; the HTTP status when refused; -1 when the connection failed. */
int ws_client_connect(struct ws_client *c, const char *host, int port, const char *path,
                      const char *origin);
int ws_client_send_text(struct ws_client *c, const char *text);
/* One frame of any opcode. */
int ws_client_send_frame(struct ws_client *c, int opcode, const void *data, size_t len);
/* The next text message (heap) within ms, or NULL: then *close_code (may be NULL) is the
 * close status, 1006 for a dropped connection, 0 for a timeout. */
char *ws_client_recv(struct ws_client *c, int ms, int *close_code);
void ws_client_close(struct ws_client *c);

#endif
