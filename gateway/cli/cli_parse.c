/*
 * cli_parse.c: `ccgw parse [--lang L] [--expect E] TEXT...` prints the NLP reading of TEXT
 * as one JSON object on stdout: {"intent", "confidence", "entities": {...}, "lang"}, with
 * absent entities left out. TEXT "-" reads the message from stdin. Errors go to stderr.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "nlp.h"

#define CLI_PARSE_TEXT_MAX (64 * 1024)

static const char *const cli_parse_expect_names[] = {
	[NLP_EXPECT_NONE] = "none",	  [NLP_EXPECT_QUANTITY] = "quantity",
	[NLP_EXPECT_YES_NO] = "yes_no",	  [NLP_EXPECT_NAME] = "name",
	[NLP_EXPECT_ADDRESS] = "address", [NLP_EXPECT_PHONE] = "phone",
	[NLP_EXPECT_PAYMENT] = "payment", [NLP_EXPECT_CHOICE] = "choice",
};

static void cli_parse_usage(FILE *to)
{
	fprintf(to, "usage: ccgw parse [--lang en|sw] [--expect WHAT] TEXT...\n"
		    "  prints the NLP reading of TEXT as JSON; TEXT - reads stdin\n"
		    "  WHAT: quantity, yes_no, name, address, phone, payment, choice\n"
		    "  the lexicon folder is $CCGW_LEXICON_DIR or the built-in one\n");
}

/* The reading as a JSON object (new reference), or NULL when out of memory. */
static json_t *cli_parse_json(const struct nlp_reading *r)
{
	json_t *root = json_object(), *ent = json_object();
	int bad = !root || !ent;

	if (bad)
		goto fail;
	if (r->quantity_state != NLP_QTY_NONE) {
		bad |= json_object_set_new(ent, "quantity", json_integer(r->quantity));
		if (r->quantity_state == NLP_QTY_INVALID)
			bad |= json_object_set_new(ent, "quantity_valid", json_false());
	}
	if (r->product[0])
		bad |= json_object_set_new(ent, "product", json_string(r->product));
	if (r->order_number)
		bad |= json_object_set_new(ent, "order_number", json_integer(r->order_number));
	if (r->choice)
		bad |= json_object_set_new(ent, "choice", json_integer(r->choice));
	if (r->phone[0])
		bad |= json_object_set_new(ent, "phone", json_string(r->phone));
	if (r->payment[0])
		bad |= json_object_set_new(ent, "payment", json_string(r->payment));
	if (r->yes_no != NLP_YN_NONE)
		bad |= json_object_set_new(ent, "yes_no",
					   json_string(r->yes_no == NLP_YN_YES ? "yes" : "no"));
	if (r->topic[0])
		bad |= json_object_set_new(ent, "topic", json_string(r->topic));
	if (r->place[0])
		bad |= json_object_set_new(ent, "place", json_string(r->place));
	if (r->payment_ref[0])
		bad |= json_object_set_new(ent, "payment_ref", json_string(r->payment_ref));
	if (r->alt[0] != NLP_INTENT_UNKNOWN) {
		json_t *alts = json_array();
		bad |= json_object_set_new(ent, "alternatives", alts);
		for (int k = 0; alts && k < NLP_ALTS; k++) {
			if (r->alt[k] == NLP_INTENT_UNKNOWN)
				continue;
			bad |= json_array_append_new(
				alts, json_pack("{s:s, s:f}", "intent", nlp_intent_name(r->alt[k]),
						"confidence", r->alt_confidence[k]));
		}
	}
	bad |= json_object_set_new(root, "intent", json_string(nlp_intent_name(r->intent)));
	bad |= json_object_set_new(root, "confidence", json_real(r->confidence));
	bad |= json_object_set_new(root, "entities", ent);
	ent = NULL;
	bad |= json_object_set_new(root, "lang", json_string(r->lang));
	if (bad)
		goto fail;
	return root;
fail:
	json_decref(ent);
	json_decref(root);
	return NULL;
}

static char *cli_parse_read_stdin(size_t *len)
{
	char *buf = malloc(CLI_PARSE_TEXT_MAX + 1);
	size_t n;
	if (!buf)
		return NULL;
	n = fread(buf, 1, CLI_PARSE_TEXT_MAX, stdin);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	*len = n;
	return buf;
}

int cli_parse(int argc, char **argv)
{
	const char *lang = NULL;
	enum nlp_expect expect = NLP_EXPECT_NONE;
	struct nlp *nlp = NULL;
	struct nlp_reading r;
	char err[512], *text = NULL, *dump = NULL;
	size_t len = 0;
	json_t *j = NULL;
	int i, rc = 2;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			cli_parse_usage(stdout);
			rc = 0;
			goto out;
		} else if (strcmp(a, "--lang") == 0 || strncmp(a, "--lang=", 7) == 0) {
			lang = a[6] == '=' ? a + 7 : (i + 1 < argc ? argv[++i] : NULL);
			if (!lang || strlen(lang) != 2 || lang[0] < 'a' || lang[0] > 'z' ||
			    lang[1] < 'a' || lang[1] > 'z') {
				fprintf(stderr, "ccgw parse: --lang needs a two-letter code such "
						"as en or sw\n");
				goto out;
			}
		} else if (strcmp(a, "--expect") == 0 || strncmp(a, "--expect=", 9) == 0) {
			const char *e = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
			size_t k, nk = sizeof(cli_parse_expect_names) / sizeof(*cli_parse_expect_names);
			for (k = 0; e && k < nk; k++)
				if (strcmp(e, cli_parse_expect_names[k]) == 0)
					break;
			if (!e || k == nk) {
				fprintf(stderr, "ccgw parse: --expect takes quantity, yes_no, name, "
						"address, phone, payment or choice\n");
				goto out;
			}
			expect = (enum nlp_expect)k;
		} else if (a[0] == '-' && a[1] == '-') {
			fprintf(stderr, "ccgw parse: unknown option %s\n", a);
			cli_parse_usage(stderr);
			goto out;
		} else {
			break;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "ccgw parse: missing TEXT\n");
		cli_parse_usage(stderr);
		goto out;
	}
	if (i == argc - 1 && strcmp(argv[i], "-") == 0) {
		text = cli_parse_read_stdin(&len);
	} else { /* the words of TEXT may come as separate arguments */
		size_t total = 1;
		for (int k = i; k < argc; k++)
			total += strlen(argv[k]) + 1;
		text = malloc(total);
		if (text) {
			text[0] = '\0';
			for (int k = i; k < argc; k++) {
				if (k > i)
					strcat(text, " ");
				strcat(text, argv[k]);
			}
			len = strlen(text);
		}
	}
	rc = 1;
	if (!text) {
		fprintf(stderr, "ccgw parse: out of memory\n");
		goto out;
	}
	nlp = nlp_new(NULL, err, sizeof(err));
	if (!nlp) {
		fprintf(stderr, "ccgw parse: %s\n", err);
		goto out;
	}
	nlp_parse(nlp, text, len, lang, expect, &r);
	j = cli_parse_json(&r);
	dump = j ? json_dumps(j, JSON_REAL_PRECISION(3)) : NULL;
	if (!dump) {
		fprintf(stderr, "ccgw parse: out of memory\n");
		goto out;
	}
	if (printf("%s\n", dump) < 0 || fflush(stdout) != 0) {
		fprintf(stderr, "ccgw parse: cannot write to stdout\n");
		goto out;
	}
	rc = 0;
out:
	free(dump);
	json_decref(j);
	nlp_free(nlp);
	free(text);
	return rc;
}
