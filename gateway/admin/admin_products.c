/*
 * admin_products.c: the catalog through the admin API: create, bulk import (all or nothing),
 * list (keyset paged), get, patch, and soft delete (deleted_at set, active false: the product
 * leaves every list, the bot's offers and open carts, while past orders keep their snapshot
 * in order_items). Money is integer minor units plus an active ISO 4217 code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "admin_internal.h"
#include "pg.h"
#include "util.h"

#define PRODUCT_PRICE_MAX 1000000000000000LL /* 10^15 minor units */
#define PRODUCT_STOCK_MAX 2147483647LL
#define PRODUCT_BULK_MAX  1000

/* The columns every answer is built from, in this order (see product_json). */
#define PRODUCT_COLS                                                                               \
	"p.id, p.sku, p.name, p.description, p.category, p.price_minor, p.currency, p.stock, "     \
	"p.active, p.image_url, to_json(p.created_at)#>>'{}', to_json(p.updated_at)#>>'{}', "     \
	"p.image_asset_id"
#define PRODUCT_NCOLS   13
#define PRODUCT_MISSING "no such product"

static const char *const product_fields[] = {
    "sku",
    "name",
    "description",
    "category",
    "price_minor",
    "currency",
    "stock",
    "active",
    "image_url",
    "image_asset_id", /* an uploaded image (POST /api/v1/assets) of this tenant, or null */
    /* read-only fields of an answer, accepted and ignored so a GET body can be sent back */
    "id",
    "created_at",
    "updated_at",
    NULL,
};

struct product_in {
	const char *sku, *name, *description, *category, *currency, *image_url;
	const char *image_asset_id;
	long long price_minor, stock;
	int active;
	int has_price, has_stock, has_active, has_image_url, has_image_asset;
};

static json_t *product_json(const struct admin_call *call, const PGresult *res, int r)
{
	(void)call; /* an admin_row_fn */
	return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id",
	                 admin_col_string(res, r, 0), "sku", admin_col_string(res, r, 1), "name",
	                 admin_col_string(res, r, 2), "description", admin_col_string(res, r, 3),
	                 "category", admin_col_string(res, r, 4), "price_minor",
	                 admin_col_int(res, r, 5), "currency", admin_col_string(res, r, 6), "stock",
	                 admin_col_int(res, r, 7), "active", admin_col_bool(res, r, 8), "image_url",
	                 admin_col_string(res, r, 9), "created_at", admin_col_string(res, r, 10),
	                 "updated_at", admin_col_string(res, r, 11), "image_asset_id",
	                 admin_col_string(res, r, 12));
}

static int blank(const char *s)
{
	for (; *s; s++)
		if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
			return 0;
	return 1;
}

/* Reads and checks a product object. partial: a PATCH (nothing required, null refused for
 * fields that cannot be empty). Returns 0 or -1 with err filled. */
static int product_parse(json_t *obj, const char *prefix, int partial, struct product_in *in,
                         struct jfield_error *err)
{
	static const char *const not_null[] = {"sku",      "name",        "description",
	                                       "category", "price_minor", "currency",
	                                       "stock",    "active",      NULL};
	json_t *v;
	size_t i;
	int rc;

