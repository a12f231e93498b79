/*
 * admin_assets.c: the storefront's images (POST /api/v1/assets, GET /api/v1/assets and
 * /api/v1/assets/{id}). An upload is the image's bytes as the request body: JPEG, PNG or
 * WebP by its magic bytes, at most ADMIN_ASSET_MAX bytes and IMAGE_MAX_PIXELS, read by
 * libvips; stored once per tenant by SHA-256 (the same bytes again answer 200 with the
 * asset already there), with a thumbnail and a card variant made at upload as child assets.
 * Served publicly at /shop/{slug}/assets/{id} (storefront_routes.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "admin_internal.h"
#include "image.h"
#include "pg.h"
#include "storefront.h"
#include "util.h"

#define ADMIN_ASSET_MAX (3 * 1024 * 1024)
#define ASSET_MISSING   "no such asset"

/* The columns of an asset answer, with its variants (see asset_json). */
#define ASSET_COLS                                                                                 \
	"a.id, '/shop/' || (SELECT slug FROM tenants WHERE id = app_tenant_id()) || '/assets/', "  \
	"a.content_type, a.size_bytes, a.width, a.height, a.sha256, "                              \
	"to_json(a.created_at)#>>'{}', "                                                           \
	"(SELECT COALESCE(json_object_agg(c.variant, json_build_object('id', c.id, 'width', "       \
	"c.width, 'height', c.height, 'content_type', c.content_type, 'size_bytes', "             \
	"c.size_bytes)), '{}')::text FROM storefront_assets c WHERE c.tenant_id = a.tenant_id "    \
	"AND c.parent_asset_id = a.id)"
#define ASSET_NCOLS 9

static json_t *asset_json(const struct admin_call *call, const PGresult *res, int r)
{
	char url[160];
	json_t *variants = admin_col_json(res, r, 8), *v;
	const char *k;

	(void)call;
	snprintf(url, sizeof(url), "%s%s", PQgetvalue(res, r, 1), PQgetvalue(res, r, 0));
	json_object_foreach(variants, k, v)
	{
		char vurl[160];

		snprintf(vurl, sizeof(vurl), "%s%s", PQgetvalue(res, r, 1),
		         json_string_value(json_object_get(v, "id")));
		json_object_set_new(v, "url", json_string(vurl));
	}
	return json_pack("{s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
	                 admin_col_string(res, r, 0), "url", url, "content_type",
	                 admin_col_string(res, r, 2), "size_bytes", admin_col_int(res, r, 3),
	                 "width", admin_col_int(res, r, 4), "height", admin_col_int(res, r, 5),
	                 "sha256", admin_col_string(res, r, 6), "created_at",
	                 admin_col_string(res, r, 7), "variants",
	                 json_is_object(variants) ? variants : json_object());
}

struct upload {
	const char *mime;
	char sha[65];
	int width, height;
	char *orig_hex; /* "\x..." bytea text */
	size_t orig_len;
	struct {
		const char *name;
		int size;
		struct image_variant img;
		char *hex;
		char sha[65];
	} var[2];
};

static char *bytea_hex(const void *data, size_t len)
{
	char *s = malloc(2 * len + 3);

	if (!s)
		return NULL;
	s[0] = '\\';
	s[1] = 'x';
	util_hex_encode(data, len, s + 2);
	s[2 + 2 * len] = '\0';
	return s;
}

