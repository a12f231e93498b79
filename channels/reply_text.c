/*
 * reply_text.c: plain-text rendering of a normalized reply with numbered choices
 * (see reply_text.h).
 */
#include "reply_text.h"

#include <stdlib.h>
#include <string.h>

#include "money.h"
#include "util.h"

static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static int usable(const json_t *c)
{
	return json_is_object(c) && *jstr(c, "payload");
}

static void choice_line(struct sbuf *b, size_t n, const json_t *c)
{
	const char *title = jstr(c, "title"), *desc = jstr(c, "description");

	sbuf_printf(b, "\n%zu. %s", n, *title ? title : jstr(c, "payload"));
	if (*desc)
		sbuf_printf(b, " - %s", desc);
}

size_t reply_text_choices(const json_t *reply)
{
	const json_t *sec, *c;
	size_t i, j, n = 0;

	json_array_foreach(json_object_get(reply, "buttons"), i, c) n += (size_t)usable(c);
	json_array_foreach(json_object_get(json_object_get(reply, "list"), "sections"), i, sec)
	    json_array_foreach(json_object_get(sec, "rows"), j, c) n += (size_t)usable(c);
	return n;
}

/* The reply's text, then its card (title, subtitle, price) unless the text already names it. */
static void text_and_card(struct sbuf *b, const json_t *reply)
{
	const json_t *card = json_object_get(reply, "card"), *price;
	char money[64];

	sbuf_puts(b, jstr(reply, "text"));
	if (json_is_object(card) && *jstr(card, "title") &&
	    !strstr(jstr(reply, "text"), jstr(card, "title"))) {
		sbuf_printf(b, "%s%s", b->len ? "\n\n" : "", jstr(card, "title"));
		if (*jstr(card, "subtitle"))
			sbuf_printf(b, "\n%s", jstr(card, "subtitle"));
		price = json_object_get(card, "price_minor");
		if (json_is_integer(price)) {
			money_format(json_integer_value(price), jstr(card, "currency"), money,
			             sizeof(money));
			sbuf_printf(b, "\n%s", money);
		}
	}
}

char *reply_text_plain(const json_t *reply)
{
	struct sbuf b;

	if (!json_is_object(reply))
		return NULL;
	sbuf_init(&b);
	text_and_card(&b, reply);
	return sbuf_take(&b);
}

char *reply_text_render(const json_t *reply)
{
	const json_t *sec, *c;
	const char *lang;
	struct sbuf b;
	size_t i, j, n = 0;

	if (!json_is_object(reply))
		return NULL;
	lang = jstr(reply, "lang");
	sbuf_init(&b);
	text_and_card(&b, reply);
	if (reply_text_choices(reply) > 0 && b.len)
		sbuf_puts(&b, "\n");
	json_array_foreach(json_object_get(reply, "buttons"), i, c) if (usable(c))
	    choice_line(&b, ++n, c);
	json_array_foreach(json_object_get(json_object_get(reply, "list"), "sections"), i, sec)
	{
		int first = 1;

		json_array_foreach(json_object_get(sec, "rows"), j, c)
		{
			if (!usable(c))
				continue;
			if (first && *jstr(sec, "title") &&
			    json_array_size(
			        json_object_get(json_object_get(reply, "list"), "sections")) > 1)
				sbuf_printf(&b, "\n%s:", jstr(sec, "title"));
			first = 0;
			choice_line(&b, ++n, c);
		}
	}
	if (n > 0)
		sbuf_puts(&b, strcmp(lang, "sw") == 0
		                  ? "\n(Jibu kwa nambari ya chaguo lako.)"
		                  : "\n(Reply with the number of your choice.)");
	return sbuf_take(&b);
}