	memset(in, 0, sizeof(*in));
	if (jfield_known(obj, prefix, product_fields, err) < 0)
		return -1;
	if (partial)
		for (i = 0; not_null[i]; i++) {
			v = json_object_get(obj, not_null[i]);
			if (v && json_is_null(v)) {
				jfield_error_set(err, prefix, not_null[i], "must not be null");
				return -1;
			}
		}
	if (jfield_string(obj, prefix, "sku", !partial, 1, 64, &in->sku, err) < 0)
		return -1;
	if (in->sku && blank(in->sku)) {
		jfield_error_set(err, prefix, "sku", "must not be empty");
		return -1;
	}
	if (jfield_string(obj, prefix, "name", !partial, 1, 200, &in->name, err) < 0)
		return -1;
	if (in->name && blank(in->name)) {
		jfield_error_set(err, prefix, "name", "must not be empty");
		return -1;
	}
	if (jfield_string(obj, prefix, "description", 0, 0, 2000, &in->description, err) < 0)
		return -1;
	if (jfield_string(obj, prefix, "category", 0, 1, 100, &in->category, err) < 0)
		return -1;
	if (in->category && blank(in->category)) {
		jfield_error_set(err, prefix, "category", "must not be empty");
		return -1;
	}
	rc = jfield_int(obj, prefix, "price_minor", !partial, 0, PRODUCT_PRICE_MAX,
	                     &in->price_minor, err);
	if (rc < 0)
		return -1;
	in->has_price = rc;
	if (jfield_string(obj, prefix, "currency", 0, 3, 3, &in->currency, err) < 0) {
		if (json_is_string(json_object_get(obj, "currency")))
			jfield_error_set(err, prefix, "currency",
			               "unknown currency: use an ISO 4217 code such as KES or USD");
		return -1;
	}
	if (in->currency && !admin_currency_valid(in->currency)) {
		jfield_error_set(err, prefix, "currency",
		               "unknown currency \"%.8s\": use an upper-case ISO 4217 code such as "
		               "KES or USD",
		               in->currency);
		return -1;
	}
	rc = jfield_int(obj, prefix, "stock", 0, 0, PRODUCT_STOCK_MAX, &in->stock, err);
	if (rc < 0)
		return -1;
	in->has_stock = rc;
	rc = jfield_bool(obj, prefix, "active", 0, &in->active, err);
	if (rc < 0)
		return -1;
	in->has_active = rc;
	v = json_object_get(obj, "image_url");
	if (v) {
		in->has_image_url = 1;
		if (jfield_string(obj, prefix, "image_url", 0, 1, 2048, &in->image_url, err) <
		    0)
			return -1;
		if (in->image_url && strncmp(in->image_url, "https://", 8) != 0 &&
		    strncmp(in->image_url, "http://", 7) != 0) {
			jfield_error_set(err, prefix, "image_url",
			               "must be an http:// or https:// URL");
			return -1;
		}
	}
	v = json_object_get(obj, "image_asset_id");
	if (v) {
		in->has_image_asset = 1;
		if (!json_is_null(v) &&
		    (!json_is_string(v) || !util_uuid_valid(json_string_value(v)))) {
			jfield_error_set(err, prefix, "image_asset_id",
			                 "must be the id of an uploaded image (POST /api/v1/assets)");
			return -1;
		}
		in->image_asset_id = json_string_value(v);
	}
	return 0;
}

/* 0 when the product's image_asset_id is none or one of this tenant's uploaded images;
 * ADMIN_ROLLBACK with a 400 naming it otherwise (another tenant's asset is no asset here). */
static int image_asset_check(PGconn *conn, struct admin_call *call, const struct product_in *in)
{
	PGresult *res;
	int n;

	if (!in->image_asset_id)
		return 0;
	res = pg_exec(conn,
	              "SELECT 1 FROM storefront_assets WHERE tenant_id = app_tenant_id() AND id = $1"
	              " AND parent_asset_id IS NULL AND data IS NOT NULL",
	              1, (const char *const[]){in->image_asset_id});
	if (!res)
		return PG_ERR_QUERY;
	n = PQntuples(res);
	PQclear(res);
	if (n == 1)
		return 0;
	admin_answer_error(call, 400, "validation", "image_asset_id",
	                   "image_asset_id: no such asset (upload it with POST /api/v1/assets)");
	return ADMIN_ROLLBACK;
}

static void answer_duplicate(struct admin_call *call, const char *prefix, const char *sku)
{
	char field[48];

	snprintf(field, sizeof(field), "%ssku", prefix);
	admin_answer_error(call, 400, "duplicate", field,
	                   "%s: a product with sku \"%.64s\" already exists", field,
	                   sku ? sku : "");
}

/* 1 when another live product of the tenant has this sku (not counting except_id). */
static int sku_taken(PGconn *conn, const char *sku, const char *except_id)
{
	const char *params[2] = {sku, except_id};
	PGresult *res;
	int taken;

	res = pg_exec(conn,
	              "SELECT 1 FROM products WHERE tenant_id = app_tenant_id() AND sku = $1 "
	              "AND deleted_at IS NULL AND ($2::uuid IS NULL OR id <> $2::uuid)",
	              2, params);
	if (!res)
		return PG_ERR_QUERY;
	taken = PQntuples(res) > 0;
	PQclear(res);
	return taken;
}

