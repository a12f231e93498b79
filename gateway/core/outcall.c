/*
 * outcall.c: one outbound HTTP request with libcurl's easy interface.
 */
#include "outcall.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#define OUTCALL_BODY_MAX (8L * 1024 * 1024) /* a long poll's answer is far smaller */

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct sbuf *b = arg;

	if (b->len + size * n > (size_t)OUTCALL_BODY_MAX)
		return 0; /* too large: abort */
	sbuf_append(b, p, size * n);
	return size * n;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	const volatile int *stop = arg;

	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return stop && *stop ? 1 : 0;
}

long outcall_perform(const struct channel_request *r, long timeout_ms, const volatile int *stop,
                     struct sbuf *body, char *err, size_t errlen)
{
	CURL *e = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	long status = 0;
	CURLcode cc;
	size_t i;

	err[0] = '\0';
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return 0;
	}
	for (i = 0; i < r->nheaders; i++)
		hdrs = curl_slist_append(hdrs, r->headers[i]);
	curl_easy_setopt(e, CURLOPT_URL, r->url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	if (r->body)
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 10000 ? timeout_ms : 10000L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, (void *)stop);
	cc = curl_easy_perform(e);
	if (cc == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	else
		snprintf(err, errlen, "%s", curl_easy_strerror(cc));
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(e);
	return status;
}
