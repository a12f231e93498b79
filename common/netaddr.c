/*
 * netaddr.c: the public-address rule for tenant-set URLs (see netaddr.h). Ranges are from
 * the IANA IPv4 and IPv6 special-purpose address registries.
 */
#include "netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

struct v4_range {
	uint32_t net;
	int bits;
	const char *what;
};

static const struct v4_range v4_blocked[] = {
	{ 0x00000000u, 8, "unspecified" },      /* 0.0.0.0/8 "this network" */
	{ 0x0a000000u, 8, "private" },          /* 10/8 */
	{ 0x64400000u, 10, "shared (CGNAT)" },  /* 100.64/10 */
	{ 0x7f000000u, 8, "loopback" },         /* 127/8 */
	{ 0xa9fe0000u, 16, "link-local" },      /* 169.254/16 (cloud metadata lives here) */
	{ 0xac100000u, 12, "private" },         /* 172.16/12 */
	{ 0xc0000000u, 24, "IETF protocol assignments" }, /* 192.0.0/24 */
	{ 0xc0000200u, 24, "documentation" },   /* 192.0.2/24 */
	{ 0xc0586300u, 24, "6to4 relay anycast" }, /* 192.88.99/24 */
	{ 0xc0a80000u, 16, "private" },         /* 192.168/16 */
	{ 0xc6120000u, 15, "benchmarking" },    /* 198.18/15 */
	{ 0xc6336400u, 24, "documentation" },   /* 198.51.100/24 */
	{ 0xcb007100u, 24, "documentation" },   /* 203.0.113/24 */
	{ 0xe0000000u, 4, "multicast" },        /* 224/4 */
	{ 0xf0000000u, 4, "reserved" },         /* 240/4, 255.255.255.255 included */
};

static int v4_is_public(uint32_t a, const char **what)
{
	size_t i;

	for (i = 0; i < sizeof(v4_blocked) / sizeof(v4_blocked[0]); i++) {
		uint32_t mask = 0xffffffffu << (32 - v4_blocked[i].bits);

		if ((a & mask) == v4_blocked[i].net) {
			if (what)
				*what = v4_blocked[i].what;
			return 0;
		}
	}
	return 1;
}

static uint32_t v4_at(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static int v6_is_public(const unsigned char *a, const char **what)
{
	static const unsigned char zero[16];
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const unsigned char nat64[12] = { 0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0 };
	const char *dummy;

	if (!what)
		what = &dummy;
	if (memcmp(a, zero, 15) == 0 && (a[15] == 0 || a[15] == 1)) {
		*what = a[15] ? "loopback" : "unspecified";
		return 0;
	}
	/* IPv4 carried inside IPv6: judged by the IPv4 address */
	if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
		return v4_is_public(v4_at(a + 12), what);
	if (memcmp(a, zero, 12) == 0) { /* ::a.b.c.d, IPv4-compatible (deprecated) */
		*what = "IPv4-compatible";
		return 0;
	}
	if (a[0] == 0x20 && a[1] == 0x02) /* 2002::/16 6to4: the IPv4 address in bits 16-47 */
		return v4_is_public(v4_at(a + 2), what);
	if ((a[0] & 0xfe) == 0xfc) {
		*what = "private (unique local)";
		return 0;
	}
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) {
		*what = "link-local";
		return 0;
	}
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0) {
		*what = "site-local";
		return 0;
	}
	if (a[0] == 0xff) {
		*what = "multicast";
		return 0;
	}
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8) {
		*what = "documentation";
		return 0;
	}
	if (a[0] == 0x01 && a[1] == 0x00 && memcmp(a + 2, zero, 6) == 0) { /* 100::/64 discard */
		*what = "discard";
		return 0;
	}
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] < 0x02) { /* 2001::/23 IETF protocol assignments */
		*what = "IETF protocol assignments";
		return 0;
	}
	if ((a[0] & 0xe0) != 0x20) { /* outside 2000::/3, global unicast */
		*what = "reserved";
		return 0;
	}
	return 1;
}

int netaddr_is_public(const struct sockaddr *sa, const char **what)
{
	if (!sa)
		return 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		return v4_is_public(ntohl(in->sin_addr.s_addr), what);
	}
	if (sa->sa_family == AF_INET6)
		return v6_is_public(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr, what);
	if (what)
		*what = "not an IP address";
	return 0;
}

int netaddr_text_is_public(const char *text, const char **what)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (inet_pton(AF_INET, text, &a4) == 1)
		return v4_is_public(ntohl(a4.s_addr), what);
	if (inet_pton(AF_INET6, text, &a6) == 1)
		return v6_is_public(a6.s6_addr, what);
	return -1;
}
