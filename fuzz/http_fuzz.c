/*
 * http_fuzz.c: libFuzzer target for the gateway's HTTP request handling. Every input is the
 * raw bytes a client sends on one connection: it goes through libwebsockets' parser and
 * ccgw's own request reading (length rules, chunked bodies, header limits, routing, the
 * route handlers, answer writing) of the real server code, embedded without a listening
 * socket, over a socketpair. The database is unreachable, so handlers that need it answer
 * 503 at once. Built and run by fuzz/run-http.sh under AddressSanitizer.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "routes.h"
#include "server.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct config cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	setenv("CCGW_HOME", "/nonexistent-ccgw-home", 1);
	/* a database that is not there: handlers that need one answer 503 at once */
	setenv("CCGW_DATABASE_URL", "host=/nonexistent-ccgw-socket dbname=none connect_timeout=1", 1);
	setenv("CCGW_SECRET_KEY", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
	       1);
	setenv("CCGW_WORKERS", "2", 1);
	setenv("CCGW_DB_POOL_SIZE", "2", 1);
	setenv("CCGW_MAX_BODY", "65536", 1);
	setenv("CCGW_LOG_LEVEL", "error", 1);
	if (config_load(&cfg, NULL, err, sizeof(err)) < 0 || server_embed_start(&cfg, server_routes) < 0) {
		fprintf(stderr, "http_fuzz: cannot start the embedded server: %s\n", err);
		abort();
	}
	log_level_set(LOG_ERROR);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[65536];
	size_t sent = 0;
	int sv[2], i, quiet = 0, closed = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 0;
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	if (server_embed_adopt(sv[0]) < 0) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	/* feed the bytes and turn the loop until the server closes the connection or has been
	 * quiet with nothing in flight for a few turns */
	for (i = 0; i < 20000 && !closed && quiet < 20; i++) {
		ssize_t n;
		int progress = 0;

		if (sent < size) {
			n = send(sv[1], data + sent, size - sent, MSG_NOSIGNAL);
			if (n > 0) {
				sent += (size_t)n;
				progress = 1;
			}
		}
		server_embed_service();
		while ((n = recv(sv[1], buf, sizeof(buf), 0)) > 0)
			progress = 1;
		if (n == 0)
			closed = 1;
		if (progress || server_embed_busy() > 0 || sent < size) {
			quiet = 0;
			if (!progress)
				usleep(50); /* a worker is on it */
		} else {
			quiet++;
			usleep(20);
		}
	}
	close(sv[1]);
	for (i = 0; i < 3; i++) /* let the server see the close and free the connection */
		server_embed_service();
	return 0;
}
