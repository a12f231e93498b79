/*
 * test_nlp_corpus.c: reads tests/data/nlp/corpus.tsv (messages as shoppers type them, with
 * the reading we expect), parses every line and fails when intent or quantity accuracy is
 * under 95%; also scores tests/data/nlp/holdout.tsv and holdout2.tsv (never used to tune
 * the lexicon; fails only under 80% there) and holdout3.tsv (issue 16's held-out set, see
 * test_holdout3), holdout4.tsv to holdout9.tsv (issue 16 part 5's, see
 * test_holdout4 to test_holdout9; all development sets now), holdout10.tsv (the eighth
 * round's blind set, see test_holdout10) and train2.tsv to train4.tsv
 * (the extra training lines, see test_train2 to test_train4). Prints every miss, a confusion
 * table of intents, product, order number, language and topic/place/code accuracy, and how
 * the "did you mean" choices did.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nlp.h"

#define CORPUS_LINE_MAX 1024

struct corpus_stats {
	size_t rows, intent_ok, qty_ok, product_ok, order_ok, lang_ok, extra_ok;
	size_t offered, asked; /* wrong but offered as "did you mean"; readings that ask */
	size_t confusion[NLP_INTENT_COUNT][NLP_INTENT_COUNT];
};

static enum nlp_intent corpus_intent(const char *name)
{
	for (int k = 0; k < NLP_INTENT_COUNT; k++)
		if (strcmp(name, nlp_intent_name((enum nlp_intent)k)) == 0)
			return (enum nlp_intent)k;
	return NLP_INTENT_COUNT;
}

static enum nlp_expect corpus_expect(const char *s)
{
	static const char *const names[] = { "-",	"quantity", "yes_no", "name",
					     "address", "phone",    "payment", "choice" };
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		if (strcmp(s, names[k]) == 0)
			return (enum nlp_expect)k;
	return (enum nlp_expect)-1;
}

/* The optional 8th column, "topic=delivery,place=mombasa,ref=QGH7XK2M1P": 1 when the
 * reading's topic, place and payment_ref are exactly those (absent keys: empty). */
static int corpus_extra_ok(const char *col, const struct nlp_reading *r)
{
	char want[3][128] = { "", "", "" };
	static const char *const keys[3] = { "topic=", "place=", "ref=" };
	const char *p = col;

	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		for (int k = 0; k < 3; k++) {
			size_t kl = strlen(keys[k]);
			if (n > kl && n - kl < sizeof(want[k]) && strncmp(p, keys[k], kl) == 0) {
				memcpy(want[k], p + kl, n - kl);
				want[k][n - kl] = '\0';
			}
		}
		p = end ? end + 1 : NULL;
	}
	return strcmp(want[0], r->topic) == 0 && strcmp(want[1], r->place) == 0 &&
	       strcmp(want[2], r->payment_ref) == 0;
}

/* Scores one labelled file; fills *intent_pct and *qty_pct (and *graceful_pct when not NULL:
 * the right intent read, or offered among the two "did you mean" choices); returns the
 * number of rows. */
