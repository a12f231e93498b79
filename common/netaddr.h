/*
 * netaddr.h: which IP addresses a URL that a tenant sets may reach. The gateway calls only
 * public unicast addresses on a tenant's behalf; loopback, private (RFC 1918, fc00::/7),
 * carrier-grade NAT, link-local, multicast, documentation, benchmarking, unspecified and
 * reserved ranges are refused, and so are IPv6 forms that carry such an IPv4 address
 * (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible, NAT64 64:ff9b::/96, 6to4 2002::/16).
 */
#ifndef CCGW_NETADDR_H
#define CCGW_NETADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* 1 when sa (AF_INET or AF_INET6) is a public unicast address, else 0. When it is not,
 * what names the range ("loopback", "private", ...) unless what is NULL. */
int netaddr_is_public(const struct sockaddr *sa, const char **what);

/* The same for an address in text (a dotted quad or IPv6, no brackets). -1 when text is not a
 * numeric address. */
int netaddr_text_is_public(const char *text, const char **what);

#endif
