/*
 * bench_ingest.c: webhook ingest end to end, WhatsApp (the default) or Telegram
 * (--platform telegram). One `ccgw serve` on a database of its own, its Graph API and Bot API
 * bases pointed at dispatch_sink (so every reply is really sent), a shop with six products
 * and one channel of the platform registered through the admin API. Each shopper (its own
 * wa_id or Telegram chat) sends one conversation of STEPS messages, from a greeting to a
 * placed order, in order: its next message goes only once the previous one was answered. The
 * conversation is one plan (struct step) for both; a platform (struct platform) only makes
 * its webhook body and its authentication header. Every request is built (and signed) before
 * the clock starts; one thread drives keep-alive HTTP/1.1 connections with non-blocking
 * sockets and poll.
 *   closed loop (--inflight C[,C...]): C requests always in flight, a fresh server per C;
 *     messages/s answered 200, latency, and per message the statements, round trips and
 *     transactions ccgw's /metrics counts and the commits pg_stat_database counts.
 *   open loop (--rate R --seconds T): messages scheduled R per second, latency from the
 *     scheduled time, so a slow answer is not hidden by the sends it held up. By default in
 *     lockstep (every shopper at the same step: the last T/10 seconds are all order
 *     confirmations); --stagger G: shoppers arrive one after another and send G seconds
 *     apart, so every step is in the mix, and the messages of the steady window are timed
 *     apart too. Both print, per step, the messages over 50 ms and the step's p99.
 * Then the count check: one inbound_messages row per message sent, one reply row per inbound
 * message, every reply sent (the sink answered at least as many platform API calls), one order
 * per shopper; exit 1 when it fails. Lines starting with "RESULT" are for bench/run. Needs
 * the cluster of scripts/run (source .ccgw/env).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "testdb.h"
#include "testsrv.h"
#include "util.h"

#define STEPS      10 /* messages in one shopper's conversation */
#define MAX_CONNS  1024
#define NPRODUCTS  6
#define PNID       "106540352242922"
#define APP_SECRET "bench-app-secret"
#define TG_TOKEN   "7012345678:AAH-bench-bot_token"
#define TG_SECRET  "bench-telegram-secret"

/* Names with no number in what shoppers type: "nokia 105" reads as 105 nokias. */
static const struct {
	const char *name, *category, *search;
	long price_minor;
} catalog[NPRODUCTS] = {
    {"Tecno Spark Pro", "Phones", "tecno spark", 1899900},
    {"Samsung Galaxy A15", "Phones", "samsung galaxy", 2499900},
    {"Acacia Honey 500g", "Honey", "acacia honey", 85000},
    {"Kikoi Beach Towel", "Textiles", "kikoi towel", 150000},
    {"Kenya AA Coffee Beans", "Coffee", "kenya coffee", 120000},
    {"Maasai Shuka Blanket", "Textiles", "shuka blanket", 195000},
};
static const char *const greetings[] = {"hi", "hello", "good morning", "hi there"};
static const char *const names[] = {"Amina Njeri", "Brian Otieno", "Wanjiku Kamau", "Hassan Ali"};
static const char *const addresses[] = {"Moi Avenue 12, Nairobi", "Kenyatta Ave 40, Nakuru",
                                        "Nyerere Road 7, Mombasa", "Oginga Odinga St 3, Kisumu"};

/* One message of a shopper's conversation, whatever the platform: a text, a button pressed
 * (payload and title), or the shopper's own phone number offered (WhatsApp: the "Use this
 * number" button the engine offers, as it knows the number; Telegram: the contact shared). */
struct step {
	const char *text, *button, *title;
	int own_phone;
};

/* What differs between platforms: the channel registered, the webhook body of one step, the
 * authentication header of a body. */
struct platform {
	const char *type;         /* the channel type and the webhook path's platform */
	const char *channel_body; /* POST /api/v1/channels */
	const char *extra_headers;
	/* step k of shopper s of the run tagged tag, as the platform's webhook body (heap) */
	char *(*body)(int tag, int s, int k, const struct step *st);
	/* the header line(s) that authenticate body, each ending in \r\n */
	void (*auth)(const char *body, size_t len, char *out, size_t outlen);
};

struct msg { /* one whole HTTP request: headers and the signed body */
	char *req;
	size_t len;
};

struct entry { /* a shopper ready to send; t: when its latency started (0: when sent) */
	int s;
	int64_t t;
};

struct hconn {
	int fd;
	int s;      /* shopper whose message is in flight, -1 when free */
	size_t off; /* bytes of its request written */
	int64_t t;  /* when that message's latency started */
	size_t in_len;
	char in[4096];
};

struct run {
	int nshoppers, nconns;
	double rate;      /* open loop: messages per second; 0: closed loop */
	/* open loop, --stagger G: shoppers arrive one after another and each sends its next
	 * message G seconds after the last, so every step is in the mix at once; sched[] holds
	 * each message's due time (us from the start) and shopper, in time order */
	double stagger;
	struct entry *sched;
	int64_t *lat_due;         /* each answered message's due time (us from the start) */
	struct msg *msgs; /* msgs[s * STEPS + step] */
	int *step, *busy;
	struct entry *q; /* ring of shoppers ready to send, in order */
	long qcap, qhead, qlen;
	struct hconn *cs;
	int *freel, fhead, nfree; /* ring of the free connections' indexes, oldest first */
	double *lat;              /* ms, one per message answered 200 */
	unsigned char *lat_step;  /* the conversation step (0 to STEPS - 1) of each */
	long done, non200, unhandled, reconnects;
	int64_t t0; /* the run's start */
};

