/*
 * sim_ws.h: the web chat shopper's WebSocket client of `ccgw simulate` (see sim_ws.c).
 */
#ifndef CCGW_SIM_WS_H
#define CCGW_SIM_WS_H

#include <stddef.h>
#include <stdint.h>

struct sim_ws {
	int fd;
	unsigned char buf[256 * 1024];
	size_t len;
};

/* Connects to ws://host:port<path> (host an IPv4 address) with Origin (NULL: none). 0 when
 * upgraded; the HTTP status when refused; -1 when the connection failed. */
int sim_ws_connect(struct sim_ws *c, const char *host, int port, const char *path,
                   const char *origin);
int sim_ws_send_text(struct sim_ws *c, const char *text);
/* One frame of any opcode. */
int sim_ws_send_frame(struct sim_ws *c, int opcode, const void *data, size_t len);
/* The next text message (heap) within ms, or NULL: then *close_code (may be NULL) is the
 * close status, 1006 for a dropped connection, 0 for a timeout. */
char *sim_ws_recv(struct sim_ws *c, int ms, int *close_code);
void sim_ws_close(struct sim_ws *c);

#endif
