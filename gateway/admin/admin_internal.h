/*
 * admin_internal.h: what the admin_*.c handlers share: one struct admin_call per request
 * (authentication, the answer being built, the Idempotency-Key), the transaction runner that
 * stores and replays idempotent answers, input validation that names the field, keyset
 * paging (limit + opaque cursor), and the shapes most routes share: a paged list, one row by
 * its id (get, delete) and any other route on one object.
 */
#ifndef CCGW_ADMIN_INTERNAL_H
#define CCGW_ADMIN_INTERNAL_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

#include "http.h"
#include "jfield.h"
#include "log.h"

#define ADMIN_WUR __attribute__((warn_unused_result))

/* A transaction body set an error answer (admin_answer_error): roll back and send it. */
#define ADMIN_ROLLBACK (-100)

#define ADMIN_PAGE_DEFAULT 50
#define ADMIN_PAGE_MAX     200
#define ADMIN_IDEM_KEY_MAX 255

/* The answer a request is building; written into the http_response by admin_call_end. */
struct admin_answer {
	int status;    /* 0: nothing decided yet (500) */
	char *body;    /* heap JSON text; NULL for an answer without a body (204) */
	char etag[32]; /* "" or the value of an ETag header */
	int replayed;  /* an idempotent replay: adds Idempotent-Replayed: true */
};

struct admin_call {
	struct http_ctx *ctx;
	const struct http_request *req;
	struct http_response *resp;
	char tenant_id[37];
	struct log_ctx log;   /* tenant set once authenticated */
	const char *idem_key; /* Idempotency-Key of a POST (borrowed from req); NULL when none */
	char idem_hash[65];   /* SHA-256 of method, path, query and body */
	struct admin_answer ans;
	int kick;       /* set by a body that wrote outbox rows: wake the dispatcher */
	const char *id; /* the {id} path parameter once admin_call_begin_id checked it */
};

/* A transaction body: runs inside pg_tx_run with app.tenant_id set; sets the answer
 * (admin_answer_*) and returns 0 to commit, ADMIN_ROLLBACK after an error answer, or a
 * PG_ERR_* / -1 on a database error. It may run more than once (serialization retries): it
 * must not keep state between runs except through its answer. */
struct admin_call;
typedef int (*admin_tx_fn)(PGconn *conn, struct admin_call *call, void *arg);

/*
 * Starts a request: checks the Bearer key (401 when missing or unknown, 503 when the
 * database is away) and, for POST, the Idempotency-Key header. Returns 0, or -1 with the
 * answer set. Always pair with admin_call_end.
 */
int admin_call_begin(struct admin_call *call, struct http_ctx *ctx, const struct http_request *req,
                     struct http_response *resp) ADMIN_WUR;
/* admin_call_begin for a route on one object, then its {id} path parameter into call->id:
 * -1 with a 404 {"error": {"code": "not_found", "message": missing}} answer when it is not a
 * well-formed UUID (a malformed id names no object). */
int admin_call_begin_id(struct admin_call *call, struct http_ctx *ctx,
                        const struct http_request *req, struct http_response *resp,
                        const char *missing) ADMIN_WUR;
/* Runs fn in one tenant transaction (with the idempotency record when a key was given) and
 * keeps its answer; database failures become 503/500 answers. */
void admin_call_run(struct admin_call *call, admin_tx_fn fn, void *arg);
/* Writes the answer into the response (500 when none was set) and frees the call's state. */
void admin_call_end(struct admin_call *call);