static struct testdb db;
static struct testsrv srv;
static PGconn *conn;       /* the application role on the bench database */
static PGconn *stats_conn; /* the owner role on database postgres: reads without adding */
static long my_commits;    /* transactions this program committed in the bench database */
static char *tenant, *api_key, chan[64], product[NPRODUCTS][64];
static int sink_port;
static pid_t sink_pid; /* dispatch_sink, for its CPU */
static const struct platform *plat;
static double stagger_s; /* --stagger G: the open loop's shoppers arrive one after another */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	int st = 0;

	fprintf(stderr, "bench_ingest: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	if (srv.pid > 0 && waitpid(srv.pid, &st, WNOHANG) == srv.pid)
		fprintf(stderr, "bench_ingest: ccgw serve (pid %d) is gone: %s %d\n", (int)srv.pid,
		        WIFSIGNALED(st) ? "killed by signal" : "exit status",
		        WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	if (srv.pid > 0)
		fprintf(stderr, "bench_ingest: server log: %s\n", srv.log_path);
	exit(1); /* the server and the sink die with us (PR_SET_PDEATHSIG) */
}

/* The first column of the first row of sql as a number (0 for none), as the application role
 * in the shop's tenant, in a transaction of its own. */
static long tql(const char *sql)
{
	const char *tp[1] = {tenant};
	PGresult *r;
	long v;

	PQclear(PQexec(conn, "BEGIN"));
	PQclear(PQexecParams(conn, "SELECT set_config('app.tenant_id', $1, true)", 1, NULL, tp,
	                     NULL, NULL, 0));
	r = PQexec(conn, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
		die("%s: %s", sql, PQerrorMessage(conn));
	v = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) ? atol(PQgetvalue(r, 0, 0)) : 0;
	PQclear(r);
	r = PQexec(conn, "COMMIT");
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		die("COMMIT: %s", PQerrorMessage(conn));
	PQclear(r);
	my_commits++;
	return v;
}

/* An admin API call that must answer `want`; returns its JSON (caller decrefs). */
static json_t *api(const char *method, const char *path, const char *body, long want)
{
	char url[256], auth[256];
	const char *h[3] = {auth, "Content-Type: application/json", NULL};
	struct testhttp_resp r;
	json_t *o;

	snprintf(url, sizeof(url), "%s%s", srv.base_url, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", api_key);
	testhttp_request(method, url, h, body, body ? strlen(body) : 0, &r);
	if (r.status != want)
		die("%s %s answered %ld: %s", method, path, r.status, r.body);
	o = json_loads(r.body, 0, NULL);
	testhttp_resp_clear(&r);
	if (!o)
		die("%s %s: the answer is not JSON", method, path);
	return o;
}

/* Settings a real shop has (tax, delivery, two ways to pay), the platform's channel and the
 * catalog, through the admin API where it has a route. */
static void shop_setup(void)
{
	char body[512];
	json_t *o;
	int i;

	tql("UPDATE tenants SET settings = settings || '{\"tax_bp\": 1600, \"delivery_fee_minor\":"
	    " 20000, \"payment_methods\": [\"cash_on_delivery\", \"mpesa\"]}'::jsonb");
	o = api("POST", "/api/v1/channels", plat->channel_body, 201);
	snprintf(chan, sizeof(chan), "%s", json_string_value(json_object_get(o, "id")));
	json_decref(o);
	for (i = 0; i < NPRODUCTS; i++) {
		snprintf(body, sizeof(body),
		         "{\"sku\": \"BENCH-%d\", \"name\": \"%s\", \"description\": \"A fine %s\","
		         " \"category\": \"%s\", \"price_minor\": %ld, \"stock\": 1000000,"
		         " \"active\": true}",
		         i, catalog[i].name, catalog[i].name, catalog[i].category,
		         catalog[i].price_minor);
		o = api("POST", "/api/v1/products", body, 201);
		snprintf(product[i], sizeof(product[i]), "%s",
		         json_string_value(json_object_get(o, "id")));
		json_decref(o);
	}
}

/* Message k of shopper s's conversation: greet, search, press Add 1 on the card, view the
 * cart, press Checkout, type a name and an address, offer the own phone number, press cash,
 * Confirm. add holds the Add 1 payload (st->button points into it). */
static void step_of(int s, int k, struct step *st, char *add, size_t addlen)
{
	static const struct step plan[STEPS] = {
	    [4] = {NULL, "ck", "Checkout", 0},
	    [7] = {NULL, NULL, NULL, 1},
	    [8] = {NULL, "pay:cash_on_delivery", "Cash on delivery", 0},
	    [9] = {NULL, "ck:yes", "Confirm order", 0},
	};
	const char *texts[STEPS] = {
	    greetings[s % 4], catalog[s % NPRODUCTS].search, NULL, "my cart", NULL,
	    names[s % 4],     addresses[(s / 4) % 4]};

	*st = plan[k];
	st->text = texts[k];
	if (k == 2) {
		snprintf(add, addlen, "add:%s:1", product[s % NPRODUCTS]);
		st->button = add;
		st->title = "Add 1";
	}
}

/* root as compact JSON text (heap); takes root. */
static char *json_take(json_t *root)
{
	char *s = json_dumps(root, JSON_COMPACT);

	json_decref(root);
	if (!s)
		die("out of memory");
	return s;
}

/* ---- WhatsApp: the Cloud API webhook, signed with the app secret ---- */

/* The Cloud API webhook of one message: a text, or a reply button pressed ("Use this number"
 * for the own phone number, which WhatsApp tells the shop). */
static char *wa_body(int tag, int s, int k, const struct step *st)
{
	char ts[24], wa_id[24], wamid[64];
	const char *button = st->own_phone ? "phone:use" : st->button;
	const char *title = st->own_phone ? "Use this number" : st->title;
	json_t *m, *root;

	snprintf(wa_id, sizeof(wa_id), "2547%d%07d", tag, s);
	snprintf(wamid, sizeof(wamid), "wamid.BENCH%d.%d.%d", tag, s, k);
	snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
	if (!button)
		m = json_pack("{s:s, s:s, s:s, s:s, s:{s:s}}", "from", wa_id, "id", wamid,
		              "timestamp", ts, "type", "text", "text", "body", st->text);
	else
		m = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:{s:s, s:s}}}", "from", wa_id, "id",
		              wamid, "timestamp", ts, "type", "interactive", "interactive", "type",
		              "button_reply", "button_reply", "id", button, "title", title);
	root = json_pack("{s:s, s:[{s:s, s:[{s:{s:s, s:{s:s, s:s}, s:[{s:{s:s}, s:s}], s:[o]},"
	                 " s:s}]}]}",
	                 "object", "whatsapp_business_account", "entry", "id", "102290129340398",
	                 "changes", "value", "messaging_product", "whatsapp", "metadata",
	                 "display_phone_number", "15550783881", "phone_number_id", PNID, "contacts",
	                 "profile", "name", names[s % 4], "wa_id", wa_id, "messages", m, "field",
	                 "messages");
	return json_take(root);
}

