/*
 * shop_settings_check.c: checks a change of tenants.settings key by key before the admin API
 * stores it (see shop_settings.h), with the limits the engine reads them with, so that
 * nothing stored is silently cut or ignored.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "shop_settings.h"

const char *const shop_settings_keys[] = {
    "tax_bp",
    "delivery_fee_minor",
    "payment_methods",
    "welcome_text",
    "welcome_text_sw",
    "handoff_timeout_minutes",
    "business_hours",
    "time_zone",
    "delivery_zones",
    "pickup_address",
    "returns_text",
    "returns_text_sw",
    NULL,
};

#define ZONES_MAX   50
#define ALIASES_MAX 20

/* A string of at most maxchars characters and maxbytes bytes (the engine's buffers). */
static int text_field(const json_t *obj, const char *prefix, const char *name, int required,
                      size_t minchars, size_t maxchars, size_t maxbytes, struct jfield_error *err)
{
	const char *s = NULL;
	int rc = jfield_string(obj, prefix, name, required, minchars, maxchars, &s, err);

	if (rc == 1 && strlen(s) > maxbytes) {
		jfield_error_set(err, prefix, name, "must be at most %zu bytes", maxbytes);
		return -1;
	}
	return rc;
}

static int check_payments(const json_t *v, struct jfield_error *err)
{
	static const char *const fields[] = {"code",     "label",           "instructions",
	                                     "label_sw", "instructions_sw", NULL};
	char prefix[48];
	const char *codes[SHOP_MAX_PAYMENT];
	const json_t *it;
	size_t i, j;

	if (!json_is_array(v)) {
		jfield_error_set(err, "", "payment_methods", "must be an array");
		return -1;
	}
	if (json_array_size(v) < 1 || json_array_size(v) > SHOP_MAX_PAYMENT) {
		jfield_error_set(err, "", "payment_methods", "must hold 1 to %d methods",
		                 SHOP_MAX_PAYMENT);
		return -1;
	}
	json_array_foreach(v, i, it)
	{
		const char *code = NULL;
		json_t *wrap = NULL;

		snprintf(prefix, sizeof(prefix), "payment_methods[%zu].", i);
		if (json_is_string(it)) {
			wrap = json_pack("{s:O}", "code", it);
			it = wrap;
		}
		if (!json_is_object(it)) {
			snprintf(prefix, sizeof(prefix), "payment_methods[%zu]", i);
			jfield_error_set(err, "", prefix, "must be a code or an object");
			return -1;
		}
		if (jfield_known(it, prefix, fields, err) < 0 ||
		    jfield_string(it, prefix, "code", 1, 1, 31, &code, err) < 0 ||
		    text_field(it, prefix, "label", 0, 1, 60, 63, err) < 0 ||
		    text_field(it, prefix, "label_sw", 0, 1, 60, 63, err) < 0 ||
		    text_field(it, prefix, "instructions", 0, 0, 500, 511, err) < 0 ||
		    text_field(it, prefix, "instructions_sw", 0, 0, 500, 511, err) < 0) {
			json_decref(wrap);
			return -1;
		}
		if (!jfield_chars_ok(code, "_", 0)) {
			jfield_error_set(err, prefix, "code", "must be letters, digits and _ only");
			json_decref(wrap);
			return -1;
		}
		for (j = 0; j < i; j++)
			if (strcmp(codes[j], code) == 0) {
				jfield_error_set(err, prefix, "code", "\"%s\" is listed twice",
				                 code);
				json_decref(wrap);
				return -1;
			}
		codes[i] = code; /* the array's own string: wrap only borrowed it */
		json_decref(wrap);
	}
	return 0;
}

static int hhmm(const char *s)
{
	int h, m;
	char extra;

	if (sscanf(s, "%2d:%2d%c", &h, &m, &extra) != 2 || h < 0 || h > 24 || m < 0 || m > 59 ||
	    (h == 24 && m != 0) || strlen(s) != 5)
		return -1;
	return h * 60 + m;
}

