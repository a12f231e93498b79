/*
 * admin_kyc.c: the seller's KYC (docs/TRUST.md "KYC"): GET|PUT /api/v1/kyc (legal name,
 * registration number, tax id, country; status and documents), POST /api/v1/kyc/documents (a
 * PDF, JPEG or PNG of at most 5 MiB, told by its magic bytes, stored in PostgreSQL with its
 * SHA-256; sent as multipart/form-data with the fields doc_type and file, as JSON with the
 * file in base64, or as the raw body with ?doc_type=), GET /api/v1/kyc/documents/{id}[/content].
 * The verdict is the operator's (`ccgw kyc review`, commerce/kyc.c); a new submission goes
 * back to pending.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "admin.h"
#include "admin_internal.h"
#include "kyc.h"
#include "pg.h"
#include "utf8.h"
#include "util.h"

#define KYC_MISSING     "no KYC submitted yet: PUT /api/v1/kyc first"
#define DOC_MISSING     "no such KYC document"
#define DOC_TYPE_MAX    64
#define FILENAME_MAX_CH 255

#define KYC_COLS                                                                                   \
	"k.id, k.status, k.legal_name, k.registration_number, k.tax_id, k.country,"                \
	" k.review_reason, to_json(k.submitted_at)#>>'{}', to_json(k.reviewed_at)#>>'{}',"         \
	" to_json(k.updated_at)#>>'{}'"
#define DOC_COLS                                                                                   \
	"d.id, d.doc_type, d.content_type, d.size_bytes, d.sha256, d.filename, d.status,"          \
	" to_json(d.created_at)#>>'{}'"

static json_t *doc_json(const struct admin_call *call, const PGresult *res, int r)
{
	(void)call; /* an admin_row_fn */
	return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id", admin_col_string(res, r, 0),
	                 "doc_type", admin_col_string(res, r, 1), "content_type",
	                 admin_col_string(res, r, 2), "size_bytes", admin_col_int(res, r, 3),
	                 "sha256", admin_col_string(res, r, 4), "filename",
	                 admin_col_string(res, r, 5), "status", admin_col_string(res, r, 6),
	                 "created_at", admin_col_string(res, r, 7));
}

/* The tenant's KYC with its documents (without their bytes) as the answer: 200, or 404. */
static int kyc_answer(PGconn *conn, struct admin_call *call, int status)
{
	char max[16];
	PGresult *res, *docs;
	json_t *o, *arr;
	int i;

	res =
	    pg_exec(conn, "SELECT " KYC_COLS " FROM kyc_info k WHERE k.tenant_id = app_tenant_id()",
	            0, NULL);
	if (!res)
		return PG_ERR_QUERY;
	if (PQntuples(res) == 0) {
		PQclear(res);
		admin_answer_not_found(call, KYC_MISSING);
		return ADMIN_ROLLBACK;
	}
	snprintf(max, sizeof(max), "%d", KYC_DOCS_MAX);
	docs =
	    pg_exec(conn,
	            "SELECT " DOC_COLS " FROM kyc_documents d WHERE d.tenant_id = app_tenant_id()"
	            " AND d.kyc_id = $1 ORDER BY d.created_at, d.id LIMIT $2::int",
	            2, (const char *const[]){PQgetvalue(res, 0, 0), max});
	if (!docs) {
		PQclear(res);
		return PG_ERR_QUERY;
	}
	arr = json_array();
	for (i = 0; arr && i < PQntuples(docs); i++)
		json_array_append_new(arr, doc_json(call, docs, i));
	o = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o*}", "id",
	              admin_col_string(res, 0, 0), "status", admin_col_string(res, 0, 1),
	              "legal_name", admin_col_string(res, 0, 2), "registration_number",
	              admin_col_string(res, 0, 3), "tax_id", admin_col_string(res, 0, 4), "country",
	              admin_col_string(res, 0, 5), "review_reason", admin_col_string(res, 0, 6),
	              "submitted_at", admin_col_string(res, 0, 7), "reviewed_at",
	              admin_col_string(res, 0, 8), "updated_at", admin_col_string(res, 0, 9),
	              "documents", arr);
	PQclear(docs);
	PQclear(res);
	admin_answer_json(call, status, o);
	return 0;
}

/* ---- GET /api/v1/kyc ---- */

static int get_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	(void)arg;
	return kyc_answer(conn, call, 200);
}