static void wa_auth(const char *body, size_t len, char *out, size_t outlen)
{
	char hex[65];

	util_hmac_sha256_hex(APP_SECRET, strlen(APP_SECRET), body, len, hex);
	snprintf(out, outlen, "X-Hub-Signature-256: sha256=%s\r\n", hex);
}

/* ---- Telegram: Bot API Updates with the webhook's secret token ---- */

/* Chat (= user) ids and update ids past 32 bits, as Telegram's are; apart per run and shopper. */
static long long tg_chat(int tag, int s)
{
	return 5000000000LL + (long long)tag * 10000000LL + s;
}

/* The Update of one message: a text message (a greeting is /start, as Telegram's client sends
 * when a shopper opens the bot), an inline button pressed (callback_query on the bot's
 * message), or the shopper's own contact shared (Telegram never tells a bot the number). */
static char *tg_body(int tag, int s, int k, const struct step *st)
{
	long long chat = tg_chat(tag, s);
	long long uid = 7000000000LL + ((long long)tag * 10000000LL + s) * STEPS + k;
	json_int_t now = (json_int_t)time(NULL);
	json_t *from, *u, *m;
	char cq[32], phone[24];

	from = json_pack("{s:I, s:b, s:s, s:s}", "id", (json_int_t)chat, "is_bot", 0, "first_name",
	                 names[s % 4], "language_code", "en");
	u = json_pack("{s:I}", "update_id", (json_int_t)uid);
	if (st->button) {
		snprintf(cq, sizeof(cq), "%lld", uid * 7 + 3);
		json_object_set_new(
		    u, "callback_query",
		    json_pack(
		        "{s:s, s:o, s:{s:I, s:o, s:{s:I, s:s}, s:I, s:s}, s:s, s:s}", "id", cq,
		        "from", from, "message", "message_id", (json_int_t)(1000 + k), "from",
		        json_pack("{s:I, s:b, s:s}", "id", (json_int_t)7012345678LL, "is_bot", 1,
		                  "first_name", "Shop"),
		        "chat", "id", (json_int_t)chat, "type", "private", "date", now - 5, "text",
		        "...", "chat_instance", "-4200000000000000001", "data", st->button));
		return json_take(u);
	}
	m = json_pack("{s:I, s:o, s:{s:I, s:s, s:s}, s:I}", "message_id", (json_int_t)(2000 + k),
	              "from", from, "chat", "id", (json_int_t)chat, "first_name", names[s % 4],
	              "type", "private", "date", now);
	if (st->own_phone) {
		snprintf(phone, sizeof(phone), "+2547%d%07d", tag, s);
		json_object_set_new(m, "contact",
		                    json_pack("{s:s, s:s, s:I}", "phone_number", phone,
		                              "first_name", names[s % 4], "user_id",
		                              (json_int_t)chat));
	} else {
		json_object_set_new(m, "text", json_string(k == 0 ? "/start" : st->text));
	}
	json_object_set_new(u, "message", m);
	return json_take(u);
}

static void tg_auth(const char *body, size_t len, char *out, size_t outlen)
{
	(void)body;
	(void)len;
	snprintf(out, outlen, "X-Telegram-Bot-Api-Secret-Token: %s\r\n", TG_SECRET);
}

static const struct platform platforms[] = {
    {"whatsapp",
     "{\"type\": \"whatsapp\", \"phone_number_id\": \"" PNID "\", \"access_token\": "
     "\"bench-token\", \"app_secret\": \"" APP_SECRET "\", \"verify_token\": \"bench\"}",
     "User-Agent: facebookexternalua\r\n", wa_body, wa_auth},
    /* webhook mode: with the plain-http public address ccgw calls no setWebhook */
    {"telegram",
     "{\"type\": \"telegram\", \"name\": \"Bench bot\", \"bot_token\": \"" TG_TOKEN "\","
     " \"secret_token\": \"" TG_SECRET "\", \"mode\": \"webhook\"}",
     "", tg_body, tg_auth},
};

/* body as the whole request the platform would send; takes body. */
static void msg_build(struct msg *out, char *body)
{
	size_t blen = strlen(body), cap = blen + 640;
	char auth[256];

	plat->auth(body, blen, auth, sizeof(auth));
	out->req = malloc(cap);
	if (!out->req)
		die("out of memory");
	out->len = (size_t)snprintf(out->req, cap,
	                            "POST /webhooks/%s/%s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s"
	                            "Content-Type: application/json\r\n%sContent-Length: %zu\r\n"
	                            "\r\n%s",
	                            plat->type, chan, plat->extra_headers, auth, blen, body);
	free(body);
}