/* Before a write: 0 when no other live product has sku (NULL: not being set), or
 * ADMIN_ROLLBACK with the duplicate answer, or a PG_ERR_*. */
static int sku_check(PGconn *conn, struct admin_call *call, const char *sku, const char *except_id)
{
	int rc;

	if (!sku)
		return 0;
	rc = sku_taken(conn, sku, except_id);
	if (rc > 0) {
		answer_duplicate(call, "", sku);
		return ADMIN_ROLLBACK;
	}
	return rc;
}

static int is_unique_violation(void)
{
	return strcmp(pg_last_sqlstate(), "23505") == 0;
}

/* After a failed write of sku: a live product took it meanwhile (ADMIN_ROLLBACK with the
 * duplicate answer), or PG_ERR_QUERY. */
static int write_failed(struct admin_call *call, const char *sku)
{
	if (!is_unique_violation())
		return PG_ERR_QUERY;
	answer_duplicate(call, "", sku);
	return ADMIN_ROLLBACK;
}

/* ---- POST /api/v1/products ---- */

static int create_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	const struct product_in *in = arg;
	char price[24], stock[24];
	const char *params[10];
	PGresult *res;
	int rc;

	rc = sku_check(conn, call, in->sku, NULL);
	if (rc < 0)
		return rc;
	rc = image_asset_check(conn, call, in);
	if (rc != 0)
		return rc;
	snprintf(price, sizeof(price), "%lld", in->price_minor);
	snprintf(stock, sizeof(stock), "%lld", in->stock);
	params[0] = in->sku;
	params[1] = in->name;
	params[2] = in->description;
	params[3] = in->category;
	params[4] = price;
	params[5] = in->currency;
	params[6] = in->has_stock ? stock : NULL;
	params[7] = in->has_active ? (in->active ? "true" : "false") : NULL;
	params[8] = in->image_url;
	params[9] = in->image_asset_id;
	res = pg_exec(
	    conn,
	    "INSERT INTO products AS p (tenant_id, sku, name, description, category, "
	    "price_minor, currency, stock, active, image_url, image_asset_id) "
	    "VALUES (app_tenant_id(), $1, $2, COALESCE($3, ''), COALESCE($4, 'General'), "
	    "$5::bigint, COALESCE($6, (SELECT currency FROM tenants WHERE id = app_tenant_id())), "
	    "COALESCE($7::int, 0), COALESCE($8::boolean, true), $9, $10::uuid) RETURNING "
	    PRODUCT_COLS,
	    10, params);
	if (!res)
		return write_failed(call, in->sku);
	admin_answer_json(call, 201, product_json(call, res, 0));
	PQclear(res);
	return 0;
}

/* POST (a whole product, 201) and PATCH /{id} (the fields given): the body checked by
 * product_parse, then tx in the tenant's transaction. */
static void product_write_serve(struct http_ctx *ctx, const struct http_request *req,
                                struct http_response *resp, int partial, admin_tx_fn tx)
{
	struct admin_call call;
	struct jfield_error err;
	struct product_in in;
	json_t *body = NULL;

	if ((partial ? admin_call_begin_id(&call, ctx, req, resp, PRODUCT_MISSING)
	             : admin_call_begin(&call, ctx, req, resp)) < 0)
		goto out;
	body = admin_body_object(&call);
	if (!body)
		goto out;
	if (product_parse(body, "", partial, &in, &err) < 0) {
		admin_answer_verr(&call, &err);
		goto out;
	}
	admin_call_run(&call, tx, &in);
out:
	json_decref(body);
	admin_call_end(&call);
}

ADMIN_HANDLER(admin_products_create)
{
	product_write_serve(ctx, req, resp, 0, create_tx);
}

/* ---- POST /api/v1/products/bulk[?upsert=true] ---- */

struct bulk_state {
	char *items; /* the checked array as JSON text */
	size_t count;
	int upsert;
};

#define BULK_INPUT                                                                                 \
	"WITH input AS (SELECT e.ord, e.item FROM jsonb_array_elements($1::jsonb) "                \
	"WITH ORDINALITY AS e(item, ord)) "