ADMIN_HANDLER(admin_kyc_get)
{
	struct admin_call call;

	if (admin_call_begin(&call, ctx, req, resp) == 0)
		admin_call_run(&call, get_tx, NULL);
	admin_call_end(&call);
}

/* ---- PUT /api/v1/kyc ---- */

struct put_state {
	const char *legal_name, *registration_number, *tax_id;
	char country[3];
};

static int put_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	struct put_state *st = arg;

	/* a change of any detail is a new submission: pending, the old verdict gone; the same
	 * details again change nothing */
	if (pg_cmd(conn,
	           "INSERT INTO kyc_info AS k (tenant_id, legal_name, registration_number, tax_id,"
	           " country) VALUES (app_tenant_id(), $1, $2, $3, $4)"
	           " ON CONFLICT (tenant_id) DO UPDATE SET legal_name = EXCLUDED.legal_name,"
	           " registration_number = EXCLUDED.registration_number, tax_id = EXCLUDED.tax_id,"
	           " country = EXCLUDED.country, status = 'pending', review_reason = NULL,"
	           " reviewed_at = NULL, submitted_at = now()"
	           " WHERE (k.legal_name, k.registration_number, k.tax_id, k.country) IS DISTINCT"
	           " FROM (EXCLUDED.legal_name, EXCLUDED.registration_number, EXCLUDED.tax_id,"
	           " EXCLUDED.country)",
	           4,
	           (const char *const[]){st->legal_name, st->registration_number, st->tax_id,
	                                 st->country}) < 0)
		return PG_ERR_QUERY;
	log_info(&call->log, "kyc: details submitted (%s)", st->country);
	return kyc_answer(conn, call, 200);
}

/* A registration number or tax id: letters, digits and - / . and spaces. */
static int id_field(const json_t *body, const char *name, const char **out,
                    struct jfield_error *err)
{
	if (jfield_string(body, "", name, 1, 1, 64, out, err) < 0)
		return -1;
	if (!jfield_chars_ok(*out, " -/.", 0)) {
		jfield_error_set(err, "", name,
		                 "only letters, digits, spaces and - / . are allowed");
		return -1;
	}
	return 0;
}

ADMIN_HANDLER(admin_kyc_put)
{
	static const char *const fields[] = {"legal_name", "registration_number", "tax_id",
	                                     "country", NULL};
	struct admin_call call;
	struct jfield_error err;
	struct put_state st;
	const char *country = NULL;
	json_t *body = NULL;

	memset(&st, 0, sizeof(st));
	if (admin_call_begin(&call, ctx, req, resp) < 0)
		goto out;
	body = admin_body_object(&call);
	if (!body)
		goto out;
	if (jfield_known(body, "", fields, &err) < 0 ||
	    jfield_string(body, "", "legal_name", 1, 1, 200, &st.legal_name, &err) < 0 ||
	    id_field(body, "registration_number", &st.registration_number, &err) < 0 ||
	    id_field(body, "tax_id", &st.tax_id, &err) < 0 ||
	    jfield_string(body, "", "country", 1, 2, 2, &country, &err) < 0) {
		admin_answer_verr(&call, &err);
		goto out;
	}
	st.country[0] = (char)toupper((unsigned char)country[0]);
	st.country[1] = (char)toupper((unsigned char)country[1]);
	if (!kyc_country_valid(st.country)) {
		jfield_error_set(&err, "", "country",
		                 "must be an ISO 3166-1 alpha-2 country code such as KE");
		admin_answer_verr(&call, &err);
		goto out;
	}
	admin_call_run(&call, put_tx, &st);
out:
	json_decref(body);
	admin_call_end(&call);
}

/* ---- POST /api/v1/kyc/documents ---- */

/* What an upload carries, borrowed from the request body. */
struct upload {
	const char *doc_type; /* NUL-terminated copy in doc_type_buf */
	char doc_type_buf[DOC_TYPE_MAX * 4 + 1];
	int doc_type_bad;
	const char *file;
	size_t file_len;
	int has_file;
	char filename[FILENAME_MAX_CH * 4 + 1];
	unsigned char *owned; /* the decoded file of a JSON upload, freed with the upload */
};

/* The value of parameter key ("name", "filename") of a Content-Disposition or Content-Type
 * header value h (hlen bytes), unquoted, into out; 0 found, -1 not. */
