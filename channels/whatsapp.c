/*
 * whatsapp.c: WhatsApp Cloud API webhook parsing. Turns the JSON Meta POSTs (entry[] ->
 * changes[] -> value with metadata, contacts, messages, statuses, errors) into a wa_batch of
 * normalized inbound messages, delivery statuses and account errors. Pure: no I/O, no
 * database; the gateway routes each item by its phone_number_id.
 */
#include "whatsapp.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "money.h"

/* Parsing state: the batch being filled and the first error. */
struct wa_pctx {
	struct wa_batch *b;
	size_t cap_messages, cap_statuses, cap_errors;
	char *err;
	size_t errlen;
	int failed;
};

static void pctx_fail(struct wa_pctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void pctx_fail(struct wa_pctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->failed)
		return;
	c->failed = 1;
	if (!c->err || !c->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
}

/* A heap copy of obj[key] when it is a non-empty string; NULL otherwise (or on OOM, which
 * marks the context failed). */
static char *pctx_strdup(struct wa_pctx *c, const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	char *copy;

	if (!json_is_string(v) || json_string_length(v) == 0)
		return NULL;
	copy = strdup(json_string_value(v));
	if (!copy)
		pctx_fail(c, "out of memory");
	return copy;
}

static char *pctx_strdup_raw(struct wa_pctx *c, const char *s)
{
	char *copy;

	if (!s)
		return NULL;
	copy = strdup(s);
	if (!copy)
		pctx_fail(c, "out of memory");
	return copy;
}

/* Meta writes timestamps as decimal strings ("1700000000"); accept integers too. */
static int64_t wa_timestamp(const json_t *v)
{
	const char *s;
	char *end;
	long long n;

	if (json_is_integer(v))
		return json_integer_value(v) > 0 ? (int64_t)json_integer_value(v) : 0;
	if (!json_is_string(v))
		return 0;
	s = json_string_value(v);
	if (*s < '0' || *s > '9')
		return 0;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno || *end)
		return 0;
	return (int64_t)n;
}

/* A JSON number as long (integers, integral reals, or digit strings); def otherwise. */
static long wa_long(const json_t *v, long def)
{
	double d;

	if (json_is_integer(v))
		return (long)json_integer_value(v);
	if (json_is_real(v)) {
		d = json_real_value(v);
		if (d >= -1e15 && d <= 1e15)
			return (long)d;
		return def;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		long n;

		if (!*s)
			return def;
		errno = 0;
		n = strtol(s, &end, 10);
		if (errno || *end)
			return def;
		return n;
	}
	return def;
}

static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 4;
	p = realloc(*arr, ncap * size);
	if (!p)
		return -1;
	memset((char *)p + *cap * size, 0, (ncap - *cap) * size);
	*arr = p;
	*cap = ncap;
	return 0;
}

/* Currencies without minor units, for the informational price of catalog order lines. */
/* The profile name of the contact with this wa_id (value.contacts[]); the only contact when
 * none matches exactly (Meta may normalize the number differently); else NULL. */
static const char *contact_name_for(const json_t *contacts, const char *wa_id)
{
	size_t i;
	const json_t *ct, *name = NULL;

	if (!json_is_array(contacts))
		return NULL;
	json_array_foreach(contacts, i, ct)
	{
		const json_t *id = json_object_get(ct, "wa_id");
		const json_t *n = json_object_get(json_object_get(ct, "profile"), "name");

		if (!json_is_string(n) || json_string_length(n) == 0)
			continue;
		if (json_is_string(id) && strcmp(json_string_value(id), wa_id) == 0)
			return json_string_value(n);
		if (json_array_size(contacts) == 1)
			name = n;
	}
	return name ? json_string_value(name) : NULL;
}

static void msg_unsupported(struct wa_pctx *c, struct msg_inbound *m, const char *type)
{
	m->kind = MSG_KIND_UNSUPPORTED;
	free(m->media_type);
	m->media_type = pctx_strdup_raw(c, type);
}