static int bulk_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	struct bulk_state *st = arg;
	const char *params[1] = {st->items};
	long long updated = 0, created = 0;
	PGresult *res;
	json_t *data;
	char prefix[24];
	int i, n;

	if (!st->upsert) {
		res =
		    pg_exec(conn,
		            BULK_INPUT "SELECT input.ord - 1, p.sku FROM input JOIN products p "
		                       "ON p.tenant_id = app_tenant_id() AND p.deleted_at IS NULL "
		                       "AND p.sku = input.item->>'sku' ORDER BY input.ord LIMIT 1",
		            1, params);
		if (!res)
			return PG_ERR_QUERY;
		if (PQntuples(res) == 1) {
			snprintf(prefix, sizeof(prefix), "[%s].", PQgetvalue(res, 0, 0));
			answer_duplicate(call, prefix, PQgetvalue(res, 0, 1));
			PQclear(res);
			return ADMIN_ROLLBACK;
		}
		PQclear(res);
	} else {
		/* fields an item leaves out keep their current values */
		res = pg_exec(
		    conn,
		    BULK_INPUT
		    "UPDATE products p SET name = i.item->>'name', "
		    "description = COALESCE(i.item->>'description', p.description), "
		    "category = COALESCE(i.item->>'category', p.category), "
		    "price_minor = (i.item->>'price_minor')::bigint, "
		    "currency = COALESCE(i.item->>'currency', p.currency), "
		    "stock = COALESCE((i.item->>'stock')::int, p.stock), "
		    "active = COALESCE((i.item->>'active')::boolean, p.active), "
		    "image_url = CASE WHEN i.item ? 'image_url' THEN i.item->>'image_url' "
		    "ELSE p.image_url END "
		    "FROM input i WHERE p.tenant_id = app_tenant_id() AND p.deleted_at IS NULL "
		    "AND p.sku = i.item->>'sku'",
		    1, params);
		if (!res)
			return PG_ERR_QUERY;
		updated = strtoll(PQcmdTuples(res), NULL, 10);
		PQclear(res);
	}
	res = pg_exec(
	    conn,
	    BULK_INPUT
	    "INSERT INTO products (tenant_id, sku, name, description, category, "
	    "price_minor, currency, stock, active, image_url) "
	    "SELECT app_tenant_id(), item->>'sku', item->>'name', "
	    "COALESCE(item->>'description', ''), COALESCE(item->>'category', 'General'), "
	    "(item->>'price_minor')::bigint, "
	    "COALESCE(item->>'currency', (SELECT currency FROM tenants WHERE id = "
	    "app_tenant_id())), "
	    "COALESCE((item->>'stock')::int, 0), COALESCE((item->>'active')::boolean, true), "
	    "item->>'image_url' FROM input WHERE NOT EXISTS (SELECT 1 FROM products p "
	    "WHERE p.tenant_id = app_tenant_id() AND p.deleted_at IS NULL "
	    "AND p.sku = input.item->>'sku') ORDER BY ord",
	    1, params);
	if (!res) {
		if (is_unique_violation()) {
			admin_answer_error(
			    call, 400, "duplicate", "sku",
			    "sku: a product with one of these skus was created at the "
			    "same time; nothing was imported");
			return ADMIN_ROLLBACK;
		}
		return PG_ERR_QUERY;
	}
	created = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	res = pg_exec(conn,
	              BULK_INPUT "SELECT " PRODUCT_COLS " FROM input JOIN products p "
	                         "ON p.tenant_id = app_tenant_id() AND p.deleted_at IS NULL "
	                         "AND p.sku = input.item->>'sku' ORDER BY input.ord",
	              1, params);
	if (!res)
		return PG_ERR_QUERY;
	data = json_array();
	n = PQntuples(res);
	for (i = 0; data && i < n; i++)
		json_array_append_new(data, product_json(call, res, i));
	PQclear(res);
	admin_answer_json(call, created > 0 ? 201 : 200,
	                  data ? json_pack("{s:o,s:I,s:I}", "data", data, "created",
	                                   (json_int_t)created, "updated", (json_int_t)updated)
	                       : NULL);
	return 0;
}

