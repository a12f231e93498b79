/*
 * trust.c: trust and safety (see trust.h, docs/TRUST.md): counting a shopper's messages and
 * abusive words in the turn's own transaction (one statement per message, on the customer's
 * trust_state row), the order patterns at order changes, detections with their evidence, one
 * live violation per customer and pattern, the throttle and block actions, and the seller's
 * answers to complaints and violations.
 */
#include "trust.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "commerce_util.h"
#include "conversation.h"
#include "engine_internal.h"
#include "log.h"
#include "notify.h"
#include "order_json.h"
#include "pg.h"
#include "util.h"

#ifndef CCGW_ABUSE_DIR
#define CCGW_ABUSE_DIR "commerce/lexicon"
#endif

#define TRUST_PHRASES_MAX 2048
#define TRUST_PHRASE_LEN  96
#define TRUST_TEXT_MAX    4096 /* bytes of a message read for abusive words */

/* ---- the abusive words ---- */

struct abuse_phrase {
	char text[TRUST_PHRASE_LEN]; /* " word word " as normalized */
	char lang[3];
};

static struct abuse_phrase *abuse;
static size_t nabuse;
static pthread_once_t abuse_once = PTHREAD_ONCE_INIT;

/* text as " word word " : case folded, accents stripped, every run of characters that are
 * not letters or digits one space. Heap; NULL when out of memory. */
static char *abuse_normalize(const char *text, size_t len)
{
	utf8proc_uint8_t *folded = NULL;
	utf8proc_ssize_t n;
	struct sbuf b;
	size_t i = 0;
	int space = 1;

	n = utf8proc_map((const utf8proc_uint8_t *)text, (utf8proc_ssize_t)len, &folded,
	                 UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD |
	                     UTF8PROC_STRIPMARK | UTF8PROC_IGNORE);
	if (n < 0)
		return NULL;
	sbuf_init(&b);
	sbuf_puts(&b, " ");
	while (i < (size_t)n) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate(folded + i, n - (utf8proc_ssize_t)i, &cp);
		utf8proc_category_t cat;

		if (k <= 0)
			break;
		cat = utf8proc_category(cp);
		if ((cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
		    (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO) ||
		    cat == UTF8PROC_CATEGORY_MN) {
			sbuf_append(&b, folded + i, (size_t)k);
			space = 0;
		} else if (!space) {
			sbuf_puts(&b, " ");
			space = 1;
		}
		i += (size_t)k;
	}
	if (!space)
		sbuf_puts(&b, " ");
	free(folded);
	return sbuf_take(&b);
}

static void abuse_load_file(const char *dir, const char *name)
{
	char path[1024], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f) {
		log_error(NULL, "trust: cannot read %s", path);
		return;
	}
	while (fgets(line, sizeof(line), f) && nabuse < TRUST_PHRASES_MAX) {
		char *p = cm_trim(line), *norm;

		if (!*p || *p == '#')
			continue;
		norm = abuse_normalize(p, strlen(p));
		if (norm && strlen(norm) > 2 && strlen(norm) < TRUST_PHRASE_LEN) {
			snprintf(abuse[nabuse].text, TRUST_PHRASE_LEN, "%s", norm);
			/* abuse_<lang>.tsv */
			snprintf(abuse[nabuse].lang, sizeof(abuse[nabuse].lang), "%.2s", name + 6);
			nabuse++;
		}
		free(norm);
	}
	fclose(f);
}