/* Every shopper's conversation, built (and signed); tag keeps runs' shoppers and ids apart. */
static void run_init(struct run *r, int tag, int nshoppers, int nconns, double rate)
{
	long nmsgs = (long)nshoppers * STEPS;
	char add[96];
	struct step st;
	int s, k;

	memset(r, 0, sizeof(*r));
	r->nshoppers = nshoppers;
	r->nconns = nconns;
	r->rate = rate;
	r->stagger = rate > 0 ? stagger_s : 0;
	r->msgs = calloc((size_t)nmsgs, sizeof(*r->msgs));
	r->step = calloc((size_t)nshoppers, sizeof(int));
	r->busy = calloc((size_t)nshoppers, sizeof(int));
	r->qcap = 2 * nmsgs + 16;
	r->q = calloc((size_t)r->qcap, sizeof(*r->q));
	r->lat = calloc((size_t)nmsgs, sizeof(double));
	r->lat_step = calloc((size_t)nmsgs, 1);
	r->lat_due = calloc((size_t)nmsgs, sizeof(int64_t));
	r->cs = calloc((size_t)nconns, sizeof(*r->cs));
	r->freel = calloc((size_t)nconns, sizeof(int));
	if (!r->msgs || !r->step || !r->busy || !r->q || !r->lat || !r->lat_step || !r->lat_due ||
	    !r->cs || !r->freel)
		die("out of memory");
	for (s = 0; s < nshoppers; s++) {
		for (k = 0; k < STEPS; k++) {
			step_of(s, k, &st, add, sizeof(add));
			msg_build(&r->msgs[(long)s * STEPS + k], plat->body(tag, s, k, &st));
		}
	}
}

static void run_free(struct run *r)
{
	long i;

	for (i = 0; i < (long)r->nshoppers * STEPS; i++)
		free(r->msgs[i].req);
	free(r->msgs);
	free(r->step);
	free(r->busy);
	free(r->q);
	free(r->lat);
	free(r->lat_step);
	free(r->lat_due);
	free(r->sched);
	free(r->cs);
	free(r->freel);
}

/* ---- the connections ---- */

/* A blocking connect (loopback answers at once), then non-blocking for the run. */
static void conn_open(struct hconn *c)
{
	struct sockaddr_in a;
	int one = 1;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((unsigned short)srv.port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connecting to ccgw: %s", strerror(errno));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL, 0) | O_NONBLOCK);
	c->in_len = 0;
}

static const struct msg *conn_msg(const struct run *r, const struct hconn *c)
{
	return &r->msgs[(long)c->s * STEPS + r->step[c->s]];
}

/* The server closed the connection under the request: send it again on a new one, as the
 * platform would (a message already stored then comes back as a duplicate: counted). */
static void conn_reset(struct run *r, struct hconn *c)
{
	close(c->fd);
	conn_open(c);
	c->off = 0;
	if (++r->reconnects > 1000)
		die("the server keeps closing connections (%ld reconnects)", r->reconnects);
}

static void conn_write(struct run *r, struct hconn *c)
{
	const struct msg *m = conn_msg(r, c);

	while (c->off < m->len) {
		ssize_t n = send(c->fd, m->req + c->off, m->len - c->off, MSG_NOSIGNAL);

		if (n > 0)
			c->off += (size_t)n;
		else if (n < 0 && errno == EINTR)
			continue;
		else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		else
			conn_reset(r, c);
	}
}

static void q_push(struct run *r, int s, int64_t t)
{
	if (r->qlen == r->qcap)
		die("ready queue full");
	r->q[(r->qhead + r->qlen++) % r->qcap] = (struct entry){s, t};
}

/* An answer came for c's message. A failure is sent again at once, as the platform would, and
 * its latency keeps running from the first attempt. */
static void answered(struct run *r, struct hconn *c, int status, int handled)
{
	int s = c->s;

	r->busy[s] = 0;
	c->s = -1;
	r->freel[(r->fhead + r->nfree++) % r->nconns] = (int)(c - r->cs);
	if (status != 200) {
		if (++r->non200 > (long)r->nshoppers * STEPS)
			die("more failed answers than messages (last: HTTP %d)", status);
		q_push(r, s, c->t);
		return;
	}
	r->lat_step[r->done] = (unsigned char)r->step[s];
	r->lat_due[r->done] = c->t - r->t0;
	r->lat[r->done++] = (double)(util_now_us() - c->t) / 1000.0;
	r->unhandled += !handled;
	if (++r->step[s] < STEPS && r->rate <= 0)
		q_push(r, s, 0);
}

/* 1 when c->in holds a whole answer (status and handled set), 0 when more must come. */
static int resp_parse(struct hconn *c, int *status, int *handled)
{
	char *end, *p;
	size_t head, clen;

	c->in[c->in_len] = '\0';
	end = strstr(c->in, "\r\n\r\n");
	if (!end)
		return 0;
	head = (size_t)(end - c->in) + 4;
	p = strcasestr(c->in, "\r\nContent-Length:");
	if (sscanf(c->in, "HTTP/1.%*d %d", status) != 1 || !p || p > end)
		die("unreadable answer from ccgw: %.300s", c->in);
	clen = strtoul(p + 17, NULL, 10);
	if (c->in_len < head + clen)
		return 0;
	*handled = strstr(end, "\"handled\":1") || strstr(end, "\"handled\": 1");
	return 1;
}

static void conn_read(struct run *r, struct hconn *c)
{
	int status = 0, handled = 0;

	for (;;) {
		ssize_t n;

		if (c->in_len >= sizeof(c->in) - 1)
			die("answer larger than %zu bytes", sizeof(c->in));
		n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len, 0);
		if (n > 0) {
			c->in_len += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		conn_reset(r, c);
		conn_write(r, c);
		return;
	}
	/* a connection the server closes after an answer fails on its next request, which is
	 * then sent again on a new one */
	if (resp_parse(c, &status, &handled))
		answered(r, c, status, handled);
}

/* Hands ready shoppers to free connections in order; a shopper still waiting for an answer
 * at the head holds the queue, so nobody's messages overtake each other. */
static void send_ready(struct run *r)
{
	while (r->qlen > 0 && r->nfree > 0) {
		struct entry e = r->q[r->qhead];
		struct hconn *c;

		if (r->busy[e.s])
			break;
		r->qhead = (r->qhead + 1) % r->qcap;
		r->qlen--;
		/* the connection free the longest, so that all stay in use (ccgw closes one that
		 * has carried no request yet after 10 s) */
		c = &r->cs[r->freel[r->fhead]];
		r->fhead = (r->fhead + 1) % r->nconns;
		r->nfree--;
		c->s = e.s;
		c->off = 0;
		c->in_len = 0;
		c->t = e.t ? e.t : util_now_us();
		r->busy[e.s] = 1;
		conn_write(r, c);
	}
}

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	return x->t < y->t ? -1 : x->t > y->t ? 1 : x->s - y->s;
}