static int header_param(const char *h, size_t hlen, const char *key, char *out, size_t outlen)
{
	size_t i = 0, klen = strlen(key), o;

	while (i < hlen) {
		/* the next parameter after a ';' */
		while (i < hlen && h[i] != ';')
			i++;
		if (i >= hlen)
			break;
		i++;
		while (i < hlen && (h[i] == ' ' || h[i] == '\t'))
			i++;
		if (hlen - i <= klen || strncasecmp(h + i, key, klen) != 0 || h[i + klen] != '=')
			continue;
		i += klen + 1;
		o = 0;
		if (i < hlen && h[i] == '"') {
			/* no backslash escapes: browsers send a Windows path's backslashes as
			 * they are and a quote as %22 (HTML's form submission) */
			for (i++; i < hlen && h[i] != '"'; i++)
				if (o + 1 < outlen)
					out[o++] = h[i];
		} else {
			for (; i < hlen && h[i] != ';' && h[i] != ' ' && h[i] != '\t'; i++)
				if (o + 1 < outlen)
					out[o++] = h[i];
		}
		out[o] = '\0';
		return 0;
	}
	return -1;
}

/* The value of header name (lower case) among the part's header lines [h, h + hlen). */
static const char *part_header(const char *h, size_t hlen, const char *name, size_t *vlen)
{
	const char *end = h + hlen, *line = h;
	size_t nlen = strlen(name);

	while (line < end) {
		const char *eol = memmem(line, (size_t)(end - line), "\r\n", 2);
		const char *v;

		if (!eol)
			eol = end;
		if ((size_t)(eol - line) > nlen && strncasecmp(line, name, nlen) == 0 &&
		    line[nlen] == ':') {
			v = line + nlen + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			*vlen = (size_t)(eol - v);
			return v;
		}
		line = eol + 2;
	}
	return NULL;
}

/*
 * multipart/form-data (RFC 7578): the parts named doc_type (text) and file (the document; its
 * filename kept). Returns 0, or -1 with a message in err when the body is not well formed.
 */
static int multipart_parse(const char *ctype, const char *body, size_t len, struct upload *u,
                           char *err, size_t errlen)
{
	char boundary[80], delim[84];
	const char *p, *end = body + len;
	size_t dlen;

	if (header_param(ctype, strlen(ctype), "boundary", boundary, sizeof(boundary)) < 0 ||
	    !boundary[0] || strlen(boundary) > 70) {
		snprintf(err, errlen, "multipart/form-data needs a boundary of 1 to 70 characters");
		return -1;
	}
	dlen = (size_t)snprintf(delim, sizeof(delim), "--%s", boundary);
	/* the first delimiter: at the start, or after a preamble ending in CRLF */
	if (len >= dlen && memcmp(body, delim, dlen) == 0) {
		p = body;
	} else {
		p = memmem(body, len, delim + 0, dlen);
		while (p && (p < body + 2 || p[-2] != '\r' || p[-1] != '\n'))
			p = memmem(p + 1, (size_t)(end - p - 1), delim, dlen);
		if (!p)
			goto bad;
	}
	for (;;) {
		const char *hdr, *hdr_end, *content, *next, *disp;
		char name[64], fname[FILENAME_MAX_CH * 4 + 1];
		size_t dvlen = 0, clen;

		p += dlen;
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			return 0; /* the close delimiter */
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
			goto bad;
		hdr = p + 2;
		if (end - hdr >= 2 && hdr[0] == '\r' && hdr[1] == '\n')
			hdr_end = hdr - 2; /* no header lines: the blank line comes at once */
		else
			hdr_end = memmem(hdr, (size_t)(end - hdr), "\r\n\r\n", 4);
		if (!hdr_end)
			goto bad;
		content = hdr_end + 4;
		next = NULL;
		for (p = content; p < end;) {
			const char *hit = memmem(p, (size_t)(end - p), "\r\n", 2);

			if (!hit)
				break;
			if ((size_t)(end - hit - 2) >= dlen && memcmp(hit + 2, delim, dlen) == 0) {
				next = hit;
				break;
			}
			p = hit + 2;
		}
		if (!next)
			goto bad;
		clen = (size_t)(next - content);
		disp = hdr_end > hdr ? part_header(hdr, (size_t)(hdr_end - hdr),
		                                   "content-disposition", &dvlen)
		                     : NULL;
		name[0] = fname[0] = '\0';
		if (disp) {
			(void)header_param(disp, dvlen, "name", name, sizeof(name));
			(void)header_param(disp, dvlen, "filename", fname, sizeof(fname));
		}
		if (strcmp(name, "doc_type") == 0) {
			if (clen >= sizeof(u->doc_type_buf) || memchr(content, '\0', clen)) {
				u->doc_type_bad = 1;
				clen = sizeof(u->doc_type_buf) - 1;
			}
			memcpy(u->doc_type_buf, content, clen);
			u->doc_type_buf[clen] = '\0';
			u->doc_type = u->doc_type_buf;
		} else if (strcmp(name, "file") == 0) {
			u->file = content;
			u->file_len = clen;
			u->has_file = 1;
			snprintf(u->filename, sizeof(u->filename), "%s", fname);
		}
		p = next + 2;
	}
bad:
	snprintf(err, errlen, "the multipart/form-data body is malformed");
	return -1;
}

