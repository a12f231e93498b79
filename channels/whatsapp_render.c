/*
 * whatsapp_render.c: the outbound half of the WhatsApp adapter. Renders a normalized reply
 * (commerce/message.h) into Graph API requests within WhatsApp's limits (text split at 4096
 * characters, 3 reply buttons of 20, lists of 10 rows; a numbered text list when it does not
 * fit; a template or "undeliverable" outside the 24-hour window) and classifies the Graph
 * API's answers by error.code. Pure: the dispatcher sends.
 */
#include "whatsapp.h"

#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "money.h"
#include "reply_text.h"
#include "utf8.h"
#include "util.h"

#define WA_WINDOW_MARGIN      60L /* seconds kept in hand before the window closes */
#define WA_DEFAULT_VERSION    "v21.0"
#define WA_TEMPLATE_PARAM_MAX 1024
#define WA_ELLIPSIS           "\xE2\x80\xA6" /* U+2026, one character */

/* ---- text (the input comes from jansson, so it is valid UTF-8: common/utf8.h) ---- */

/* A copy of s with CR/LF/TAB as spaces and no leading/trailing spaces. */
static char *text_oneline(const char *s)
{
	char *out, *p, *end;

	out = strdup(s ? s : "");
	if (!out)
		return NULL;
	for (p = out; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	p = out;
	while (*p == ' ')
		p++;
	memmove(out, p, strlen(p) + 1);
	end = out + strlen(out);
	while (end > out && end[-1] == ' ')
		*--end = '\0';
	return out;
}

/* Heap copy of s on one line, at most max characters, with an ellipsis when cut. */
static char *text_shorten(const char *s, size_t max)
{
	char *line = text_oneline(s), *out;
	size_t cut;

	if (!line || max == 0)
		goto done;
	if (utf8_count(line) <= max)
		return line;
	cut = utf8_cut_back(line, utf8_offset(line, max - 1));
	while (cut > 0 && line[cut - 1] == ' ')
		cut--;
	out = malloc(cut + sizeof(WA_ELLIPSIS));
	if (!out)
		goto done;
	memcpy(out, line, cut);
	memcpy(out + cut, WA_ELLIPSIS, sizeof(WA_ELLIPSIS));
	free(line);
	return out;
done:
	free(line);
	return max == 0 ? strdup("") : NULL;
}

char *wa_text_shorten(const char *s, size_t max)
{
	return text_shorten(s, max);
}

/*
 * The byte length of the next piece of s (at most max characters): the whole rest when it
 * fits, else cut after the last line break in the second half of the window, else after the
 * last space, else at a character boundary.
 */
static size_t text_piece(const char *s, size_t max)
{
	size_t lim = utf8_offset(s, max), i, half;

	if (!s[lim])
		return lim;
	half = utf8_offset(s, max / 2);
	for (i = lim; i > half; i--)
		if (s[i - 1] == '\n')
			return i;
	for (i = lim; i > half; i--)
		if (s[i - 1] == ' ')
			return i;
	i = utf8_cut_back(s, lim);
	return i ? i : lim;
}

/* Splits s where the rest fits in tail_max characters, preferring a line break or a space in
 * the first half of that rest; returns the byte offset where the tail starts (0 when it all
 * fits). */
static size_t text_tail_start(const char *s, size_t tail_max)
{
	size_t n = utf8_count(s), start, i, rest, l = 1, space = 0;

	if (n <= tail_max)
		return 0;
	start = utf8_offset(s, n - tail_max);
	for (i = start, rest = tail_max; s[i] && rest > tail_max / 2; i += l, rest--) {
		(void)utf8_decode(s + i, &l);
		if (s[i] == '\n')
			return i + 1;
		if (s[i] == ' ' && !space)
			space = i + 1;
	}
	if (space)
		return space;
	/* a hard cut moves forward to the start of the next character cluster */
	return utf8_cut_forward(s, start);
}

/* ---- reply reading ---- */

static const char *reply_str(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int reply_is_sw(const json_t *reply)
{
	const char *lang = reply_str(reply, "lang");

	return lang && strcmp(lang, "sw") == 0;
}

/* The card as text lines: *title*, subtitle, price. */
static void card_text(struct sbuf *b, const json_t *card)
{
	const char *title = reply_str(card, "title"), *sub = reply_str(card, "subtitle");
	const char *cur = reply_str(card, "currency");
	const json_t *price = json_object_get(card, "price_minor");
	int lines = 0;

	if (title && *title) {
		sbuf_printf(b, "*%s*", title);
		lines++;
	}
	if (sub && *sub) {
		sbuf_printf(b, "%s%s", lines ? "\n" : "", sub);
		lines++;
	}
	if (json_is_integer(price) && cur && strlen(cur) == 3) {
		char money[64];

		money_format(json_integer_value(price), cur, money, sizeof(money));
		sbuf_printf(b, "%s%s", lines ? "\n" : "", money);
	}
}

/* The reply's text followed by its card, as one heap string. */
static char *reply_full_text(const json_t *reply)
{
	struct sbuf b;
	const char *text = reply_str(reply, "text");
	const json_t *card = json_object_get(reply, "card");

	sbuf_init(&b);
	sbuf_puts(&b, text ? text : "");
	if (json_is_object(card)) {
		struct sbuf c;
		char *ct;

		sbuf_init(&c);
		card_text(&c, card);
		ct = sbuf_take(&c);
		if (ct && *ct) {
			if (b.len)
				sbuf_puts(&b, "\n\n");
			sbuf_puts(&b, ct);
		}
		free(ct);
	}
	return sbuf_take(&b);
}

/* A choice offered to the shopper, in the engine's order. */
struct wa_choice {
	const char *title, *description, *payload;
	size_t section; /* index into the list's sections, or SIZE_MAX for a button */
};

struct wa_choices {
	struct wa_choice *v;
	size_t n, nrows, nbuttons, nsections;
	int unique; /* every payload distinct */
};

static int choice_usable(const json_t *c)
{
	const char *p = reply_str(c, "payload");

	return json_is_object(c) && p && *p;
}

/* Collects the buttons and then the list rows (section by section): the order in which the
 * engine remembers what it offered (commerce/engine_reply.c) and reply_text.h numbers them. */
static int choices_collect(const json_t *reply, struct wa_choices *cs)
{
	const json_t *list = json_object_get(reply, "list");
	const json_t *sections = json_object_get(list, "sections");
	const json_t *buttons = json_object_get(reply, "buttons");
	const json_t *sec, *row, *btn;
	size_t i, j, total = 0;

	memset(cs, 0, sizeof(*cs));
	json_array_foreach(sections, i, sec) total += json_array_size(json_object_get(sec, "rows"));
	total += json_array_size(buttons);
	cs->v = calloc(total ? total : 1, sizeof(*cs->v));
	if (!cs->v)
		return -1;
	json_array_foreach(buttons, i, btn)
	{
		if (!choice_usable(btn))
			continue;
		cs->v[cs->n++] = (struct wa_choice){reply_str(btn, "title"), NULL,
		                                    reply_str(btn, "payload"), SIZE_MAX};
		cs->nbuttons++;
	}
	json_array_foreach(sections, i, sec)
	{
		int any = 0;

		json_array_foreach(json_object_get(sec, "rows"), j, row)
		{
			if (!choice_usable(row))
				continue;
			cs->v[cs->n++] = (struct wa_choice){reply_str(row, "title"),
			                                    reply_str(row, "description"),
			                                    reply_str(row, "payload"), i};
			cs->nrows++;
			any = 1;
		}
		cs->nsections += any;
	}
	cs->unique = 1;
	for (i = 0; i < cs->n && cs->unique; i++)
		for (j = i + 1; j < cs->n; j++)
			if (strcmp(cs->v[i].payload, cs->v[j].payload) == 0) {
				cs->unique = 0;
				break;
			}
	return 0;
}

/* ---- requests ---- */

struct wa_out {
	const struct channel_target *t;
	struct channel_request *reqs;
	size_t n, cap;
	char *url;
	char *auth;
	char *err;
	size_t errlen;
};

static void out_err(struct wa_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void out_err(struct wa_out *o, const char *fmt, ...)
{
	va_list ap;

	if (!o->err || !o->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(o->err, o->errlen, fmt, ap);
	va_end(ap);
}

/* {"messaging_product": "whatsapp", "recipient_type": "individual", "to": ..., "type": type} */
static json_t *msg_base(const struct wa_out *o, const char *type)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "messaging_product", "whatsapp", "recipient_type",
	                 "individual", "to", o->t->recipient, "type", type);
}

/* Appends a request with body (reference taken). */
static int out_add(struct wa_out *o, json_t *body, int best_effort)
{
	struct channel_request *r, *nr;
	int rc = -1;

	if (!body)
		goto fail;
	if (o->n == o->cap) {
		size_t ncap = o->cap ? o->cap * 2 : 4;

		nr = realloc(o->reqs, ncap * sizeof(*nr));
		if (!nr)
			goto fail;
		memset(nr + o->cap, 0, (ncap - o->cap) * sizeof(*nr));
		o->reqs = nr;
		o->cap = ncap;
	}
	r = &o->reqs[o->n];
	r->url = strdup(o->url);
	r->body = json_dumps(body, JSON_COMPACT);
	r->best_effort = best_effort;
	o->n++;
	if (!r->url || !r->body || channel_request_add_header(r, o->auth) < 0 ||
	    channel_request_add_header(r, "Content-Type: application/json") < 0)
		goto fail;
	rc = 0;
fail:
	json_decref(body);
	if (rc < 0)
		out_err(o, "out of memory");
	return rc;
}

/* Text messages for s, split into pieces of at most WA_TEXT_MAX characters. */
static int out_text(struct wa_out *o, const char *s)
{
	size_t off = 0, len;

	while (s[off]) {
		json_t *m, *text;

		len = text_piece(s + off, WA_TEXT_MAX);
		m = msg_base(o, "text");
		text = json_pack("{s:s%, s:b}", "body", s + off, len, "preview_url", 0);

		if (!m || !text || json_object_set_new(m, "text", text) < 0) {
			json_decref(m);
			out_err(o, "out of memory");
			return -1;
		}
		if (out_add(o, m, 0) < 0)
			return -1;
		off += len;
		while (s[off] == '\n')
			off++; /* a piece never starts with a blank line */
	}
	return 0;
}

/* Sends everything of s before the last tail_max characters as text messages and returns a
 * heap copy of that tail (the body of an interactive or caption); "" becomes fallback. */
static char *out_text_head(struct wa_out *o, const char *s, size_t tail_max, const char *fallback)
{
	size_t start = text_tail_start(s, tail_max);
	char *head, *tail;

	if (start) {
		head = strndup(s, start);
		if (!head || out_text(o, head) < 0) {
			free(head);
			return NULL;
		}
		free(head);
	}
	tail = strdup(s + start);
	if (tail) {
		size_t n = strlen(tail);

		while (n && (tail[n - 1] == '\n' || tail[n - 1] == ' '))
			tail[--n] = '\0';
		if (!n) {
			free(tail);
			tail = strdup(fallback);
		}
	}
	if (!tail)
		out_err(o, "out of memory");
	return tail;
}

/* Reply buttons: titles shortened to 20 characters and made unique ("Title 2"). */
static json_t *buttons_json(const struct wa_choices *cs)
{
	json_t *arr = json_array();
	char **titles = calloc(cs->n ? cs->n : 1, sizeof(char *));
	size_t i, j, k = 0;

	if (!arr || !titles)
		goto fail;
	for (i = 0; i < cs->n; i++) {
		const struct wa_choice *c = &cs->v[i];
		char *title = text_shorten(c->title && *c->title ? c->title : c->payload,
		                           WA_BUTTON_TITLE_MAX);
		int dup, suffix = 2;

		if (!title)
			goto fail;
		do {
			dup = 0;
			for (j = 0; j < k; j++)
				if (strcmp(titles[j], title) == 0)
					dup = 1;
			if (dup) {
				char tag[16], *base, *nt;

				snprintf(tag, sizeof(tag), " %d", suffix++);
				base = text_shorten(c->title && *c->title ? c->title : c->payload,
				                    WA_BUTTON_TITLE_MAX - strlen(tag));
				nt = base ? malloc(strlen(base) + strlen(tag) + 1) : NULL;
				if (nt)
					sprintf(nt, "%s%s", base, tag);
				free(base);
				free(title);
				title = nt;
				if (!title)
					goto fail;
			}
		} while (dup);
		titles[k++] = title;
		if (json_array_append_new(arr,
		                          json_pack("{s:s, s:{s:s, s:s}}", "type", "reply", "reply",
		                                    "id", c->payload, "title", title)) < 0)
			goto fail;
	}
	for (i = 0; i < k; i++)
		free(titles[i]);
	free(titles);
	return arr;
fail:
	for (i = 0; i < k; i++)
		free(titles[i]);
	free(titles);
	json_decref(arr);
	return NULL;
}

static const char *image_url(const json_t *reply)
{
	const char *u = reply_str(json_object_get(reply, "card"), "image_url");

	return u && (strncmp(u, "https://", 8) == 0 || strncmp(u, "http://", 7) == 0) ? u : NULL;
}

static int render_buttons(struct wa_out *o, const json_t *reply, const struct wa_choices *cs)
{
	char *full = reply_full_text(reply), *body = NULL;
	json_t *m = NULL, *inter = NULL, *btns = NULL;
	const char *img = image_url(reply);
	int rc = -1;

	if (!full)
		goto oom;
	body = out_text_head(o, full, WA_BUTTON_BODY_MAX, "\xF0\x9F\x91\x87"); /* U+1F447 */
	if (!body)
		goto out;
	btns = buttons_json(cs);
	m = msg_base(o, "interactive");
	inter = json_pack("{s:s, s:{s:s}}", "type", "button", "body", "text", body);
	if (!btns || !m || !inter)
		goto oom;
	if (img && json_object_set_new(
	               inter, "header",
	               json_pack("{s:s, s:{s:s}}", "type", "image", "image", "link", img)) < 0)
		goto oom;
	if (json_object_set_new(inter, "action", json_pack("{s:O}", "buttons", btns)) < 0 ||
	    json_object_set(m, "interactive", inter) < 0)
		goto oom;
	rc = out_add(o, m, 0);
	m = NULL;
	goto out;
oom:
	out_err(o, "out of memory");
out:
	json_decref(m);
	json_decref(inter);
	json_decref(btns);
	free(full);
	free(body);
	return rc;
}

static json_t *row_json(const struct wa_choice *c, size_t number)
{
	char num[24];
	const char *t = c->title && *c->title ? c->title : NULL;
	char *title, *desc = NULL;
	json_t *row;

	snprintf(num, sizeof(num), "%zu", number);
	title = text_shorten(t ? t : num, WA_ROW_TITLE_MAX);
	if (c->description && *c->description)
		desc = text_shorten(c->description, WA_ROW_DESC_MAX);
	else if (t && utf8_count(t) > WA_ROW_TITLE_MAX)
		desc = text_shorten(t, WA_ROW_DESC_MAX); /* the whole name, under the cut title */
	row = title ? json_pack("{s:s, s:s}", "id", c->payload, "title", title) : NULL;
	if (row && desc && *desc &&
	    json_object_set_new(row, "description", json_string(desc)) < 0) {
		json_decref(row);
		row = NULL;
	}
	free(title);
	free(desc);
	return row;
}

/* One list: the rows by section, and the buttons (if any) as a last section. */
static int render_list(struct wa_out *o, const json_t *reply, const struct wa_choices *cs)
{
	const json_t *list = json_object_get(reply, "list");
	const json_t *sections_in = json_object_get(list, "sections");
	int sw = reply_is_sw(reply);
	char *full = reply_full_text(reply), *body = NULL, *label = NULL;
	json_t *m = NULL, *sections = NULL, *cur_rows = NULL;
	size_t k, cur_section = SIZE_MAX - 1, nsec;
	int rc = -1;

	if (!full)
		goto oom;
	body = out_text_head(o, full, WA_TEXT_MAX, "\xF0\x9F\x91\x87");
	if (!body)
		goto out;
	label = text_shorten(reply_str(list, "button") && *reply_str(list, "button")
	                         ? reply_str(list, "button")
	                         : (sw ? "Chagua" : "Choose"),
	                     WA_LIST_BUTTON_MAX);
	sections = json_array();
	if (!label || !sections)
		goto oom;
	nsec = cs->nsections + (cs->nbuttons ? 1 : 0);
	/* the rows in their sections, then the buttons (the first nbuttons choices) last */
	for (k = 0; k < cs->n; k++) {
		size_t i = (cs->nbuttons + k) % cs->n;
		const struct wa_choice *c = &cs->v[i];
		json_t *row;

		if (c->section != cur_section) {
			const char *st =
			    c->section == SIZE_MAX
			        ? (sw ? "Zaidi" : "More")
			        : reply_str(json_array_get(sections_in, c->section), "title");
			json_t *sec;
			char *title;

			cur_section = c->section;
			cur_rows = json_array();
			sec = json_pack("{s:o}", "rows", cur_rows);
			if (!sec || json_array_append_new(sections, sec) < 0)
				goto oom;
			if (st && *st) {
				title = text_shorten(st, WA_SECTION_TITLE_MAX);
			} else if (nsec > 1) {
				/* Meta requires a title on every section of a multi-section list */
				title = strdup(sw ? "Chaguo" : "Options");
			} else {
				title = NULL;
			}
			if (title && *title &&
			    json_object_set_new(sec, "title", json_string(title)) < 0) {
				free(title);
				goto oom;
			}
			free(title);
		}
		row = row_json(c, i + 1);
		if (!row || json_array_append_new(cur_rows, row) < 0)
			goto oom;
	}
	m = msg_base(o, "interactive");
	if (!m || json_object_set_new(m, "interactive",
	                              json_pack("{s:s, s:{s:s}, s:{s:s, s:O}}", "type", "list",
	                                        "body", "text", body, "action", "button", label,
	                                        "sections", sections)) < 0)
		goto oom;
	rc = out_add(o, m, 0);
	m = NULL;
	goto out;
oom:
	out_err(o, "out of memory");
out:
	json_decref(m);
	json_decref(sections);
	free(full);
	free(body);
	free(label);
	return rc;
}

/* No choices: text messages, or an image with the text (or the card) as caption. */
static int render_plain(struct wa_out *o, const json_t *reply)
{
	char *full = reply_full_text(reply), *caption = NULL;
	const char *img = image_url(reply);
	json_t *m;
	int rc = -1;

	if (!full) {
		out_err(o, "out of memory");
		return -1;
	}
	if (!img) {
		if (!*full) {
			out_err(o, "the reply has no text, card or choices: nothing to send");
			goto out;
		}
		rc = out_text(o, full);
		goto out;
	}
	caption = out_text_head(o, full, WA_CAPTION_MAX, "");
	if (!caption)
		goto out;
	m = msg_base(o, "image");
	if (!m || json_object_set_new(m, "image", json_pack("{s:s}", "link", img)) < 0) {
		json_decref(m);
		out_err(o, "out of memory");
		goto out;
	}
	if (*caption)
		json_object_set_new(json_object_get(m, "image"), "caption", json_string(caption));
	rc = out_add(o, m, 0);
out:
	free(full);
	free(caption);
	return rc;
}

/* Does not fit: the console's numbered text (reply_text.h), answered with a number. */
static int render_numbered(struct wa_out *o, const json_t *reply)
{
	char *text = reply_text_render(reply);
	int rc;

	if (!text) {
		out_err(o, "out of memory");
		return -1;
	}
	if (!*text) {
		out_err(o, "the reply has no text, card or choices: nothing to send");
		free(text);
		return -1;
	}
	rc = out_text(o, text);
	free(text);
	return rc;
}

/* Outside the window: the channel's status or notify template with the reply's text as
 * {{1}}. */
static int render_template(struct wa_out *o, const json_t *reply, const json_t *tpl)
{
	const char *name = reply_str(tpl, "name"), *lang = reply_str(tpl, "language");
	const json_t *param_flag = json_object_get(tpl, "body_param");
	char *param = NULL;
	json_t *m, *t;
	int rc = -1;

	m = msg_base(o, "template");
	t = json_pack("{s:s, s:{s:s}}", "name", name, "language", "code", lang ? lang : "en");
	if (!m || !t)
		goto oom;
	if (!json_is_false(param_flag)) {
		char *full = reply_full_text(reply), *p;

		/* template parameters may not hold line breaks, tabs or runs of spaces */
		param = full ? text_shorten(full, WA_TEMPLATE_PARAM_MAX) : NULL;
		free(full);
		if (!param)
			goto oom;
		for (p = param; *p; p++)
			while (p[0] == ' ' && p[1] == ' ')
				memmove(p, p + 1, strlen(p));
		if (*param &&
		    json_object_set_new(t, "components",
		                        json_pack("[{s:s, s:[{s:s, s:s}]}]", "type", "body",
		                                  "parameters", "type", "text", "text", param)) < 0)
			goto oom;
	}
	if (json_object_set_new(m, "template", t) < 0) {
		t = NULL;
		goto oom;
	}
	t = NULL;
	rc = out_add(o, m, 0);
	m = NULL;
	goto out;
oom:
	out_err(o, "out of memory");
out:
	json_decref(t);
	json_decref(m);
	free(param);
	return rc;
}

/* A config value as text: strings as they are, integers in decimal (a phone_number_id may
 * have been stored as a number). NULL when absent. */
static const char *config_text(const json_t *cfg, const char *key, char *buf, size_t len)
{
	const json_t *v = json_object_get(cfg, key);

	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	}
	return NULL;
}

static int config_flag(const json_t *cfg, const char *key)
{
	const json_t *v = json_object_get(cfg, key);

	return json_is_true(v) || (json_is_integer(v) && json_integer_value(v) != 0);
}

static int safe_id(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
			return 0;
	return 1;
}

static int safe_header_value(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7F)
			return 0;
	return 1;
}

