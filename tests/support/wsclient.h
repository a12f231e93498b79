/*
 * wsclient.h: a small WebSocket client for protocol tests (see wsclient.c).
 */
#ifndef CCGW_WSCLIENT_H
#define CCGW_WSCLIENT_H

#include <stddef.h>
#include <stdint.h>

struct wsc_client {
	int fd;
	unsigned char buf[256 * 1024];
	size_t len;
};

/* Connects to ws://127.0.0.1:port<path> with Origin (NULL: none). 0 when upgraded; the HTTP
 * status when refused; -1 when the connection failed. */
int wsc_connect(struct wsc_client *c, int port, const char *path, const char *origin);
int wsc_send_text(struct wsc_client *c, const char *text);
/* One frame of any opcode and length (for an oversized message). */
int wsc_send_frame(struct wsc_client *c, int opcode, const void *data, size_t len);
/* The next text message (heap) within ms, or NULL: then *close_code (may be NULL) is the
 * close status, 1006 for a dropped connection, 0 for a timeout. */
char *wsc_recv(struct wsc_client *c, int ms, int *close_code);
void wsc_close(struct wsc_client *c);

#endif
