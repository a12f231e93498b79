/*
 * sim_convo.c: conversation files (see sim_convo.h). A conversation keeps the replies the
 * bot sent since the shopper's last step; bot: looks through them (waiting up to
 * SIM_BOT_WAIT_MS for one that matches), bot!: lets the bot finish first, tap: presses a
 * choice one of them offered. Before each shopper step the replies to the previous one are
 * let in (the bot is done when nothing came for SIM_QUIET_MS), so a late reply is never
 * counted against the next step.
 */
#include "sim_convo.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <utf8proc.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "util.h"

#define SIM_BOT_WAIT_MS   8000 /* bot: and tap: wait this long for a matching reply */
#define SIM_FIRST_WAIT_MS 4000 /* the first reply to a shopper's step */
#define SIM_QUIET_MS      250  /* no more replies for this long: the bot is done */
#define SIM_LINE_MAX      4096

/* ---- reading ---- */

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int step_add(struct sim_convo *c, enum sim_step_kind kind, int line, const char *arg)
{
	struct sim_step *grown = realloc(c->steps, (c->nsteps + 1) * sizeof(*grown));

	if (!grown)
		return -1;
	c->steps = grown;
	memset(&c->steps[c->nsteps], 0, sizeof(*c->steps));
	c->steps[c->nsteps].kind = kind;
	c->steps[c->nsteps].line = line;
	c->steps[c->nsteps].arg = strdup(arg);
	if (!c->steps[c->nsteps].arg)
		return -1;
	c->nsteps++;
	return 0;
}

static struct sim_convo *convo_add(struct sim_file *f, int line, const char *tenant,
                                   const char *channel)
{
	struct sim_convo *grown = realloc(f->convos, (f->nconvos + 1) * sizeof(*grown)), *c;

	if (!grown)
		return NULL;
	f->convos = grown;
	c = &f->convos[f->nconvos++];
	memset(c, 0, sizeof(*c));
	c->line = line;
	snprintf(c->tenant, sizeof(c->tenant), "%s", tenant);
	snprintf(c->channel, sizeof(c->channel), "%s", channel);
	return c;
}

static int slug_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 2 && n <= 40 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

static int location_read(const char *arg, double *lat, double *lon)
{
	char *end;

	errno = 0;
	*lat = strtod(arg, &end);
	while (*end == ' ')
		end++;
	if (end == arg || *end != ',' || errno)
		return -1;
	arg = end + 1;
	*lon = strtod(arg, &end);
	while (*end == ' ')
		end++;
	if (end == arg || *end || errno || *lat < -90 || *lat > 90 || *lon < -180 || *lon > 180)
		return -1;
	return 0;
}

static const struct {
	const char *key;
	enum sim_step_kind kind;
} step_keys[] = {
    {"me", SIM_STEP_ME},        {"tap", SIM_STEP_TAP},           {"bot", SIM_STEP_BOT},
    {"bot!", SIM_STEP_BOT_NOT}, {"location", SIM_STEP_LOCATION}, {"contact", SIM_STEP_CONTACT},
};

