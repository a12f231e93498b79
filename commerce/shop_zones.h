/*
 * shop_zones.h: a shop's delivery zones (settings "delivery_zones": name, aliases in English
 * and Swahili, fee, optional minimum order, delivery time text and coordinates) and which one
 * an address or a shared location falls in. Pure: the zones are the settings' JSON array.
 */
#ifndef CCGW_SHOP_ZONES_H
#define CCGW_SHOP_ZONES_H

#include <jansson.h>

#define ZONE_CANDIDATES_MAX    10
#define ZONE_RADIUS_KM_DEFAULT 10.0

enum zone_result {
	ZONE_NONE = 0, /* in no zone: the shop does not deliver there */
	ZONE_MATCHED,  /* exactly one zone: index */
	ZONE_UNSURE,   /* maybe one of candidates (a near spelling, or two zones named) */
};

struct zone_match {
	enum zone_result result;
	int index;                           /* ZONE_MATCHED: the zone */
	int candidates[ZONE_CANDIDATES_MAX]; /* ZONE_UNSURE: the likeliest first */
	int ncandidates;
	size_t matched_len; /* length of the name or alias found in the text (0: none) */
};

/*
 * The zone of a typed address (or a question's place): a zone whose name or an alias appears
 * in the text as whole words is matched (the longest one wins: "nairobi cbd" over
 * "nairobi"; two different zones as long as each other are unsure); else a word or two of the
 * text close in spelling to a name or alias ("mombasaa", "westland") make the zone a
 * candidate (unsure); else none.
 */
void zone_match_text(const json_t *zones, const char *text, struct zone_match *out);

/*
 * The zone of a shared location: the nearest zone that has coordinates and whose radius
 * (radius_km, default ZONE_RADIUS_KM_DEFAULT) holds the point. Returns 0 with *out set, or -1
 * when no zone has coordinates (then match the location's name and address as text).
 */
int zone_match_point(const json_t *zones, double lat, double lon, struct zone_match *out);

/* Great-circle distance in kilometres. */
double zone_distance_km(double lat1, double lon1, double lat2, double lon2);

/* The zone called name (case-insensitive), or NULL; *index set when found and not NULL. */
const json_t *zone_by_name(const json_t *zones, const char *name, int *index);

/* Lower case, accents stripped, every character that is not a letter or digit a space,
 * single spaces, no space at either end (out of outlen bytes). */
void zone_words(const char *text, char *out, size_t outlen);

/* Reads every zone's name and aliases into words once ("_names"), so matching does not
 * normalize them again for every address (the settings cache keeps the result). */
void zone_prepare(json_t *zones);

#endif