static int wa_render(const struct channel_target *t, const json_t *reply,
                     struct channel_request **reqs, size_t *nreqs, char *err, size_t errlen)
{
	struct wa_out o = {.t = t, .err = err, .errlen = errlen};
	struct wa_choices cs = {0};
	const char *pnid, *token, *base, *version;
	const json_t *tpl;
	const char *tpl_key;
	char numbuf[32];
	size_t baselen;
	int rc = -1, outside;

	*reqs = NULL;
	*nreqs = 0;
	if (err && errlen)
		err[0] = '\0';
	if (!json_is_object(reply)) {
		out_err(&o, "the reply is not a JSON object");
		goto out;
	}
	pnid = config_text(t->config, "phone_number_id", numbuf, sizeof(numbuf));
	if (!pnid)
		pnid = config_text(t->config, "external_id", numbuf, sizeof(numbuf));
	token = reply_str(t->config, "access_token");
	if (!safe_id(pnid)) {
		out_err(&o, "channel config has no valid phone_number_id");
		goto out;
	}
	if (!safe_header_value(token)) {
		out_err(&o, "channel has no valid access_token");
		goto out;
	}
	if (!t->recipient || !*t->recipient) {
		out_err(&o, "no recipient wa_id");
		goto out;
	}
	base = t->api_base && *t->api_base ? t->api_base : "https://graph.facebook.com";
	version = t->api_version && *t->api_version ? t->api_version : WA_DEFAULT_VERSION;
	baselen = strlen(base);
	while (baselen && base[baselen - 1] == '/')
		baselen--;
	o.url = malloc(baselen + strlen(version) + strlen(pnid) + 16);
	o.auth = malloc(strlen(token) + 32);
	if (!o.url || !o.auth) {
		out_err(&o, "out of memory");
		goto out;
	}
	sprintf(o.url, "%.*s/%s/%s/messages", (int)baselen, base, version, pnid);
	sprintf(o.auth, "Authorization: Bearer %s", token);