ADMIN_HANDLER(admin_products_bulk)
{
	struct admin_call call;
	struct jfield_error err;
	struct bulk_state st = {NULL, 0, 0};
	struct product_in in;
	json_error_t jerr;
	json_t *arr = NULL, *clean = NULL, *item;
	char prefix[24], flag[8];
	size_t i, j;

	if (admin_call_begin(&call, ctx, req, resp) < 0)
		goto out;
	if (http_query_get(req, "upsert", flag, sizeof(flag)) == 0) {
		if (strcmp(flag, "true") == 0 || strcmp(flag, "1") == 0) {
			st.upsert = 1;
		} else if (strcmp(flag, "false") != 0 && strcmp(flag, "0") != 0) {
			admin_answer_error(&call, 400, "validation", "upsert",
			                   "upsert: must be true or false");
			goto out;
		}
	}
	arr = req->body && req->body_len
	          ? json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr)
	          : NULL;
	if (!arr || !json_is_array(arr)) {
		admin_answer_error(&call, 400, "invalid_json", NULL,
		                   "the request body must be a JSON array of products");
		goto out;
	}
	st.count = json_array_size(arr);
	if (st.count == 0 || st.count > PRODUCT_BULK_MAX) {
		admin_answer_error(&call, 400, "validation", NULL,
		                   "the array must hold 1 to %d products", PRODUCT_BULK_MAX);
		goto out;
	}
	clean = json_array();
	if (!clean)
		goto oom;
	json_array_foreach(arr, i, item)
	{
		json_t *copy;

		snprintf(prefix, sizeof(prefix), "[%zu].", i);
		if (!json_is_object(item)) {
			snprintf(prefix, sizeof(prefix), "[%zu]", i);
			admin_answer_error(&call, 400, "validation", prefix,
			                   "%s: must be a JSON object", prefix);
			goto out;
		}
		if (product_parse(item, prefix, 0, &in, &err) < 0) {
			admin_answer_verr(&call, &err);
			goto out;
		}
		if (in.has_image_asset) {
			/* an image is checked against the tenant's assets: one product at a time */
			jfield_error_set(&err, prefix, "image_asset_id",
			                 "is set one product at a time: PATCH /api/v1/products/{id}");
			admin_answer_verr(&call, &err);
			goto out;
		}
		for (j = 0; j < i; j++) {
			const char *other =
			    json_string_value(json_object_get(json_array_get(arr, j), "sku"));

			if (other && strcmp(other, in.sku) == 0) {
				jfield_error_set(&err, prefix, "sku", "repeats the sku of [%zu]", j);
				admin_answer_verr(&call, &err);
				goto out;
			}
		}
		copy = json_deep_copy(item);
		if (!copy)
			goto oom;
		json_object_del(copy, "id");
		json_object_del(copy, "created_at");
		json_object_del(copy, "updated_at");
		json_array_append_new(clean, copy);
	}
	st.items = json_dumps(clean, JSON_COMPACT);
	if (!st.items)
		goto oom;
	admin_call_run(&call, bulk_tx, &st);
	goto out;
oom:
	admin_answer_error(&call, 500, "internal", NULL, "out of memory");
out:
	free(st.items);
	json_decref(clean);
	json_decref(arr);
	admin_call_end(&call);
}

/* ---- GET /api/v1/products[?category=C&active=true|false] ---- */

ADMIN_HANDLER(admin_products_list)
{
	struct admin_list list = {
	    /* clang-format off */
	    .sql = "SELECT " PRODUCT_COLS ", " ADMIN_CURSOR_SQL("p.created_at", "p.id")
	           " FROM products p WHERE p.tenant_id = app_tenant_id() AND p.deleted_at IS NULL "
	           "AND " ADMIN_LIST_AFTER_SQL("p.created_at", "p.id", ">")
	           " AND ($4::text IS NULL OR p.category = $4) "
	           "AND ($5::boolean IS NULL OR p.active = $5::boolean) "
	           "ORDER BY p.created_at, p.id LIMIT $1::int",
	    /* clang-format on */
	    .cursor_col = PRODUCT_NCOLS,
	    .row = product_json,
	    .nparams = 2,
	};
	struct admin_call call;
	char category[128];

	if (admin_call_begin_list(&call, ctx, req, resp, &list) < 0)
		goto out;
	if (http_query_get(req, "category", category, sizeof(category)) < 0)
		category[0] = '\0';
	list.params[0] = category[0] ? category : NULL;
	if (admin_query_bool(&call, "active", &list.params[1]) < 0)
		goto out;
	admin_list_run(&call, &list);
out:
	admin_call_end(&call);
}