static int upload_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	struct upload *up = arg;
	char id[37], size[24], w[16], h[16];
	const char *params[8];
	PGresult *res;
	int i, created;

	util_uuid_new(id);
	snprintf(size, sizeof(size), "%zu", up->orig_len);
	snprintf(w, sizeof(w), "%d", up->width);
	snprintf(h, sizeof(h), "%d", up->height);
	params[0] = id;
	params[1] = up->mime;
	params[2] = size;
	params[3] = w;
	params[4] = h;
	params[5] = up->sha;
	params[6] = up->orig_hex;
	res = pg_exec(conn,
	              "INSERT INTO storefront_assets (tenant_id, id, url, content_type, size_bytes,"
	              " width, height, sha256, data, variant)"
	              " VALUES (app_tenant_id(), $1::uuid, '/shop/' || (SELECT slug FROM tenants WHERE"
	              " id = app_tenant_id()) || '/assets/' || $1::text, $2, $3::bigint, $4::int,"
	              " $5::int, $6, $7::bytea, 'original')"
	              " ON CONFLICT (tenant_id, sha256) WHERE parent_asset_id IS NULL DO NOTHING"
	              " RETURNING id",
	              7, params);
	if (!res)
		return PG_ERR_QUERY;
	created = PQntuples(res) == 1;
	PQclear(res);
	for (i = 0; created && i < 2; i++) {
		char cid[37], csize[24], cw[16], ch[16];

		util_uuid_new(cid);
		snprintf(csize, sizeof(csize), "%zu", up->var[i].img.len);
		snprintf(cw, sizeof(cw), "%d", up->var[i].img.width);
		snprintf(ch, sizeof(ch), "%d", up->var[i].img.height);
		params[0] = cid;
		params[1] = id;
		params[2] = csize;
		params[3] = cw;
		params[4] = ch;
		params[5] = up->var[i].sha;
		params[6] = up->var[i].hex;
		params[7] = up->var[i].name;
		if (pg_cmd(conn,
		           "INSERT INTO storefront_assets (tenant_id, id, parent_asset_id, url,"
		           " content_type, size_bytes, width, height, sha256, data, variant)"
		           " VALUES (app_tenant_id(), $1::uuid, $2::uuid, '/shop/' || (SELECT slug FROM tenants"
		           " WHERE id = app_tenant_id()) || '/assets/' || $1::text, 'image/jpeg',"
		           " $3::bigint, $4::int, $5::int, $6, $7::bytea, $8)",
		           8, params) < 0)
			return PG_ERR_QUERY;
	}
	params[0] = up->sha;
	res = pg_exec(conn,
	              "SELECT " ASSET_COLS " FROM storefront_assets a WHERE a.tenant_id ="
	              " app_tenant_id() AND a.sha256 = $1 AND a.parent_asset_id IS NULL",
	              1, params);
	if (!res)
		return PG_ERR_QUERY;
	if (PQntuples(res) == 1)
		admin_answer_json(call, created ? 201 : 200, asset_json(call, res, 0));
	else
		admin_answer_error(call, 500, "internal", NULL, "the asset was not stored");
	PQclear(res);
	return 0;
}

/* The asset with these bytes, already stored: 200. */
static int existing_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	const struct upload *up = arg;
	PGresult *res = pg_exec(conn,
	                        "SELECT " ASSET_COLS " FROM storefront_assets a WHERE a.tenant_id ="
	                        " app_tenant_id() AND a.sha256 = $1 AND a.parent_asset_id IS NULL",
	                        1, (const char *const[]){up->sha});

	if (!res)
		return PG_ERR_QUERY;
	if (PQntuples(res) == 1)
		admin_answer_json(call, 200, asset_json(call, res, 0));
	else
		admin_answer_error(call, 503, "busy", NULL, "the asset changed meanwhile; try again");
	PQclear(res);
	return 0;
}

struct known {
	const char *sha;
	int found;
};

/* Whether this tenant has the upload already (read only, before any scaling). */
static int known_fn(PGconn *conn, void *arg)
{
	struct known *k = arg;
	PGresult *res = pg_exec(conn,
	                        "SELECT 1 FROM storefront_assets WHERE tenant_id = app_tenant_id()"
	                        " AND sha256 = $1 AND parent_asset_id IS NULL",
	                        1, (const char *const[]){k->sha});

	if (!res)
		return PG_ERR_QUERY;
	k->found = PQntuples(res) == 1;
	PQclear(res);
	return 0;
}