	outside = t->window_age >= 0 && t->window_age >= WA_WINDOW_SECONDS - WA_WINDOW_MARGIN;
	/* a seller's number that never wrote to this channel has no window at all: when the
	 * channel has a notification template, use it rather than a free-form message that
	 * Meta would refuse with 131047 */
	if (t->window_age < 0 && t->event_type && strcmp(t->event_type, "order.status_changed") != 0 &&
	    reply_str(json_object_get(t->config, "notify_template"), "name"))
		outside = 1;
	if (outside) {
		/* only a shopper's order update may go as the channel's status template; a
		 * seller notification (new order, complaint, ...) only as its own template */
		tpl_key = !t->event_type                                       ? NULL
		          : strcmp(t->event_type, "order.status_changed") == 0 ? "status_template"
		                                                               : "notify_template";
		tpl = tpl_key ? json_object_get(t->config, tpl_key) : NULL;
		if (reply_str(tpl, "name") && *reply_str(tpl, "name")) {
			rc = render_template(&o, reply, tpl);
			goto done;
		}
		out_err(&o,
		        "outside the 24-hour customer-service window (the recipient last wrote "
		        "%ld h ago)%s%s",
		        t->window_age / 3600, tpl_key ? " and the channel has no " : "",
		        tpl_key ? tpl_key : "");
		rc = CHANNEL_ERR_UNDELIVERABLE;
		goto out;
	}
	if (choices_collect(reply, &cs) < 0) {
		out_err(&o, "out of memory");
		goto out;
	}
	if (cs.n == 0)
		rc = render_plain(&o, reply);
	else if (cs.unique && cs.nrows == 0 && cs.nbuttons <= WA_BUTTONS_MAX)
		rc = render_buttons(&o, reply, &cs);
	else if (cs.unique && cs.nrows > 0 && cs.n <= WA_LIST_ROWS_MAX &&
	         cs.nsections + (cs.nbuttons ? 1 : 0) <= WA_LIST_SECTIONS_MAX)
		rc = render_list(&o, reply, &cs);
	else
		rc = render_numbered(&o, reply);
done:
	if (rc < 0)
		goto out;
	if (o.n == 0) {
		out_err(&o, "the reply has nothing to send");
		rc = -1;
		goto out;
	}
	o.reqs[o.n - 1].primary = 1;
	if (!outside && t->reply_to && *t->reply_to &&
	    (t->mark_read || config_flag(t->config, "mark_read"))) {
		json_t *read = json_pack("{s:s, s:s, s:s}", "messaging_product", "whatsapp",
		                         "status", "read", "message_id", t->reply_to);

		if (out_add(&o, read, 1) < 0) {
			rc = -1;
			goto out;
		}
	}
	*reqs = o.reqs;
	*nreqs = o.n;
	o.reqs = NULL;
	o.n = 0;
	rc = 0;
out:
	channel_requests_free(o.reqs, o.n);
	free(cs.v);
	free(o.url);
	free(o.auth);
	return rc;
}

