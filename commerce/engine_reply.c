/*
 * engine_reply.c: building the one normalized reply of a turn (text, buttons, list rows,
 * product card), remembering what was offered so a typed number or a tap can be checked
 * next time, and the small context / event helpers the actions share.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commerce_util.h"
#include "conversation.h"
#include "engine_internal.h"
#include "money.h"
#include "utf8.h"

static void say_sep(struct turn *t, const char *sep, const char *en, const char *sw,
                    const char *const *args, size_t nargs)
{
	char *s = cm_template(t->sw ? sw : en, args, nargs);

	if (!s) {
		t->out.failed = 1;
		return;
	}
	if (t->out.len > 0)
		sbuf_puts(&t->out, sep);
	sbuf_puts(&t->out, s);
	free(s);
}

void turn_say_args(struct turn *t, const char *en, const char *sw, const char *const *args,
                   size_t nargs)
{
	say_sep(t, "\n\n", en, sw, args, nargs);
}

void turn_line_args(struct turn *t, const char *en, const char *sw, const char *const *args,
                    size_t nargs)
{
	say_sep(t, "\n", en, sw, args, nargs);
}

void turn_say(struct turn *t, const char *en, const char *sw)
{
	turn_say_args(t, en, sw, NULL, 0);
}

/* Cuts s to at most max bytes at a UTF-8 boundary into out (outlen > max). */
static void cut_utf8(const char *s, size_t max, char *out, size_t outlen)
{
	size_t n = utf8_cut(s, strlen(s), max);

	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

void turn_button(struct turn *t, const char *title, const char *payload)
{
	char buf[128];

	if (!t->buttons)
		t->buttons = json_array();
	cut_utf8(title, 60, buf, sizeof(buf));
	json_array_append_new(t->buttons,
	                      json_pack("{s:s, s:s}", "title", buf, "payload", payload));
}

void turn_row(struct turn *t, const char *title, const char *description, const char *payload)
{
	char tb[128], db[160];
	json_t *row;

	if (!t->rows)
		t->rows = json_array();
	cut_utf8(title, 72, tb, sizeof(tb));
	row = json_pack("{s:s, s:s}", "title", tb, "payload", payload);
	if (row && description && *description) {
		cut_utf8(description, 72, db, sizeof(db));
		json_object_set_new(row, "description", json_string(db));
	}
	json_array_append_new(t->rows, row);
}

void turn_list(struct turn *t, const char *button, const char *section_title)
{
	snprintf(t->list_button, sizeof(t->list_button), "%s", button);
	snprintf(t->list_title, sizeof(t->list_title), "%s", section_title);
}

void turn_card(struct turn *t, const char *title, const char *subtitle, long long price_minor,
               const char *currency, const char *image_url)
{
	json_decref(t->card);
	t->card =
	    json_pack("{s:s, s:s, s:I, s:s}", "title", title, "subtitle", subtitle ? subtitle : "",
	              "price_minor", (json_int_t)price_minor, "currency", currency);
	if (t->card && image_url && *image_url)
		json_object_set_new(t->card, "image_url", json_string(image_url));
}

void turn_menu_buttons(struct turn *t)
{
	turn_button(t, TR(t, "Browse products", "Angalia bidhaa"), "browse");
	turn_button(t, TR(t, "My cart", "Kikapu changu"), "cart");
	turn_button(t, TR(t, "Main menu", "Menyu kuu"), "menu");
}

static void remember_recent(struct turn *t, const json_t *payloads)
{
	json_t *recent = json_object_get(t->ctx, "recent"), *fresh;
	size_t i, n;
	const json_t *p;

	fresh = json_array();
	if (!fresh)
		return;
	json_array_foreach(payloads, i, p) json_array_append(fresh, (json_t *)p);
	if (json_is_array(recent)) {
		n = json_array_size(recent);
		for (i = 0; i < n && json_array_size(fresh) < ENGINE_RECENT_MAX; i++) {
			const char *s = json_string_value(json_array_get(recent, i));
			size_t j;
			int dup = 0;

			for (j = 0; s && j < json_array_size(fresh); j++)
				if (strcmp(s, json_string_value(json_array_get(fresh, j))) == 0)
					dup = 1;
			if (s && !dup)
				json_array_append_new(fresh, json_string(s));
		}
	}
	json_object_set_new(t->ctx, "recent", fresh);
}

int turn_reply_flush(struct turn *t)
{
	json_t *reply = NULL, *offered = NULL, *b;
	const char *text;
	size_t i;
	int rc = -1;

	if (t->out.failed)
		return -1;
	if (t->out.len == 0 && !t->buttons && !t->rows && !t->card)
		return 0;
	text = t->out.data ? t->out.data : "";
	reply = json_pack("{s:s, s:s}", "text", text, "lang", t->sw ? "sw" : "en");
	offered = json_array();
	if (!reply || !offered)
		goto out;
	if (t->buttons) {
		json_object_set(reply, "buttons", t->buttons);
		json_array_foreach(t->buttons, i, b)
		    json_array_append(offered, json_object_get(b, "payload"));
	}
	if (t->rows) {
		json_t *list = json_pack(
		    "{s:s, s:[{s:s, s:O}]}", "button",
		    t->list_button[0] ? t->list_button : TR(t, "Choose", "Chagua"), "sections",
		    "title", t->list_title[0] ? t->list_title : TR(t, "Options", "Chaguo"), "rows",
		    t->rows);
		if (!list)
			goto out;
		json_object_set_new(reply, "list", list);
		json_array_foreach(t->rows, i, b)
		    json_array_append(offered, json_object_get(b, "payload"));
	}
	if (t->card)
		json_object_set(reply, "card", t->card);
	if (t->replace)
		json_object_set_new(reply, "replace", json_true());
	free(t->reply_js);
	t->reply_js = json_dumps(reply, JSON_COMPACT);
	if (!t->reply_js)
		goto out;
	t->res->replies++;
	if (json_array_size(offered) > 0 || !t->keep_offered) {
		remember_recent(t, offered);
		json_decref(t->offered);
		t->offered = offered;
		offered = NULL;
	}
	rc = 0;
out:
	json_decref(reply);
	json_decref(offered);
	return rc;
}

const char *turn_ctx_str(const struct turn *t, const char *key)
{
	return json_string_value(json_object_get(t->ctx, key));
}

long turn_ctx_int(const struct turn *t, const char *key, long def)
{
	const json_t *v = json_object_get(t->ctx, key);

	return json_is_integer(v) ? (long)json_integer_value(v) : def;
}

void turn_ctx_set_str(struct turn *t, const char *key, const char *value)
{
	json_object_set_new(t->ctx, key, json_string(value));
}

void turn_ctx_set_int(struct turn *t, const char *key, long value)
{
	json_object_set_new(t->ctx, key, json_integer(value));
}

void turn_ctx_del(struct turn *t, const char *key)
{
	json_object_del(t->ctx, key);
}

json_t *turn_checkout(struct turn *t)
{
	json_t *ck = json_object_get(t->ctx, "ck");

	if (!json_is_object(ck)) {
		ck = json_object();
		json_object_set_new(t->ctx, "ck", ck);
	}
	return ck;
}

int turn_event(struct turn *t, const char *type, json_t *payload_steal)
{
	json_t *ev;

	if (!t->events)
		t->events = json_array();
	ev = json_pack("{s:s, s:o}", "type", type,
	               "payload", payload_steal ? payload_steal : json_object());
	if (!t->events || !ev || json_array_append_new(t->events, ev) < 0)
		return -1;
	return 0;
}

int turn_events_flush(struct turn *t)
{
	int rc;

	if (json_array_size(t->events) == 0)
		return 0;
	rc = conv_events_add(t->conn, t->tenant, t->conv_id, t->events);
	json_array_clear(t->events);
	return rc < 0 ? -1 : 0;
}

void turn_set_state(struct turn *t, const char *state)
{
	snprintf(t->next, sizeof(t->next), "%s", state);
}

void turn_money(const struct turn *t, long long minor, char *out, size_t len)
{
	money_format(minor, t->shop.currency, out, len);
}

int turn_offered_has(const struct turn *t, const char *payload)
{
	size_t i;
	const json_t *v;

	json_array_foreach(t->offered, i,
	                   v) if (json_is_string(v) &&
	                          strcmp(json_string_value(v), payload) == 0) return 1;
	return 0;
}