/*
 * application/json: {"doc_type", "file": "<base64 of the document>", "filename"?}. Returns 0,
 * or -1 with the answer set (400 naming the field).
 */
static int json_upload_parse(struct admin_call *call, struct upload *u)
{
	static const char *const fields[] = {"doc_type", "file", "filename", NULL};
	struct jfield_error err;
	const char *doc_type = NULL, *file = NULL, *filename = NULL;
	size_t n, pad = 0;
	json_t *body = admin_body_object(call);
	int len, rc = -1;

	if (!body)
		return -1;
	if (jfield_known(body, "", fields, &err) < 0 ||
	    jfield_string(body, "", "doc_type", 0, 0, DOC_TYPE_MAX, &doc_type, &err) < 0 ||
	    jfield_string(body, "", "filename", 0, 0, FILENAME_MAX_CH, &filename, &err) < 0) {
		admin_answer_verr(call, &err);
		goto out;
	}
	if (doc_type) {
		snprintf(u->doc_type_buf, sizeof(u->doc_type_buf), "%s", doc_type);
		u->doc_type = u->doc_type_buf;
	}
	if (filename)
		snprintf(u->filename, sizeof(u->filename), "%s", filename);
	file = json_string_value(json_object_get(body, "file"));
	if (json_object_get(body, "file") && !json_is_null(json_object_get(body, "file")) &&
	    !file) {
		jfield_error_set(&err, "", "file", "must be a string: the document in base64");
		admin_answer_verr(call, &err);
		goto out;
	}
	if (file && *file) {
		n = strlen(file);
		if (n % 4 != 0 || n > (size_t)INT32_MAX) {
			jfield_error_set(&err, "", "file", "must be the document in base64");
			admin_answer_verr(call, &err);
			goto out;
		}
		pad = file[n - 1] == '=' ? (file[n - 2] == '=' ? 2 : 1) : 0;
		u->owned = malloc(n / 4 * 3 + 1);
		if (!u->owned) {
			admin_answer_error(call, 500, "internal", NULL, "out of memory");
			goto out;
		}
		len = EVP_DecodeBlock(u->owned, (const unsigned char *)file, (int)n);
		if (len < 0 || (size_t)len < pad) {
			jfield_error_set(&err, "", "file", "must be the document in base64");
			admin_answer_verr(call, &err);
			goto out;
		}
		u->file = (const char *)u->owned;
		u->file_len = (size_t)len - pad;
		u->has_file = u->file_len > 0;
	}
	rc = 0;
out:
	json_decref(body);
	return rc;
}

/* A filename as stored: its last path segment without control characters, cut to at most
 * FILENAME_MAX_CH bytes at a character boundary; "" when it is not valid UTF-8. */
static void filename_clean(char *f)
{
	const char *base = f, *s;
	size_t n = 0;

	for (s = f; *s; s++)
		if (*s == '/' || *s == '\\')
			base = s + 1;
	for (s = base; *s; s++)
		if ((unsigned char)*s >= 0x20 && *s != 0x7f)
			f[n++] = *s;
	f[n] = '\0';
	if (!utf8_valid(f, n)) {
		f[0] = '\0';
		return;
	}
	f[utf8_cut(f, n, FILENAME_MAX_CH)] = '\0';
}

struct doc_state {
	const struct upload *u;
	const char *content_type;
	char sha256[65];
};

