/*
 * shop_settings.c: reads tenants.settings with defaults (see shop_settings.h) and answers
 * whether the shop is open now in its own time zone (PostgreSQL does the time zone work).
 */
#include "shop_settings.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pg.h"
#include "shop_faq.h"
#include "shop_zones.h"

static void copy_str(char *dst, size_t len, const json_t *v, const char *def)
{
	const char *s = json_is_string(v) ? json_string_value(v) : def;

	snprintf(dst, len, "%s", s ? s : "");
}

static const struct {
	const char *code, *label, *label_sw, *instr, *instr_sw;
} known_payments[] = {
    {"cash_on_delivery", "Cash on delivery", "Pesa taslimu ukipokea",
     "Pay the rider in cash when your order arrives.",
     "Mlipe msafirishaji pesa taslimu oda yako ikifika."},
    {"mpesa", "M-Pesa", "M-Pesa", "", ""},
    {"bank_transfer", "Bank transfer", "Uhamisho wa benki", "", ""},
};

static void add_payment(struct shop_settings *s, const json_t *it, const char *code)
{
	const char *label = json_string_value(json_object_get(it, "label"));
	const char *label_sw = json_string_value(json_object_get(it, "label_sw"));
	const char *instr = json_string_value(json_object_get(it, "instructions"));
	const char *instr_sw = json_string_value(json_object_get(it, "instructions_sw"));
	struct shop_payment *p;
	size_t i;

	if (s->npayments >= SHOP_MAX_PAYMENT)
		return;
	for (i = 0; i < sizeof(known_payments) / sizeof(known_payments[0]); i++) {
		if (strcmp(code, known_payments[i].code) != 0)
			continue;
		if (!label || !*label)
			label = known_payments[i].label;
		if (!label_sw || !*label_sw)
			label_sw = known_payments[i].label_sw;
		if (!instr) {
			instr = known_payments[i].instr;
			if (!instr_sw)
				instr_sw = known_payments[i].instr_sw;
		}
	}
	p = &s->payments[s->npayments++];
	snprintf(p->code, sizeof(p->code), "%s", code);
	snprintf(p->label, sizeof(p->label), "%s", label && *label ? label : code);
	snprintf(p->label_sw, sizeof(p->label_sw), "%s",
	         label_sw && *label_sw ? label_sw : p->label);
	snprintf(p->instructions, sizeof(p->instructions), "%s", instr ? instr : "");
	snprintf(p->instructions_sw, sizeof(p->instructions_sw), "%s",
	         instr_sw && *instr_sw ? instr_sw : p->instructions);
}

const char *shop_payment_label(const struct shop_payment *p, int sw)
{
	return sw ? p->label_sw : p->label;
}

const char *shop_payment_instructions(const struct shop_payment *p, int sw)
{
	return sw ? p->instructions_sw : p->instructions;
}

static void parse_payments(struct shop_settings *s, const json_t *arr)
{
	size_t i;
	const json_t *it;

	if (json_is_array(arr)) {
		json_array_foreach(arr, i, it)
		{
			const char *code = json_is_string(it)
			                       ? json_string_value(it)
			                       : json_string_value(json_object_get(it, "code"));

			if (!code || !*code || strlen(code) >= sizeof(s->payments[0].code) ||
			    shop_settings_payment(s, code))
				continue;
			add_payment(s, json_is_object(it) ? it : NULL, code);
		}
	}
	if (s->npayments == 0)
		add_payment(s, NULL, "cash_on_delivery");
}

