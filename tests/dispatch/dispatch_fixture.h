/*
 * dispatch_fixture.h: what the dispatcher's integration tests share: tenants, channels,
 * conversations, notification targets and outbox rows written as the application role in
 * tenant transactions (as the engine writes them), queries of the outcome, and the recording
 * mock (tests/mock/sink_mock.py) that plays the Graph API and sellers' webhook receivers.
 */
#ifndef CCGW_DISPATCH_FIXTURE_H
#define CCGW_DISPATCH_FIXTURE_H

#include <jansson.h>
#include <libpq-fe.h>
#include <sys/types.h>

#include "testdb.h"

struct fx {
	struct testdb db;
	PGconn *conn; /* application role */
	pid_t mock_pid;
	int mock_port;
	char mock_url[64]; /* http://127.0.0.1:PORT */
};

/* Database, connection and mock for test name. */
void fx_setup(struct fx *f, const char *name);
void fx_teardown(struct fx *f);

/* Runs sql in a transaction of tenant and returns the first column of the first row (heap,
 * "" for no row or NULL); fails the test on an error. tenant may be NULL. */
char *fx_q(struct fx *f, const char *tenant, const char *sql, int n, const char *const *p);
long fx_ql(struct fx *f, const char *tenant, const char *sql, int n, const char *const *p);

char *fx_tenant(struct fx *f, const char *slug);
/* A WhatsApp channel with phone_number_id pnid and a sealed access token. */
char *fx_wa_channel(struct fx *f, const char *tenant, const char *pnid);
/* A channel of another type (no secrets). */
char *fx_channel(struct fx *f, const char *tenant, const char *type, const char *external_id);
/* A conversation with chat (the shopper's wa_id) who wrote a minute ago. */
char *fx_conversation(struct fx *f, const char *tenant, const char *channel, const char *chat);
/* n conversations of chats "<chat_prefix>0001", ... (convs[i] and chats[i] heap strings). */
void fx_conversations(struct fx *f, const char *tenant, const char *channel,
                      const char *chat_prefix, int n, char **convs, char **chats);
/* Frees the n strings of v. */
void fx_strings_free(char **v, int n);
/* A reply outbox row with {"text": text}; returns its id. */
char *fx_reply(struct fx *f, const char *tenant, const char *conv, const char *channel,
               const char *chat, const char *text);
/* Inserts many reply rows in one statement: for each of nconv conversations (arrays of ids and
 * chats), nmsg texts "<prefix><c>-<m>" with m counting from 1; row order is m-major
 * (every conversation's message 1, then every message 2, ...). */
void fx_replies_bulk(struct fx *f, const char *tenant, const char *channel, char **convs,
                     char **chats, int nconv, int nmsg, const char *prefix);
/* A webhook notification target with a sealed secret. */
char *fx_webhook_target(struct fx *f, const char *tenant, const char *url, const char *secret);
/* A webhook outbox row for target with body {"event", "event_id", "tenant_id", "order": {...}}. */
char *fx_webhook(struct fx *f, const char *tenant, const char *target, const char *url,
                 const char *event_id);

/* Outbox rows of tenant in status (all statuses when NULL). */
long fx_count(struct fx *f, const char *tenant, const char *status);
/* Waits until fx_count(tenant, status) == n; returns 0, or -1 after timeout_s seconds. */
int fx_wait_count(struct fx *f, const char *tenant, const char *status, long n, int timeout_s);

/* The mock. */
void fx_mock_reset(struct fx *f);
void fx_mock_rules(struct fx *f, const char *rules_json);
void fx_mock_clear_rules(struct fx *f);
void fx_mock_secret(struct fx *f, const char *prefix, const char *secret);
/* Recorded requests (a JSON array; caller decrefs). */
json_t *fx_mock_requests(struct fx *f);
/* The recorded requests whose path contains part (caller decrefs). */
json_t *fx_mock_requests_for(struct fx *f, const char *part);
/* The "text" of a recorded WhatsApp request body, or NULL. */
const char *fx_req_text(const json_t *req, char *buf, size_t len);
/* Checks that for every recipient (JSON "to") whose texts start with prefix, the first
 * appearances of "<prefix><c>-<m>" run m = 1, 2, ... nmsg in order. Returns the number of
 * recipients checked; fails the test on a gap or an inversion. */
int fx_assert_in_order(const json_t *reqs, const char *prefix, int nmsg);

void fx_sleep_ms(int ms);

#endif