static void abuse_load(void)
{
	const char *dir = getenv("CCGW_ABUSE_DIR");
	struct dirent *de;
	DIR *d;

	if (!dir || !*dir)
		dir = CCGW_ABUSE_DIR;
	abuse = calloc(TRUST_PHRASES_MAX, sizeof(*abuse));
	d = abuse ? opendir(dir) : NULL;
	if (!d) {
		log_error(NULL,
		          "trust: cannot open the abusive words folder %s: the "
		          "abusive_language pattern detects nothing",
		          dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (n == strlen("abuse_xx.tsv") && strncmp(de->d_name, "abuse_", 6) == 0 &&
		    strcmp(de->d_name + n - 4, ".tsv") == 0)
			abuse_load_file(dir, de->d_name);
	}
	closedir(d);
	log_debug(NULL, "trust: %zu abusive words and phrases from %s", nabuse, dir);
}

size_t trust_abuse_count(void)
{
	pthread_once(&abuse_once, abuse_load);
	return nabuse;
}

int trust_abuse_find(const char *text, char *phrase, size_t phrase_len, char lang[3])
{
	char *norm;
	size_t i, len;
	int found = 0;

	if (!text || !*text || trust_abuse_count() == 0)
		return 0;
	len = strlen(text);
	norm = abuse_normalize(text, len > TRUST_TEXT_MAX ? TRUST_TEXT_MAX : len);
	for (i = 0; norm && i < nabuse && !found; i++) {
		if (!strstr(norm, abuse[i].text))
			continue;
		found = 1;
		if (phrase && phrase_len) {
			/* without the framing spaces */
			snprintf(phrase, phrase_len, "%.*s", (int)strlen(abuse[i].text) - 2,
			         abuse[i].text + 1);
		}
		if (lang)
			snprintf(lang, 3, "%s", abuse[i].lang);
	}
	free(norm);
	return found;
}

/* ---- definitions ---- */

static const char *const trust_actions[] = {"flag", "throttle", "block", NULL};
static const char *const trust_severities[] = {"low", "medium", "high", "critical", NULL};

static int in_list(const char *s, const char *const *list)
{
	for (; s && *list; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

static long def_int(const json_t *def, const char *key, long fallback)
{
	const json_t *v = json_object_get(def, key);

	return json_is_integer(v) ? (long)json_integer_value(v) : fallback;
}

static const char *def_str(const json_t *def, const char *key, const char *fallback)
{
	const char *s = json_string_value(json_object_get(def, key));

	return s ? s : fallback;
}

int trust_definition_check(const json_t *def, char *field, size_t field_len, char *msg,
                           size_t msg_len)
{
	static const struct {
		const char *key;
		long long min, max;
	} ints[] = {
	    {"threshold", 1, 1000000},
	    {"window_seconds", 1, 31536000},
	    {"interval_seconds", 1, 86400},
	};
	const char *key;
	json_t *v;
	size_t i;

	if (!json_is_object(def)) {
		snprintf(field, field_len, "definition");
		snprintf(msg, msg_len, "must be an object");
		return -1;
	}
	json_object_foreach((json_t *)def, key, v)
	{
		int known = 0;

		snprintf(field, field_len, "definition.%.60s", key);
		for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
			if (strcmp(key, ints[i].key) != 0)
				continue;
			known = 1;
			if (!json_is_integer(v) || json_integer_value(v) < ints[i].min ||
			    json_integer_value(v) > ints[i].max) {
				snprintf(msg, msg_len, "must be a whole number from %lld to %lld",
				         ints[i].min, ints[i].max);
				return -1;
			}
		}
		if (strcmp(key, "action") == 0) {
			known = 1;
			if (!in_list(json_string_value(v), trust_actions)) {
				snprintf(msg, msg_len, "must be flag, throttle or block");
				return -1;
			}
		} else if (strcmp(key, "severity") == 0) {
			known = 1;
			if (!in_list(json_string_value(v), trust_severities)) {
				snprintf(msg, msg_len, "must be low, medium, high or critical");
				return -1;
			}
		}
		if (!known) {
			snprintf(msg, msg_len,
			         "unknown key: a definition has threshold, window_seconds, action, "
			         "severity and interval_seconds");
			return -1;
		}
	}
	for (i = 0; i < 2; i++) { /* threshold and window are required */
		if (!json_object_get(def, ints[i].key)) {
			snprintf(field, field_len, "definition.%s", ints[i].key);
			snprintf(msg, msg_len, "is required");
			return -1;
		}
	}
	if (!json_object_get(def, "action")) {
		snprintf(field, field_len, "definition.action");
		snprintf(msg, msg_len, "is required");
		return -1;
	}
	return 0;
}

char *trust_pattern_describe(const char *name, const json_t *def)
{
	long n = def_int(def, "threshold", 0), w = def_int(def, "window_seconds", 0);
	const char *action = def_str(def, "action", "flag");
	struct sbuf b;

	sbuf_init(&b);
	if (strcmp(name, "flooding") == 0)
		sbuf_printf(&b, "more than %ld messages from one shopper within %ld s", n, w);
	else if (strcmp(name, "abusive_language") == 0)
		sbuf_printf(&b,
		            "%ld or more messages with abusive words from one shopper within %ld s",
		            n, w);
	else if (strcmp(name, "unpaid_orders") == 0)
		sbuf_printf(&b,
		            "%ld or more cash-on-delivery orders of one customer cancelled or "
		            "returned within %ld s",
		            n, w);
	else if (strcmp(name, "order_burst") == 0)
		sbuf_printf(&b, "more than %ld orders from one customer within %ld s", n, w);
	else
		sbuf_printf(&b, "%s", name);
	if (strcmp(action, "throttle") == 0)
		sbuf_printf(&b, "; then the bot answers at most once every %ld s",
		            def_int(def, "interval_seconds", 30));
	else if (strcmp(action, "block") == 0)
		sbuf_printf(&b, "; then the bot stops answering and taking orders");
	else
		sbuf_printf(&b, "; then the seller is told");
	return sbuf_take(&b);
}

/* ---- detections ---- */

/* What fired, and where its evidence is. */
struct detection {
	const char *tenant, *customer, *conversation; /* conversation may be NULL */
	const char *pattern_id, *kind;
	const json_t *def;
	const char *order_id; /* may be NULL */
	double score;
	json_t *details; /* borrowed */
	/* evidence: an INSERT ... SELECT with $1 tenant, $2 violation, $3 detection, then
	 * its own parameters */
	const char *evidence_sql;
	const char *ev_params[4];
	int ev_nparams;
	/* out */
	char violation_id[37];
	int opened;
};

/* The violation opened or extended, the detection, its evidence, the conversation's event
 * and, for a new violation, the seller's violation.opened. 0 or -1. */
static int detection_write(PGconn *conn, struct detection *d)
{
	char score[32], detection_id[37];
	char *details = json_dumps(d->details, JSON_COMPACT);
	const char *severity = def_str(d->def, "severity", "medium");
	const char *action = def_str(d->def, "action", "flag");
	json_t *data = NULL, *ev = NULL;
	PGresult *res = NULL;
	int rc = -1;

	if (!details)
		return -1;
	if (!in_list(severity, trust_severities))
		severity = "medium";
	if (!in_list(action, trust_actions))
		action = "flag";
	snprintf(score, sizeof(score), "%g", d->score);
	res =
	    pg_exec(conn,
	            "INSERT INTO violations AS v (tenant_id, kind, severity, customer_id, order_id,"
	            " action, pattern_id, conversation_id, details) VALUES ($1, $2, $3, $4,"
	            " $5::uuid, $6, $7, $8::uuid, $9::jsonb)"
	            " ON CONFLICT (tenant_id, customer_id, kind)"
	            "  WHERE status IN ('open', 'confirmed') DO UPDATE SET"
	            " detections = v.detections + 1, last_detected_at = now(),"
	            " severity = EXCLUDED.severity, action = EXCLUDED.action,"
	            " pattern_id = EXCLUDED.pattern_id, details = EXCLUDED.details,"
	            " order_id = COALESCE(EXCLUDED.order_id, v.order_id),"
	            " conversation_id = COALESCE(EXCLUDED.conversation_id, v.conversation_id)"
	            " RETURNING id, xmax = 0",
	            9,
	            (const char *const[]){d->tenant, d->kind, severity, d->customer, d->order_id,
	                                  action, d->pattern_id, d->conversation, details});
	if (!res)
		goto out;
	snprintf(d->violation_id, sizeof(d->violation_id), "%s", PQgetvalue(res, 0, 0));
	d->opened = PQgetvalue(res, 0, 1)[0] == 't';
	PQclear(res);
	res = pg_exec(conn,
	              "INSERT INTO pattern_detections (tenant_id, pattern_id, customer_id,"
	              " conversation_id, violation_id, score, details, order_id)"
	              " VALUES ($1, $2, $3, $4::uuid, $5, $6::float8, $7::jsonb, $8::uuid)"
	              " RETURNING id",
	              8,
	              (const char *const[]){d->tenant, d->pattern_id, d->customer, d->conversation,
	                                    d->violation_id, score, details, d->order_id});
	if (!res)
		goto out;
	snprintf(detection_id, sizeof(detection_id), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	res = NULL;
	{
		const char *p[7] = {d->tenant, d->violation_id, detection_id};
		int i;

		for (i = 0; i < d->ev_nparams; i++)
			p[3 + i] = d->ev_params[i];
		if (pg_cmd(conn, d->evidence_sql, 3 + d->ev_nparams, p) < 0)
			goto out;
	}
	ev = json_pack("{s:s, s:s, s:s, s:s, s:b}", "violation_id", d->violation_id, "kind",
	               d->kind, "action", action, "severity", severity, "opened", d->opened);
	if (!ev || (d->conversation &&
	            conv_event_add(conn, d->tenant, d->conversation, "violation_detected", ev) < 0))
		goto out;
	if (d->opened) {
		res =
		    pg_exec(conn,
		            "SELECT jsonb_build_object('violation', jsonb_build_object('id', v.id,"
		            " 'kind', v.kind, 'severity', v.severity, 'action', v.action,"
		            " 'status', v.status, 'conversation_id', v.conversation_id,"
		            " 'order_id', v.order_id, 'details', v.details,"
		            " 'customer', jsonb_build_object('id', c.id, 'name', c.name,"
		            " 'phone', c.phone)))::text"
		            " FROM violations v LEFT JOIN customers c ON c.tenant_id = v.tenant_id"
		            "  AND c.id = v.customer_id WHERE v.tenant_id = $1 AND v.id = $2",
		            2, (const char *const[]){d->tenant, d->violation_id});
		if (!res || PQntuples(res) != 1)
			goto out;
		data = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
		if (!data || notify_seller(conn, d->tenant, "violation.opened", data) < 0)
			goto out;
		struct log_ctx lc = {.tenant = d->tenant, .conversation = d->conversation};

		log_info(&lc, "trust: violation %s opened (%s, %s)", d->violation_id, d->kind,
		         action);
	}
	rc = 0;
out:
	PQclear(res);
	json_decref(data);
	json_decref(ev);
	free(details);
	return rc;
}

/* The last n message_received events of the conversation since the window began. */
#define EVIDENCE_MESSAGES_SQL                                                                      \
	"INSERT INTO evidence (tenant_id, violation_id, detection_id, conversation_event_id, "     \
	"note)"                                                                                    \
	" SELECT $1, $2, $3, e.id, 'message' FROM (SELECT id FROM conversation_events"             \
	"  WHERE tenant_id = $1 AND conversation_id = $4 AND event_type = 'message_received'"      \
	"  AND created_at >= $5::timestamptz ORDER BY seq DESC LIMIT $6::int) e"

/* The shopper's abusive messages of the window (the last $6 abusive_message events since
 * $5, each pointing at its message_received event by the platform message id). */
#define EVIDENCE_ABUSIVE_SQL                                                                       \
	"INSERT INTO evidence (tenant_id, violation_id, detection_id, conversation_event_id, "     \
	"note)"                                                                                    \
	" SELECT $1, $2, $3, e.id, 'abusive (' || (a.payload->>'lang') || '): '"                   \
	"  || (a.payload->>'phrase') FROM (SELECT payload FROM conversation_events"                \
	"  WHERE tenant_id = $1 AND conversation_id = $4 AND event_type = 'abusive_message'"       \
	"  AND created_at >= $5::timestamptz ORDER BY seq DESC LIMIT $6::int) a"                   \
	" CROSS JOIN LATERAL (SELECT m.id FROM conversation_events m WHERE m.tenant_id = $1"       \
	"  AND m.conversation_id = $4 AND m.event_type = 'message_received'"                       \
	"  AND m.payload->>'message_id' = a.payload->>'message_id' ORDER BY m.seq DESC LIMIT 1) e"

/* ---- the turn's hooks ---- */

/* The pattern's row columns in the turn's statement: id and definition, NULL when off. */
static json_t *col_def(PGresult *res, int c)
{
	json_t *j = PQgetisnull(res, 0, c) ? NULL : json_loads(PQgetvalue(res, 0, c), 0, NULL);

	if (j && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

/* A detection in the turn's conversation of kind by pattern_id with details (taken): its
 * evidence the conversation's messages evidence_sql selects ($4 the conversation, $5 since,
 * $6 at most limit of them). 0 or -1. */
static int turn_detect(struct turn *t, const char *kind, const char *pattern_id, const json_t *def,
                       long count, json_t *details, const char *evidence_sql, const char *since,
                       long limit)
{
	char lim[24];
	struct detection d = {
	    .tenant = t->tenant,
	    .customer = t->customer_id,
	    .conversation = t->conv_id,
	    .pattern_id = pattern_id,
	    .kind = kind,
	    .def = def,
	    .score = (double)count,
	    .details = details,
	    .evidence_sql = evidence_sql,
	    .ev_params = {t->conv_id, since, lim},
	    .ev_nparams = 3,
	};
	int rc;

	snprintf(lim, sizeof(lim), "%ld", limit);
	rc = details ? detection_write(t->conn, &d) : -1;
	json_decref(details);
	return rc;
}

static int turn_flooding(struct turn *t, PGresult *res, const json_t *def, long count)
{
	json_t *details = json_pack("{s:I, s:I, s:I}", "messages", (json_int_t)count, "threshold",
	                            (json_int_t)def_int(def, "threshold", 20), "window_seconds",
	                            (json_int_t)def_int(def, "window_seconds", 60));

	return turn_detect(t, "flooding", PQgetvalue(res, 0, 4), def, count, details,
	                   EVIDENCE_MESSAGES_SQL, PQgetvalue(res, 0, 2), count);
}

static int turn_abusive(struct turn *t, PGresult *res, const json_t *def, long count,
                        const char *phrase, const char *lang)
{
	json_t *details =
	    json_pack("{s:I, s:I, s:s, s:s}", "messages", (json_int_t)count, "threshold",
	              (json_int_t)def_int(def, "threshold", 1), "phrase", phrase, "lang", lang);

	/* the threshold's worth of abusive messages that made it fire: with a threshold of one,
	 * each detection's own message */
	return turn_detect(t, "abusive_language", PQgetvalue(res, 0, 6), def, count, details,
	                   EVIDENCE_ABUSIVE_SQL, PQgetvalue(res, 0, 10),
	                   def_int(def, "threshold", 1));
}

/* The polite note a throttled shopper's answer starts with. */
static void throttle_note(struct turn *t, long interval)
{
	char s[24];

	snprintf(s, sizeof(s), "%ld", interval);
	turn_sayf(t,
	          "You're sending a lot of messages, so I'll answer at most once every %s "
	          "seconds. Thank you for your patience.",
	          "Unatuma jumbe nyingi, kwa hivyo nitajibu mara moja tu kila sekunde %s. Asante "
	          "kwa uvumilivu wako.",
	          s);
}

/* $1 tenant, $2 customer, $3 abusive. Columns: 0 messages in the window, 1 abusive
 * messages in theirs, 2 when the message window began, 3 seconds since a throttled
 * shopper was last answered (-1 never), 4/5 flooding's id and definition, 6/7
 * abusive_language's (NULL when switched off), 8 blocked, 9 the throttle interval (0
 * none) of the customer's live violations, 10 when the abusive messages' window began,
 * 11 the chat is one of the seller's notification targets ($4 channel, $5 chat). */
static const char TURN_BEGIN_SQL[] =
    "WITH p AS MATERIALIZED (SELECT"
    " (SELECT b FROM behavior_patterns b WHERE b.tenant_id = $1 AND b.name = 'flooding'"
    "  AND b.active) AS fl,"
    " (SELECT b FROM behavior_patterns b WHERE b.tenant_id = $1"
    "  AND b.name = 'abusive_language' AND b.active) AS ab"
    "), w AS (SELECT fl, ab,"
    " make_interval(secs => COALESCE(((fl).definition->>'window_seconds')::float8, 60)) AS "
    "fw,"
    " make_interval(secs => COALESCE(((ab).definition->>'window_seconds')::float8, 86400))"
    "  AS aw FROM p"
    "), up AS ("
    " INSERT INTO trust_state AS s (tenant_id, customer_id, flood_count, abuse_count)"
    " VALUES ($1, $2, 1, CASE WHEN $3::boolean THEN 1 ELSE 0 END)"
    " ON CONFLICT (tenant_id, customer_id) DO UPDATE SET"
    " flood_count = CASE WHEN s.flood_started_at > now() - (SELECT fw FROM w)"
    "  THEN s.flood_count + 1 ELSE 1 END,"
    " flood_started_at = CASE WHEN s.flood_started_at > now() - (SELECT fw FROM w)"
    "  THEN s.flood_started_at ELSE now() END,"
    " abuse_count = CASE WHEN NOT $3::boolean THEN s.abuse_count"
    "  WHEN s.abuse_started_at > now() - (SELECT aw FROM w) THEN s.abuse_count + 1"
    "  ELSE 1 END,"
    " abuse_started_at = CASE WHEN $3::boolean AND"
    "  s.abuse_started_at <= now() - (SELECT aw FROM w) THEN now()"
    "  ELSE s.abuse_started_at END"
    " RETURNING s.flood_count, s.abuse_count, s.flood_started_at, s.throttle_reply_at,"
    "  s.abuse_started_at"
    ") SELECT up.flood_count, up.abuse_count, up.flood_started_at,"
    " COALESCE(extract(epoch FROM now() - up.throttle_reply_at)::bigint, -1),"
    " (w.fl).id, (w.fl).definition::text, (w.ab).id, (w.ab).definition::text,"
    " COALESCE(x.blocked, false), COALESCE(x.interval, 0), up.abuse_started_at,"
    " EXISTS (SELECT 1 FROM notification_targets nt WHERE nt.tenant_id = $1 AND nt.active"
    "  AND nt.channel_id = $4 AND (nt.chat_id = $5 OR nt.to_number = $5))"
    " FROM up CROSS JOIN w CROSS JOIN LATERAL (SELECT bool_or(v.action = 'block') AS "
    "blocked,"
    "  max(CASE WHEN v.action = 'throttle' THEN"
    "   COALESCE((bp.definition->>'interval_seconds')::int, 30) END) AS interval"
    "  FROM violations v LEFT JOIN behavior_patterns bp ON bp.tenant_id = v.tenant_id"
    "   AND bp.id = v.pattern_id"
    "  WHERE v.tenant_id = $1 AND v.customer_id = $2 AND v.status IN ('open', 'confirmed')"
    "  AND v.action <> 'flag') x";

/* A detection's action on what this message gets: block, or throttle at the longer interval. */
static void action_apply(const json_t *def, int *blocked, long *interval)
{
	if (strcmp(def_str(def, "action", "flag"), "block") == 0)
		*blocked = 1;
	else if (strcmp(def_str(def, "action", "flag"), "throttle") == 0 &&
	         def_int(def, "interval_seconds", 30) > *interval)
		*interval = def_int(def, "interval_seconds", 30);
}

int trust_turn_begin(struct turn *t)
{
	char phrase[TRUST_PHRASE_LEN] = "", lang[3] = "";
	int abusive = trust_abuse_find(t->text, phrase, sizeof(phrase), lang);
	const char *params[5] = {t->tenant, t->customer_id, abusive ? "true" : "false",
	                         t->m->channel_id, t->m->chat_id};
	json_t *fl = NULL, *ab = NULL;
	PGresult *res;
	long flood, abuse_n, since_reply, interval;
	int blocked, rc = -1;

	if (!t->customer_id[0])
		return 0;
	res = pg_exec(t->conn, TURN_BEGIN_SQL, 5, params);
	if (!res || PQntuples(res) != 1) {
		PQclear(res);
		return -1;
	}
	if (PQgetvalue(res, 0, 11)[0] == 't') { /* the seller's own chat: their buttons, relays */
		PQclear(res);
		return 0;
	}
	flood = atol(PQgetvalue(res, 0, 0));
	abuse_n = atol(PQgetvalue(res, 0, 1));
	since_reply = atol(PQgetvalue(res, 0, 3));
	fl = col_def(res, 5);
	ab = col_def(res, 7);
	blocked = PQgetvalue(res, 0, 8)[0] == 't';
	interval = atol(PQgetvalue(res, 0, 9));

	/* an abusive message is marked, so that a detection at a threshold above one finds the
	 * earlier ones as evidence */
	if (ab && abusive &&
	    turn_event(t, "abusive_message",
	               json_pack("{s:s, s:s, s:s}", "message_id", t->m->message_id, "phrase",
	                         phrase, "lang", lang)) < 0)
		goto out;
	/* flooding fires once per window, at the first message over the threshold */
	if (fl && flood == def_int(fl, "threshold", 20) + 1) {
		if (turn_events_flush(t) < 0 || turn_flooding(t, res, fl, flood) < 0)
			goto out;
		action_apply(fl, &blocked, &interval);
	}
	/* abusive language: every abusive message from the threshold on */
	if (ab && abusive && abuse_n >= def_int(ab, "threshold", 1)) {
		if (turn_events_flush(t) < 0 || turn_abusive(t, res, ab, abuse_n, phrase, lang) < 0)
			goto out;
		action_apply(ab, &blocked, &interval);
	}
	if (blocked) {
		log_debug(&t->log, "trust: blocked shopper: message recorded, no reply");
		rc = TRUST_SILENT;
		goto out;
	}
	/* in a handoff a person answers, not the bot: nothing to hold back */
	if (interval > 0 && strcmp(t->state, "handoff") != 0) {
		if (since_reply >= 0 && since_reply < interval) {
			log_debug(&t->log, "trust: throttled shopper: message recorded, no reply");
			rc = TRUST_SILENT;
			goto out;
		}
		if (pg_cmd(t->conn,
		           "UPDATE trust_state SET throttle_reply_at = now() WHERE tenant_id = $1"
		           " AND customer_id = $2",
		           2, params) < 0)
			goto out;
		throttle_note(t, interval);
	}
	rc = 0;
out:
	json_decref(fl);
	json_decref(ab);
	PQclear(res);
	return rc;
}

/* The pattern name's id and definition when it is active: 1, 0 when off, -1 error. */
static int pattern_load(PGconn *conn, const char *tenant, const char *name, char id[37],
                        json_t **def)
{
	PGresult *res = pg_exec(conn,
	                        "SELECT id, definition::text FROM behavior_patterns"
	                        " WHERE tenant_id = $1 AND name = $2 AND active",
	                        2, (const char *const[]){tenant, name});
	int rc = 0;

	*def = NULL;
	if (!res)
		return -1;
	if (PQntuples(res) == 1) {
		snprintf(id, 37, "%s", PQgetvalue(res, 0, 0));
		*def = json_loads(PQgetvalue(res, 0, 1), 0, NULL);
		rc = json_is_object(*def) ? 1 : 0;
	}
	PQclear(res);
	return rc;
}

/* Evidence of the order patterns: the event of each counted order ($4 customer, $5 the
 * window in seconds, $6 the most to take). */
#define EVIDENCE_ORDERS_SQL(where, event, cond)                                                    \
	"INSERT INTO evidence (tenant_id, violation_id, detection_id, conversation_event_id, "     \
	"note)"                                                                                    \
	" SELECT $1, $2, $3, e.id, 'order #' || o.order_number || ' ' || o.status FROM"            \
	" (SELECT id, order_number, status FROM orders WHERE tenant_id = $1 AND customer_id = $4"  \
	"  AND " where " ORDER BY updated_at DESC LIMIT $6::int) o"                                \
	" JOIN order_channel_meta m ON m.tenant_id = $1 AND m.order_id = o.id"                     \
	" CROSS JOIN LATERAL (SELECT ce.id FROM conversation_events ce WHERE ce.tenant_id = $1"    \
	"  AND ce.conversation_id = m.conversation_id AND ce.event_type = '" event "'"             \
	"  AND ce.payload->>'order_id' = o.id::text " cond " ORDER BY ce.seq DESC LIMIT 1) e"

/* w: the parameter that holds the window in seconds */
#define UNPAID_WHERE(w)                                                                            \
	"status IN ('cancelled', 'returned') AND payment_method = 'cash_on_delivery'"              \
	" AND updated_at > now() - make_interval(secs => " w "::float8)"
#define BURST_WHERE(w) "created_at > now() - make_interval(secs => " w "::float8)"

/* Counts the customer's orders matching where (at most limit) and writes a detection when
 * fire(count). */
static int order_pattern(PGconn *conn, const char *tenant, const char *order_id, const char *name,
                         int unpaid)
{
	char pid[37], win[24], lim[24], customer[37], conversation[37] = "";
	json_t *def = NULL, *details = NULL;
	PGresult *res = NULL;
	long threshold, count;
	int rc = pattern_load(conn, tenant, name, pid, &def);

	if (rc <= 0)
		return rc;
	rc = -1;
	threshold = def_int(def, "threshold", unpaid ? 3 : 5);
	snprintf(win, sizeof(win), "%ld", def_int(def, "window_seconds", unpaid ? 2592000 : 3600));
	snprintf(lim, sizeof(lim), "%ld", threshold + 1);
	res = pg_exec(
	    conn,
	    unpaid
	        ? "SELECT o.customer_id, m.conversation_id, (SELECT count(*) FROM"
	          " (SELECT 1 FROM orders WHERE tenant_id = $1"
	          "  AND customer_id = o.customer_id AND " UNPAID_WHERE(
	              "$3") "  LIMIT $4::int) x) FROM orders o LEFT JOIN order_channel_meta m"
	                    " ON m.tenant_id = o.tenant_id AND m.order_id = o.id"
	                    " WHERE o.tenant_id = $1 AND o.id = $2"
	                    " AND o.payment_method = 'cash_on_delivery'"
	                    " AND o.customer_id IS NOT NULL"
	        : "SELECT o.customer_id, m.conversation_id, (SELECT count(*) FROM"
	          " (SELECT 1 FROM orders WHERE tenant_id = $1"
	          "  AND customer_id = o.customer_id AND " BURST_WHERE(
	              "$3") "  LIMIT $4::int) x) FROM orders o LEFT JOIN order_channel_meta m"
	                    " ON m.tenant_id = o.tenant_id AND m.order_id = o.id"
	                    " WHERE o.tenant_id = $1 AND o.id = $2 AND o.customer_id IS NOT NULL",
	    4, (const char *const[]){tenant, order_id, win, lim});
	if (!res)
		goto out;
	if (PQntuples(res) != 1) {
		rc = 0; /* not cash on delivery, or no customer */
		goto out;
	}
	snprintf(customer, sizeof(customer), "%s", PQgetvalue(res, 0, 0));
	if (!PQgetisnull(res, 0, 1))
		snprintf(conversation, sizeof(conversation), "%s", PQgetvalue(res, 0, 1));
	count = atol(PQgetvalue(res, 0, 2));
	PQclear(res);
	res = NULL;
	if (unpaid ? count < threshold : count <= threshold) {
		rc = 0;
		goto out;
	}
	details = json_pack("{s:I, s:I, s:I}", "orders", (json_int_t)count, "threshold",
	                    (json_int_t)threshold, "window_seconds",
	                    (json_int_t)def_int(def, "window_seconds", 0));
	{
		struct detection d = {
		    .tenant = tenant,
		    .customer = customer,
		    .conversation = conversation[0] ? conversation : NULL,
		    .pattern_id = pid,
		    .kind = name,
		    .def = def,
		    .order_id = order_id,
		    .score = (double)count,
		    .details = details,
		    .evidence_sql =
		        unpaid ? EVIDENCE_ORDERS_SQL(UNPAID_WHERE("$5"), "order_status_changed",
		                                     "AND ce.payload->>'status' = o.status")
		               : EVIDENCE_ORDERS_SQL(BURST_WHERE("$5"), "order_placed", ""),
		    .ev_params = {customer, win, lim},
		    .ev_nparams = 3,
		};

		if (!details || detection_write(conn, &d) < 0)
			goto out;
	}
	rc = 0;
out:
	json_decref(def);
	json_decref(details);
	PQclear(res);
	return rc;
}

int trust_turn_order_placed(struct turn *t, const char *order_id)
{
	/* the order_placed event is evidence: write the turn's events first */
	if (turn_events_flush(t) < 0)
		return -1;
	return order_pattern(t->conn, t->tenant, order_id, "order_burst", 0);
}

int trust_turn_order_burst_due(struct turn *t)
{
	char pid[37], win[24], lim[24];
	json_t *def = NULL;
	PGresult *res;
	long threshold;
	int rc = pattern_load(t->conn, t->tenant, "order_burst", pid, &def);

	if (rc <= 0 || !t->customer_id[0]) {
		json_decref(def);
		return rc < 0 ? -1 : 0;
	}
	/* order_pattern counts the new order too, and fires past the threshold */
	threshold = def_int(def, "threshold", 5);
	snprintf(win, sizeof(win), "%ld", def_int(def, "window_seconds", 3600));
	snprintf(lim, sizeof(lim), "%ld", threshold + 1);
	json_decref(def);
	res = pg_exec(t->conn,
	              "SELECT count(*) FROM (SELECT 1 FROM orders WHERE tenant_id = $1"
	              " AND customer_id = $2 AND " BURST_WHERE("$3") " LIMIT $4::int) x",
	              4, (const char *const[]){t->tenant, t->customer_id, win, lim});
	if (!res)
		return -1;
	rc = atol(PQgetvalue(res, 0, 0)) + 1 > threshold;
	PQclear(res);
	return rc;
}

int trust_order_changed(PGconn *conn, const char *tenant_id, const char *order_id,
                        const char *status)
{
	if (strcmp(status, "cancelled") != 0 && strcmp(status, "returned") != 0)
		return 0;
	return order_pattern(conn, tenant_id, order_id, "unpaid_orders", 1);
}

int trust_turn_complaint(struct turn *t, const char *complaint_id, const char *text)
{
	if (turn_events_flush(t) < 0)
		return -1;
	/* the shopper's message that carried the text (this one, or the one before a
	 * "which order?" question), and the complaint_filed event */
	return pg_cmd(t->conn,
	              "WITH y AS (SELECT id, seq, event_type, payload FROM conversation_events"
	              "  WHERE tenant_id = $1 AND conversation_id = $3 ORDER BY seq DESC LIMIT 50)"
	              " INSERT INTO evidence (tenant_id, complaint_id, conversation_event_id, note)"
	              " SELECT $1, $2::uuid, y.id, CASE WHEN y.event_type = 'complaint_filed'"
	              "  THEN 'complaint filed' ELSE 'message' END FROM y"
	              " WHERE (y.event_type = 'complaint_filed'"
	              "  AND y.payload->>'complaint_id' = $2::uuid::text)"
	              " OR y.id = (SELECT z.id FROM y z WHERE z.event_type = 'message_received'"
	              "  AND z.payload->>'text' = $4 ORDER BY z.seq DESC LIMIT 1)",
	              4, (const char *const[]){t->tenant, complaint_id, t->conv_id, text});
}

/* ---- the seller's answers ---- */

static const char *complaint_message(const char *status, int sw, int with_order)
{
	static const struct {
		const char *status, *en, *en_order, *sw, *sw_order;
	} msgs[] = {
	    {"in_review", "We're looking into your complaint. We'll get back to you here.",
	     "We're looking into your complaint about order #%s. We'll get back to you here.",
	     "Tunashughulikia malalamiko yako. Tutakujibu hapa.",
	     "Tunashughulikia malalamiko yako kuhusu oda #%s. Tutakujibu hapa."},
	    {"resolved", "Your complaint has been resolved.",
	     "Your complaint about order #%s has been resolved.", "Malalamiko yako yametatuliwa.",
	     "Malalamiko yako kuhusu oda #%s yametatuliwa."},
	    {"rejected", "We have reviewed your complaint and could not accept it.",
	     "We have reviewed your complaint about order #%s and could not accept it.",
	     "Tumekagua malalamiko yako na hatukuweza kuyakubali.",
	     "Tumekagua malalamiko yako kuhusu oda #%s na hatukuweza kuyakubali."},
	};
	size_t i;

	for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++)
		if (strcmp(msgs[i].status, status) == 0)
			return sw ? (with_order ? msgs[i].sw_order : msgs[i].sw)
			          : (with_order ? msgs[i].en_order : msgs[i].en);
	return NULL;
}

static int complaint_allowed(const char *from, const char *to)
{
	if (strcmp(from, to) == 0)
		return 1;
	if (strcmp(from, "open") == 0)
		return 1;
	return strcmp(from, "in_review") == 0 && strcmp(to, "open") != 0;
}

/* Tells the shopper (complaint row res: 1 conversation, 2 channel, 3 chat, 4 lang, 5 order
 * number) and records complaint_updated. */
static int complaint_tell(PGconn *conn, const char *tenant, const char *id, PGresult *res,
                          const char *from, const char *status, const char *resolution)
{
	int sw = strcmp(PQgetvalue(res, 0, 4), "sw") == 0;
	const char *conv = PQgetvalue(res, 0, 1), *number = pg_value(res, 0, 5);
	const char *tmpl = complaint_message(status, sw, number != NULL);
	const char *args[1] = {number};
	json_t *ev = NULL, *reply = NULL;
	char *text = NULL;
	struct sbuf b;
	int rc = -1;

	sbuf_init(&b);
	ev = json_pack("{s:s, s:s, s:s, s:s?}", "complaint_id", id, "status", status,
	               "previous_status", from, "resolution", resolution);
	if (!ev || conv_event_add(conn, tenant, conv, "complaint_updated", ev) < 0)
		goto out;
	text = tmpl ? cm_template(tmpl, args, 1) : NULL;
	if (!text)
		goto out;
	sbuf_puts(&b, text);
	if (resolution && *resolution && strcmp(status, "in_review") != 0)
		sbuf_printf(&b, "\n\n%s", resolution);
	free(text);
	text = sbuf_take(&b);
	reply = text ? json_pack("{s:s, s:s}", "text", text, "lang", sw ? "sw" : "en") : NULL;
	if (!reply || conv_reply_add(conn, tenant, conv, PQgetvalue(res, 0, 2),
	                             PQgetvalue(res, 0, 3), NULL, reply, NULL) < 0)
		goto out;
	rc = 0;
out:
	sbuf_free(&b);
	free(text);
	json_decref(ev);
	json_decref(reply);
	return rc;
}

int trust_complaint_update(PGconn *conn, const char *tenant_id, const char *complaint_id,
                           const char *status, const char *resolution)
{
	PGresult *res = NULL;
	json_t *data = NULL, *order = NULL;
	char from[16], order_id[37] = "";
	int rc = TRUST_ERR_DB;

	if (!util_uuid_valid(complaint_id))
		return TRUST_ERR_NOT_FOUND;
	/* the conversation first, as engine turns lock it, then the complaint */
	res = pg_exec(conn,
	              "SELECT 1 FROM conversations c JOIN complaints k ON k.tenant_id = c.tenant_id"
	              " AND k.conversation_id = c.id WHERE k.tenant_id = $1 AND k.id = $2"
	              " FOR UPDATE OF c",
	              2, (const char *const[]){tenant_id, complaint_id});
	if (!res)
		return TRUST_ERR_DB;
	PQclear(res);
	res = pg_exec(conn,
	              "SELECT k.status, k.conversation_id, c.channel_id, c.external_chat_id,"
	              " c.lang, o.order_number, k.order_id FROM complaints k"
	              " LEFT JOIN conversations c ON c.tenant_id = k.tenant_id"
	              "  AND c.id = k.conversation_id"
	              " LEFT JOIN orders o ON o.tenant_id = k.tenant_id AND o.id = k.order_id"
	              " WHERE k.tenant_id = $1 AND k.id = $2 FOR UPDATE OF k",
	              2, (const char *const[]){tenant_id, complaint_id});
	if (!res)
		return TRUST_ERR_DB;
	if (PQntuples(res) != 1) {
		rc = TRUST_ERR_NOT_FOUND;
		goto out;
	}
	snprintf(from, sizeof(from), "%s", PQgetvalue(res, 0, 0));
	if (!PQgetisnull(res, 0, 6))
		snprintf(order_id, sizeof(order_id), "%s", PQgetvalue(res, 0, 6));
	if (!complaint_allowed(from, status)) {
		rc = TRUST_ERR_FINAL;
		goto out;
	}
	if (pg_cmd(conn,
	           "UPDATE complaints SET status = $3, resolution = COALESCE($4, resolution),"
	           " resolved_at = CASE WHEN $3 IN ('resolved', 'rejected')"
	           "  THEN COALESCE(resolved_at, now()) END"
	           " WHERE tenant_id = $1 AND id = $2",
	           4, (const char *const[]){tenant_id, complaint_id, status, resolution}) < 0)
		goto out;
	if (strcmp(from, status) == 0) { /* only the resolution changed: nobody is told again */
		rc = 0;
		goto out;
	}
	if (!PQgetisnull(res, 0, 1) && !PQgetisnull(res, 0, 2) &&
	    complaint_tell(conn, tenant_id, complaint_id, res, from, status, resolution) < 0)
		goto out;
	PQclear(res);
	res = pg_exec(conn,
	              "SELECT jsonb_build_object('id', k.id, 'status', k.status, 'previous_status',"
	              " $3::text, 'text', k.text, 'resolution', k.resolution, 'conversation_id',"
	              " k.conversation_id, 'order_id', k.order_id, 'customer_name', c.name)::text"
	              " FROM complaints k LEFT JOIN customers c ON c.tenant_id = k.tenant_id"
	              " AND c.id = k.customer_id WHERE k.tenant_id = $1 AND k.id = $2",
	              3, (const char *const[]){tenant_id, complaint_id, from});
	if (!res || PQntuples(res) != 1)
		goto out;
	data = json_pack("{s:o}", "complaint", json_loads(PQgetvalue(res, 0, 0), 0, NULL));
	if (data && order_id[0]) {
		order = order_json_load(conn, order_id, NULL);
		if (!order || json_object_set(data, "order", order) < 0)
			goto out;
	}
	if (!data || notify_seller(conn, tenant_id, "complaint.updated", data) < 0)
		goto out;
	rc = 0;
out:
	json_decref(order);
	json_decref(data);
	PQclear(res);
	return rc;
}

int trust_violation_update(PGconn *conn, const char *tenant_id, const char *violation_id,
                           const char *status)
{
	PGresult *res;
	json_t *ev = NULL;
	char from[16], kind[64], conv[37] = "";
	int rc = TRUST_ERR_DB;

	if (!util_uuid_valid(violation_id))
		return TRUST_ERR_NOT_FOUND;
	res = pg_exec(conn,
	              "SELECT status, kind, customer_id, conversation_id FROM violations"
	              " WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
	              2, (const char *const[]){tenant_id, violation_id});
	if (!res)
		return TRUST_ERR_DB;
	if (PQntuples(res) != 1) {
		rc = TRUST_ERR_NOT_FOUND;
		goto out;
	}
	snprintf(from, sizeof(from), "%s", PQgetvalue(res, 0, 0));
	snprintf(kind, sizeof(kind), "%s", PQgetvalue(res, 0, 1));
	if (!PQgetisnull(res, 0, 3))
		snprintf(conv, sizeof(conv), "%s", PQgetvalue(res, 0, 3));
	if (strcmp(from, status) == 0) {
		rc = 0;
		goto out;
	}
	if (strcmp(from, "dismissed") == 0) {
		rc = TRUST_ERR_FINAL;
		goto out;
	}
	if (pg_cmd(conn, "UPDATE violations SET status = $3 WHERE tenant_id = $1 AND id = $2", 3,
	           (const char *const[]){tenant_id, violation_id, status}) < 0)
		goto out;
	/* lifted at once: the next message is counted afresh (a flood that was dismissed
	 * does not fire again on the very next message) */
	if (strcmp(status, "dismissed") == 0 && !PQgetisnull(res, 0, 2) &&
	    pg_cmd(conn,
	           "UPDATE trust_state SET"
	           " flood_count = CASE WHEN $3 = 'flooding' THEN 0 ELSE flood_count END,"
	           " abuse_count = CASE WHEN $3 = 'abusive_language' THEN 0 ELSE abuse_count END,"
	           " throttle_reply_at = NULL WHERE tenant_id = $1 AND customer_id = $2",
	           3, (const char *const[]){tenant_id, PQgetvalue(res, 0, 2), kind}) < 0)
		goto out;
	ev = json_pack("{s:s, s:s, s:s, s:s}", "violation_id", violation_id, "kind", kind, "status",
	               status, "previous_status", from);
	if (!ev || (conv[0] && conv_event_add(conn, tenant_id, conv, "violation_updated", ev) < 0))
		goto out;
	{
		struct log_ctx lc = {.tenant = tenant_id};

		log_info(&lc, "trust: violation %s %s -> %s", violation_id, from, status);
	}
	rc = 0;
out:
	json_decref(ev);
	PQclear(res);
	return rc;
}
