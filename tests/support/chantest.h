/*
 * chantest.h: what the channel adapters' unit tests share (tg_adapter_test, wa_render_test,
 * wa_parse_test): payload files, rendering a normalized reply through an adapter into the
 * request bodies, counting characters. Library ccgw_chantest: ccgw_channels and cmocka only,
 * no database and no server.
 */
#ifndef CCGW_CHANTEST_H
#define CCGW_CHANTEST_H

#include <stddef.h>

#include <jansson.h>

#include "channel.h"

/* The file dir/name, NUL-terminated (heap); *len its size. Fails the test when unreadable. */
char *chantest_read(const char *dir, const char *name, size_t *len);

/* Renders reply_text (a normalized reply, JSON) with ops for t and returns the request bodies
 * parsed, in a JSON array (caller decrefs); every request must have a URL and a JSON body.
 * The requests go to *reqs_out and *n_out (the caller frees them with
 * channel_requests_free), or are freed when reqs_out is NULL. */
json_t *chantest_render(const struct channel_ops *ops, const struct channel_target *t,
                        const char *reply_text, struct channel_request **reqs_out, size_t *n_out);

/* The number of characters (UTF-8 code points) of s. */
size_t chantest_chars(const char *s);

#endif