/* The open loop's schedule. Lockstep (the default): message j is shopper j % N's next, due
 * at j/R, so for T/STEPS seconds every shopper sends its greeting, then its search, ... and
 * the last T/STEPS seconds are all order confirmations. --stagger G: shopper s arrives at
 * s * STEPS / R and sends its messages G seconds apart, so after STEPS * G seconds every step
 * is in the mix at R per second in all (until the arrivals stop). */
static void sched_build(struct run *r)
{
	long n = (long)r->nshoppers * STEPS, j;
	int k, s;

	r->sched = calloc((size_t)n, sizeof(*r->sched));
	if (!r->sched)
		die("out of memory");
	if (r->stagger <= 0) {
		for (j = 0; j < n; j++)
			r->sched[j] = (struct entry){(int)(j % r->nshoppers),
			                             (int64_t)((double)j * 1e6 / r->rate)};
		return;
	}
	for (s = 0, j = 0; s < r->nshoppers; s++)
		for (k = 0; k < STEPS; k++)
			r->sched[j++] = (struct entry){
			    s, (int64_t)(((double)s * STEPS / r->rate + k * r->stagger) * 1e6)};
	qsort(r->sched, (size_t)n, sizeof(*r->sched), cmp_entry);
}

static int64_t sched_at(const struct run *r, int64_t start, long j)
{
	return start + r->sched[j].t;
}

/* Runs every conversation to its end; returns the seconds it took. */
static double drive(struct run *r)
{
	long nmsgs = (long)r->nshoppers * STEPS, next = 0, last_done = 0;
	int64_t start = util_now_us(), now, progress = start;
	struct pollfd pfd[MAX_CONNS];
	int idx[MAX_CONNS], i, n, timeout;

	r->t0 = start;
	if (r->rate > 0)
		sched_build(r);

	for (i = 0; r->rate <= 0 && i < r->nshoppers; i++)
		q_push(r, i, 0);
	while (r->done < nmsgs) {
		now = util_now_us();
		/* open loop: message j is shopper j % N's next, due at start + j/R */
		for (; r->rate > 0 && next < nmsgs && sched_at(r, start, next) <= now; next++)
			q_push(r, r->sched[next].s, sched_at(r, start, next));
		send_ready(r);
		for (n = 0, i = 0; i < r->nconns; i++) {
			struct hconn *c = &r->cs[i];

			if (c->s < 0)
				continue;
			pfd[n].fd = c->fd;
			pfd[n].events = c->off < conn_msg(r, c)->len ? POLLOUT : POLLIN;
			pfd[n].revents = 0;
			idx[n++] = i;
		}
		timeout = 100;
		if (r->rate > 0 && next < nmsgs) {
			int64_t w = (sched_at(r, start, next) - now + 999) / 1000;

			timeout = w < 0 ? 0 : w < 100 ? (int)w : 100;
		}
		if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		for (i = 0; i < n; i++) {
			struct hconn *c = &r->cs[idx[i]];

			if (!pfd[i].revents)
				continue;
			if (c->off < conn_msg(r, c)->len)
				conn_write(r, c);
			else
				conn_read(r, c);
		}
		if (r->done != last_done) {
			last_done = r->done;
			progress = now;
		} else if (now - progress > 60 * 1000000LL) {
			die("no answer for 60 s (%ld of %ld answered)", r->done, nmsgs);
		}
	}
	return (double)(util_now_us() - start) / 1e6;
}

/* ---- what the machine, ccgw and the database did ---- */