static void parse_interactive(struct wa_pctx *c, struct msg_inbound *m, const json_t *obj)
{
	const json_t *it = json_object_get(obj, "type");
	const char *itype = json_is_string(it) ? json_string_value(it) : "";
	const json_t *reply = NULL;

	if (strcmp(itype, "button_reply") == 0 || strcmp(itype, "list_reply") == 0)
		reply = json_object_get(obj, itype);
	if (!json_is_object(reply) || !json_is_string(json_object_get(reply, "id"))) {
		msg_unsupported(c, m, *itype ? itype : "interactive");
		return;
	}
	m->kind = MSG_KIND_POSTBACK;
	m->payload = pctx_strdup(c, reply, "id");
	if (!m->payload)
		m->payload = pctx_strdup_raw(c, "");
	m->text = pctx_strdup(c, reply, "title");
}

static void parse_order(struct wa_pctx *c, struct msg_inbound *m, const json_t *order)
{
	const json_t *items = json_object_get(order, "product_items"), *it;
	size_t i, n = 0;

	if (!json_is_array(items) || json_array_size(items) == 0) {
		msg_unsupported(c, m, "order");
		return;
	}
	m->kind = MSG_KIND_CATALOG_ORDER;
	m->text = pctx_strdup(c, order, "text");
	m->lines = calloc(json_array_size(items), sizeof(*m->lines));
	if (!m->lines) {
		pctx_fail(c, "out of memory");
		return;
	}
	json_array_foreach(items, i, it)
	{
		struct msg_catalog_line *l = &m->lines[n];
		const json_t *cur = json_object_get(it, "currency");
		const json_t *price = json_object_get(it, "item_price");
		long qty = wa_long(json_object_get(it, "quantity"), 0);

		l->sku = pctx_strdup(c, it, "product_retailer_id");
		if (!l->sku)
			continue; /* a line without a retailer id cannot be matched to a product */
		l->quantity = qty;
		if (json_is_string(cur) && json_string_length(cur) == 3)
			memcpy(l->currency, json_string_value(cur), 4);
		if (json_is_number(price)) {
			double major = json_number_value(price);
			double factor = money_currency_decimals(l->currency) == 0 ? 1.0 : 100.0;

			if (major >= 0 && major < 1e13)
				l->price_minor = (long)llround(major * factor);
		}
		n++;
	}
	m->nlines = n;
	if (n == 0)
		msg_unsupported(c, m, "order");
}

static void parse_contacts_msg(struct wa_pctx *c, struct msg_inbound *m, const json_t *arr)
{
	const json_t *card = json_array_get(arr, 0);
	const json_t *name = json_object_get(card, "name");
	const json_t *phone = json_array_get(json_object_get(card, "phones"), 0);

	if (!json_is_object(card)) {
		msg_unsupported(c, m, "contacts");
		return;
	}
	m->kind = MSG_KIND_CONTACT;
	m->contact_name = pctx_strdup(c, name, "formatted_name");
	if (!m->contact_name)
		m->contact_name = pctx_strdup(c, name, "first_name");
	m->contact_phone = pctx_strdup(c, phone, "phone");
	if (!m->contact_phone)
		m->contact_phone = pctx_strdup(c, phone, "wa_id");
}