/* Answers: each replaces any earlier answer. admin_answer_json takes the reference to obj. */
void admin_answer_json(struct admin_call *call, int status, json_t *obj);
void admin_answer_empty(struct admin_call *call, int status);
/* {"error": {"code", "message"[, "field"]}}; field may be NULL. */
void admin_answer_error(struct admin_call *call, int status, const char *code, const char *field,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* 404 {"error": {"code": "not_found", "message": missing}}. */
void admin_answer_not_found(struct admin_call *call, const char *missing);
/* The answer for a database error code returned by pg_tx_run or a helper. */
void admin_answer_db_error(struct admin_call *call, int rc);

/* Validation: a failed check fills field (the JSON path, e.g. "price_minor" or
 * "[3].currency") and a message a person can act on. */
/* 400 {"error": {"code": "validation", "message": "<field>: <message>", "field": ...}}. */
void admin_answer_verr(struct admin_call *call, const struct jfield_error *err);

/* The request body as a JSON object; on failure answers 400 and returns NULL. */
json_t *admin_body_object(struct admin_call *call) ADMIN_WUR;

/* An optional ?name=true|false filter: 0 with *out "true", "false", or NULL when absent; -1
 * with a 400 answer naming it for any other value. */
int admin_query_bool(struct admin_call *call, const char *name, const char **out) ADMIN_WUR;

/* Paging: ?limit=N (1..ADMIN_PAGE_MAX, default ADMIN_PAGE_DEFAULT) and ?cursor=C. */
struct admin_page {
	long limit;
	char cursor[128]; /* "" when none */
};
/* Reads limit and cursor; -1 with a 400 answer when limit is malformed. */
int admin_page_parse(struct admin_call *call, struct admin_page *page) ADMIN_WUR;
/*
 * A keyset cursor over (created_at, id) is "<microseconds since the epoch>.<uuid>"; in SQL
 * build it with ADMIN_CURSOR_SQL(created_at, id) and compare with
 * (created_at, id) > ('epoch'::timestamptz + $N::bigint * interval '1 microsecond', $M::uuid)
 * (ADMIN_LIST_AFTER_SQL for an admin_list). Splits the page's cursor into usec and id; 0 when
 * none, 1 when set, -1 (400 answered) when malformed.
 */
#define ADMIN_CURSOR_SQL(ts, id)                                                                   \
	"((extract(epoch FROM " ts ") * 1000000)::bigint::text || '.' || " id "::text)"
int admin_cursor_split(struct admin_call *call, const struct admin_page *page, char usec[24],
                       char id[37]) ADMIN_WUR;
/* A numeric cursor (a sequence number): 0 none, 1 set (digits copied to seq), -1 answered. */
int admin_cursor_seq(struct admin_call *call, const struct admin_page *page,
                     char seq[24]) ADMIN_WUR;
/* {"data": data, "next_cursor": next or null}; takes data. */
json_t *admin_page_result(json_t *data, const char *next);

/* One row of a result as a JSON object (new reference; NULL when out of memory). */
typedef json_t *(*admin_row_fn)(const struct admin_call *call, const PGresult *res, int r);

/* Answers 200 {"data": [row of each of the first limit rows], "next_cursor"} from res, which
 * holds up to limit + 1 rows: when there is one more, next_cursor is column cursor_col of
 * the last row shown, else null. res stays the caller's. */
void admin_answer_page(struct admin_call *call, const PGresult *res, long limit, int cursor_col,
                       admin_row_fn row);

/*
 * A list keyset-paged by (created_at, id): GET /api/v1/<things>[?limit&cursor&filters].
 * sql takes $1 the row limit (the page's + 1), $2 and $3 the cursor (usec and id, both NULL
 * on the first page; compare with ADMIN_LIST_AFTER_SQL), then $4... the filters (params);
 * its column cursor_col is ADMIN_CURSOR_SQL of the same (created_at, id).
 */
#define ADMIN_LIST_PARAMS_MAX 4
struct admin_list {
	const char *sql;
	int cursor_col;
	admin_row_fn row;
	const char *params[ADMIN_LIST_PARAMS_MAX]; /* $4...: NULL or text, borrowed */
	int nparams;
	/* set by admin_call_begin_list */
	struct admin_page page;
	char usec[24], after[37];
	int has_cursor;
};
/* The keyset condition of an admin_list: rows after the cursor ($2, $3) in the list's order;
 * op is ">" for a list in ascending order, "<" for a descending one. */
#define ADMIN_LIST_AFTER_SQL(ts, id, op)                                                           \
	"($2::bigint IS NULL OR (" ts ", " id ") " op " "                                          \
	"('epoch'::timestamptz + $2::bigint * interval '1 microsecond', $3::uuid))"
/* admin_call_begin, then ?limit and ?cursor into list (-1 with a 400 answer when malformed).
 * Read the filters after it, so a bad page is named before a bad filter. */
int admin_call_begin_list(struct admin_call *call, struct http_ctx *ctx,
                          const struct http_request *req, struct http_response *resp,
                          struct admin_list *list) ADMIN_WUR;
/* Runs the list's query in the tenant transaction and answers its page (admin_answer_page). */
void admin_list_run(struct admin_call *call, struct admin_list *list);
/* The whole handler of a list without filters: begin, run, end. */
void admin_list_serve(struct http_ctx *ctx, const struct http_request *req,
                      struct http_response *resp, struct admin_list *list);

/*
 * A route on one row by its {id} with no body, e.g. GET or DELETE /api/v1/<things>/{id}.
 * sql takes $1 the id and returns the row, or no row when there is none (404 missing); row
 * builds the 200 answer, or NULL to answer 204 without a body; then, when not NULL, runs
 * with $1 the id in the same transaction once the row was found.
 */
struct admin_row_op {
	const char *sql;
	admin_row_fn row;
	const char *then;
	const char *missing; /* the 404 message, e.g. "no such product" */
};
/* The whole handler: admin_call_begin_id, the statement(s) in the tenant transaction, end. */
void admin_row_serve(struct http_ctx *ctx, const struct http_request *req,
                     struct http_response *resp, const struct admin_row_op *op);
/* The whole handler of another route on one object: admin_call_begin_id, then fn(arg) in the
 * tenant transaction (it finds the id in call->id), end. */
void admin_id_serve(struct http_ctx *ctx, const struct http_request *req,
                    struct http_response *resp, const char *missing, admin_tx_fn fn, void *arg);

/* The {id} path parameter i when it is a well-formed UUID, else NULL (the caller answers
 * 404: a malformed id names no object). */
const char *admin_path_uuid(const struct admin_call *call, size_t i);

/* Text helpers for rows: a column as a JSON string / integer / boolean / parsed JSON, with
 * SQL NULL as JSON null. */
json_t *admin_col_string(const PGresult *res, int r, int c);
json_t *admin_col_int(const PGresult *res, int r, int c);
json_t *admin_col_bool(const PGresult *res, int r, int c);
json_t *admin_col_json(const PGresult *res, int r, int c);

/* Seals plain (len bytes) for this tenant into bytea text ("\\x...") for a parameter; -1
 * with a 500 answer when the server has no CCGW_SECRET_KEY (a secret is never stored in
 * plain text) or sealing failed. The caller frees *bytea. */
int admin_seal(struct admin_call *call, const char *plain, size_t len, char **bytea) ADMIN_WUR;
/* 1 when the server can seal secrets; else 0 with the 500 answer set. */
int admin_can_seal(struct admin_call *call) ADMIN_WUR;

/* The public URL without a trailing slash + "/webhooks/<type>/<id>", heap; NULL on OOM. */
char *admin_webhook_url(const struct admin_call *call, const char *type, const char *id) ADMIN_WUR;

/* admin_auth.c: the tenant of a Bearer key; 0 (tenant_id set), 1 no or unknown key, or a
 * PG_ERR_* when the database failed. */
int admin_auth_tenant(PGconn *conn, const char *authorization, char tenant_id[37]) ADMIN_WUR;

/* admin_idempotency.c, inside the request's transaction:
 * claim: 0 the key is new (or expired) and now held by this transaction; 1 a stored answer was
 * loaded into call->ans (replay); ADMIN_ROLLBACK with a 422 answer when the key was used with
 * a different request; PG_ERR_* on a database error.
 * store: records call->ans for the held key; 0 or PG_ERR_*. */
int admin_idem_claim(PGconn *conn, struct admin_call *call) ADMIN_WUR;
int admin_idem_store(PGconn *conn, struct admin_call *call) ADMIN_WUR;

#endif