/* ---- classify ---- */

static void wa_classify(long http_status, const char *body, size_t len, struct channel_outcome *out)
{
	json_t *root = NULL;
	const json_t *error, *mid;
	const char *message = NULL, *details = NULL, *type = NULL;
	long code = -1;
	int decided = 1;

	memset(out, 0, sizeof(*out));
	if (body && len)
		root = json_loadb(body, len, 0, NULL);
	error = json_object_get(root, "error");
	if (json_is_object(error)) {
		const json_t *c = json_object_get(error, "code");

		if (json_is_integer(c))
			code = (long)json_integer_value(c);
		message = reply_str(error, "message");
		type = reply_str(error, "type");
		details = reply_str(json_object_get(error, "error_data"), "details");
		out->error_code = code >= 0 ? code : 0;
		snprintf(out->error, sizeof(out->error), "WhatsApp error %ld%s%s%s%s", code,
		         message ? ": " : "", message ? message : "", details ? " - " : "",
		         details ? details : "");
	}
	if (http_status == 0) {
		out->verdict = CHANNEL_RETRY;
		snprintf(out->error, sizeof(out->error), "no answer from the Graph API");
		goto out;
	}
	if (http_status >= 200 && http_status < 300 && !json_is_object(error)) {
		out->verdict = CHANNEL_SENT;
		mid = json_object_get(json_array_get(json_object_get(root, "messages"), 0), "id");
		if (json_is_string(mid) &&
		    json_string_length(mid) < sizeof(out->platform_message_id))
			memcpy(out->platform_message_id, json_string_value(mid),
			       json_string_length(mid) + 1);
		goto out;
	}
	switch (code) {
	case 130429: /* Cloud API throughput reached */
		out->verdict = CHANNEL_RATE_LIMITED;
		out->retry_after = 2;
		break;
	case 131056: /* too many messages to this one recipient */
		out->verdict = CHANNEL_RATE_LIMITED;
		out->retry_after = 6;
		out->recipient_scoped = 1;
		break;
	case 4:     /* application request limit */
	case 80007: /* WhatsApp Business Account rate limit */
	case 613:   /* calls within one hour exceeded */
		out->verdict = CHANNEL_RATE_LIMITED;
		out->retry_after = 60;
		break;
	case 131048: /* spam rate limit: the number is restricted for a while */
		out->verdict = CHANNEL_RATE_LIMITED;
		out->retry_after = 600;
		break;
	case 131047: /* re-engagement: more than 24 hours since the shopper last wrote */
		out->verdict = CHANNEL_PERMANENT;
		break;
	case 0:   /* AuthException */
	case 102: /* API session */
	case 190: /* access token expired or invalid */
	case 10:  /* permission denied */
		out->verdict = CHANNEL_AUTH_INVALID;
		break;
	case 1:      /* API unknown: temporary */
	case 2:      /* API service: temporary */
	case 131000: /* something went wrong */
	case 131016: /* service unavailable */
	case 133004: /* server temporarily unavailable */
		out->verdict = CHANNEL_RETRY;
		break;
	default:
		if (code >= 200 && code <= 299) { /* permission not granted to the app */
			out->verdict = CHANNEL_AUTH_INVALID;
			break;
		}
		decided = 0;
	}
	if (decided)
		goto out;
	if (code < 0 && type && strcmp(type, "OAuthException") == 0) {
		/* Graph's rule: an OAuthException without a code means a bad token */
		out->verdict = CHANNEL_AUTH_INVALID;
	} else if (http_status >= 500) {
		out->verdict = CHANNEL_RETRY;
	} else if (http_status == 429) {
		out->verdict = CHANNEL_RATE_LIMITED;
	} else if (http_status == 401 && code < 0) {
		out->verdict = CHANNEL_AUTH_INVALID;
	} else if (http_status >= 400 || json_is_object(error)) {
		out->verdict = CHANNEL_PERMANENT;
	} else {
		out->verdict = CHANNEL_RETRY; /* 1xx/3xx: not an answer the Graph API gives */
	}
out:
	if (out->verdict != CHANNEL_SENT && !out->error[0])
		snprintf(out->error, sizeof(out->error), "Graph API answered HTTP %ld",
		         http_status);
	json_decref(root);
}

/* The outbound half of whatsapp_channel_ops (whatsapp_adapter.c). */
int whatsapp_render(const struct channel_target *t, const json_t *reply,
                    struct channel_request **reqs, size_t *nreqs, char *err, size_t errlen)
{
	return wa_render(t, reply, reqs, nreqs, err, errlen);
}

void whatsapp_classify(long http_status, const char *body, size_t len,
                       struct channel_outcome *out)
{
	wa_classify(http_status, body, len, out);
}
