/*
 * bench_nlp.c: measures nlp_parse() throughput on one thread over the messages of the
 * labelled corpus (or a file given as argument, one message a line or TSV), and the
 * product matcher over a 30-name catalog, plain and with the lexicon's synonyms. Prints
 * parses per second and microseconds each.
 * Usage: bench_nlp [corpus.tsv] [seconds]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nlp.h"

#define BENCH_MAX_LINES 4096

static double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : NLP_CORPUS;
	double secs = argc > 2 ? atof(argv[2]) : 2.0;
	static char *lines[BENCH_MAX_LINES];
	static size_t lens[BENCH_MAX_LINES];
	static const char *const catalog[] = {
		"Red Ceramic Mug", "Blue Ceramic Mug", "Travel Mug", "Organic Honey 500g",
		"Organic Honey 1kg", "Black T-Shirt", "White T-Shirt", "Kitenge Dress",
		"Maxi Dress", "Kikoi Beach Wrap", "Leather Sandals", "Beaded Maasai Sandals",
		"Arabica Coffee Beans 250g", "Ground Coffee 500g", "Aloe Vera Soap",
		"Lavender Soap", "Shea Butter", "Green Tea", "Scented Candle", "Denim Jacket",
		"Cotton Shirt", "Kids Dress", "Sisal Basket", "Wooden Spoon Set",
		"Soapstone Bowl", "Canvas Tote Bag", "Rungu Key Holder", "Maasai Shuka",
		"Coconut Oil", "Macadamia Nuts" };
	char line[1024], err[256];
	size_t n = 0, total_bytes = 0;
	unsigned long long parses = 0, matches = 0;
	volatile long sink = 0;
	struct nlp *nlp;
	FILE *fp;
	double t0, t;

	nlp = nlp_new(NULL, err, sizeof(err));
	if (!nlp) {
		fprintf(stderr, "bench_nlp: %s\n", err);
		return 1;
	}
	fp = fopen(path, "r");
	if (!fp) {
		fprintf(stderr, "bench_nlp: cannot open %s\n", path);
		nlp_free(nlp);
		return 1;
	}
	while (n < BENCH_MAX_LINES && fgets(line, sizeof(line), fp)) {
		line[strcspn(line, "\t\r\n")] = '\0';
		if (!line[0] || (line[0] == '#' && line[1] == ' '))
			continue;
		lines[n] = strdup(line);
		lens[n] = strlen(line);
		total_bytes += lens[n];
		n++;
	}
	fclose(fp);
	if (n == 0) {
		fprintf(stderr, "bench_nlp: no messages in %s\n", path);
		nlp_free(nlp);
		return 1;
	}

	t0 = bench_now();
	do {
		for (size_t i = 0; i < n; i++) {
			struct nlp_reading r;
			nlp_parse(nlp, lines[i], lens[i], NULL, NLP_EXPECT_NONE, &r);
			sink += r.intent;
		}
		parses += n;
		t = bench_now() - t0;
	} while (t < secs);
	printf("nlp_parse: %zu messages (avg %.1f bytes), %llu parses in %.2f s: %.0f parses/s, "
	       "%.2f us each\n",
	       n, (double)total_bytes / (double)n, parses, t, (double)parses / t,
	       1e6 * t / (double)parses);

	t0 = bench_now();
	do {
		for (size_t i = 0; i < n; i++) {
			struct nlp_match m[3];
			sink += (long)nlp_match_products(lines[i], catalog, 30, 0.5, m, 3);
		}
		matches += n;
		t = bench_now() - t0;
	} while (t < secs / 2);
	printf("nlp_match_products: 30-name catalog, %.0f phrases/s, %.2f us each\n",
	       (double)matches / t, 1e6 * t / (double)matches);

	matches = 0;
	t0 = bench_now();
	do {
		for (size_t i = 0; i < n; i++) {
			struct nlp_match m[3];
			sink += (long)nlp_match_products_nlp(nlp, lines[i], catalog, 30, 0.5, m, 3);
		}
		matches += n;
		t = bench_now() - t0;
	} while (t < secs / 2);
	printf("nlp_match_products_nlp: 30-name catalog, %.0f phrases/s, %.2f us each\n",
	       (double)matches / t, 1e6 * t / (double)matches);

	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	nlp_free(nlp);
	return sink == -1;
}
