/*
 * test_ssrf.c: the rule for URLs that sellers set (common/netaddr.c, gateway/urlguard.c):
 * every non-public IPv4 and IPv6 range refused, in every spelling that reaches it (decimal,
 * hex and short dotted IPv4, IPv4-mapped and NAT64 IPv6, brackets), public addresses taken,
 * and webhook_allow_private lifting the rule. No network: numeric hosts and localhost only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "netaddr.h"
#include "urlguard.h"

static void test_ranges(void **state)
{
	static const struct {
		const char *addr;
		int public;
	} cases[] = {
		{ "127.0.0.1", 0 },       { "127.255.255.254", 0 }, { "10.0.0.1", 0 },
		{ "10.255.255.255", 0 },  { "172.16.0.1", 0 },      { "172.31.255.255", 0 },
		{ "172.32.0.1", 1 },      { "172.15.255.255", 1 },  { "192.168.1.1", 0 },
		{ "169.254.169.254", 0 }, { "0.0.0.0", 0 },         { "0.1.2.3", 0 },
		{ "100.64.0.1", 0 },      { "100.127.255.255", 0 }, { "100.128.0.1", 1 },
		{ "192.0.2.10", 0 },      { "198.18.0.1", 0 },      { "198.51.100.7", 0 },
		{ "203.0.113.9", 0 },     { "224.0.0.1", 0 },       { "239.255.255.250", 0 },
		{ "240.0.0.1", 0 },       { "255.255.255.255", 0 }, { "192.0.0.8", 0 },
		{ "8.8.8.8", 1 },         { "93.184.216.34", 1 },   { "1.1.1.1", 1 },
		{ "::1", 0 },             { "::", 0 },              { "::ffff:127.0.0.1", 0 },
		{ "::ffff:10.1.2.3", 0 }, { "::ffff:8.8.8.8", 1 },  { "::127.0.0.1", 0 },
		{ "64:ff9b::a9fe:a9fe", 0 }, { "64:ff9b::808:808", 1 },
		{ "2002:7f00:1::1", 0 },  { "2002:808:808::1", 1 }, { "fc00::1", 0 },
		{ "fd12:3456::1", 0 },    { "fe80::1", 0 },         { "febf::1", 0 },
		{ "fec0::1", 0 },         { "ff02::1", 0 },         { "2001:db8::1", 0 },
		{ "100::1", 0 },          { "2001::1", 0 },         { "2606:4700:4700::1111", 1 },
		{ "2a00:1450:4001::200e", 1 }, { "4000::1", 0 },
	};
	size_t i;
	const char *what;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		what = NULL;
		if (netaddr_text_is_public(cases[i].addr, &what) != cases[i].public)
			fail_msg("%s: expected %s", cases[i].addr,
				 cases[i].public ? "public" : "refused");
		if (!cases[i].public && !what)
			fail_msg("%s: refused without naming the range", cases[i].addr);
	}
	assert_int_equal(netaddr_text_is_public("not-an-address", NULL), -1);
}

static void test_urls(void **state)
{
	static const struct {
		const char *url;
		const char *expect; /* NULL: accepted; else a piece of the error */
	} cases[] = {
		{ "http://127.0.0.1/hook", "loopback" },
		{ "http://2130706433/", "loopback" },            /* 127.0.0.1 as one number */
		{ "http://0x7f.1/", "loopback" },                 /* hex, short form */
		{ "http://0177.0.0.1/", "loopback" },             /* octal */
		{ "http://127.1/", "loopback" },
		{ "http://[::ffff:127.0.0.1]/", "loopback" },
		{ "http://[::1]:8080/x", "loopback" },
		{ "http://[0:0:0:0:0:0:0:1]/", "loopback" },
		{ "https://localhost/hook", "loopback" },
		{ "http://10.0.0.5/", "private" },
		{ "http://172.20.1.1/", "private" },
		{ "http://192.168.0.10:9000/", "private" },
		{ "http://169.254.169.254/latest/meta-data/", "link-local" },
		{ "http://[fe80::1]/", "link-local" },
		{ "http://[fc00::1]/", "private" },
		{ "http://0.0.0.0/", "unspecified" },
		{ "http://[::]/", "unspecified" },
		{ "http://100.64.1.1/", "CGNAT" },
		{ "ftp://93.184.216.34/", "http" },
		{ "javascript:alert(1)", "http" },
		{ "http://", "host" },
		{ "http://user@127.0.0.1@8.8.8.8/", "host" }, /* ambiguous userinfo: refused */
		{ "https://93.184.216.34/hook", NULL },
		{ "https://[2606:4700:4700::1111]/hook", NULL },
		{ "https://hooks.example.invalid/orders", NULL }, /* unresolvable now: checked at send */
	};
	char err[300];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		rc = urlguard_check(cases[i].url, 0, err, sizeof(err));
		if (!cases[i].expect && rc != 0)
			fail_msg("%s: refused: %s", cases[i].url, err);
		if (cases[i].expect && (rc == 0 || !strstr(err, cases[i].expect)))
			fail_msg("%s: expected a refusal naming '%s', got %d '%s'", cases[i].url,
				 cases[i].expect, rc, err);
	}
	/* webhook_allow_private=1: local receivers for development and tests */
	assert_int_equal(urlguard_check("http://127.0.0.1:9000/hook", 1, err, sizeof(err)), 0);
	assert_int_equal(urlguard_check("http://[::1]/hook", 1, err, sizeof(err)), 0);
	/* the scheme rule stays */
	assert_int_equal(urlguard_check("file:///etc/passwd", 1, err, sizeof(err)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_urls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
