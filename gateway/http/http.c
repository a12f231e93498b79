/*
 * http.c: request accessors and response builders for route handlers (see http.h).
 */
#include "http.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *http_request_header(const struct http_request *req, const char *name)
{
	size_t i;

	for (i = 0; i < req->nheaders; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes %XX and '+' from in[0..len) into out. */
static void url_decode(const char *in, size_t len, char *out, size_t outlen)
{
	size_t i, o = 0;

	for (i = 0; i < len && o + 1 < outlen; i++) {
		if (in[i] == '%' && i + 2 < len && hexval(in[i + 1]) >= 0 && hexval(in[i + 2]) >= 0) {
			out[o++] = (char)(hexval(in[i + 1]) << 4 | hexval(in[i + 2]));
			i += 2;
		} else if (in[i] == '+') {
			out[o++] = ' ';
		} else {
			out[o++] = in[i];
		}
	}
	out[o] = '\0';
}

int http_query_get(const struct http_request *req, const char *name, char *out, size_t outlen)
{
	size_t i, nlen = strlen(name);

	for (i = 0; i < req->nquery_args; i++) {
		const char *a = req->query_args[i];
		if (strncmp(a, name, nlen) == 0 && a[nlen] == '=') {
			url_decode(a + nlen + 1, strlen(a + nlen + 1), out, outlen);
			return 0;
		}
		if (strcmp(a, name) == 0) {
			if (outlen)
				out[0] = '\0';
			return 0;
		}
	}
	return -1;
}

static void body_set(struct http_response *resp, char *body, size_t len)
{
	free(resp->body);
	resp->body = body;
	resp->body_len = len;
}

void http_response_json(struct http_response *resp, int status, json_t *obj)
{
	char *s = obj ? json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;

	json_decref(obj);
	if (!s) {
		http_response_error(resp, 500, "internal", "could not encode the answer");
		return;
	}
	resp->status = status;
	free(resp->content_type);
	resp->content_type = NULL;
	body_set(resp, s, strlen(s));
}

void http_response_error(struct http_response *resp, int status, const char *code,
			 const char *fmt, ...)
{
	char msg[512];
	json_t *o;
	char *s;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
	s = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	json_decref(o);
	resp->status = status;
	free(resp->content_type);
	resp->content_type = NULL;
	if (!s)
		s = strdup("{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}");
	body_set(resp, s, s ? strlen(s) : 0);
}

void http_response_body(struct http_response *resp, int status, const char *content_type,
			const char *body, size_t len)
{
	char *copy = malloc(len + 1);

	if (!copy) {
		http_response_error(resp, 500, "internal", "out of memory");
		return;
	}
	memcpy(copy, body, len);
	copy[len] = '\0';
	resp->status = status;
	free(resp->content_type);
	resp->content_type = content_type ? strdup(content_type) : NULL;
	body_set(resp, copy, len);
}

void http_response_header(struct http_response *resp, const char *name, const char *value)
{
	char *line;
	size_t n;

	if (resp->nheaders >= HTTP_MAX_RESP_HEADERS)
		return;
	n = strlen(name) + strlen(value) + 3;
	line = malloc(n);
	if (!line)
		return;
	snprintf(line, n, "%s: %s", name, value);
	resp->headers[resp->nheaders++] = line;
}

void http_response_clear(struct http_response *resp)
{
	size_t i;

	free(resp->content_type);
	free(resp->body);
	for (i = 0; i < resp->nheaders; i++)
		free(resp->headers[i]);
	memset(resp, 0, sizeof(*resp));
}

json_t *http_request_json_object(const struct http_request *req, struct http_response *resp)
{
	json_error_t jerr;
	json_t *o;

	if (!req->body || req->body_len == 0) {
		http_response_error(resp, 400, "invalid_json", "the request body must be a JSON object");
		return NULL;
	}
	o = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o) {
		http_response_error(resp, 400, "invalid_json", "the body is not valid JSON: %s (line %d)",
				    jerr.text, jerr.line);
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		http_response_error(resp, 400, "invalid_json", "the request body must be a JSON object");
		return NULL;
	}
	return o;
}

/* ---- chunked request bodies ---- */

enum {
	CH_SIZE,      /* hex digits of a chunk size */
	CH_EXT,       /* a chunk extension, up to CR LF */
	CH_SIZE_LF,   /* the LF after a size line's CR */
	CH_DATA,      /* chunk bytes */
	CH_DATA_CR,   /* the CR after a chunk's bytes */
	CH_DATA_LF,   /* the LF after that */
	CH_TRAILER,   /* the start of a trailer line, or the final CR LF */
	CH_TRAILER_SKIP, /* a trailer field, up to LF */
	CH_END_LF,    /* the last LF */
	CH_DONE,
};

int http_chunked_feed(struct http_chunked *st, const char *in, size_t len, struct sbuf *out,
		      size_t max)
{
	size_t i = 0;

	while (i < len && st->state != CH_DONE) {
		char c = in[i];
		int h;

		switch (st->state) {
		case CH_SIZE:
			h = util_hex_digit(c);
			if (h >= 0) {
				if (++st->digits > 15)
					return HTTP_CHUNKED_BAD;
				st->left = st->left * 16 + (unsigned long long)h;
			} else if (st->digits == 0) {
				return HTTP_CHUNKED_BAD;
			} else if (c == ';' || c == ' ' || c == '\t') {
				st->state = CH_EXT;
			} else if (c == '\r') {
				st->state = CH_SIZE_LF;
			} else {
				return HTTP_CHUNKED_BAD;
			}
			i++;
			break;
		case CH_EXT:
			if (c == '\r')
				st->state = CH_SIZE_LF;
			else if (c == '\n')
				return HTTP_CHUNKED_BAD;
			i++;
			break;
		case CH_SIZE_LF:
			if (c != '\n')
				return HTTP_CHUNKED_BAD;
			i++;
			if (st->left == 0) {
				st->state = CH_TRAILER;
				break;
			}
			if (out->len + st->left > max)
				return HTTP_CHUNKED_TOO_LARGE;
			st->state = CH_DATA;
			break;
		case CH_DATA: {
			size_t n = len - i;

			if (n > st->left)
				n = (size_t)st->left;
			sbuf_append(out, in + i, n);
			if (out->failed)
				return HTTP_CHUNKED_TOO_LARGE;
			st->left -= n;
			i += n;
			if (st->left == 0)
				st->state = CH_DATA_CR;
			break;
		}
		case CH_DATA_CR:
			if (c != '\r')
				return HTTP_CHUNKED_BAD;
			st->state = CH_DATA_LF;
			i++;
			break;
		case CH_DATA_LF:
			if (c != '\n')
				return HTTP_CHUNKED_BAD;
			st->state = CH_SIZE;
			st->digits = 0;
			i++;
			break;
		case CH_TRAILER:
			st->state = c == '\r' ? CH_END_LF : CH_TRAILER_SKIP;
			i++;
			break;
		case CH_TRAILER_SKIP:
			if (c == '\n')
				st->state = CH_TRAILER;
			i++;
			break;
		case CH_END_LF:
			if (c != '\n')
				return HTTP_CHUNKED_BAD;
			st->state = CH_DONE;
			i++;
			break;
		default:
			return HTTP_CHUNKED_BAD;
		}
	}
	return st->state == CH_DONE ? HTTP_CHUNKED_DONE : HTTP_CHUNKED_MORE;
}