static int doc_insert_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	struct doc_state *st = arg;
	char size_s[24];
	const char *vals[7];
	int lens[7] = {0}, fmts[7] = {0};
	PGresult *res;
	long count;
	json_t *o;

	res = pg_exec(conn,
	              "SELECT k.id, (SELECT count(*) FROM kyc_documents d WHERE d.tenant_id ="
	              " k.tenant_id AND d.kyc_id = k.id) FROM kyc_info k"
	              " WHERE k.tenant_id = app_tenant_id() FOR UPDATE OF k",
	              0, NULL);
	if (!res)
		return PG_ERR_QUERY;
	if (PQntuples(res) == 0) {
		PQclear(res);
		admin_answer_error(
		    call, 409, "kyc_missing", NULL,
		    "submit the KYC details first (PUT /api/v1/kyc), then its documents");
		return ADMIN_ROLLBACK;
	}
	count = atol(PQgetvalue(res, 0, 1));
	if (count >= KYC_DOCS_MAX) {
		PQclear(res);
		admin_answer_error(call, 409, "too_many_documents", NULL,
		                   "a KYC holds at most %d documents", KYC_DOCS_MAX);
		return ADMIN_ROLLBACK;
	}
	snprintf(size_s, sizeof(size_s), "%zu", st->u->file_len);
	vals[0] = PQgetvalue(res, 0, 0);
	vals[1] = st->u->doc_type;
	vals[2] = st->u->file;
	lens[2] = (int)st->u->file_len;
	fmts[2] = 1; /* the document's bytes go as a binary parameter, not as 10 MiB of hex */
	vals[3] = st->sha256;
	vals[4] = size_s;
	vals[5] = st->content_type;
	vals[6] = st->u->filename[0] ? st->u->filename : NULL;
	/* not pg_exec: it sends text parameters only (so the transaction is opened first) */
	if (pg_tx_ready(conn) < 0) {
		PQclear(res);
		return PG_ERR_QUERY;
	}
	{
		PGresult *ins = PQexecParams(
		    conn,
		    "INSERT INTO kyc_documents AS d (tenant_id, kyc_id, doc_type, content, sha256,"
		    " size_bytes, content_type, filename) VALUES (app_tenant_id(), $1, $2, "
		    "$3::bytea,"
		    " $4, $5::bigint, $6, $7) RETURNING " DOC_COLS,
		    7, NULL, vals, lens, fmts, 0);

		PQclear(res);
		if (PQresultStatus(ins) != PGRES_TUPLES_OK || PQntuples(ins) != 1) {
			log_warn(&call->log, "kyc: storing a document failed: %s",
			         PQresultErrorMessage(ins));
			PQclear(ins);
			return PQstatus(conn) == CONNECTION_OK ? PG_ERR_QUERY : PG_ERR_UNAVAILABLE;
		}
		o = doc_json(call, ins, 0);
		PQclear(ins);
	}
	log_info(&call->log, "kyc: document stored (%s, %s bytes, %s)", st->content_type, size_s,
	         st->sha256);
	admin_answer_json(call, 201, o);
	return 0;
}

ADMIN_HANDLER(admin_kyc_documents_create)
{
	struct admin_call call;
	struct upload *u = NULL;
	struct doc_state st;
	struct jfield_error err;
	const char *ctype;
	char msg[128];

	memset(&st, 0, sizeof(st));
	if (admin_call_begin(&call, ctx, req, resp) < 0)
		goto out;
	u = calloc(1, sizeof(*u));
	if (!u) {
		admin_answer_error(&call, 500, "internal", NULL, "out of memory");
		goto out;
	}
	ctype = http_request_header(req, "content-type");
	if (ctype && strncasecmp(ctype, "multipart/form-data", 19) == 0) {
		if (multipart_parse(ctype, req->body, req->body_len, u, msg, sizeof(msg)) < 0) {
			admin_answer_error(&call, 400, "invalid_body", NULL, "%s", msg);
			goto out;
		}
	} else if (ctype && strncasecmp(ctype, "application/json", 16) == 0) {
		if (json_upload_parse(&call, u) < 0)
			goto out;
	} else {
		/* the raw document as the body; doc_type (and filename) in the query or in the
		 * headers X-Doc-Type (X-Filename) */
		const char *h;

		if (http_query_get(req, "doc_type", u->doc_type_buf, sizeof(u->doc_type_buf)) ==
		    0) {
			u->doc_type = u->doc_type_buf;
		} else if ((h = http_request_header(req, "x-doc-type")) != NULL) {
			u->doc_type_bad = strlen(h) >= sizeof(u->doc_type_buf);
			snprintf(u->doc_type_buf, sizeof(u->doc_type_buf), "%s", h);
			u->doc_type = u->doc_type_buf;
		}
		if (http_query_get(req, "filename", u->filename, sizeof(u->filename)) < 0 &&
		    (h = http_request_header(req, "x-filename")) != NULL)
			snprintf(u->filename, sizeof(u->filename), "%s", h);
		u->file = req->body;
		u->file_len = req->body_len;
		u->has_file = req->body_len > 0;
	}
	if (!u->doc_type || !u->doc_type[0]) {
		jfield_error_set(&err, "", "doc_type", "is required (e.g. business_registration)");
		admin_answer_verr(&call, &err);
		goto out;
	}
	if (u->doc_type_bad || strlen(u->doc_type) > DOC_TYPE_MAX ||
	    !jfield_chars_ok(u->doc_type, "_-. ", 0)) {
		jfield_error_set(&err, "", "doc_type",
		                 "must be 1 to %d letters, digits, spaces, _ - or . (e.g. "
		                 "tax_certificate)",
		                 DOC_TYPE_MAX);
		admin_answer_verr(&call, &err);
		goto out;
	}
	if (!u->has_file || u->file_len == 0) {
		jfield_error_set(&err, "", "file", "is required: a PDF, JPEG or PNG document");
		admin_answer_verr(&call, &err);
		goto out;
	}
	if (u->file_len > (size_t)KYC_DOC_MAX_BYTES) {
		jfield_error_set(&err, "", "file", "must be at most 5 MiB (%ld bytes); it has %zu",
		                 KYC_DOC_MAX_BYTES, u->file_len);
		admin_answer_verr(&call, &err);
		goto out;
	}
	st.content_type = kyc_doc_content_type(u->file, u->file_len);
	if (!st.content_type) {
		jfield_error_set(&err, "", "file",
		                 "must be a PDF, JPEG or PNG file (told by its first bytes)");
		admin_answer_verr(&call, &err);
		goto out;
	}
	filename_clean(u->filename);
	util_sha256_hex(u->file, u->file_len, st.sha256);
	st.u = u;
	admin_call_run(&call, doc_insert_tx, &st);
out:
	if (u)
		free(u->owned);
	free(u);
	admin_call_end(&call);
}

