/*
 * engine_fixture.h: a test shop for the engine tests: one migrated database, a tenant with
 * settings and a small catalog, the real NLP and engine, and helpers that send a message
 * through engine_handle in its own transaction (as a channel would) and read back the
 * replies it wrote and any value from the database under the tenant's row-level security.
 */
#ifndef CCGW_ENGINE_FIXTURE_H
#define CCGW_ENGINE_FIXTURE_H

#include <libpq-fe.h>

#include "engine.h"
#include "message.h"
#include "testdb.h"

struct efx {
	struct testdb db;
	PGconn *conn;
	struct nlp *nlp;
	struct engine *engine;
	char tenant[37];
	char channel[37]; /* the tenant's webchat channel */
	char other_tenant[37];
	char other_product[37]; /* a product of the other tenant */
	char honey[37];         /* Acacia Honey 500g, KES 850, stock 40 */
	char forest[37];        /* Forest Honey 1kg, KES 1,600, stock 1 */
	char mug[37];           /* Enamel Chai Mug, KES 550, stock 100 */
	char soap[37];          /* Shea Butter Soap, out of stock */
};

/* What one message did: the engine's return code, its result and its replies' text. */
struct esent {
	int rc;
	struct engine_result res;
	char message_id[64];
	char *text; /* the replies' texts joined by "\n---\n" (heap, "" for none) */
	int nreplies;
	char *last_reply; /* the last reply's JSON (heap) or NULL */
};

void efx_setup(struct efx *f, const char *dbname);
void efx_teardown(struct efx *f);

/* Sends a message on conn (NULL: f->conn). message_id NULL: a fresh one. */
void efx_send(struct efx *f, PGconn *conn, const char *chat, enum msg_kind kind,
              const char *text_or_payload, const char *message_id, struct esent *out);
void efx_text(struct efx *f, const char *chat, const char *text, struct esent *out);
void efx_postback(struct efx *f, const char *chat, const char *payload, struct esent *out);
/* A text (efx_step) or a pressed payload (efx_tap) from chat, which the engine must take;
 * expect (may be NULL) must be in the answer's text or its last reply (a button or row). */
void efx_step(struct efx *f, const char *chat, const char *text, const char *expect);
void efx_tap(struct efx *f, const char *chat, const char *payload, const char *expect);
/* The conversation of a chat on the webchat channel (heap, "" for none). */
char *efx_conv_of(struct efx *f, const char *chat);
/* Sends a message built by the caller (tenant, channel and ids are filled when empty). */
void efx_send_msg(struct efx *f, PGconn *conn, struct msg_inbound *m, struct esent *out);
void esent_clear(struct esent *s);

/* First column of the first row of sql in a transaction of tenant (NULL: f->tenant), as a
 * heap string ("" for SQL NULL or no row). */
char *efx_q(struct efx *f, const char *tenant, const char *sql, int n, const char *const *p);
long efx_qlong(struct efx *f, const char *sql, int n, const char *const *p);
/* Runs a statement in the tenant's transaction; asserts it works. */
void efx_exec(struct efx *f, const char *sql, int n, const char *const *p);

#define assert_contains(hay, needle)                                                               \
	do {                                                                                       \
		const char *h_ = (hay);                                                            \
		if (!h_ || !strstr(h_, (needle)))                                                  \
			fail_msg("expected \"%s\" in:\n%s", (needle), h_ ? h_ : "(null)");         \
	} while (0)
#define assert_not_contains(hay, needle)                                                           \
	do {                                                                                       \
		const char *h_ = (hay);                                                            \
		if (h_ && strstr(h_, (needle)))                                                    \
			fail_msg("did not expect \"%s\" in:\n%s", (needle), h_);                   \
	} while (0)

#endif