/* Loads the settings and the row's version (xmin) into s and version (16 bytes). */
static int settings_read(PGconn *conn, const char *tenant_id, struct shop_settings *s,
                         char *version)
{
	const char *params[1] = {tenant_id};
	PGresult *res;
	json_t *set = NULL, *v;
	int rc = -1;

	memset(s, 0, sizeof(*s));
	res = pg_exec(conn,
	              "SELECT name, currency, settings::text, xmin::text,"
	              " (SELECT COALESCE(jsonb_agg(jsonb_build_object('id', f.id, 'question',"
	              "  f.question, 'examples', f.examples, 'answer', f.answer, 'answer_sw',"
	              "  f.answer_sw) ORDER BY f.created_at, f.id), '[]'::jsonb)::text"
	              "  FROM faqs f WHERE f.tenant_id = tenants.id)"
	              " FROM tenants WHERE id = $1",
	              1, params);
	if (!res)
		return -1;
	if (PQntuples(res) != 1) {
		rc = -2;
		goto out;
	}
	snprintf(version, SHOP_VERSION_LEN, "%s", PQgetvalue(res, 0, 3));
	snprintf(s->name, sizeof(s->name), "%s", PQgetvalue(res, 0, 0));
	/* the shop's currency is tenants.currency only, the column the admin API gives new
	 * products by default: a "currency" key in settings is not read, so the two can never
	 * disagree about which products the shop can sell */
	snprintf(s->currency, sizeof(s->currency), "%s", PQgetvalue(res, 0, 1));
	set = json_loads(PQgetvalue(res, 0, 2), 0, NULL);
	if (!json_is_object(set)) {
		json_decref(set);
		set = json_object();
	}
	v = json_object_get(set, "tax_bp");
	s->tax_bp =
	    json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 10000
	        ? (long)json_integer_value(v)
	        : 0;
	v = json_object_get(set, "delivery_fee_minor");
	s->delivery_fee_minor = json_is_integer(v) && json_integer_value(v) >= 0 &&
	                                json_integer_value(v) <= SHOP_MONEY_MAX
	                            ? (long)json_integer_value(v)
	                            : 0;
	v = json_object_get(set, "handoff_timeout_minutes");
	s->handoff_timeout_minutes =
	    json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 7 * 24 * 60
	        ? (long)json_integer_value(v)
	        : 30;
	parse_payments(s, json_object_get(set, "payment_methods"));
	copy_str(s->welcome_text, sizeof(s->welcome_text), json_object_get(set, "welcome_text"),
	         "");
	copy_str(s->welcome_text_sw, sizeof(s->welcome_text_sw),
	         json_object_get(set, "welcome_text_sw"), s->welcome_text);
	copy_str(s->time_zone, sizeof(s->time_zone), json_object_get(set, "time_zone"), "");
	v = json_object_get(set, "business_hours");
	if (json_is_object(v) && json_object_size(v) > 0)
		s->business_hours = json_incref(v);
	v = json_object_get(set, "delivery_zones");
	if (json_is_array(v) && json_array_size(v) > 0) {
		s->delivery_zones = json_incref(v);
		zone_prepare(s->delivery_zones);
	}
	copy_str(s->pickup_address, sizeof(s->pickup_address), json_object_get(set, "pickup_address"),
	         "");
	copy_str(s->returns_text, sizeof(s->returns_text), json_object_get(set, "returns_text"), "");
	copy_str(s->returns_text_sw, sizeof(s->returns_text_sw),
	         json_object_get(set, "returns_text_sw"), s->returns_text);
	s->faqs = json_loads(PQgetvalue(res, 0, 4), 0, NULL);
	if (!json_is_array(s->faqs) || json_array_size(s->faqs) == 0) {
		json_decref(s->faqs);
		s->faqs = NULL;
	}
	faq_prepare(s->faqs);
	rc = 0;
out:
	json_decref(set);
	PQclear(res);
	return rc;
}

int shop_settings_load(PGconn *conn, const char *tenant_id, struct shop_settings *s)
{
	char version[SHOP_VERSION_LEN];

	return settings_read(conn, tenant_id, s, version);
}

/* ---- the cache ----
 *
 * A message needs its shop's settings; they change rarely. Each process keeps the settings
 * of the shops it served last, with the version of the tenant row they came from (its xmin,
 * which every UPDATE of the row changes). The turn reads that version with the conversation,
 * in the statement it runs anyway, so a change is seen by the very next message. */

#define SHOP_CACHE_SIZE 256

struct shop_cached {
	char tenant_id[37];
	char version[SHOP_VERSION_LEN];
	struct shop_settings s; /* business_hours owned */
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shop_cached cache[SHOP_CACHE_SIZE];
static size_t cache_next; /* the slot replaced next when the tenant is not there */

/* A copy of src the caller owns (its JSON deep-copied: jansson values are not shared
 * between threads). */
static int settings_copy(struct shop_settings *dst, const struct shop_settings *src)
{
	*dst = *src;
	dst->business_hours = src->business_hours ? json_deep_copy(src->business_hours) : NULL;
	dst->delivery_zones = src->delivery_zones ? json_deep_copy(src->delivery_zones) : NULL;
	dst->faqs = src->faqs ? json_deep_copy(src->faqs) : NULL;
	if ((src->business_hours && !dst->business_hours) ||
	    (src->delivery_zones && !dst->delivery_zones) || (src->faqs && !dst->faqs)) {
		shop_settings_clear(dst);
		return -1;
	}
	return 0;
}

static struct shop_cached *cache_find(const char *tenant_id)
{
	size_t i;

	for (i = 0; i < SHOP_CACHE_SIZE; i++)
		if (strcmp(cache[i].tenant_id, tenant_id) == 0)
			return &cache[i];
	return NULL;
}

int shop_settings_get(PGconn *conn, const char *tenant_id, const char *version,
                      struct shop_settings *s)
{
	char read_version[SHOP_VERSION_LEN];
	struct shop_cached *c;
	int rc;