static void parse_body(struct wa_pctx *c, struct msg_inbound *m, const char *type,
                       const json_t *msg)
{
	const json_t *obj = json_object_get(msg, type);

	if (strcmp(type, "text") == 0) {
		m->text = pctx_strdup(c, obj, "body");
		if (json_is_string(json_object_get(obj, "body"))) {
			m->kind = MSG_KIND_TEXT;
			if (!m->text)
				m->text = pctx_strdup_raw(c, "");
		} else {
			msg_unsupported(c, m, type);
		}
	} else if (strcmp(type, "interactive") == 0) {
		parse_interactive(c, m, obj);
	} else if (strcmp(type, "button") == 0) {
		/* the quick reply of a template message */
		m->payload = pctx_strdup(c, obj, "payload");
		m->text = pctx_strdup(c, obj, "text");
		if (m->payload)
			m->kind = MSG_KIND_POSTBACK;
		else if (m->text)
			m->kind = MSG_KIND_TEXT;
		else
			msg_unsupported(c, m, type);
	} else if (strcmp(type, "location") == 0) {
		const json_t *lat = json_object_get(obj, "latitude");
		const json_t *lon = json_object_get(obj, "longitude");

		if (!json_is_number(lat) || !json_is_number(lon)) {
			msg_unsupported(c, m, type);
			return;
		}
		m->kind = MSG_KIND_LOCATION;
		m->latitude = json_number_value(lat);
		m->longitude = json_number_value(lon);
		m->location_name = pctx_strdup(c, obj, "name");
		m->location_address = pctx_strdup(c, obj, "address");
	} else if (strcmp(type, "contacts") == 0) {
		parse_contacts_msg(c, m, obj);
	} else if (strcmp(type, "order") == 0) {
		parse_order(c, m, obj);
	} else if (strcmp(type, "image") == 0 || strcmp(type, "audio") == 0 ||
	           strcmp(type, "video") == 0 || strcmp(type, "document") == 0 ||
	           strcmp(type, "sticker") == 0) {
		m->kind = MSG_KIND_MEDIA;
		m->media_type = pctx_strdup_raw(c, type);
		m->text = pctx_strdup(c, obj, "caption");
	} else if (strcmp(type, "reaction") == 0) {
		m->kind = MSG_KIND_REACTION;
		m->text = pctx_strdup(c, obj, "emoji"); /* absent when a reaction is removed */
		free(m->reply_to);
		m->reply_to = pctx_strdup(c, obj, "message_id");
	} else {
		/* "unsupported", "system", "request_welcome" and types Meta adds later */
		msg_unsupported(c, m, type);
	}
}

static void parse_message(struct wa_pctx *c, const json_t *msg, const char *pnid,
                          const json_t *contacts, const char *path, size_t idx)
{
	struct msg_inbound *m = NULL;
	const json_t *from = json_object_get(msg, "from");
	const json_t *id = json_object_get(msg, "id");
	const json_t *type = json_object_get(msg, "type");
	const char *name;
	struct wa_message *slot;

	if (!json_is_object(msg)) {
		pctx_fail(c, "%s.messages[%zu] is not an object", path, idx);
		return;
	}
	if (!json_is_string(from) || json_string_length(from) == 0) {
		pctx_fail(c, "%s.messages[%zu] has no \"from\" (the shopper's wa_id)", path, idx);
		return;
	}
	if (!json_is_string(id) || json_string_length(id) == 0) {
		pctx_fail(c, "%s.messages[%zu] has no \"id\" (wamid)", path, idx);
		return;
	}
	if (!json_is_string(type) || json_string_length(type) == 0) {
		pctx_fail(c, "%s.messages[%zu] has no \"type\"", path, idx);
		return;
	}
	if (grow((void **)&c->b->messages, &c->cap_messages, c->b->nmessages,
	         sizeof(*c->b->messages)) < 0 ||
	    !(m = msg_inbound_new())) {
		pctx_fail(c, "out of memory");
		return;
	}
	slot = &c->b->messages[c->b->nmessages++];
	slot->msg = m;
	slot->phone_number_id = pctx_strdup_raw(c, pnid);

	m->channel = MSG_CHANNEL_WHATSAPP;
	m->chat_id = pctx_strdup_raw(c, json_string_value(from));
	m->user_id = pctx_strdup_raw(c, json_string_value(from));
	m->phone = pctx_strdup_raw(c, json_string_value(from));
	m->message_id = pctx_strdup_raw(c, json_string_value(id));
	m->timestamp = wa_timestamp(json_object_get(msg, "timestamp"));
	name = contact_name_for(contacts, json_string_value(from));
	m->display_name = pctx_strdup_raw(c, name);
	m->reply_to = pctx_strdup(c, json_object_get(msg, "context"), "id");
	parse_body(c, m, json_string_value(type), msg);
}

static enum wa_status_kind status_kind(const char *s)
{
	if (strcmp(s, "sent") == 0)
		return WA_STATUS_SENT;
	if (strcmp(s, "delivered") == 0)
		return WA_STATUS_DELIVERED;
	if (strcmp(s, "read") == 0)
		return WA_STATUS_READ;
	if (strcmp(s, "failed") == 0)
		return WA_STATUS_FAILED;
	return WA_STATUS_OTHER;
}

