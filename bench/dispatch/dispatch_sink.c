/*
 * dispatch_sink.c: a local HTTP/1.1 receiver for the dispatch and ingest benchmarks that
 * answers every request at once, keeps connections alive, and counts requests: a POST to
 * /bot<token>/<method> gets the Bot API's success JSON ({"ok":true,"result":{"message_id":N,
 * ...}}), any other POST WhatsApp's (Graph API success JSON).
 * One thread, epoll, no allocation per request, so it is not the bottleneck it measures
 * against. GET /__health answers 200; GET /__count answers the number of POSTs so far.
 * Usage: dispatch_sink PORT
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define SINK_BUF 65536

struct conn {
	int fd;
	size_t len;
	char buf[SINK_BUF];
};

static unsigned long long posts;

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
}

/* Writes all of data (the socket buffer is large enough for these small answers). */
static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Answers every complete request in c->buf; returns -1 to close. */
static int conn_serve(struct conn *c)
{
	char out[512], body[256];
	size_t used = 0;

	for (;;) {
		char *end, *cl;
		size_t head, clen = 0, total;
		int n, blen;

		c->buf[c->len] = '\0';
		end = strstr(c->buf + used, "\r\n\r\n");
		if (!end)
			break;
		head = (size_t)(end - (c->buf + used)) + 4;
		cl = strcasestr(c->buf + used, "\r\nContent-Length:");
		if (cl && cl < end)
			clen = strtoul(cl + 17, NULL, 10);
		total = head + clen;
		if (used + total > c->len) {
			if (total > SINK_BUF - 1)
				return -1;
			break;
		}
		if (strncmp(c->buf + used, "GET /__count", 12) == 0) {
			blen = snprintf(body, sizeof(body), "{\"posts\": %llu}", posts);
		} else if (strncmp(c->buf + used, "GET ", 4) == 0) {
			blen = snprintf(body, sizeof(body), "{\"ok\": true}");
		} else if (strncmp(c->buf + used, "POST /bot", 9) == 0) {
			posts++; /* sendMessage, editMessageText, answerCallbackQuery */
			blen = snprintf(body, sizeof(body),
			                "{\"ok\":true,\"result\":{\"message_id\":%llu,\"date\":"
			                "1765000000,\"chat\":{\"id\":1,\"type\":\"private\"},"
			                "\"text\":\"x\"}}",
			                posts);
		} else {
			posts++;
			blen = snprintf(body, sizeof(body),
			                "{\"messaging_product\":\"whatsapp\",\"contacts\":[{"
			                "\"input\":\"x\",\"wa_id\":\"x\"}],"
			                "\"messages\":[{\"id\":\"wamid.sink%llu\"}]}",
			                posts);
		}
		n = snprintf(out, sizeof(out),
		             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
		             "%d\r\n\r\n%s",
		             blen, body);
		if (write_all(c->fd, out, (size_t)n) < 0)
			return -1;
		used += total;
	}
	if (used > 0) {
		memmove(c->buf, c->buf + used, c->len - used);
		c->len -= used;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr;
	struct epoll_event ev, events[256];
	int lfd, ep, one = 1, i, n;

	if (argc < 2) {
		fprintf(stderr, "usage: dispatch_sink PORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((unsigned short)atoi(argv[1]));
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(lfd, 1024) < 0) {
		perror("dispatch_sink: listen");
		return 1;
	}
	set_nonblock(lfd);
	ep = epoll_create1(0);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		n = epoll_wait(ep, events, 256, -1);
		for (i = 0; i < n; i++) {
			struct conn *c = events[i].data.ptr;

			if (!c) {
				int fd;

				while ((fd = accept(lfd, NULL, NULL)) >= 0) {
					c = calloc(1, sizeof(*c));
					if (!c) {
						close(fd);
						continue;
					}
					c->fd = fd;
					set_nonblock(fd);
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			for (;;) {
				ssize_t r = read(c->fd, c->buf + c->len, SINK_BUF - 1 - c->len);

				if (r > 0) {
					c->len += (size_t)r;
					if (conn_serve(c) < 0)
						goto drop;
					if (c->len >= SINK_BUF - 1)
						goto drop;
					continue;
				}
				if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
					break;
				if (r < 0 && errno == EINTR)
					continue;
			drop:
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
				free(c);
				break;
			}
		}
	}
	return 0;
}