static size_t score_file(const char *path, double *intent_pct, double *qty_pct,
			 double *graceful_pct)
{
	struct nlp *nlp;
	char err[256] = "", line[CORPUS_LINE_MAX];
	struct corpus_stats *st = calloc(1, sizeof(*st));
	FILE *fp;
	size_t lineno = 0;
	double ia, qa;
	size_t rows;

	assert_non_null(st);
	nlp = nlp_new(NULL, err, sizeof(err));
	if (!nlp)
		fail_msg("nlp_new: %s", err);
	fp = fopen(path, "r");
	if (!fp)
		fail_msg("cannot open %s", path);
	printf("%s\nmisses (text | expected -> got):\n", path);
	while (fgets(line, sizeof(line), fp)) {
		char *f[8] = {0};
		size_t nf = 0;
		char *p = line;
		struct nlp_reading r;
		enum nlp_intent want;
		enum nlp_expect ex;
		int ok_i, ok_q, ok_p, ok_o, ok_l, ok_x;
		long wq = 0;
		int wqs = NLP_QTY_NONE;
		long wo = 0;

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if ((line[0] == '#' && line[1] == ' ') || line[0] == '\0')
			continue;
		while (nf < 8) {
			f[nf++] = p;
			p = strchr(p, '\t');
			if (!p)
				break;
			*p++ = '\0';
		}
		if (nf != 7 && nf != 8)
			fail_msg("corpus line %zu: expected 7 or 8 columns, got %zu", lineno, nf);
		want = corpus_intent(f[1]);
		ex = corpus_expect(f[6]);
		if (want == NLP_INTENT_COUNT || (int)ex < 0)
			fail_msg("corpus line %zu: bad intent '%s' or expect '%s'", lineno, f[1],
				 f[6]);
		if (strcmp(f[2], "-") != 0) {
			wq = strtol(f[2], NULL, 10);
			wqs = (wq >= 1 && wq <= NLP_QTY_MAX) ? NLP_QTY_OK : NLP_QTY_INVALID;
		}
		if (strcmp(f[4], "-") != 0)
			wo = strtol(f[4], NULL, 10);

		nlp_parse(nlp, f[0], strlen(f[0]), NULL, ex, &r);
		ok_i = r.intent == want;
		ok_q = (int)r.quantity_state == wqs && (wqs == NLP_QTY_NONE || r.quantity == wq);
		ok_p = strcmp(f[3], "-") == 0 ? r.product[0] == '\0' : strcmp(r.product, f[3]) == 0;
		ok_o = r.order_number == wo;
		ok_l = strcmp(r.lang, f[5]) == 0;
		ok_x = corpus_extra_ok(nf == 8 ? f[7] : "", &r);
		st->rows++;
		st->intent_ok += ok_i;
		st->qty_ok += ok_q;
		st->product_ok += ok_p;
		st->order_ok += ok_o;
		st->lang_ok += ok_l;
		st->extra_ok += ok_x;
		st->confusion[want][r.intent]++;
		st->asked += r.alt[0] != NLP_INTENT_UNKNOWN;
		st->offered += !ok_i && want != NLP_INTENT_UNKNOWN &&
			       (r.alt[0] == want || r.alt[1] == want);
		if (!ok_i || !ok_q || !ok_p || !ok_o || !ok_l || !ok_x)
			printf("  %-40s | %s q=%s p=%s o=%s %s %s -> %s q=%ld%s p=%s o=%ld %s "
			       "topic=%s place=%s ref=%s (%.2f)\n",
			       f[0], f[1], f[2], f[3], f[4], f[5], nf == 8 ? f[7] : "",
			       nlp_intent_name(r.intent), r.quantity,
			       r.quantity_state == NLP_QTY_INVALID ? "!" :
			       r.quantity_state == NLP_QTY_NONE ? "-" : "",
			       r.product[0] ? r.product : "-", r.order_number, r.lang, r.topic,
			       r.place, r.payment_ref, r.confidence);
	}
	fclose(fp);

	printf("\nconfusion (rows: expected, columns: got; initials of the intents)\n%18s", "");
	for (int g = 0; g < NLP_INTENT_COUNT; g++)
		printf(" %3.3s", nlp_intent_name((enum nlp_intent)g));
	printf("\n");
	for (int w = 0; w < NLP_INTENT_COUNT; w++) {
		printf("%18s", nlp_intent_name((enum nlp_intent)w));
		for (int g = 0; g < NLP_INTENT_COUNT; g++)
			if (st->confusion[w][g])
				printf(" %3zu", st->confusion[w][g]);
			else
				printf("   .");
		printf("\n");
	}
	ia = 100.0 * (double)st->intent_ok / (double)st->rows;
	qa = 100.0 * (double)st->qty_ok / (double)st->rows;
	printf("\n%zu messages: intent %.1f%%, quantity %.1f%%, product %.1f%%, order number "
	       "%.1f%%, language %.1f%%, topic/place/payment ref %.1f%%\n",
	       st->rows, ia, qa, 100.0 * (double)st->product_ok / (double)st->rows,
	       100.0 * (double)st->order_ok / (double)st->rows,
	       100.0 * (double)st->lang_ok / (double)st->rows,
	       100.0 * (double)st->extra_ok / (double)st->rows);
	printf("unsure readings that ask \"did you mean\": %zu; the right intent among their two "
	       "choices: %zu; right or offered: %.1f%%\n",
	       st->asked, st->offered,
	       100.0 * (double)(st->intent_ok + st->offered) / (double)st->rows);
	if (graceful_pct)
		*graceful_pct = 100.0 * (double)(st->intent_ok + st->offered) / (double)st->rows;
	*intent_pct = ia;
	*qty_pct = qa;
	rows = st->rows;
	nlp_free(nlp);
	free(st);
	return rows;
}