/* Fills code/title/details from the first element of an errors[] array. */
static void first_error(struct wa_pctx *c, const json_t *errors, long *code, char **title,
                        char **details)
{
	const json_t *e = json_array_get(errors, 0);

	if (!json_is_object(e))
		return;
	*code = wa_long(json_object_get(e, "code"), 0);
	*title = pctx_strdup(c, e, "title");
	if (!*title)
		*title = pctx_strdup(c, e, "message");
	*details = pctx_strdup(c, json_object_get(e, "error_data"), "details");
}

static void parse_status(struct wa_pctx *c, const json_t *st, const char *pnid, const char *path,
                         size_t idx)
{
	const json_t *id = json_object_get(st, "id");
	const json_t *status = json_object_get(st, "status");
	struct wa_status *s;

	if (!json_is_object(st)) {
		pctx_fail(c, "%s.statuses[%zu] is not an object", path, idx);
		return;
	}
	if (!json_is_string(id) || json_string_length(id) == 0 || !json_is_string(status)) {
		pctx_fail(c, "%s.statuses[%zu] needs \"id\" and \"status\" strings", path, idx);
		return;
	}
	if (grow((void **)&c->b->statuses, &c->cap_statuses, c->b->nstatuses,
	         sizeof(*c->b->statuses)) < 0) {
		pctx_fail(c, "out of memory");
		return;
	}
	s = &c->b->statuses[c->b->nstatuses++];
	s->phone_number_id = pctx_strdup_raw(c, pnid);
	s->wamid = pctx_strdup_raw(c, json_string_value(id));
	s->status_name = pctx_strdup_raw(c, json_string_value(status));
	s->status = status_kind(json_string_value(status));
	s->recipient_id = pctx_strdup(c, st, "recipient_id");
	s->timestamp = wa_timestamp(json_object_get(st, "timestamp"));
	first_error(c, json_object_get(st, "errors"), &s->error_code, &s->error_title,
	            &s->error_details);
}

static void parse_account_errors(struct wa_pctx *c, const json_t *errors, const char *pnid)
{
	size_t i;
	const json_t *e;

	json_array_foreach(errors, i, e)
	{
		struct wa_account_error *ae;

		if (!json_is_object(e))
			continue;
		if (grow((void **)&c->b->errors, &c->cap_errors, c->b->nerrors,
		         sizeof(*c->b->errors)) < 0) {
			pctx_fail(c, "out of memory");
			return;
		}
		ae = &c->b->errors[c->b->nerrors++];
		ae->phone_number_id = pctx_strdup_raw(c, pnid);
		ae->code = wa_long(json_object_get(e, "code"), 0);
		ae->title = pctx_strdup(c, e, "title");
		if (!ae->title)
			ae->title = pctx_strdup(c, e, "message");
		ae->details = pctx_strdup(c, json_object_get(e, "error_data"), "details");
	}
}

static void parse_change(struct wa_pctx *c, const json_t *change, const char *path)
{
	const json_t *field = json_object_get(change, "field");
	const json_t *value = json_object_get(change, "value");
	const json_t *messages, *statuses, *errors, *pnid_j, *item;
	const char *pnid = NULL;
	size_t i;

	if (!json_is_object(change)) {
		pctx_fail(c, "%s is not an object", path);
		return;
	}
	if (field && !json_is_string(field)) {
		pctx_fail(c, "%s.field is not a string", path);
		return;
	}
	if (json_is_string(field) && strcmp(json_string_value(field), "messages") != 0) {
		c->b->nignored++; /* account_update, message_template_status_update, ... */
		return;
	}
	if (!json_is_object(value)) {
		pctx_fail(c, "%s.value is missing or not an object", path);
		return;
	}
	messages = json_object_get(value, "messages");
	statuses = json_object_get(value, "statuses");
	errors = json_object_get(value, "errors");
	if ((messages && !json_is_array(messages)) || (statuses && !json_is_array(statuses)) ||
	    (errors && !json_is_array(errors))) {
		pctx_fail(c, "%s.value: messages, statuses and errors must be arrays", path);
		return;
	}
	pnid_j = json_object_get(json_object_get(value, "metadata"), "phone_number_id");
	if (json_is_string(pnid_j) && json_string_length(pnid_j) > 0)
		pnid = json_string_value(pnid_j);
	if (!pnid && (json_array_size(messages) || json_array_size(statuses))) {
		pctx_fail(c, "%s.value.metadata.phone_number_id is missing", path);
		return;
	}
	json_array_foreach(messages, i, item)
	{
		parse_message(c, item, pnid, json_object_get(value, "contacts"), path, i);
		if (c->failed)
			return;
	}
	json_array_foreach(statuses, i, item)
	{
		parse_status(c, item, pnid, path, i);
		if (c->failed)
			return;
	}
	parse_account_errors(c, errors, pnid);
}

