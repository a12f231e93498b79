/*
 * chantest.c: payload files, rendering through an adapter and character counts for the
 * channel adapters' unit tests (chantest.h).
 */
#include "chantest.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

char *chantest_read(const char *dir, const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

json_t *chantest_render(const struct channel_ops *ops, const struct channel_target *t,
                        const char *reply_text, struct channel_request **reqs_out, size_t *n_out)
{
	json_error_t jerr;
	json_t *reply = json_loads(reply_text, 0, &jerr), *bodies = json_array();
	struct channel_request *reqs = NULL;
	size_t n = 0, i;
	char err[256] = "";
	int rc;

	if (!reply)
		fail_msg("bad test reply: %s", jerr.text);
	rc = ops->render(t, reply, &reqs, &n, err, sizeof(err));
	if (rc != 0)
		fail_msg("render failed (%d): %s", rc, err);
	for (i = 0; i < n; i++) {
		json_t *b;

		assert_non_null(reqs[i].url);
		assert_non_null(reqs[i].body);
		b = json_loads(reqs[i].body, 0, &jerr);
		if (!b)
			fail_msg("request %zu body is not JSON: %s", i, jerr.text);
		json_array_append_new(bodies, b);
	}
	json_decref(reply);
	if (reqs_out) {
		*reqs_out = reqs;
		*n_out = n;
	} else {
		channel_requests_free(reqs, n);
	}
	return bodies;
}

size_t chantest_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}