static void test_corpus(void **state)
{
	double ia, qa;
	(void)state;
	assert_true(score_file(NLP_CORPUS, &ia, &qa, NULL) >= 600);
	assert_true(ia >= 95.0);
	assert_true(qa >= 95.0);
}

/* Messages written after the lexicon and never used to tune it: the figure to quote for
 * text the reader has not seen. The floor only catches a regression. */
static void test_holdout(void **state)
{
	double ia, qa;
	(void)state;
	assert_true(score_file(NLP_HOLDOUT, &ia, &qa, NULL) >= 100);
	assert_true(ia >= 80.0);
	assert_true(qa >= 80.0);
}

/* The second held-out set: the misses shoppers were reported to hit and new phrasings,
 * committed before the round of changes that fixed them. Same floor as the first. */
static void test_holdout2(void **state)
{
	double ia, qa;
	(void)state;
	assert_true(score_file(NLP_HOLDOUT2, &ia, &qa, NULL) >= 100);
	assert_true(ia >= 80.0);
	assert_true(qa >= 80.0);
}

/* Scores held-out set n (at least min_rows messages), prints its figures, and fails under
 * its floor or when offering "did you mean" reads worse than taking the reading. Returns the
 * quantity accuracy. */
static double check_holdout(int n, const char *path, size_t min_rows, double floor)
{
	double ia, qa, ga;

	assert_true(score_file(path, &ia, &qa, &ga) >= min_rows);
	printf("held-out set %d: intent %.1f%% (floor %.1f%%, corpus floor 95%%), right or offered "
	       "as \"did you mean\" %.1f%%, quantity %.1f%%\n",
	       n, ia, floor, ga, qa);
	assert_true(ia >= floor);
	assert_true(ga >= ia);
	return qa;
}

/* The third held-out set, written before the statistical fallback (issue 16) and never used
 * to train or tune it: measured once before the fallback (rules alone: 82.3% intent) and once
 * after (85.8%). Issue 16 part 5 then used it as a development set (its misses guided new
 * lexicon and corpus lines): 97.9% after, a tuned figure. The floor is the corpus floor. */
#define HOLDOUT3_FLOOR 95.0

static void test_holdout3(void **state)
{
	(void)state;
	assert_true(check_holdout(3, NLP_HOLDOUT3, 250, HOLDOUT3_FLOOR) >= 95.0);
}

/* The fourth held-out set (issue 16 part 5), written before any change of that round and
 * never used to train or tune anything: measured before the round (87.2% intent), at its end
 * (90.2%), and once more after three corpus lines were taken out again because they broke
 * wa_did_you_mean_test (89.8%; see docs/NLP.md). The next round (small talk, Sheng verb
 * forms, problems stated as facts) used it as its development set: 98.7%, tuned against it,
 * so the floor just under that figure only catches a regression. */
#define HOLDOUT4_FLOOR 98.5

static void test_holdout4(void **state)
{
	(void)state;
	check_holdout(4, NLP_HOLDOUT4, 200, HOLDOUT4_FLOOR);
}

/* The fifth held-out set (issue 16 part 5's third round): written blind by someone who read
 * neither the corpus nor the lexicon nor any earlier set, while the round's changes were made
 * by someone who never read it; measured once before the round (86.3% intent) and once after
 * (92.9%). Only its new phrasings are kept (see the file's header). The next round (Pidgin,
 * politeness around a request, problems stated as facts, amounts, the steadier trainer) used
 * it as its development set: 98.8%, tuned against it, so the floor just under that figure
 * only catches a regression; the blind figure of that round is holdout6's (docs/NLP.md). */