struct wa_batch *wa_webhook_parse(const char *body, size_t len, char *err, size_t errlen)
{
	struct wa_pctx c = {.err = err, .errlen = errlen};
	json_t *root = NULL;
	json_error_t jerr;
	const json_t *object, *entry, *e, *changes, *ch;
	size_t i, j;
	char path[96];

	if (err && errlen)
		err[0] = '\0';
	if (!body) {
		pctx_fail(&c, "empty body");
		goto fail;
	}
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		pctx_fail(&c, "body is not JSON: %s (line %d, column %d)", jerr.text, jerr.line,
		          jerr.column);
		goto fail;
	}
	if (!json_is_object(root)) {
		pctx_fail(&c, "body is not a JSON object");
		goto fail;
	}
	object = json_object_get(root, "object");
	if (!json_is_string(object) ||
	    strcmp(json_string_value(object), "whatsapp_business_account") != 0) {
		pctx_fail(&c, "not a WhatsApp Cloud API webhook: \"object\" must be "
		              "\"whatsapp_business_account\"");
		goto fail;
	}
	entry = json_object_get(root, "entry");
	if (!json_is_array(entry)) {
		pctx_fail(&c, "not a WhatsApp Cloud API webhook: \"entry\" array is missing");
		goto fail;
	}
	c.b = calloc(1, sizeof(*c.b));
	if (!c.b) {
		pctx_fail(&c, "out of memory");
		goto fail;
	}
	json_array_foreach(entry, i, e)
	{
		if (!json_is_object(e)) {
			pctx_fail(&c, "entry[%zu] is not an object", i);
			goto fail;
		}
		changes = json_object_get(e, "changes");
		if (!json_is_array(changes)) {
			pctx_fail(&c, "entry[%zu].changes array is missing", i);
			goto fail;
		}
		json_array_foreach(changes, j, ch)
		{
			snprintf(path, sizeof(path), "entry[%zu].changes[%zu]", i, j);
			parse_change(&c, ch, path);
			if (c.failed)
				goto fail;
		}
	}
	json_decref(root);
	return c.b;
fail:
	json_decref(root);
	wa_batch_free(c.b);
	return NULL;
}

void wa_batch_free(struct wa_batch *b)
{
	size_t i;

	if (!b)
		return;
	for (i = 0; i < b->nmessages; i++) {
		free(b->messages[i].phone_number_id);
		msg_inbound_free(b->messages[i].msg);
	}
	free(b->messages);
	for (i = 0; i < b->nstatuses; i++) {
		free(b->statuses[i].phone_number_id);
		free(b->statuses[i].wamid);
		free(b->statuses[i].status_name);
		free(b->statuses[i].recipient_id);
		free(b->statuses[i].error_title);
		free(b->statuses[i].error_details);
	}
	free(b->statuses);
	for (i = 0; i < b->nerrors; i++) {
		free(b->errors[i].phone_number_id);
		free(b->errors[i].title);
		free(b->errors[i].details);
	}
	free(b->errors);
	free(b);
}

const char *wa_status_kind_name(enum wa_status_kind k)
{
	switch (k) {
	case WA_STATUS_SENT:
		return "sent";
	case WA_STATUS_DELIVERED:
		return "delivered";
	case WA_STATUS_READ:
		return "read";
	case WA_STATUS_FAILED:
		return "failed";
	default:
		return "other";
	}
}