static int check_hours(const json_t *v, struct jfield_error *err)
{
	static const char *const days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun", NULL};
	const char *key;
	const json_t *d;

	if (!json_is_object(v)) {
		jfield_error_set(err, "", "business_hours", "must be an object of days");
		return -1;
	}
	if (jfield_known(v, "business_hours.", days, err) < 0)
		return -1;
	json_object_foreach((json_t *)v, key, d)
	{
		const char *s = json_string_value(d);
		char open_s[8], close_s[8];
		int o, c;

		if (s && strcmp(s, "closed") == 0)
			continue;
		if (!s || strlen(s) != 11 || s[5] != '-') {
			jfield_error_set(err, "business_hours.", key,
			                 "must be \"HH:MM-HH:MM\" or \"closed\"");
			return -1;
		}
		snprintf(open_s, sizeof(open_s), "%.5s", s);
		snprintf(close_s, sizeof(close_s), "%.5s", s + 6);
		o = hhmm(open_s);
		c = hhmm(close_s);
		if (o < 0 || c < 0 || c <= o) {
			jfield_error_set(
			    err, "business_hours.", key,
			    "must be \"HH:MM-HH:MM\" with the opening before the closing");
			return -1;
		}
	}
	return 0;
}

static int check_coordinate(const json_t *z, const char *prefix, const char *name, double max,
                            struct jfield_error *err)
{
	const json_t *v = json_object_get(z, name);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_number(v) || json_number_value(v) < -max || json_number_value(v) > max) {
		jfield_error_set(err, prefix, name, "must be a number from %g to %g", -max, max);
		return -1;
	}
	return 1;
}

static int check_zones(const json_t *v, struct jfield_error *err)
{
	static const char *const fields[] = {"name",          "aliases",
	                                     "fee_minor",     "min_order_minor",
	                                     "delivery_time", "delivery_time_sw",
	                                     "latitude",      "longitude",
	                                     "radius_km",     NULL};
	char prefix[48], aprefix[128];
	const json_t *z, *a;
	size_t i, j, k;
	long long n;

	if (!json_is_array(v)) {
		jfield_error_set(err, "", "delivery_zones", "must be an array");
		return -1;
	}
	if (json_array_size(v) > ZONES_MAX) {
		jfield_error_set(err, "", "delivery_zones", "must hold at most %d zones",
		                 ZONES_MAX);
		return -1;
	}
	json_array_foreach(v, i, z)
	{
		const char *name = NULL;
		int la, lo;

		snprintf(prefix, sizeof(prefix), "delivery_zones[%zu].", i);
		if (!json_is_object(z)) {
			snprintf(prefix, sizeof(prefix), "delivery_zones[%zu]", i);
			jfield_error_set(err, "", prefix, "must be an object");
			return -1;
		}
		if (jfield_known(z, prefix, fields, err) < 0 ||
		    text_field(z, prefix, "name", 1, 1, 60, 120, err) < 0)
			return -1;
		name = json_string_value(json_object_get(z, "name"));
		for (j = 0; j < i; j++)
			if (strcasecmp(
			        json_string_value(json_object_get(json_array_get(v, j), "name")),
			        name) == 0) {
				jfield_error_set(err, prefix, "name", "\"%s\" is listed twice",
				                 name);
				return -1;
			}
		if (jfield_int(z, prefix, "fee_minor", 1, 0, SHOP_MONEY_MAX, &n, err) < 0 ||
		    jfield_int(z, prefix, "min_order_minor", 0, 0, SHOP_MONEY_MAX, &n, err) < 0 ||
		    text_field(z, prefix, "delivery_time", 0, 1, 100, 200, err) < 0 ||
		    text_field(z, prefix, "delivery_time_sw", 0, 1, 100, 200, err) < 0)
			return -1;
		a = json_object_get(z, "aliases");
		if (a && !json_is_null(a)) {
			if (!json_is_array(a) || json_array_size(a) > ALIASES_MAX) {
				jfield_error_set(err, prefix, "aliases",
				                 "must be an array of at most %d names",
				                 ALIASES_MAX);
				return -1;
			}
			for (k = 0; k < json_array_size(a); k++) {
				const json_t *wrap;
				int rc;

				snprintf(aprefix, sizeof(aprefix), "%saliases[%zu]", prefix, k);
				wrap = json_pack("{s:O}", "alias", json_array_get(a, k));
				rc = text_field(wrap, "", "alias", 1, 1, 60, 120, err);
				json_decref((json_t *)wrap);
				if (rc < 0) {
					char msg[sizeof(err->message)];

					snprintf(msg, sizeof(msg), "%s", err->message);
					/* "alias: must ..." -> "<prefix>aliases[k]: must ..." */
					jfield_error_set(err, "", aprefix, "%s",
					                 strncmp(msg, "alias: ", 7) == 0 ? msg + 7
					                                                 : msg);
					return -1;
				}
			}
		}
		la = check_coordinate(z, prefix, "latitude", 90, err);
		lo = check_coordinate(z, prefix, "longitude", 180, err);
		if (la < 0 || lo < 0)
			return -1;
		if (la != lo) {
			jfield_error_set(err, prefix, la ? "longitude" : "latitude",
			                 "is needed with %s", la ? "latitude" : "longitude");
			return -1;
		}
		if (check_coordinate(z, prefix, "radius_km", 20000, err) < 0)
			return -1;
		if (json_is_number(json_object_get(z, "radius_km")) &&
		    json_number_value(json_object_get(z, "radius_km")) <= 0) {
			jfield_error_set(err, prefix, "radius_km", "must be above 0");
			return -1;
		}
	}
	return 0;
}

