/*
 * test_trust_unit.c: the parts of commerce/trust.c that need no database: the abusive words
 * (whole words and phrases, any case, accents and punctuation ignored, English and Swahili),
 * a pattern's definition checked field by field, and its description.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "trust.h"

static void test_abusive_words(void **state)
{
	static const struct {
		const char *text;
		int abusive;
		const char *phrase, *lang;
	} cases[] = {
	    {"You are an IDIOT", 1, "idiot", "en"},
	    {"stupid!!!", 1, "stupid", "en"},
	    {"F*ck... no: FUCK   you", 1, "fuck", "en"},
	    {"go to   HELL, shop", 1, "go to hell", "en"},
	    {"wewe ni mjinga", 1, "mjinga", "sw"},
	    {"Mpumbavu sana", 1, "mpumbavu", "sw"},
	    {"mbwa wewe!", 1, "mbwa wewe", "sw"},
	    {"ÍDIÓT", 1, "idiot", "en"},
	    /* not abusive: words that only contain one, and ordinary shopping */
	    {"do you have shitake mushrooms?", 0, NULL, NULL},
	    {"I'd like 2 kikoi, asante", 0, NULL, NULL},
	    {"nataka asali mbili", 0, NULL, NULL},
	    {"hello, where is my order", 0, NULL, NULL},
	    {"mbwa", 0, NULL, NULL}, /* a dog is not an insult; "mbwa wewe" is */
	    {"", 0, NULL, NULL},
	};
	char phrase[96], lang[3];
	size_t i;

	(void)state;
	assert_true(trust_abuse_count() > 20);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = trust_abuse_find(cases[i].text, phrase, sizeof(phrase), lang);

		if (got != cases[i].abusive)
			fail_msg("\"%s\": abusive %d, want %d", cases[i].text, got,
			         cases[i].abusive);
		if (got && (strcmp(phrase, cases[i].phrase) != 0 || strcmp(lang, cases[i].lang)))
			fail_msg("\"%s\": found \"%s\" (%s), want \"%s\" (%s)", cases[i].text,
			         phrase, lang, cases[i].phrase, cases[i].lang);
	}
	assert_int_equal(trust_abuse_find(NULL, NULL, 0, NULL), 0);
}

static void test_definitions(void **state)
{
	static const struct {
		const char *json, *field; /* field NULL: valid */
	} cases[] = {
	    {"{\"threshold\": 20, \"window_seconds\": 60, \"action\": \"throttle\"}", NULL},
	    {"{\"threshold\": 3, \"window_seconds\": 2592000, \"action\": \"block\", \"severity\": "
	     "\"high\"}",
	     NULL},
	    {"{\"threshold\": 0, \"window_seconds\": 60, \"action\": \"flag\"}",
	     "definition.threshold"},
	    {"{\"threshold\": 2.5, \"window_seconds\": 60, \"action\": \"flag\"}",
	     "definition.threshold"},
	    {"{\"threshold\": 5, \"window_seconds\": 0, \"action\": \"flag\"}",
	     "definition.window_seconds"},
	    {"{\"threshold\": 5, \"window_seconds\": 60, \"action\": \"ban\"}",
	     "definition.action"},
	    {"{\"threshold\": 5, \"window_seconds\": 60, \"action\": \"flag\", \"severity\": "
	     "\"meh\"}",
	     "definition.severity"},
	    {"{\"threshold\": 5, \"window_seconds\": 60, \"action\": \"throttle\", "
	     "\"interval_seconds\": 100000}",
	     "definition.interval_seconds"},
	    {"{\"threshold\": 5, \"window_seconds\": 60, \"action\": \"flag\", \"x\": 1}",
	     "definition.x"},
	    {"{\"window_seconds\": 60, \"action\": \"flag\"}", "definition.threshold"},
	    {"{\"threshold\": 5, \"window_seconds\": 60}", "definition.action"},
	    {"[]", "definition"},
	};
	char field[96], msg[200];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *def = json_loads(cases[i].json, 0, NULL);
		int rc = trust_definition_check(def, field, sizeof(field), msg, sizeof(msg));

		assert_non_null(def);
		if (!cases[i].field && rc != 0)
			fail_msg("%s: refused: %s: %s", cases[i].json, field, msg);
		if (cases[i].field && (rc == 0 || strcmp(field, cases[i].field) != 0))
			fail_msg("%s: rc %d field %s, want %s", cases[i].json, rc, rc ? field : "-",
			         cases[i].field);
		json_decref(def);
	}
}

static void test_describe(void **state)
{
	json_t *def = json_pack("{s:i, s:i, s:s, s:i}", "threshold", 20, "window_seconds", 60,
	                        "action", "throttle", "interval_seconds", 30);
	char *d = trust_pattern_describe("flooding", def);

	(void)state;
	assert_string_equal(d, "more than 20 messages from one shopper within 60 s; then the bot "
	                       "answers at most once every 30 s");
	free(d);
	json_decref(def);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_abusive_words),
	    cmocka_unit_test(test_definitions),
	    cmocka_unit_test(test_describe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
