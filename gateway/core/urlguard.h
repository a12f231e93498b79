/*
 * urlguard.h: URLs that tenants set (a seller's webhook notification target) may reach only
 * public addresses, so a seller cannot make the gateway call into the operator's network
 * (server-side request forgery). Checked twice: when the URL is set (every address its host
 * resolves to must be public) and at every send, on the very address curl connects to, so a
 * DNS answer that changes in between (rebinding) is caught; redirects are never followed.
 * Config webhook_allow_private=1 turns the rule off for local development and tests.
 */
#ifndef CCGW_URLGUARD_H
#define CCGW_URLGUARD_H

#include <curl/curl.h>
#include <stddef.h>

/* The check when a URL is set: an http:// or https:// URL whose host, when it resolves,
 * resolves only to public addresses (unless allow_private); a name that does not resolve yet
 * is taken, since every send checks again. 0, or -1 with err saying what is wrong (for a 400
 * answer naming the field). Resolves the host: call it off the event loop. */
int urlguard_check(const char *url, int allow_private, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* What the send-time check found; zero-initialise one per request. */
struct urlguard_verdict {
	int refused;      /* curl was kept from connecting */
	char address[64]; /* the address it would have connected to */
	const char *what; /* its range ("loopback", "private", ...) */
};

/* Makes the easy handle connect only to public addresses: CURLOPT_OPENSOCKETFUNCTION checks
 * each address curl is about to connect to (verdict records a refusal), no proxy from the
 * environment (it would hide the real destination), no redirects, http and https only. */
void urlguard_pin(CURL *e, struct urlguard_verdict *verdict);

#endif
