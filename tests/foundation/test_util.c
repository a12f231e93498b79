/*
 * test_util.c: the small helpers everything leans on: HMAC-SHA256 against a published test
 * vector, constant-time comparison, sealing of secrets (and that a sealed value does not
 * open for another tenant or after tampering), and configuration precedence.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "secrets.h"
#include "util.h"

static void test_hmac_rfc4231(void **state)
{
	char out[65];

	(void)state;
	/* RFC 4231 test case 2 */
	util_hmac_sha256_hex("Jefe", 4, "what do ya want for nothing?", 28, out);
	assert_string_equal(out, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void test_ct_equal(void **state)
{
	(void)state;
	assert_true(util_ct_streq("sha256=abc", "sha256=abc"));
	assert_false(util_ct_streq("sha256=abc", "sha256=abd"));
	assert_false(util_ct_streq("sha256=ab", "sha256=abc"));
	assert_false(util_ct_streq("", "x"));
	assert_false(util_ct_streq(NULL, "x"));
}

static void test_seal_open(void **state)
{
	unsigned char key[32], *sealed = NULL;
	size_t len = 0;
	char *plain = NULL, *text;
	const char *secret = "{\"access_token\":\"EAAG-very-secret\"}";
	const char *ta = "aaaaaaaa-0000-4000-8000-000000000001";

	(void)state;
	assert_int_equal(secrets_key_parse("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", key), 0);
	assert_int_equal(secrets_key_parse("short", key), -1);
	assert_int_equal(secrets_seal(key, ta, secret, strlen(secret), &sealed, &len), 0);
	assert_null(memmem(sealed, len, "very-secret", 11));
	assert_int_equal(secrets_open(key, ta, sealed, len, &plain), 0);
	assert_string_equal(plain, secret);
	free(plain);
	assert_int_equal(secrets_open(key, "bbbbbbbb-0000-4000-8000-000000000002", sealed, len, &plain), -1);
	sealed[len / 2] ^= 1;
	assert_int_equal(secrets_open(key, ta, sealed, len, &plain), -1);
	sealed[len / 2] ^= 1;
	text = secrets_bytea_encode(sealed, len);
	assert_non_null(text);
	free(sealed);
	assert_int_equal(secrets_bytea_decode(text, &sealed, &len), 0);
	assert_int_equal(secrets_open(key, ta, sealed, len, &plain), 0);
	free(plain);
	free(sealed);
	free(text);
}

static void test_config_precedence(void **state)
{
	struct config cfg;
	char path[] = "/tmp/ccgw-ini-XXXXXX", err[256];
	int fd = mkstemp(path);
	const char *ini = "[ccgw]\nlisten = 127.0.0.1:9999\nmax_body = 1000000\nlog_level = debug\n";

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, ini, strlen(ini)), (int)strlen(ini));
	close(fd);
	setenv("CCGW_HOME", "/nonexistent", 1);
	setenv("CCGW_MAX_BODY", "2048", 1);
	unsetenv("CCGW_LISTEN");
	assert_int_equal(config_load(&cfg, path, err, sizeof(err)), 0);
	assert_string_equal(cfg.listen, "127.0.0.1:9999"); /* from the file */
	assert_int_equal(cfg.max_body, 2048);              /* the environment wins */
	assert_string_equal(cfg.whatsapp_api_version, "v21.0"); /* default */
	config_clear(&cfg);
	setenv("CCGW_MAX_BODY", "-5", 1);
	assert_int_equal(config_load(&cfg, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "max_body"));
	config_clear(&cfg);
	unsetenv("CCGW_MAX_BODY");
	unlink(path);
}

/* The example INI documents every key of the declarative table. */
static void test_example_ini_documents_every_key(void **state)
{
	const struct config_key *k;
	FILE *f = fopen(CCGW_SOURCE_DIR "/config/ccgw.example.ini", "r");
	char *text;
	long n;

	(void)state;
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	text = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	for (k = config_keys; k->name; k++) {
		char want[80];

		snprintf(want, sizeof(want), "\n%s = ", k->name);
		if (!strstr(text, want)) {
			snprintf(want, sizeof(want), "\n;%s = ", k->name);
			if (!strstr(text, want))
				fail_msg("config/ccgw.example.ini does not document '%s'", k->name);
		}
	}
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hmac_rfc4231),
		cmocka_unit_test(test_ct_equal),
		cmocka_unit_test(test_seal_open),
		cmocka_unit_test(test_config_precedence),
		cmocka_unit_test(test_example_ini_documents_every_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