/* ---- GET /api/v1/kyc/documents/{id} ---- */

ADMIN_HANDLER(admin_kyc_documents_get)
{
	static const struct admin_row_op op = {
	    .sql = "SELECT " DOC_COLS " FROM kyc_documents d WHERE d.tenant_id = app_tenant_id()"
	           " AND d.id = $1",
	    .row = doc_json,
	    .missing = DOC_MISSING,
	};

	admin_row_serve(ctx, req, resp, &op);
}

/* ---- GET /api/v1/kyc/documents/{id}/content ---- */

struct content_state {
	unsigned char *data; /* PQunescapeBytea's, PQfreemem */
	size_t len;
	char content_type[32];
	char sha256[65];
};

static int content_tx(PGconn *conn, struct admin_call *call, void *arg)
{
	struct content_state *st = arg;
	PGresult *res;

	if (st->data) {
		PQfreemem(st->data);
		st->data = NULL;
	}
	res = pg_exec(conn,
	              "SELECT content, content_type, sha256 FROM kyc_documents"
	              " WHERE tenant_id = app_tenant_id() AND id = $1 AND content IS NOT NULL",
	              1, &call->id);
	if (!res)
		return PG_ERR_QUERY;
	if (PQntuples(res) == 0) {
		PQclear(res);
		admin_answer_not_found(call, DOC_MISSING);
		return ADMIN_ROLLBACK;
	}
	st->data = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 0), &st->len);
	snprintf(st->content_type, sizeof(st->content_type), "%s", PQgetvalue(res, 0, 1));
	snprintf(st->sha256, sizeof(st->sha256), "%s", PQgetvalue(res, 0, 2));
	PQclear(res);
	if (!st->data) {
		admin_answer_error(call, 500, "internal", NULL, "out of memory");
		return ADMIN_ROLLBACK;
	}
	admin_answer_empty(call, 200); /* the bytes are written after the call ends */
	return 0;
}

ADMIN_HANDLER(admin_kyc_documents_content)
{
	struct content_state st;
	struct admin_call call;
	int ok = 0;

	memset(&st, 0, sizeof(st));
	if (admin_call_begin_id(&call, ctx, req, resp, DOC_MISSING) == 0) {
		admin_call_run(&call, content_tx, &st);
		ok = call.ans.status == 200 && st.data;
	}
	admin_call_end(&call);
	if (ok) {
		http_response_body(resp, 200, st.content_type, (const char *)st.data, st.len);
		http_response_header(resp, "X-Content-SHA256", st.sha256);
		http_response_header(resp, "X-Content-Type-Options", "nosniff");
	}
	if (st.data)
		PQfreemem(st.data);
}