#define HOLDOUT5_FLOOR 98.5

static void test_holdout5(void **state)
{
	(void)state;
	check_holdout(5, NLP_HOLDOUT5, 150, HOLDOUT5_FLOOR);
}

/* The sixth held-out set (issue 16 part 5's fourth round): written blind, as the fifth was,
 * while that round's changes were made by someone who never read it; measured once before the
 * round (84.1% intent on its 289 new phrasings) and once after (89.6%). The next round
 * (answers in context, the steadier trainer with augmented examples, rivals offered as "did
 * you mean", the families of its misses) used it as its development set: 97.2%, tuned
 * against it, so the floor just under that figure only catches a regression; the blind
 * figure of that round is holdout7's, measured by the lead (docs/NLP.md). */
#define HOLDOUT6_FLOOR 97.0

static void test_holdout6(void **state)
{
	(void)state;
	check_holdout(6, NLP_HOLDOUT6, 280, HOLDOUT6_FLOOR);
}

/* The seventh held-out set (issue 16 part 5's fifth round): two blind writers' files, each
 * written without reading the corpus, the lexicon or an earlier held-out set, while that
 * round's changes were made by someone who never read them; the 584 lines whose text was in
 * none of those. Measured once before the round (86.5% intent) and once after (88.7%), as
 * docs/NLP.md reports. The sixth round (the writers' training lines in train2.tsv, a
 * classifier trusted more) used it as its development set: 96.2%, tuned against it, so the
 * floor just under that figure only catches a regression; the blind figure of that round is
 * holdout8's, measured by the lead (docs/NLP.md). */
#define HOLDOUT7_FLOOR 96.0

static void test_holdout7(void **state)
{
	(void)state;
	check_holdout(7, NLP_HOLDOUT7, 550, HOLDOUT7_FLOOR);
}

/* The extra training lines (issue 16 part 5's sixth round): written by three writers blind to
 * every held-out set, read by the trainer with the corpus. The rules were not tuned to them,
 * and the classifier learnt them, so their figure says how rules and classifier combine on
 * lines the model has seen, not how fresh text reads; the floor only catches a regression
 * (a line the combination reads wrongly though the model learnt it). */
#define TRAIN2_FLOOR 95.0

static void test_train2(void **state)
{
	double ia, qa;
	(void)state;
	assert_true(score_file(NLP_TRAIN2, &ia, &qa, NULL) >= 1000);
	printf("training lines (train2.tsv): intent %.1f%% (floor %.1f%%), quantity %.1f%%\n", ia,
	       TRAIN2_FLOOR, qa);
	assert_true(ia >= TRAIN2_FLOOR);
	assert_true(qa >= 95.0);
}

/* The eighth held-out set (issue 16 part 5's sixth round): two blind writers' files, each
 * written without reading the corpus, the lexicon, the round's training lines or an earlier
 * held-out set, while that round's changes were made by someone who never read them; the 486
 * lines whose text was in none of those. Measured once before the round (86.2% intent) and
 * once after (93.2%), as docs/NLP.md reports: the 95% corpus floor was not met on fresh text.
 * The seventh round (the writers' lines of train3.tsv, a lighter L2, rivals and product
 * intents settled by the model only at 0.95) used it as its development set: 96.9%, tuned
 * against it, so the floor just under that figure only catches a regression; the blind
 * figure of that round is holdout9's, measured by the lead (docs/NLP.md). */
#define HOLDOUT8_FLOOR 96.5

static void test_holdout8(void **state)
{
	(void)state;
	check_holdout(8, NLP_HOLDOUT8, 450, HOLDOUT8_FLOOR);
}