/* A process's user+system clock ticks so far; 0 when it cannot be read. */
static double proc_ticks(pid_t pid)
{
	unsigned long long ut = 0, st = 0;
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r"); /* fields 14 and 15, past "pid (name) state" and ten numbers */
	if (!f || fscanf(f, "%*d (%*[^)]) %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	                 &ut, &st) != 2)
		ut = st = 0;
	if (f)
		fclose(f);
	return (double)(ut + st);
}

/* CPU clock ticks used so far: cpu[0] by ccgw, cpu[1] by the whole machine (busy), cpu[2] by
 * the whole machine (busy and idle), cpu[3] by this load generator, cpu[4] by the platform
 * sink (so that bench/budget can set each process's CPU per message beside the ceiling's). */
static void cpu_sample(double cpu[5])
{
	unsigned long long v[8] = {0};
	FILE *f;

	cpu[0] = proc_ticks(srv.pid);
	f = fopen("/proc/stat", "r");
	if (!f || fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
	                 &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
		memset(v, 0, sizeof(v));
	if (f)
		fclose(f);
	cpu[1] = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]);
	cpu[2] = cpu[1] + (double)(v[3] + v[4]);
	cpu[3] = proc_ticks(getpid());
	cpu[4] = sink_pid > 0 ? proc_ticks(sink_pid) : 0;
}

static const char *const db_metric[3] = {"ccgw_db_statements_total", "ccgw_db_round_trips_total",
                                         "ccgw_db_transactions_total"};

/* Each counter of db_metric summed over its labels into v[i], and its part="request" (the
 * request workers, as against the dispatcher) into req[i]; -1 when /metrics has none. */
static void metrics_read(double v[3], double req[3])
{
	char url[128];
	struct testhttp_resp r;
	int i;

	snprintf(url, sizeof(url), "%s/metrics", srv.base_url);
	testhttp_request("GET", url, NULL, NULL, 0, &r);
	for (i = 0; i < 3; i++) {
		size_t nl = strlen(db_metric[i]);
		const char *p = r.body;

		v[i] = req[i] = -1;
		while (r.status == 200 && (p = strstr(p, db_metric[i])) != NULL) {
			const char *sp = strchr(p, ' ');

			if ((p == r.body || p[-1] == '\n') && (p[nl] == '{' || p[nl] == ' ') &&
			    sp) {
				v[i] = (v[i] < 0 ? 0 : v[i]) + atof(sp + 1);
				if (strncmp(p + nl, "{part=\"request\"}", 16) == 0)
					req[i] = atof(sp + 1);
			}
			p += nl;
		}
	}
	testhttp_resp_clear(&r);
}

/* xact_commit of the bench database once every session on it has ended (a session's counts
 * reach pg_stat_database when it ends, or up to 10 s after it went idle). Closes our own
 * session for that and opens it again. */
static long commits_settled(void)
{
	const char *p[1] = {db.name};
	long v = -1, busy = 1;
	PGresult *r;
	int i;

	PQfinish(conn);
	for (i = 0; i < 200 && busy > 0; i++) {
		r = PQexecParams(stats_conn,
		                 "SELECT count(*) FROM pg_stat_activity WHERE datname = $1"
		                 " AND backend_type = 'client backend'",
		                 1, NULL, p, NULL, NULL, 0);
		busy = PQresultStatus(r) == PGRES_TUPLES_OK ? atol(PQgetvalue(r, 0, 0)) : 0;
		PQclear(r);
		if (busy > 0)
			usleep(50000);
	}
	usleep(500000); /* a session leaves pg_stat_activity just before its counts are flushed */
	r = PQexecParams(stats_conn, "SELECT xact_commit FROM pg_stat_database WHERE datname = $1",
	                 1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		v = atol(PQgetvalue(r, 0, 0));
	PQclear(r);
	conn = testdb_connect_app(&db);
	my_commits++; /* its SET client_min_messages */
	return v;
}

/* Waits until the dispatcher has sent every reply; the seconds it took. */
static double drain(void)
{
	int64_t t0 = util_now_us();

	while (tql("SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')") > 0) {
		if (util_now_us() - t0 > 300 * 1000000LL)
			die("replies still unsent 5 minutes after the last answer");
		usleep(100000);
	}
	return (double)(util_now_us() - t0) / 1e6;
}

static void server_start(void)
{
	char api_base[96], bot_base[96];
	const char *env[] = {api_base, bot_base,
	                     /* the platforms' own limits would pace the replies, not ccgw */
	                     "CCGW_WHATSAPP_RATE=10000", "CCGW_WHATSAPP_RECIPIENT_RATE=1000",
	                     "CCGW_TELEGRAM_RATE=10000", "CCGW_TELEGRAM_CHAT_RATE=1000",
	                     "CCGW_MAX_CONNECTIONS_PER_ADDRESS=2000", NULL};

	snprintf(api_base, sizeof(api_base), "CCGW_WHATSAPP_API_BASE=http://127.0.0.1:%d",
	         sink_port);
	snprintf(bot_base, sizeof(bot_base), "CCGW_TELEGRAM_API_BASE=http://127.0.0.1:%d",
	         sink_port);
	testsrv_start(&srv, &db, env);
	printf("ccgw serve pid %d, log %s\n", (int)srv.pid, srv.log_path);
	fflush(stdout);
}

static void sink_start(void)
{
	char port_s[16], url[96];
	struct testhttp_resp r;
	pid_t pid;
	int i;

	sink_port = testsrv_free_port();
	snprintf(port_s, sizeof(port_s), "%d", sink_port);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the bench */
		execl(DISPATCH_SINK_BINARY, DISPATCH_SINK_BINARY, port_s, (char *)NULL);
		_exit(127);
	}
	sink_pid = pid;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/__health", sink_port);
	for (i = 0; i < 100; i++) {
		long status;

		testhttp_request("GET", url, NULL, NULL, 0, &r);
		status = r.status;
		testhttp_resp_clear(&r);
		if (status == 200)
			return;
		usleep(50000);
	}
	die("dispatch_sink did not start");
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void fmt_per(char *out, size_t len, double before, double after, long n)
{
	if (before < 0 || after < 0 || n <= 0)
		snprintf(out, len, "n/a");
	else
		snprintf(out, len, "%.2f", (after - before) / (double)n);
}

/* --stagger: the messages due while every step was in the mix (from STEPS * G seconds after
 * the start to the last shopper's arrival), apart from the ramps up and down. */
static void steady_report(const struct run *r)
{
	int64_t from = (int64_t)(STEPS * r->stagger * 1e6),
	        to = (int64_t)((double)(r->nshoppers - 1) * STEPS / r->rate * 1e6);
	double *v = malloc(((size_t)r->done + 1) * sizeof(double));
	long i, m = 0, over = 0;

	if (!v)
		die("out of memory");
	for (i = 0; i < r->done; i++)
		if (r->lat_due[i] >= from && r->lat_due[i] <= to) {
			v[m++] = r->lat[i];
			over += r->lat[i] > 50.0;
		}
	if (m > 0) {
		qsort(v, (size_t)m, sizeof(double), cmp_double);
		printf("  steady window %.1f-%.1f s (every step in the mix at %.0f/s): %ld messages,"
		       " p50 %.1f ms, p99 %.1f ms, max %.1f ms, %ld over 50 ms\n",
		       (double)from / 1e6, (double)to / 1e6, r->rate, m, v[m / 2],
		       v[m * 99 / 100 < m - 1 ? m * 99 / 100 : m - 1], v[m - 1], over);
		printf("RESULT steady platform=%s rate=%.1f stagger=%.2f messages=%ld p50=%.1f"
		       " p99=%.1f max=%.1f over50=%ld\n",
		       plat->type, r->rate, r->stagger, m, v[m / 2],
		       v[m * 99 / 100 < m - 1 ? m * 99 / 100 : m - 1], v[m - 1], over);
	} else {
		printf("  steady window: none (--seconds must be over STEPS x --stagger)\n");
	}
	free(v);
}

/* Which messages were slow: per conversation step (1 is the greeting, STEPS the order's
 * confirmation), the messages over 50 ms and the step's p99 (the tail's cause is often one
 * kind of turn: docs/PERFORMANCE.md, "Tail latency"). */
static void step_report(const struct run *r)
{
	static const char *const step_names[STEPS] = {"greet", "search", "add", "cart", "checkout",
	                                         "name", "address", "phone", "payment", "confirm"};
	double *v = malloc(((size_t)r->done + 1) * sizeof(double));
	long k, i, m, over, all_over = 0;

	if (!v)
		die("out of memory");
	printf("  by step (messages over 50 ms, p99 ms):");
	for (k = 0; k < STEPS; k++) {
		for (i = 0, m = 0, over = 0; i < r->done; i++)
			if (r->lat_step[i] == k) {
				v[m++] = r->lat[i];
				over += r->lat[i] > 50.0;
			}
		all_over += over;
		if (m == 0)
			continue;
		qsort(v, (size_t)m, sizeof(double), cmp_double);
		printf(" %s %ld, %.1f;", step_names[k], over, v[m * 99 / 100 < m - 1 ? m * 99 / 100 : m - 1]);
	}
	printf(" all %ld of %ld\n", all_over, r->done);
	free(v);
}

/* One measured run on a fresh server; returns the messages answered 200. */
static long run_measure(int tag, int nshoppers, int nconns, double rate)
{
	double m0[3], m1[3], q0[3], q1[3], c0[5], c1[5], secs, dsecs, p50, p99, mx, lag, tick;
	char per[3][32], rq[3][32], cm[32];
	long x0, x1, mine, n, i;
	struct run r;

	run_init(&r, tag, nshoppers, nconns, rate);
	x0 = commits_settled();
	mine = my_commits;
	server_start();
	for (i = 0; i < nconns; i++) {
		conn_open(&r.cs[i]);
		r.cs[i].s = -1;
		r.freel[r.nfree++] = (int)i;
	}
	metrics_read(m0, q0);
	cpu_sample(c0);
	secs = drive(&r);
	cpu_sample(c1);
	dsecs = drain();
	metrics_read(m1, q1);
	for (i = 0; i < nconns; i++)
		close(r.cs[i].fd);
	testsrv_stop(&srv);
	x1 = commits_settled();
	n = r.done;
	step_report(&r);
	if (r.stagger > 0)
		steady_report(&r);
	qsort(r.lat, (size_t)n, sizeof(double), cmp_double);
	p50 = r.lat[n / 2];
	p99 = r.lat[n * 99 / 100 < n - 1 ? n * 99 / 100 : n - 1];
	mx = r.lat[n - 1];
	for (i = 0; i < 3; i++) {
		fmt_per(per[i], sizeof(per[i]), m0[i], m1[i], n);
		fmt_per(rq[i], sizeof(rq[i]), q0[i], q1[i], n);
	}
	/* our own transactions in the window (drain's polling) are not ccgw's */
	fmt_per(cm, sizeof(cm), (double)x0, (double)(x1 - (my_commits - mine)), n);
	/* open loop: how far the last answer came after the last scheduled send (ccgw kept up
	 * when this is about one latency) */
	lag = rate > 0 ? secs - (double)r.sched[r.nshoppers * STEPS - 1].t / 1e6 : 0;
	tick = 1000.0 / (double)sysconf(_SC_CLK_TCK); /* ms a clock tick */
	printf(
	    "%s: %s loop, %d connections%s: %ld messages from %d shoppers in %.2f s, %.0f/s "
	    "answered"
	    " 200; latency p50 %.1f ms, p99 %.1f ms, max %.1f ms; %ld non-200 (sent again), %ld "
	    "not handled, %ld reconnects; CPU: ccgw %.0f%%, machine %.0f%% of %ld cores; replies "
	    "all sent %.1f s after the last answer",
	    plat->type, rate > 0 ? "open" : "closed", nconns,
	    rate > 0 ? ", latency from the scheduled send" : " (all in flight)", n, nshoppers, secs,
	    (double)n / secs, p50, p99, mx, r.non200, r.unhandled, r.reconnects,
	    100.0 * (c1[0] - c0[0]) / (double)sysconf(_SC_CLK_TCK) / secs,
	    100.0 * (c1[1] - c0[1]) / (c1[2] - c0[2]), sysconf(_SC_NPROCESSORS_ONLN), dsecs);
	if (rate > 0)
		printf("; last answer %.2f s after the last scheduled send", lag);
	printf("\n");
	printf("  database work per message, dispatcher included (request workers alone): "
	       "statements %s (%s), round trips %s (%s), transactions %s (%s) by ccgw /metrics; "
	       "commits %s by pg_stat_database\n",
	       per[0], rq[0], per[1], rq[1], per[2], rq[2], cm);
	printf("RESULT %s platform=%s inflight=%d rate=%.1f messages=%ld seconds=%.2f "
	       "achieved=%.1f p50=%.1f "
	       "p99=%.1f max=%.1f non200=%ld unhandled=%ld statements=%s round_trips=%s "
	       "transactions=%s commits=%s drain=%.1f lag=%.2f reconnects=%ld ccgw_cpu_ms=%.3f "
	       "loadgen_cpu_ms=%.3f sink_cpu_ms=%.3f\n",
	       rate > 0 ? "open" : "closed", plat->type, nconns, rate, n, secs, (double)n / secs,
	       p50, p99, mx, r.non200, r.unhandled, per[0], per[1], per[2], cm, dsecs, lag,
	       r.reconnects, (c1[0] - c0[0]) * tick / (double)n, (c1[3] - c0[3]) * tick / (double)n,
	       (c1[4] - c0[4]) * tick / (double)n);
	fflush(stdout);
	run_free(&r);
	return n;
}

/* The POSTs dispatch_sink answered so far (the platform API calls ccgw made); -1 unknown. */
static long sink_posts(void)
{
	char url[96];
	struct testhttp_resp r;
	json_t *o;
	long n = -1;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/__count", sink_port);
	testhttp_request("GET", url, NULL, NULL, 0, &r);
	o = r.status == 200 ? json_loads(r.body, 0, NULL) : NULL;
	if (json_is_integer(json_object_get(o, "posts")))
		n = (long)json_integer_value(json_object_get(o, "posts"));
	json_decref(o);
	testhttp_resp_clear(&r);
	return n;
}

/* One inbound row per message answered, one reply row per inbound row, every reply sent (at
 * least one platform API call each: a button press on Telegram also has its
 * answerCallbackQuery), one order per shopper. 0 when all hold. */
static int count_check(long sent, long shoppers)
{
	long in = tql("SELECT count(*) FROM inbound_messages");
	long ids = tql("SELECT count(DISTINCT platform_message_id) FROM inbound_messages");
	/* a set difference, not NOT EXISTS: planned before autovacuum's first look at the tables
	 * (a new database), the anti-join read the outbox whole for each message (17 s, counted
	 * in bench/pgwork's PostgreSQL CPU); the ids are distinct (checked by ids) */
	long lost = tql("SELECT count(*) FROM (SELECT platform_message_id FROM inbound_messages"
	                " EXCEPT SELECT reply_to FROM outbox WHERE kind = 'reply') m");
	long dup = tql("SELECT count(*) FROM (SELECT reply_to FROM outbox WHERE kind = 'reply'"
	               " AND reply_to IS NOT NULL GROUP BY reply_to HAVING count(*) > 1) d");
	long replies = tql("SELECT count(*) FROM outbox WHERE kind = 'reply'");
	long unsent = tql("SELECT count(*) FROM outbox WHERE kind = 'reply' AND status NOT IN"
	                  " ('sent', 'delivered', 'read')");
	long failures = tql("SELECT count(*) FROM inbound_failures");
	long orders = tql("SELECT count(*) FROM orders");
	long calls = sink_posts();
	int ok = in == sent && ids == sent && lost == 0 && dup == 0 && replies == sent &&
	         unsent == 0 && failures == 0 && orders == shoppers && calls >= replies;

	printf("count check: %ld messages answered 200; inbound_messages %ld rows (%ld distinct "
	       "ids); inbound without a reply row %ld, with more than one %ld; reply rows %ld, "
	       "not sent %ld; inbound_failures %ld; orders %ld of %ld shoppers; %s API calls %ld: "
	       "%s\n"
	       "RESULT check platform=%s ok=%d sent=%ld inbound=%ld lost=%ld duplicated=%ld "
	       "orders=%ld calls=%ld\n",
	       sent, in, ids, lost, dup, replies, unsent, failures, orders, shoppers, plat->type,
	       calls, ok ? "OK" : "FAILED", plat->type, ok, sent, in, lost, dup, orders, calls);
	return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
	const char *inflight = "32,64", *platform = "whatsapp";
	long shoppers = 1000, sent = 0, all_shoppers = 0;
	double rate = 0, seconds = 20;
	int conns = 128, k, tag = 1;
	char owner_pg[600], *end;
	size_t i;

	for (k = 1; k + 1 < argc; k += 2) {
		if (strcmp(argv[k], "--shoppers") == 0)
			shoppers = atol(argv[k + 1]);
		else if (strcmp(argv[k], "--inflight") == 0)
			inflight = argv[k + 1];
		else if (strcmp(argv[k], "--rate") == 0)
			rate = atof(argv[k + 1]);
		else if (strcmp(argv[k], "--seconds") == 0)
			seconds = atof(argv[k + 1]);
		else if (strcmp(argv[k], "--conns") == 0)
			conns = atoi(argv[k + 1]);
		else if (strcmp(argv[k], "--platform") == 0)
			platform = argv[k + 1];
		else if (strcmp(argv[k], "--stagger") == 0)
			stagger_s = atof(argv[k + 1]);
		else
			break;
	}
	for (i = 0; i < sizeof(platforms) / sizeof(platforms[0]); i++)
		if (strcmp(platforms[i].type, platform) == 0)
			plat = &platforms[i];
	if (k < argc || shoppers < 1 || shoppers > 9999999 || conns < 1 || conns > MAX_CONNS ||
	    rate < 0 || seconds <= 0 || stagger_s < 0 || !plat) {
		fprintf(stderr, "usage: bench_ingest [--platform whatsapp|telegram] [--shoppers N]"
		                " [--inflight C[,C...]]\n"
		                "       bench_ingest [--platform whatsapp|telegram] --rate R"
		                " [--seconds T] [--conns K] [--stagger G]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	/* a database per platform: one run never sees the other's rows */
	testdb_setup(&db, plat == &platforms[0] ? "bench_ingest" : "bench_ingest_telegram");
	tenant = testdb_tenant_create(&db, "bench", &api_key);
	conn = testdb_connect_app(&db);
	/* the owner role on database postgres, to read pg_stat_database from outside */
	snprintf(owner_pg, sizeof(owner_pg), "%s dbname=postgres", db.owner_url);
	stats_conn = PQconnectdb(owner_pg);
	if (PQstatus(stats_conn) != CONNECTION_OK)
		die("statistics connection: %s", PQerrorMessage(stats_conn));
	sink_start();
	server_start();
	shop_setup();
	testsrv_stop(&srv);
	if (rate > 0) {
		/* enough shoppers that each one's next message is due T/STEPS seconds later */
		all_shoppers = ((long)(rate * seconds) + STEPS - 1) / STEPS;
		sent = run_measure(9, (int)all_shoppers, conns, rate);
	}
	for (; rate <= 0 && *inflight; inflight = end + (*end == ',')) {
		long c = strtol(inflight, &end, 10);

		if (c < 1 || c > MAX_CONNS || tag > 8 || (*end && *end != ','))
			die("--inflight takes up to 8 counts from 1 to %d: %s", MAX_CONNS,
			    inflight);
		sent += run_measure(tag++, (int)shoppers, (int)c, 0);
		all_shoppers += shoppers;
	}
	k = count_check(sent, all_shoppers);
	PQfinish(conn);
	PQfinish(stats_conn);
	return k < 0 ? 1 : 0;
}