/* One line (trimmed, not empty, not a comment) into the file. 0, or -1 with err. */
static int line_read(struct sim_file *f, struct sim_convo **cur, char *s, int line, char tenant[64],
                     char channel[16], const char *comment, char *err, size_t errlen)
{
	char *colon, *key, *arg;
	size_t i;

	if (strcmp(s, "---") == 0) {
		*cur = NULL;
		return 0;
	}
	colon = strchr(s, ':');
	if (!colon) {
		snprintf(err, errlen,
		         "%s:%d: a step is KEY: TEXT (me, tap, bot, bot!, location, "
		         "contact, tenant, channel), '---' or a # comment; got \"%.60s\"",
		         f->path, line, s);
		return -1;
	}
	*colon = '\0';
	key = trim(s);
	arg = trim(colon + 1);
	if (strcmp(key, "tenant") == 0 || strcmp(key, "channel") == 0) {
		int is_tenant = key[0] == 't';

		if (*cur && (*cur)->nsteps > 0) {
			snprintf(err, errlen,
			         "%s:%d: %s: goes before the conversation's first step", f->path,
			         line, key);
			return -1;
		}
		if (is_tenant ? !slug_ok(arg) : !sim_channel_type_ok(arg)) {
			snprintf(err, errlen, "%s:%d: %s", f->path, line,
			         is_tenant ? "tenant: must be a shop's slug (2 to 40 of a-z 0-9 -)"
			                   : "channel: must be whatsapp, telegram or webchat");
			return -1;
		}
		if (is_tenant)
			snprintf(tenant, 64, "%s", arg);
		else
			snprintf(channel, 16, "%s", arg);
		if (*cur) {
			snprintf((*cur)->tenant, sizeof((*cur)->tenant), "%s", tenant);
			snprintf((*cur)->channel, sizeof((*cur)->channel), "%s", channel);
		}
		return 0;
	}
	for (i = 0; i < sizeof(step_keys) / sizeof(step_keys[0]); i++)
		if (strcmp(key, step_keys[i].key) == 0)
			break;
	if (i == sizeof(step_keys) / sizeof(step_keys[0])) {
		snprintf(err, errlen,
		         "%s:%d: unknown step \"%.40s:\" (me, tap, bot, bot!, location, "
		         "contact, tenant, channel)",
		         f->path, line, key);
		return -1;
	}
	if (!*arg) {
		snprintf(err, errlen, "%s:%d: %s: needs a text", f->path, line, key);
		return -1;
	}
	if (!*cur) {
		*cur = convo_add(f, line, tenant, channel);
		if (!*cur)
			goto oom;
		(*cur)->name = comment && *comment ? strdup(comment) : NULL;
		if (!(*cur)->name) {
			char name[64];

			snprintf(name, sizeof(name), "conversation %zu (line %d)", f->nconvos,
			         line);
			(*cur)->name = strdup(name);
		}
		if (!(*cur)->name)
			goto oom;
	}
	if (step_add(*cur, step_keys[i].kind, line, arg) < 0)
		goto oom;
	if (step_keys[i].kind == SIM_STEP_LOCATION &&
	    location_read(arg, &(*cur)->steps[(*cur)->nsteps - 1].lat,
	                  &(*cur)->steps[(*cur)->nsteps - 1].lon) < 0) {
		snprintf(err, errlen,
		         "%s:%d: location: must be LAT,LON in degrees (e.g. "
		         "-1.2921,36.8219)",
		         f->path, line);
		return -1;
	}
	return 0;
oom:
	snprintf(err, errlen, "%s: out of memory", f->path);
	return -1;
}

struct sim_file *sim_file_read(const char *path, const char *def_tenant, const char *def_channel,
                               char *err, size_t errlen)
{
	struct sim_file *f = calloc(1, sizeof(*f));
	struct sim_convo *cur = NULL;
	char tenant[64], channel[16], comment[128] = "", *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	int line = 0;
	FILE *in = NULL;

	if (!f || !(f->path = strdup(path))) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	snprintf(tenant, sizeof(tenant), "%s", def_tenant);
	snprintf(channel, sizeof(channel), "%s", def_channel);
	in = fopen(path, "r");
	if (!in) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		goto fail;
	}
	while ((n = getline(&buf, &cap, in)) >= 0) {
		char *s;

		line++;
		if (n > SIM_LINE_MAX || memchr(buf, '\0', (size_t)n)) {
			snprintf(err, errlen, "%s:%d: not a text line (binary, or over %d bytes)",
			         path, line, SIM_LINE_MAX);
			goto fail;
		}
		s = trim(buf);
		if (!*s) {
			continue;
		}
		if (*s == '#') {
			/* the first comment of a conversation names it */
			if (!cur || cur->nsteps == 0) {
				if (!comment[0])
					snprintf(comment, sizeof(comment), "%s", trim(s + 1));
			}
			continue;
		}
		if (strcmp(s, "---") == 0)
			comment[0] = '\0'; /* the next conversation's name follows */
		if (line_read(f, &cur, s, line, tenant, channel, comment, err, errlen) < 0)
			goto fail;
	}
	if (ferror(in)) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		goto fail;
	}
	if (f->nconvos == 0) {
		snprintf(err, errlen,
		         "%s: no conversation in the file (no me:, tap:, bot: ... step)", path);
		goto fail;
	}
	free(buf);
	fclose(in);
	return f;
fail:
	free(buf);
	if (in)
		fclose(in);
	sim_file_free(f);
	return NULL;
}

void sim_file_free(struct sim_file *f)
{
	size_t i, j;

	if (!f)
		return;
	for (i = 0; i < f->nconvos; i++) {
		for (j = 0; j < f->convos[i].nsteps; j++)
			free(f->convos[i].steps[j].arg);
		free(f->convos[i].steps);
		free(f->convos[i].name);
		free(f->convos[i].failure);
	}
	free(f->convos);
	free(f->path);
	free(f);
}