ADMIN_HANDLER(admin_assets_create)
{
	struct known known = {NULL, 0};
	struct admin_call call;
	struct upload up;
	enum image_type type;
	char err[256];
	int i;

	memset(&up, 0, sizeof(up));
	up.var[0].name = "thumb";
	up.var[0].size = STOREFRONT_THUMB_SIZE;
	up.var[1].name = "card";
	up.var[1].size = STOREFRONT_CARD_SIZE;
	if (admin_call_begin(&call, ctx, req, resp) < 0)
		goto out;
	if (req->body_len == 0) {
		admin_answer_error(&call, 400, "validation", "file",
		                   "file: send the image's bytes as the request body (JPEG, PNG "
		                   "or WebP)");
		goto out;
	}
	if (req->body_len > ADMIN_ASSET_MAX) {
		admin_answer_error(&call, 413, "too_large", "file",
		                   "file: an image may have at most %d bytes", ADMIN_ASSET_MAX);
		goto out;
	}
	type = image_sniff(req->body, req->body_len);
	if (type == IMAGE_NONE) {
		admin_answer_error(&call, 400, "validation", "file",
		                   "file: must be a JPEG, PNG or WebP image (its first bytes say "
		                   "otherwise)");
		goto out;
	}
	/* the same bytes again: answered from what is stored, without reading them again */
	util_sha256_hex(req->body, req->body_len, up.sha);
	known.sha = up.sha;
	if (pg_tx_run(ctx->conn, call.tenant_id, known_fn, &known) == 0 && known.found) {
		admin_call_run(&call, existing_tx, &up);
		goto out;
	}
	up.mime = image_mime(type);
	if (image_probe(req->body, req->body_len, &up.width, &up.height, err, sizeof(err)) < 0) {
		admin_answer_error(&call, 400, "validation", "file", "file: %s", err);
		goto out;
	}
	for (i = 0; i < 2; i++) {
		if (image_variant_make(req->body, req->body_len, up.var[i].size, up.var[i].size,
		                       &up.var[i].img, err, sizeof(err)) < 0) {
			admin_answer_error(&call, 400, "validation", "file", "file: %s", err);
			goto out;
		}
		util_sha256_hex(up.var[i].img.data, up.var[i].img.len, up.var[i].sha);
		up.var[i].hex = bytea_hex(up.var[i].img.data, up.var[i].img.len);
	}
	up.orig_len = req->body_len;
	up.orig_hex = bytea_hex(req->body, req->body_len);
	if (!up.orig_hex || !up.var[0].hex || !up.var[1].hex) {
		admin_answer_error(&call, 500, "internal", NULL, "out of memory");
		goto out;
	}
	admin_call_run(&call, upload_tx, &up);
out:
	free(up.orig_hex);
	for (i = 0; i < 2; i++) {
		free(up.var[i].hex);
		image_variant_clear(&up.var[i].img);
	}
	admin_call_end(&call);
}

ADMIN_HANDLER(admin_assets_list)
{
	struct admin_list list = {
	    /* clang-format off */
	    .sql = "SELECT " ASSET_COLS ", " ADMIN_CURSOR_SQL("a.created_at", "a.id")
	           " FROM storefront_assets a WHERE a.tenant_id = app_tenant_id() "
	           "AND a.parent_asset_id IS NULL AND a.data IS NOT NULL "
	           "AND " ADMIN_LIST_AFTER_SQL("a.created_at", "a.id", ">")
	           " ORDER BY a.created_at, a.id LIMIT $1::int",
	    /* clang-format on */
	    .cursor_col = ASSET_NCOLS,
	    .row = asset_json,
	};

	admin_list_serve(ctx, req, resp, &list);
}

ADMIN_HANDLER(admin_assets_get)
{
	static const struct admin_row_op op = {
	    .sql = "SELECT " ASSET_COLS " FROM storefront_assets a WHERE a.tenant_id ="
	           " app_tenant_id() AND a.id = $1 AND a.parent_asset_id IS NULL",
	    .row = asset_json,
	    .missing = ASSET_MISSING,
	};

	admin_row_serve(ctx, req, resp, &op);
}
