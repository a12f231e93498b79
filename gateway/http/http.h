/*
 * http.h: what a route handler sees. The libwebsockets loop reads a whole request (bounded by
 * max_body and the read timeout), then a worker thread runs the route's handler with the
 * request and an empty response; the loop writes the response. Handlers may block on the
 * database (they run on workers, never on the loop). Every error answer is JSON:
 * {"error": {"code": "...", "message": "..."}}.
 */
#ifndef CCGW_HTTP_H
#define CCGW_HTTP_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

#include "util.h"

#define HTTP_MAX_PARAMS 4
#define HTTP_MAX_RESP_HEADERS 8

struct app; /* the running gateway's services: see server.h */

struct http_header {
	char *name; /* lower-case */
	char *value;
};

struct http_request {
	const char *method;              /* "GET", "POST", ... */
	const char *path;                /* decoded path without the query */
	const char *query;               /* raw query string without '?', "" when none */
	const char *body;                /* NUL-terminated; body_len bytes */
	size_t body_len;
	const char *params[HTTP_MAX_PARAMS]; /* the {name} segments of the route, in order */
	size_t nparams;
	const struct http_header *headers;
	size_t nheaders;
	const char *route;               /* the matched pattern, for metrics */
	const char *const *query_args;   /* the query's "name=value" pieces, as received */
	size_t nquery_args;
};

struct http_response {
	int status;                 /* 0 until set: the server answers 500 */
	char *content_type;         /* heap; NULL means application/json */
	char *body;                 /* heap */
	size_t body_len;
	char *headers[HTTP_MAX_RESP_HEADERS]; /* heap "Name: value" lines */
	size_t nheaders;
};

/* The handler's view of the gateway: services and a database connection borrowed from the
 * pool for this request (conn is NULL when the database is unavailable: answer 503). */
struct http_ctx {
	struct app *app;
	PGconn *conn;
};

typedef void (*http_handler_fn)(struct http_ctx *ctx, const struct http_request *req,
				struct http_response *resp);

/* A route: method ("GET", ..., or "*" for any), pattern with {name} segments, handler,
 * and whether the handler needs a database connection. */
struct http_route {
	const char *method;
	const char *pattern;
	http_handler_fn fn;
	int needs_db;
};

/* Case-insensitive header lookup; NULL when absent. Borrowed from req. */
const char *http_request_header(const struct http_request *req, const char *name);
/* URL-decoded value of a query parameter into out; 0 when found, -1 otherwise. */
int http_query_get(const struct http_request *req, const char *name, char *out, size_t outlen);

/* Sets the response to obj serialized as JSON with status; takes the reference to obj. */
void http_response_json(struct http_response *resp, int status, json_t *obj);
/* Sets the response to {"error": {"code": code, "message": message}}. */
void http_response_error(struct http_response *resp, int status, const char *code,
			 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Sets a plain body with the given content type (copied). */
void http_response_body(struct http_response *resp, int status, const char *content_type,
			const char *body, size_t len);
/* Adds a header line "Name: value" (copied); ignored when full. */
void http_response_header(struct http_response *resp, const char *name, const char *value);
void http_response_clear(struct http_response *resp);

/* Parses the body as a JSON object; on failure sets a 400 answer naming the problem and
 * returns NULL. The caller owns the returned reference. */
json_t *http_request_json_object(const struct http_request *req, struct http_response *resp);

/* A decoder of chunked request bodies (RFC 9112 section 7.1): chunk extensions and trailers
 * are read and dropped. Zero-initialise before the first call. */
struct http_chunked {
	int state;
	unsigned long long left; /* bytes of the current chunk still to come */
	int digits;
};

#define HTTP_CHUNKED_MORE 0       /* give it more bytes */
#define HTTP_CHUNKED_DONE 1       /* the last chunk and the trailers have been read */
#define HTTP_CHUNKED_BAD (-1)     /* not chunked encoding */
#define HTTP_CHUNKED_TOO_LARGE (-2) /* the decoded body would pass max bytes */

/* Feeds len bytes; appends the decoded body to out. Bytes after the end are ignored. */
int http_chunked_feed(struct http_chunked *st, const char *in, size_t len, struct sbuf *out,
		      size_t max);

#endif
