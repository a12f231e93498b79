/*
 * outcall.h: one outbound HTTP request, sent and waited for (libcurl's easy interface), for
 * the few calls that are not the dispatcher's: a channel's long poll and its webhook set-up.
 * The URL's base is the operator's configuration (the platform's API base), never a
 * seller's, so no address guard applies.
 */
#ifndef CCGW_OUTCALL_H
#define CCGW_OUTCALL_H

#include "channel.h"
#include "util.h"

/*
 * Sends r (POST when it has a body, else GET) and reads the answer into *body (appended; the
 * caller frees it). timeout_ms bounds the whole exchange; *stop (may be NULL) aborts it when
 * it becomes non-zero. Returns the HTTP status, or 0 when no answer came (timeout, refused,
 * aborted), with curl's reason in err.
 */
long outcall_perform(const struct channel_request *r, long timeout_ms, const volatile int *stop,
                     struct sbuf *body, char *err, size_t errlen);

#endif