int shop_settings_check(const json_t *change, struct jfield_error *err)
{
	const char *key;
	const json_t *v;
	long long n;
	size_t i;

	if (!json_is_object(change)) {
		jfield_error_set(err, "", "settings", "must be an object");
		return -1;
	}
	json_object_foreach((json_t *)change, key, v)
	{
		for (i = 0; shop_settings_keys[i]; i++)
			if (strcmp(key, shop_settings_keys[i]) == 0)
				break;
		if (strcmp(key, "name") == 0) {
			if (text_field(change, "", "name", 1, 1, 200, 200, err) < 0)
				return -1;
			continue;
		}
		if (!shop_settings_keys[i]) {
			char shown[48];

			snprintf(shown, sizeof(shown), "%s", key);
			jfield_error_set(err, "", shown, "is not a known setting");
			return -1;
		}
		if (json_is_null(v))
			continue; /* back to the default */
		if (strcmp(key, "tax_bp") == 0) {
			if (jfield_int(change, "", key, 1, 0, 10000, &n, err) < 0)
				return -1;
		} else if (strcmp(key, "delivery_fee_minor") == 0) {
			if (jfield_int(change, "", key, 1, 0, SHOP_MONEY_MAX, &n, err) < 0)
				return -1;
		} else if (strcmp(key, "handoff_timeout_minutes") == 0) {
			if (jfield_int(change, "", key, 1, 0, 7 * 24 * 60, &n, err) < 0)
				return -1;
		} else if (strcmp(key, "welcome_text") == 0 ||
		           strcmp(key, "welcome_text_sw") == 0) {
			if (text_field(change, "", key, 1, 1, 500, 511, err) < 0)
				return -1;
		} else if (strcmp(key, "time_zone") == 0) {
			if (text_field(change, "", key, 1, 1, 63, 63, err) < 0)
				return -1;
		} else if (strcmp(key, "pickup_address") == 0) {
			if (text_field(change, "", key, 1, 1, 300, 300, err) < 0)
				return -1;
		} else if (strcmp(key, "returns_text") == 0 ||
		           strcmp(key, "returns_text_sw") == 0) {
			if (text_field(change, "", key, 1, 1, 1000, 1023, err) < 0)
				return -1;
		} else if (strcmp(key, "payment_methods") == 0) {
			if (check_payments(v, err) < 0)
				return -1;
		} else if (strcmp(key, "business_hours") == 0) {
			if (check_hours(v, err) < 0)
				return -1;
		} else if (strcmp(key, "delivery_zones") == 0) {
			if (check_zones(v, err) < 0)
				return -1;
		}
	}
	return 0;
}