/* ---- running ---- */

/* text case-folded and composed (utf8proc), heap; NULL for NULL or text that is not UTF-8. */
static char *folded(const char *text)
{
	utf8proc_uint8_t *out = NULL;

	if (!text || utf8proc_map((const utf8proc_uint8_t *)text, 0, &out,
	                          UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPOSE |
	                              UTF8PROC_CASEFOLD) < 0)
		return NULL;
	return (char *)out;
}

/* 1 when hay contains needle, ignoring case in every script. */
static int contains_ci(const char *hay, const char *needle)
{
	char *h = folded(hay), *n = folded(needle);
	int found = h && n && strstr(h, n) != NULL;

	free(h);
	free(n);
	return found;
}

void sim_reply_print(FILE *out, const char *prefix, const void *reply_v)
{
	const json_t *reply = reply_v, *c;
	const char *text = json_string_value(json_object_get(reply, "text")), *p, *nl;
	size_t i;

	for (p = text ? text : ""; *p; p = nl ? nl + 1 : p + strlen(p)) {
		nl = strchr(p, '\n');
		fprintf(out, "%s%.*s\n", prefix, (int)(nl ? (size_t)(nl - p) : strlen(p)), p);
		if (!nl)
			break;
	}
	if (json_string_value(json_object_get(reply, "list_button")))
		fprintf(out, "%s[%s]\n", prefix,
		        json_string_value(json_object_get(reply, "list_button")));
	json_array_foreach(json_object_get(reply, "choices"), i, c)
	{
		const char *d = json_string_value(json_object_get(c, "description"));

		fprintf(out, "%s  %zu. %s%s%s\n", prefix, i + 1,
		        json_string_value(json_object_get(c, "title")), d ? " - " : "", d ? d : "");
	}
}

struct convo_run {
	struct sim_shopper *sh;
	json_t *seen;     /* the replies since the shopper's last step */
	int step_taken;   /* the shopper has made a step */
	int settled;      /* the bot is done with the last step */
	int settled_sure; /* ... and the outbox said so (not a quiet while) */
	struct sbuf fail;
};

/* Takes the replies that come within ms (each next one within SIM_QUIET_MS). 1 when at least
 * one came. */
static int take_replies(struct convo_run *r, int ms)
{
	json_t *reply = sim_shopper_reply(r->sh, ms);
	int got = 0;

	while (reply) {
		got = 1;
		json_array_append_new(r->seen, reply);
		reply = sim_shopper_reply(r->sh, SIM_QUIET_MS);
	}
	return got;
}

/* Lets the bot finish answering the last step: until the outbox has nothing pending for the
 * shopper, or (the web chat) until no reply came for SIM_QUIET_MS. */
static void settle(struct convo_run *r)
{
	json_t *reply;

	if (!r->step_taken || r->settled)
		return;
	if (sim_shopper_settle(r->sh, SIM_BOT_WAIT_MS) == 0) {
		while ((reply = sim_shopper_reply(r->sh, 0)))
			json_array_append_new(r->seen, reply);
		r->settled_sure = 1;
	} else {
		take_replies(r, json_array_size(r->seen) ? SIM_QUIET_MS : SIM_FIRST_WAIT_MS);
	}
	r->settled = 1;
}

static const json_t *seen_find(const json_t *seen, const char *text)
{
	const json_t *reply, *c;
	size_t i, j;

	json_array_foreach(seen, i, reply)
	{
		if (contains_ci(json_string_value(json_object_get(reply, "text")), text))
			return reply;
		json_array_foreach(
		    json_object_get(reply, "choices"), j,
		    c) if (contains_ci(json_string_value(json_object_get(c, "title")),
		                       text)) return reply;
	}
	return NULL;
}

static const json_t *choice_find(const json_t *seen, const char *title)
{
	const json_t *reply, *c, *found = NULL;
	size_t i, j;

	/* the latest offer wins */
	json_array_foreach(seen, i, reply) json_array_foreach(
	    json_object_get(reply, "choices"), j,
	    c) if (contains_ci(json_string_value(json_object_get(c, "title")), title)) found = c;
	return found;
}

