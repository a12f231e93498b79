/*
 * ws_client.c: a small blocking WebSocket client (RFC 6455): the opening handshake with an
 * optional Origin, masked frames out (a random key and masks from OpenSSL), text and close
 * frames in (pings answered), a timeout per read. The web chat shopper of `ccgw simulate`
 * (gateway/cli/sim_shopper.c) and the web chat's protocol tests (tests/support/wsclient.h).
 */
#include "ws_client.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int read_some(struct ws_client *c, int ms)
{
	struct pollfd p = {c->fd, POLLIN, 0};
	ssize_t n;

	if (c->len == sizeof(c->buf))
		return -1;
	if (poll(&p, 1, ms) <= 0)
		return 0;
	n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	if (n <= 0)
		return -1;
	c->len += (size_t)n;
	return 1;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int ws_client_connect(struct ws_client *c, const char *host, int port, const char *path,
                      const char *origin)
{
	unsigned char nonce[16], key[32];
	struct sockaddr_in a;
	char req[1024], *end;
	int i;

	c->len = 0; /* the buffer is not cleared: its pages stay untouched until used */
	c->answer_pings = 1;
	c->pings = 0;
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1 || RAND_bytes(nonce, sizeof(nonce)) != 1) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	EVP_EncodeBlock(key, nonce, sizeof(nonce));
	{
		int one = 1;

		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	snprintf(req, sizeof(req),
	         "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
	         "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
	         "Sec-WebSocket-Version: 13\r\n%s%s%s\r\n",
	         path, host, port, (const char *)key, origin ? "Origin: " : "",
	         origin ? origin : "", origin ? "\r\n" : "");
	if (write_all(c->fd, req, strlen(req)) < 0)
		return -1;
	for (i = 0; i < 50; i++) {
		char *text = (char *)c->buf;

		c->buf[c->len < sizeof(c->buf) ? c->len : sizeof(c->buf) - 1] = '\0';
		end = strstr(text, "\r\n\r\n");
		if (end) {
			int status = atoi(text + 9);
			size_t head = (size_t)(end + 4 - text);

			memmove(c->buf, end + 4, c->len - head);
			c->len -= head;
			return status == 101 ? 0 : status > 0 ? status : -1;
		}
		if (read_some(c, 100) < 0)
			return -1;
	}
	return -1;
}

int ws_client_send_frame(struct ws_client *c, int opcode, const void *data, size_t len)
{
	unsigned char head[14], mask[4], *body;
	size_t h = 0, i;
	int rc;

	if (RAND_bytes(mask, sizeof(mask)) != 1)
		return -1;

	head[h++] = (unsigned char)(0x80 | opcode);
	if (len < 126) {
		head[h++] = (unsigned char)(0x80 | len);
	} else if (len < 65536) {
		head[h++] = 0x80 | 126;
		head[h++] = (unsigned char)(len >> 8);
		head[h++] = (unsigned char)len;
	} else {
		head[h++] = 0x80 | 127;
		for (i = 0; i < 8; i++)
			head[h++] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	}
	memcpy(head + h, mask, 4);
	h += 4;
	/* header and payload in one write: two small writes meet Nagle and delayed ACKs (40 ms) */
	body = malloc(h + len);
	if (!body)
		return -1;
	memcpy(body, head, h);
	for (i = 0; i < len; i++)
		body[h + i] = ((const unsigned char *)data)[i] ^ mask[i % 4];
	rc = write_all(c->fd, body, h + len) < 0 ? -1 : 0;
	free(body);
	return rc;
}

int ws_client_send_text(struct ws_client *c, const char *text)
{
	return ws_client_send_frame(c, 1, text, strlen(text));
}

char *ws_client_recv(struct ws_client *c, int ms, int *close_code)
{
	int waited = 0;

	if (close_code)
		*close_code = 0;
	for (;;) {
		size_t need = 2, plen, i;
		int op;

		if (c->len >= 2) {
			plen = c->buf[1] & 0x7f;
			if (plen == 126)
				need = 4;
			else if (plen == 127)
				need = 10;
			if (c->len >= need) {
				if (plen == 126)
					plen = ((size_t)c->buf[2] << 8) | c->buf[3];
				else if (plen == 127)
					for (plen = 0, i = 0; i < 8; i++)
						plen = (plen << 8) | c->buf[2 + i];
				if (c->len >= need + plen) {
					char *out = malloc(plen + 1);

					if (!out)
						return NULL;
					op = c->buf[0] & 0x0f;
					memcpy(out, c->buf + need, plen);
					out[plen] = '\0';
					memmove(c->buf, c->buf + need + plen, c->len - need - plen);
					c->len -= need + plen;
					if (op == 1)
						return out;
					if (op == 8) {
						if (close_code)
							*close_code =
							    plen >= 2
							        ? ((unsigned char)out[0] << 8) |
							              (unsigned char)out[1]
							        : 1005;
						free(out);
						return NULL;
					}
					if (op == 9) {
						c->pings++;
						if (c->answer_pings)
							ws_client_send_frame(c, 10, out, plen);
					}
					free(out);
					continue;
				}
			}
		}
		{
			int slice = ms - waited < 50 ? ms - waited : 50;
			int rs = slice >= 0 ? read_some(c, slice) : 0;

			if (rs < 0) {
				if (close_code && !*close_code)
					*close_code = 1006;
				return NULL;
			}
			if (rs == 0 && waited >= ms)
				return NULL;
			if (rs == 0)
				waited += slice > 0 ? slice : 1;
		}
	}
}

void ws_client_close(struct ws_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}