/* ---- GET /api/v1/products/{id} ---- */

ADMIN_HANDLER(admin_products_get)
{
	static const struct admin_row_op op = {
	    .sql = "SELECT " PRODUCT_COLS " FROM products p WHERE p.tenant_id = app_tenant_id() "
	           "AND p.id = $1 AND p.deleted_at IS NULL",
	    .row = product_json,
	    .missing = PRODUCT_MISSING,
	};

	admin_row_serve(ctx, req, resp, &op);
}

/* ---- PATCH /api/v1/products/{id} ---- */

static int patch_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	const struct product_in *in = arg;
	char price[24], stock[24];
	const char *params[13];
	PGresult *res;
	int rc;

	rc = sku_check(conn, call, in->sku, call->id);
	if (rc < 0)
		return rc;
	rc = image_asset_check(conn, call, in);
	if (rc != 0)
		return rc;
	snprintf(price, sizeof(price), "%lld", in->price_minor);
	snprintf(stock, sizeof(stock), "%lld", in->stock);
	params[0] = call->id;
	params[1] = in->sku;
	params[2] = in->name;
	params[3] = in->description;
	params[4] = in->category;
	params[5] = in->has_price ? price : NULL;
	params[6] = in->currency;
	params[7] = in->has_stock ? stock : NULL;
	params[8] = in->has_active ? (in->active ? "true" : "false") : NULL;
	params[9] = in->has_image_url ? "true" : "false";
	params[10] = in->image_url;
	params[11] = in->has_image_asset ? "true" : "false";
	params[12] = in->image_asset_id;
	res =
	    pg_exec(conn,
	            "UPDATE products p SET sku = COALESCE($2, p.sku), name = COALESCE($3, p.name), "
	            "description = COALESCE($4, p.description), "
	            "category = COALESCE($5, p.category), "
	            "price_minor = COALESCE($6::bigint, p.price_minor), "
	            "currency = COALESCE($7, p.currency), stock = COALESCE($8::int, p.stock), "
	            "active = COALESCE($9::boolean, p.active), "
	            "image_url = CASE WHEN $10::boolean THEN $11 ELSE p.image_url END, "
	            "image_asset_id = CASE WHEN $12::boolean THEN $13::uuid "
	            "ELSE p.image_asset_id END "
	            "WHERE p.tenant_id = app_tenant_id() AND p.id = $1 AND p.deleted_at IS NULL "
	            "RETURNING " PRODUCT_COLS,
	            13, params);
	if (!res)
		return write_failed(call, in->sku);
	if (PQntuples(res) == 1)
		admin_answer_json(call, 200, product_json(call, res, 0));
	else
		admin_answer_not_found(call, PRODUCT_MISSING);
	PQclear(res);
	return 0;
}

ADMIN_HANDLER(admin_products_patch)
{
	product_write_serve(ctx, req, resp, 1, patch_tx);
}

/* ---- DELETE /api/v1/products/{id} ---- */

ADMIN_HANDLER(admin_products_delete)
{
	static const struct admin_row_op op = {
	    .sql = "UPDATE products SET deleted_at = now(), active = false "
	           "WHERE tenant_id = app_tenant_id() AND id = $1 AND deleted_at IS NULL "
	           "RETURNING id",
	    /* a deleted product can no longer be ordered: take it out of open carts */
	    .then = "DELETE FROM cart_items ci USING carts c WHERE ci.tenant_id = app_tenant_id() "
	            "AND ci.product_id = $1 AND c.tenant_id = ci.tenant_id AND c.id = ci.cart_id "
	            "AND c.status = 'open'",
	    .missing = PRODUCT_MISSING,
	};

	admin_row_serve(ctx, req, resp, &op);
}