/* What the bot said since the last step, for a failure. */
static void said_append(struct sbuf *b, const json_t *seen)
{
	const json_t *reply;
	size_t i;
	char *text = NULL;
	size_t len = 0;
	FILE *mem;

	if (json_array_size(seen) == 0) {
		sbuf_puts(b, "\n  the bot said nothing");
		return;
	}
	mem = open_memstream(&text, &len);
	if (!mem)
		return;
	fprintf(mem, "\n  the bot said:");
	json_array_foreach(seen, i, reply)
	{
		fprintf(mem, "\n");
		sim_reply_print(mem, "  | ", reply);
	}
	fclose(mem);
	if (len && text[len - 1] == '\n')
		text[--len] = '\0';
	sbuf_append(b, text, len);
	free(text);
}

static int shopper_step(struct convo_run *r, const struct sim_step *s, char *err, size_t errlen)
{
	const json_t *choice;

	settle(r);
	if (s->kind == SIM_STEP_TAP) {
		choice = choice_find(r->seen, s->arg);
		if (!choice && r->step_taken && take_replies(r, SIM_BOT_WAIT_MS))
			choice = choice_find(r->seen, s->arg);
		if (!choice) {
			const json_t *reply, *c;
			size_t i, j, n = 0;

			snprintf(err, errlen, "tap: no button or list row \"%s\" was offered",
			         s->arg);
			json_array_foreach(r->seen, i, reply)
			    json_array_foreach(json_object_get(reply, "choices"), j, c)
			{
				size_t used = strlen(err);

				snprintf(err + used, errlen - used, "%s\"%s\"",
				         n++ ? ", " : "; offered: ",
				         json_string_value(json_object_get(c, "title")));
			}
			return -1;
		}
		choice = json_deep_copy(choice);
		json_array_clear(r->seen);
		r->step_taken = 1;
		r->settled = r->settled_sure = 0;
		{
			int rc = sim_shopper_press(r->sh, choice, err, errlen);

			json_decref((json_t *)choice);
			return rc;
		}
	}
	json_array_clear(r->seen);
	r->step_taken = 1;
	r->settled = r->settled_sure = 0;
	switch (s->kind) {
	case SIM_STEP_ME:
		return sim_shopper_text(r->sh, s->arg, err, errlen);
	case SIM_STEP_LOCATION:
		return sim_shopper_location(r->sh, s->lat, s->lon, err, errlen);
	case SIM_STEP_CONTACT:
		return sim_shopper_contact(r->sh, s->arg, err, errlen);
	default:
		return -1;
	}
}

/* One step; 0 passed, -1 failed with r->fail set. */
static int step_run(struct convo_run *r, const char *path, const struct sim_step *s)
{
	char err[1024] = "";

	switch (s->kind) {
	case SIM_STEP_BOT:
		/* when the outbox says the bot is done, what it said is all there is */
		if (!seen_find(r->seen, s->arg) && r->step_taken)
			settle(r);
		if (!seen_find(r->seen, s->arg) && !r->settled_sure) {
			int64_t until = util_now_ms() + SIM_BOT_WAIT_MS;

			while (!seen_find(r->seen, s->arg) && util_now_ms() < until) {
				json_t *reply =
				    sim_shopper_reply(r->sh, (int)(until - util_now_ms()));

				if (!reply)
					break;
				json_array_append_new(r->seen, reply);
			}
		}
		if (seen_find(r->seen, s->arg))
			return 0;
		sbuf_printf(&r->fail, "%s:%d: bot: expected a reply containing \"%s\"", path,
		            s->line, s->arg);
		said_append(&r->fail, r->seen);
		return -1;
	case SIM_STEP_BOT_NOT:
		settle(r);
		if (!seen_find(r->seen, s->arg))
			return 0;
		sbuf_printf(&r->fail, "%s:%d: bot!: expected no reply containing \"%s\"", path,
		            s->line, s->arg);
		said_append(&r->fail, r->seen);
		return -1;
	default:
		if (shopper_step(r, s, err, sizeof(err)) == 0)
			return 0;
		sbuf_printf(&r->fail, "%s:%d: %s", path, s->line, err);
		if (s->kind == SIM_STEP_TAP)
			said_append(&r->fail, r->seen);
		return -1;
	}
}