	if (version && *version) {
		pthread_mutex_lock(&cache_lock);
		c = cache_find(tenant_id);
		rc = c && strcmp(c->version, version) == 0 ? settings_copy(s, &c->s) : 1;
		pthread_mutex_unlock(&cache_lock);
		if (rc <= 0)
			return rc;
	}
	rc = settings_read(conn, tenant_id, s, read_version);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&cache_lock);
	c = cache_find(tenant_id);
	if (!c) {
		c = &cache[cache_next];
		cache_next = (cache_next + 1) % SHOP_CACHE_SIZE;
	}
	shop_settings_clear(&c->s);
	snprintf(c->tenant_id, sizeof(c->tenant_id), "%s", tenant_id);
	snprintf(c->version, sizeof(c->version), "%s", read_version);
	if (settings_copy(&c->s, s) < 0)
		c->tenant_id[0] = '\0';
	pthread_mutex_unlock(&cache_lock);
	return 0;
}

void shop_settings_clear(struct shop_settings *s)
{
	json_decref(s->business_hours);
	json_decref(s->delivery_zones);
	json_decref(s->faqs);
	s->business_hours = s->delivery_zones = s->faqs = NULL;
}

const struct shop_payment *shop_settings_payment(const struct shop_settings *s, const char *code)
{
	int i;

	if (!code)
		return NULL;
	for (i = 0; i < s->npayments; i++)
		if (strcmp(s->payments[i].code, code) == 0)
			return &s->payments[i];
	return NULL;
}

long long shop_settings_tax(const struct shop_settings *s, long long subtotal_minor)
{
	/* (subtotal * bp + 5000) / 10000 without the product: it overflows past ~9 * 10^14 */
	if (subtotal_minor <= 0)
		return 0;
	return subtotal_minor / 10000 * s->tax_bp +
	       ((subtotal_minor % 10000) * s->tax_bp + 5000) / 10000;
}

static int parse_hhmm(const char *s, int *minutes)
{
	int h, m;

	if (sscanf(s, "%2d:%2d", &h, &m) != 2 || h < 0 || h > 24 || m < 0 || m > 59)
		return -1;
	*minutes = h * 60 + m;
	return 0;
}

int shop_settings_closed_now(PGconn *conn, const struct shop_settings *s, char *hours_text,
                             size_t len)
{
	static const char *const days[] = {"", "mon", "tue", "wed", "thu", "fri", "sat", "sun"};
	const char *tz = s->time_zone[0] ? s->time_zone : "UTC";
	const char *params[1] = {tz};
	PGresult *res;
	const json_t *today;
	int dow, now_min, open_min, close_min, rc = 0;
	char open_s[8], close_s[8];

	hours_text[0] = '\0';
	if (!s->business_hours)
		return 0;
	/* an unknown zone fails the statement: a savepoint keeps the transaction usable */
	if (pg_cmd(conn, "SAVEPOINT shop_hours", 0, NULL) < 0)
		return -1;
	res = pg_exec(conn,
	              "SELECT extract(isodow FROM now() AT TIME ZONE $1)::int,"
	              " (extract(hour FROM now() AT TIME ZONE $1) * 60 +"
	              "  extract(minute FROM now() AT TIME ZONE $1))::int",
	              1, params);
	if (!res) {
		log_warn(NULL, "settings: unknown time_zone '%s', business hours ignored", tz);
		return pg_cmd(conn, "ROLLBACK TO SAVEPOINT shop_hours", 0, NULL) < 0 ? -1 : 0;
	}
	if (pg_cmd(conn, "RELEASE SAVEPOINT shop_hours", 0, NULL) < 0) {
		PQclear(res);
		return -1;
	}
	dow = atoi(PQgetvalue(res, 0, 0));
	now_min = atoi(PQgetvalue(res, 0, 1));
	if (dow < 1 || dow > 7)
		goto out;
	today = json_object_get(s->business_hours, days[dow]);
	if (!json_is_string(today) || strcmp(json_string_value(today), "closed") == 0) {
		snprintf(hours_text, len, "closed");
		rc = 1;
		goto out;
	}
	if (sscanf(json_string_value(today), "%5[0-9:]-%5[0-9:]", open_s, close_s) != 2 ||
	    parse_hhmm(open_s, &open_min) < 0 || parse_hhmm(close_s, &close_min) < 0)
		goto out;
	if (now_min < open_min || now_min >= close_min) {
		snprintf(hours_text, len, "%s-%s", open_s, close_s);
		rc = 1;
	}
out:
	PQclear(res);
	return rc;
}
