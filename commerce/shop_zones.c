/*
 * shop_zones.c: which delivery zone an address or a point is in (see shop_zones.h). Names
 * and aliases are compared as whole words of the normalized text (nlp_normalize: case
 * folded, accents stripped), then by spelling (nlp_match_products) for near misses.
 */
#include "shop_zones.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "nlp.h"

#define ZONE_TEXT_MAX 768

void zone_words(const char *text, char *out, size_t outlen)
{
	char norm[ZONE_TEXT_MAX];
	size_t i, o = 0;
	int space = 1;

	if (!outlen)
		return;
	nlp_normalize(text ? text : "", text ? strlen(text) : 0, norm, sizeof(norm));
	for (i = 0; norm[i] && o + 1 < outlen; i++) {
		unsigned char c = (unsigned char)norm[i];
		int keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80;

		if (keep) {
			out[o++] = (char)c;
			space = 0;
		} else if (!space) {
			out[o++] = ' ';
			space = 1;
		}
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

/* The words of zone's i-th name (0: its name, then its aliases) into buf, from zone_prepare's
 * "_names" when there; "" for one that is not a string, NULL past the last. */
static const char *zone_name_words(const json_t *zone, size_t i, char *buf, size_t len)
{
	const json_t *ready = json_object_get(zone, "_names");
	const json_t *aliases = json_object_get(zone, "aliases"), *a;

	if (ready) {
		if (i >= json_array_size(ready))
			return NULL;
		snprintf(buf, len, "%s", json_string_value(json_array_get(ready, i)));
		return buf;
	}
	if (i > json_array_size(aliases))
		return NULL;
	a = i == 0 ? json_object_get(zone, "name") : json_array_get(aliases, i - 1);
	buf[0] = '\0';
	if (json_is_string(a))
		zone_words(json_string_value(a), buf, len);
	return buf;
}

void zone_prepare(json_t *zones)
{
	char buf[ZONE_TEXT_MAX / 4];
	size_t i, j;
	json_t *z;

	json_array_foreach(zones, i, z)
	{
		json_t *ready = json_array();

		for (j = 0; ready && zone_name_words(z, j, buf, sizeof(buf)); j++)
			json_array_append_new(ready, json_string(buf));
		if (ready)
			json_object_set_new(z, "_names", ready);
	}
}

/* Length of the longest name or alias of zone found as whole words in words; 0 none. */
static size_t zone_found(const json_t *zone, const char *words)
{
	char hay[ZONE_TEXT_MAX + 2], needle[ZONE_TEXT_MAX / 4 + 2], alias[ZONE_TEXT_MAX / 4];
	size_t i, best = 0;

	snprintf(hay, sizeof(hay), " %s ", words);
	for (i = 0; zone_name_words(zone, i, alias, sizeof(alias)); i++) {
		if (!alias[0])
			continue;
		snprintf(needle, sizeof(needle), " %s ", alias);
		if (strstr(hay, needle) && strlen(alias) > best)
			best = strlen(alias);
	}
	return best;
}

/* 1 when each name or alias of zone a found in words lies inside a name or alias of zone b
 * also found there ("nairobi" of one zone inside "nairobi cbd" of another). */
static int zone_found_within(const json_t *a, const json_t *b, const char *words)
{
	char hay[ZONE_TEXT_MAX + 2], na[ZONE_TEXT_MAX / 4 + 2], nb[ZONE_TEXT_MAX / 4 + 2];
	char alias[ZONE_TEXT_MAX / 4];
	size_t i, j;

	snprintf(hay, sizeof(hay), " %s ", words);
	for (i = 0; zone_name_words(a, i, alias, sizeof(alias)); i++) {
		int inside = 0;

		snprintf(na, sizeof(na), " %s ", alias);
		if (!alias[0] || !strstr(hay, na))
			continue;
		for (j = 0; !inside && zone_name_words(b, j, alias, sizeof(alias)); j++) {
			snprintf(nb, sizeof(nb), " %s ", alias);
			inside = alias[0] && strstr(hay, nb) && strstr(nb, na);
		}
		if (!inside)
			return 0;
	}
	return 1;
}

static void add_candidate(struct zone_match *out, int index)
{
	int i;

	for (i = 0; i < out->ncandidates; i++)
		if (out->candidates[i] == index)
			return;
	if (out->ncandidates < ZONE_CANDIDATES_MAX)
		out->candidates[out->ncandidates++] = index;
}

/* Zones with a name or alias spelled close to one or two neighbouring words of the text. */
static void near_spellings(const json_t *zones, const char *words, struct zone_match *out)
{
	const char *names[64];
	int owner[64];
	char buf[ZONE_TEXT_MAX], window[128];
	const char *w[32];
	size_t nw = 0, nnames = 0, i, j, k, nz = json_array_size(zones);
	struct nlp_match m[4];
	char *p;

	for (i = 0; i < nz && nnames < 64; i++) {
		const json_t *z = json_array_get(zones, i);
		const json_t *aliases = json_object_get(z, "aliases");

		if (json_is_string(json_object_get(z, "name")))
			names[nnames] = json_string_value(json_object_get(z, "name")),
			owner[nnames++] = (int)i;
		for (j = 0; j < json_array_size(aliases) && nnames < 64; j++)
			if (json_is_string(json_array_get(aliases, j)))
				names[nnames] = json_string_value(json_array_get(aliases, j)),
				owner[nnames++] = (int)i;
	}
	snprintf(buf, sizeof(buf), "%s", words);
	for (p = strtok(buf, " "); p && nw < 32; p = strtok(NULL, " "))
		w[nw++] = p;
	for (i = 0; i < nw; i++) {
		for (k = 1; k <= 2 && i + k <= nw; k++) {
			size_t got;

			if (k == 1)
				snprintf(window, sizeof(window), "%s", w[i]);
			else
				snprintf(window, sizeof(window), "%s %s", w[i], w[i + 1]);
			if (strlen(window) < 4)
				continue;
			got = nlp_match_products(window, names, nnames, 0.72, m, 4);
			for (j = 0; j < got; j++)
				add_candidate(out, owner[m[j].index]);
		}
	}
}

void zone_match_text(const json_t *zones, const char *text, struct zone_match *out)
{
	char words[ZONE_TEXT_MAX];
	size_t i, j, nz = json_array_size(zones);
	size_t found[ZONE_CANDIDATES_MAX * 5];
	int kept = 0;

	memset(out, 0, sizeof(*out));
	out->index = -1;
	zone_words(text, words, sizeof(words));
	if (!words[0] || nz == 0)
		return;
	if (nz > sizeof(found) / sizeof(found[0]))
		nz = sizeof(found) / sizeof(found[0]);
	for (i = 0; i < nz; i++)
		found[i] = zone_found(json_array_get(zones, i), words);
	/* a zone found only inside a longer zone's name ("nairobi" in "nairobi cbd") is not
	 * another zone; two separate ones are ("mombasa or westlands") */
	for (i = 0; i < nz; i++) {
		int inside = 0;

		if (!found[i])
			continue;
		for (j = 0; j < nz && !inside; j++)
			if (j != i && found[j] > found[i])
				inside = zone_found_within(json_array_get(zones, i),
				                           json_array_get(zones, j), words);
		if (inside)
			continue;
		kept++;
		add_candidate(out, (int)i);
		if (found[i] > out->matched_len)
			out->matched_len = found[i];
	}
	if (kept == 1) {
		out->result = ZONE_MATCHED;
		out->index = out->candidates[0];
		out->ncandidates = 0;
		return;
	}
	if (kept > 1) {
		out->result = ZONE_UNSURE;
		return;
	}
	near_spellings(zones, words, out);
	out->result = out->ncandidates ? ZONE_UNSURE : ZONE_NONE;
}

double zone_distance_km(double lat1, double lon1, double lat2, double lon2)
{
	const double r = 6371.0, rad = 3.14159265358979323846 / 180.0;
	double dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
	double a = sin(dlat / 2) * sin(dlat / 2) +
	           cos(lat1 * rad) * cos(lat2 * rad) * sin(dlon / 2) * sin(dlon / 2);

	return 2 * r * atan2(sqrt(a), sqrt(1 - a));
}

int zone_match_point(const json_t *zones, double lat, double lon, struct zone_match *out)
{
	size_t i, nz = json_array_size(zones);
	double best = -1;
	int any = 0;

	memset(out, 0, sizeof(*out));
	out->index = -1;
	for (i = 0; i < nz; i++) {
		const json_t *z = json_array_get(zones, i);
		const json_t *la = json_object_get(z, "latitude"),
		             *lo = json_object_get(z, "longitude");
		const json_t *ra = json_object_get(z, "radius_km");
		double d,
		    radius = json_is_number(ra) ? json_number_value(ra) : ZONE_RADIUS_KM_DEFAULT;

		if (!json_is_number(la) || !json_is_number(lo))
			continue;
		any = 1;
		d = zone_distance_km(lat, lon, json_number_value(la), json_number_value(lo));
		if (d <= radius && (best < 0 || d < best)) {
			best = d;
			out->index = (int)i;
		}
	}
	if (!any)
		return -1;
	out->result = out->index >= 0 ? ZONE_MATCHED : ZONE_NONE;
	return 0;
}

const json_t *zone_by_name(const json_t *zones, const char *name, int *index)
{
	size_t i;

	for (i = 0; name && i < json_array_size(zones); i++) {
		const json_t *z = json_array_get(zones, i);
		const char *n = json_string_value(json_object_get(z, "name"));

		if (n && strcasecmp(n, name) == 0) {
			if (index)
				*index = (int)i;
			return z;
		}
	}
	return NULL;
}