static void convo_run(struct sim *sim, const char *path, struct sim_convo *c)
{
	struct convo_run r;
	int64_t t0 = util_now_ms();
	char err[512];
	size_t i;

	memset(&r, 0, sizeof(r));
	sbuf_init(&r.fail);
	r.seen = json_array();
	r.sh = r.seen ? sim_shopper_new(sim, c->tenant, c->channel, "Simulated Shopper", err,
	                                sizeof(err))
	              : NULL;
	if (!r.sh) {
		sbuf_printf(&r.fail, "%s:%d: no shopper: %s", path, c->line,
		            r.seen ? err : "out of memory");
		goto out;
	}
	for (i = 0; i < c->nsteps; i++)
		if (step_run(&r, path, &c->steps[i]) < 0)
			goto out;
out:
	c->seconds = (double)(util_now_ms() - t0) / 1000.0;
	if (r.fail.len) {
		c->failed = 1;
		c->failure = sbuf_take(&r.fail);
	}
	sbuf_free(&r.fail);
	sim_shopper_free(r.sh);
	json_decref(r.seen);
}

int sim_file_run(struct sim *sim, struct sim_file *f, FILE *out, FILE *errout)
{
	size_t i;
	int failed = 0;

	for (i = 0; i < f->nconvos; i++) {
		struct sim_convo *c = &f->convos[i];

		convo_run(sim, f->path, c);
		fprintf(out, "%s %s:%d %s [%s] (%.1f s)\n", c->failed ? "FAIL" : "ok  ", f->path,
		        c->line, c->name, c->channel, c->seconds);
		fflush(out);
		if (c->failed) {
			fprintf(errout, "%s\n", c->failure ? c->failure : "failed");
			fflush(errout);
			failed++;
		}
	}
	return failed;
}

/* ---- JUnit XML ---- */

static void xml_escaped(FILE *o, const char *s)
{
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;

		switch (ch) {
		case '&':
			fputs("&amp;", o);
			break;
		case '<':
			fputs("&lt;", o);
			break;
		case '>':
			fputs("&gt;", o);
			break;
		case '"':
			fputs("&quot;", o);
			break;
		case '\'':
			fputs("&apos;", o);
			break;
		default:
			/* XML 1.0 has no other control characters than tab and line ends */
			if (ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r')
				fputc('?', o);
			else
				fputc(ch, o);
		}
	}
}

int sim_junit_write(const char *path, struct sim_file *const *files, size_t nfiles,
                    const char *const *unreadable, size_t nunreadable)
{
	FILE *o = fopen(path, "w");
	size_t i, j;
	int rc;

	if (!o)
		return -1;
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"ccgw simulate\">\n",
	      o);
	for (i = 0; i < nfiles; i++) {
		const struct sim_file *f = files[i];
		size_t failures = 0;
		double total = 0;

		for (j = 0; j < f->nconvos; j++) {
			failures += (size_t)f->convos[j].failed;
			total += f->convos[j].seconds;
		}
		fputs("  <testsuite name=\"", o);
		xml_escaped(o, f->path);
		fprintf(o, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" time=\"%.3f\">\n",
		        f->nconvos, failures, total);
		for (j = 0; j < f->nconvos; j++) {
			const struct sim_convo *c = &f->convos[j];

			fputs("    <testcase classname=\"", o);
			xml_escaped(o, f->path);
			fputs("\" name=\"", o);
			xml_escaped(o, c->name);
			fprintf(o, " [%s]\" file=\"", c->channel);
			xml_escaped(o, f->path);
			fprintf(o, "\" line=\"%d\" time=\"%.3f\"", c->line, c->seconds);
			if (!c->failed) {
				fputs("/>\n", o);
				continue;
			}
			fputs(">\n      <failure message=\"", o);
			{
				const char *nl = c->failure ? strchr(c->failure, '\n') : NULL;
				char *first =
				    c->failure ? strndup(c->failure, nl ? (size_t)(nl - c->failure)
				                                        : strlen(c->failure))
				               : NULL;

				xml_escaped(o, first ? first : "failed");
				free(first);
			}
			fputs("\">", o);
			xml_escaped(o, c->failure);
			fputs("</failure>\n    </testcase>\n", o);
		}
		fputs("  </testsuite>\n", o);
	}
	for (i = 0; i < nunreadable; i++) {
		fputs("  <testsuite name=\"unreadable\" tests=\"1\" failures=\"0\" errors=\"1\">\n"
		      "    <testcase classname=\"unreadable\" name=\"",
		      o);
		xml_escaped(o, unreadable[i]);
		fputs("\">\n      <error message=\"", o);
		xml_escaped(o, unreadable[i]);
		fputs("\"/>\n    </testcase>\n  </testsuite>\n", o);
	}
	fputs("</testsuites>\n", o);
	rc = ferror(o) ? -1 : 0;
	if (fclose(o) != 0)
		rc = -1;
	return rc;
}