/* The ninth held-out set (issue 16 part 5's seventh round): two writers' files, each written
 * from a page of labelling conventions alone (without reading the project, the corpus, the
 * lexicon, the training lines or an earlier held-out set, and without running the reader),
 * while the round's changes were made by someone who never read them; the 623 lines whose
 * text was in none of those. Measured once before the round (88.4% intent, 90.2% right or
 * offered) and once after (92.3%, 93.9%), as docs/NLP.md reports: the 95% corpus floor is
 * still not met on fresh text. The eighth round (the writers' lines of train4.tsv, L2 3e-6,
 * small talk and complaints with a code read by the model) used it as its development set:
 * 97.1%, tuned against it (lexicon lines were drawn from its misses), so the floor just under
 * that figure only catches a regression; the blind figure of that round is holdout10's,
 * measured by the lead (docs/NLP.md). */
#define HOLDOUT9_FLOOR 96.5

static void test_holdout9(void **state)
{
	(void)state;
	check_holdout(9, NLP_HOLDOUT9, 600, HOLDOUT9_FLOOR);
}

/* The tenth held-out set (issue 16 part 5's eighth round): two writers' files, written from
 * the page of labelling conventions alone (tests/data/nlp/conventions.md), without reading the
 * project or running the reader, while the round's changes were made by someone who never read
 * them; the 563 lines whose text was in none of the other files. Measured once before the round
 * (93.3% intent, 94.0% right or offered) and once after (95.9%, 96.4%), as docs/NLP.md
 * reports: text the reader has never seen, read at the corpus floor. The floor is the corpus
 * floor: the "held-out figures printed by a test that fails below the corpus floor".
 * A later round that tunes against it makes it a development set and needs a new blind one. */
#define HOLDOUT10_FLOOR 95.0

static void test_holdout10(void **state)
{
	(void)state;
	check_holdout(10, NLP_HOLDOUT10, 550, HOLDOUT10_FLOOR);
}

/* The seventh round's training lines (train3.tsv): 2,196 lines by three more writers blind to
 * every held-out set, read by the trainer after the corpus and train2.tsv. As for train2.tsv,
 * the model learnt them, so the floor only catches a regression of how rules and classifier
 * combine. It is under the 95% of train2.tsv: 94.7% after the round, most misses being
 * answers in context the model never learns (expectation lines are left out of training) and
 * the rules read as a search: "the black one", "medium", "ile blue" with a choice asked (a
 * menu that asks a choice also takes a search, so a product phrase stays a search there). */
#define TRAIN3_FLOOR 94.5

static void test_train3(void **state)
{
	double ia, qa;
	(void)state;
	assert_true(score_file(NLP_TRAIN3, &ia, &qa, NULL) >= 2000);
	printf("training lines (train3.tsv): intent %.1f%% (floor %.1f%%), quantity %.1f%%\n", ia,
	       TRAIN3_FLOOR, qa);
	assert_true(ia >= TRAIN3_FLOOR);
	assert_true(qa >= 95.0);
}

/* The eighth round's training lines (train4.tsv): 2,247 lines by three more writers blind to
 * every held-out set, read by the trainer after train3.tsv. The model learnt them, so the floor
 * only catches a regression of how rules and classifier combine. It is low: 273 of them are
 * answers in context (the model never learns those; the rules read "the bigger one" as a
 * search) and many are complaints about charges and unusual adds that keywords of other
 * intents read ("delivery fee", a pasted code). */
#define TRAIN4_FLOOR 85.0

static void test_train4(void **state)
{
	double ia, qa;
	(void)state;
	assert_true(score_file(NLP_TRAIN4, &ia, &qa, NULL) >= 2000);
	printf("training lines (train4.tsv): intent %.1f%% (floor %.1f%%), quantity %.1f%%\n", ia,
	       TRAIN4_FLOOR, qa);
	assert_true(ia >= TRAIN4_FLOOR);
	assert_true(qa >= 95.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_holdout),
		cmocka_unit_test(test_holdout2),
		cmocka_unit_test(test_holdout3),
		cmocka_unit_test(test_holdout4),
		cmocka_unit_test(test_holdout5),
		cmocka_unit_test(test_holdout6),
		cmocka_unit_test(test_holdout7),
		cmocka_unit_test(test_holdout8),
		cmocka_unit_test(test_holdout9),
		cmocka_unit_test(test_holdout10),
		cmocka_unit_test(test_train2),
		cmocka_unit_test(test_train3),
		cmocka_unit_test(test_train4),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
