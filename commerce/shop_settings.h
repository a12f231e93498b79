/*
 * shop_settings.h: a tenant's shop settings, read from tenants (name, currency: the one source
 * of the shop's currency) and the tenants.settings jsonb with defaults for every key: tax rate,
 * delivery fee, payment methods with their instructions, welcome text, business hours and time
 * zone. See docs/ENGINE.md.
 */
#ifndef CCGW_SHOP_SETTINGS_H
#define CCGW_SHOP_SETTINGS_H

#include <jansson.h>
#include <libpq-fe.h>

#define SHOP_MAX_PAYMENT 6
#define SHOP_MONEY_MAX   1000000000000000LL /* a larger delivery fee is not read (10^15) */

struct shop_payment {
	char code[32];  /* cash_on_delivery, mpesa, bank_transfer */
	char label[64]; /* shown on the button */
	char instructions[512];
	char label_sw[64]; /* the same in Swahili ("label_sw", "instructions_sw") */
	char instructions_sw[512];
};

struct shop_settings {
	char name[201];
	char currency[4]; /* tenants.currency */
	long tax_bp;      /* tax in basis points of the subtotal (1600 = 16%) */
	long delivery_fee_minor;
	struct shop_payment payments[SHOP_MAX_PAYMENT];
	int npayments;
	char welcome_text[512];    /* "" = the built-in greeting */
	char welcome_text_sw[512]; /* "welcome_text_sw", else welcome_text */
	char time_zone[64];        /* IANA name, "" = none */
	json_t *business_hours;    /* {"mon": "08:00-18:00", ..., "sun": "closed"} or NULL */
	long handoff_timeout_minutes; /* the bot takes a shopper back when nobody from the shop
	                               * answered a handoff this long; 0 = never (default 30) */
	/* issue 16: delivery zones, pick-up, returns and the seller's own questions */
	json_t *delivery_zones; /* [{"name", "aliases", "fee_minor", ...}] or NULL (shop_zones.h) */
	char pickup_address[301];  /* "" = no pick-up; else where shoppers collect their order */
	char returns_text[1024];   /* "" = none set */
	char returns_text_sw[1024];
	json_t *faqs; /* [{"id", "question", "examples", "answer", "answer_sw"}] (table faqs) or
	               * NULL; read with the settings: a faq change touches the tenant row */
};

/* Loads the settings of the transaction's tenant (app.tenant_id) into s. Returns 0, -1 on a
 * database error, -2 when the tenant row is not visible. Release with shop_settings_clear. */
int shop_settings_load(PGconn *conn, const char *tenant_id, struct shop_settings *s)
    __attribute__((warn_unused_result));
/* The same through this process's cache: version is the tenant row's xmin as text, read in
 * the caller's transaction ("" or NULL: read the row). A version that differs from the cached
 * one reads the row again. */
#define SHOP_VERSION_LEN 16
int shop_settings_get(PGconn *conn, const char *tenant_id, const char *version,
                      struct shop_settings *s) __attribute__((warn_unused_result));
void shop_settings_clear(struct shop_settings *s);

/* The payment method with this code, or NULL. */
const struct shop_payment *shop_settings_payment(const struct shop_settings *s, const char *code);

/* A payment method's label and instructions in English (sw 0) or Swahili (sw 1). */
const char *shop_payment_label(const struct shop_payment *p, int sw);
const char *shop_payment_instructions(const struct shop_payment *p, int sw);

/* Out of hours right now? 1 yes, 0 no (also when no hours are set), -1 database error.
 * When yes, hours_text (len bytes) receives today's opening hours or "closed". */
int shop_settings_closed_now(PGconn *conn, const struct shop_settings *s, char *hours_text,
                             size_t len) __attribute__((warn_unused_result));

/* Tax of a subtotal, rounded half up; exact for any subtotal (no overflow). */
long long shop_settings_tax(const struct shop_settings *s, long long subtotal_minor);

#endif

/* ---- checking a change of the settings (PATCH /api/v1/settings) ---- */

#include "jfield.h"

/* The keys a shop's settings may hold (NULL-terminated), besides "name" (tenants.name). */
extern const char *const shop_settings_keys[];

/*
 * Checks a change: an object of settings keys (or "name") whose values replace the stored
 * ones, null removing a key (its default applies again; "name" cannot be removed). Every key
 * is checked field by field: ranges, types, lengths (payment_methods' codes, business_hours'
 * days and "HH:MM-HH:MM", delivery_zones' names unique, fees and coordinates). The time
 * zone's name is left to the caller (the database knows them). Returns 0, or -1 with err
 * naming the field ("delivery_zones[1].fee_minor").
 */
int shop_settings_check(const json_t *change, struct jfield_error *err)
    __attribute__((warn_unused_result));
