/*
 * urlguard.c: the public-address rule for tenant-set URLs (see urlguard.h): curl's URL parser
 * reads the host (it also normalises numeric IPv4 spellings such as 2130706433 or 0x7f.1),
 * getaddrinfo resolves it, netaddr judges each address.
 */
#include "urlguard.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "netaddr.h"

static void addr_text(const struct sockaddr *sa, char *out, size_t outlen)
{
	const void *src = sa->sa_family == AF_INET6 ?
				  (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr :
				  (const void *)&((const struct sockaddr_in *)sa)->sin_addr;

	if (!inet_ntop(sa->sa_family, src, out, (socklen_t)outlen))
		snprintf(out, outlen, "?");
}

int urlguard_check(const char *url, int allow_private, char *err, size_t errlen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	struct addrinfo hints, *res = NULL, *ai;
	const char *h, *what = NULL;
	char hostbuf[256], addr[64];
	size_t n;
	int rc = -1, gai;

	if (!u) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host[0]) {
		snprintf(err, errlen, "must be an http:// or https:// URL with a host");
		goto out;
	}
	if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
		snprintf(err, errlen, "must be an http:// or https:// URL");
		goto out;
	}
	h = host;
	n = strlen(h);
	if (h[0] == '[' && n > 2 && h[n - 1] == ']') { /* [v6] */
		snprintf(hostbuf, sizeof(hostbuf), "%.*s", (int)(n - 2), h + 1);
		h = hostbuf;
	}
	if (allow_private) {
		rc = 0;
		goto out;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	gai = getaddrinfo(h, NULL, &hints, &res);
	if (gai != 0 || !res) {
		/* a name that does not resolve now (not yet published, DNS down) is taken: each
		 * send checks the address it connects to */
		rc = 0;
		goto out;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		if (!netaddr_is_public(ai->ai_addr, &what)) {
			addr_text(ai->ai_addr, addr, sizeof(addr));
			snprintf(err, errlen,
				 "must reach a public address; %s is %s (%s)", h, addr, what);
			goto out;
		}
	}
	rc = 0;
out:
	if (res)
		freeaddrinfo(res);
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

static curl_socket_t pin_opensocket(void *clientp, curlsocktype purpose,
				    struct curl_sockaddr *address)
{
	struct urlguard_verdict *v = clientp;
	const char *what = NULL;

	(void)purpose;
	if (!netaddr_is_public(&address->addr, &what)) {
		v->refused = 1;
		v->what = what;
		addr_text(&address->addr, v->address, sizeof(v->address));
		return CURL_SOCKET_BAD;
	}
	return socket(address->family, address->socktype, address->protocol);
}

void urlguard_pin(CURL *e, struct urlguard_verdict *verdict)
{
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, pin_opensocket);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, verdict);
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
}
