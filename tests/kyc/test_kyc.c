/*
 * test_kyc.c: KYC end to end (docs/TRUST.md "KYC") against the real `ccgw serve`, the real
 * `ccgw kyc` commands and a real PostgreSQL, with a recording webhook receiver
 * (tests/mock/sink_mock.py) standing in for the seller's: details validated field by field,
 * documents told by their magic bytes and bounded at 5 MiB with nothing stored on a refusal,
 * a stored PDF whose SHA-256 PostgreSQL recomputes, another tenant's key answered 404, the
 * operator's list and review with the seller's signed kyc.reviewed webhook, and the order
 * limit of an unverified shop through real web chat checkouts, with kyc_required on and off.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/evp.h>

#include "testsrv.h"
#include "util.h"
#include "wsclient.h"

#define HOOK_SECRET "kyc-hook-secret-1"
#define MIB         (1024L * 1024)

static struct testdb db;
static struct testsrv srv;
static char *tenant_a, *key_a, *tenant_b, *key_b;
static pid_t sink_pid;
static int sink_port;
static int id_seq;

/* ---- helpers ---- */

static json_t *jparse(const char *s)
{
	json_t *o = json_loads(s ? s : "", 0, NULL);

	if (!o)
		fail_msg("not JSON: %s", s ? s : "(null)");
	return o;
}

/* A request to the admin API with key; extra is one more header line or NULL. */
static void api_raw(const char *key, const char *method, const char *path, const char *extra,
                    const char *body, size_t len, struct testhttp_resp *r)
{
	char url[512], auth[256];
	const char *headers[3] = {auth, extra, NULL};

	snprintf(url, sizeof(url), "%s%s", srv.base_url, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
	testhttp_request(method, url, headers, body, len, r);
}

static void api(const char *key, const char *method, const char *path, const char *body,
                struct testhttp_resp *r)
{
	api_raw(key, method, path, "Content-Type: application/json", body, body ? strlen(body) : 0,
	        r);
}

/* Asserts a 400 validation answer naming field. */
static void assert_field_error(const struct testhttp_resp *r, const char *field)
{
	json_t *o, *e;

	if (r->status != 400)
		fail_msg("expected 400 naming %s, got %ld: %s", field, r->status, r->body);
	o = jparse(r->body);
	e = json_object_get(o, "error");
	if (!json_is_string(json_object_get(e, "field")) ||
	    strcmp(json_string_value(json_object_get(e, "field")), field) != 0)
		fail_msg("expected the error to name %s: %s", field, r->body);
	json_decref(o);
}

static long owner_count(const char *sql, const char *param)
{
	const char *p[1] = {param};
	char *v = testdb_owner_scalar(&db, sql, param ? 1 : 0, p);
	long n = v ? atol(v) : -1;

	free(v);
	return n;
}

/* A count in tenant's scope, as the application role (tables the owner cannot read across
 * tenants: orders, carts). */
static long tenant_count(const char *tenant, const char *sql)
{
	PGconn *c = testdb_connect_app(&db);
	const char *p[1] = {tenant};
	PGresult *res = PQexecParams(c, "SELECT set_config('app.tenant_id', $1, false)", 1, NULL, p,
	                             NULL, NULL, 0);
	long n;

	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	PQclear(res);
	res = PQexec(c, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	n = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(c);
	return n;
}

static long docs_of(const char *tenant)
{
	return owner_count("SELECT count(*) FROM kyc_documents WHERE tenant_id = $1", tenant);
}

/* A multipart/form-data body with the fields doc_type (when not NULL) and file (len bytes,
 * when not NULL). Heap; *out_len its length. */
static char *multipart(const char *doc_type, const void *file, size_t len, const char *filename,
                       size_t *out_len)
{
	struct sbuf b;
	char *s;

	sbuf_init(&b);
	sbuf_puts(&b, "preamble is ignored\r\n");
	if (doc_type)
		sbuf_printf(&b,
		            "--XyZb0und\r\nContent-Disposition: form-data; name=\"doc_type\""
		            "\r\n\r\n%s\r\n",
		            doc_type);
	if (file) {
		sbuf_printf(&b,
		            "--XyZb0und\r\nContent-Disposition: form-data; name=\"file\";"
		            " filename=\"%s\"\r\nContent-Type: application/octet-stream\r\n\r\n",
		            filename);
		sbuf_append(&b, file, len);
		sbuf_puts(&b, "\r\n");
	}
	sbuf_puts(&b, "--XyZb0und--\r\n");
	*out_len = b.len;
	s = sbuf_take(&b);
	assert_non_null(s);
	return s;
}

static void upload_multipart(const char *key, const char *doc_type, const void *file, size_t len,
                             const char *filename, struct testhttp_resp *r)
{
	size_t n;
	char *body = multipart(doc_type, file, len, filename, &n);

	api_raw(key, "POST", "/api/v1/kyc/documents",
	        "Content-Type: multipart/form-data; boundary=XyZb0und", body, n, r);
	free(body);
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	int i;

	assert_int_equal(EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL), 1);
	assert_int_equal(mdlen, 32);
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* A small but well-formed looking PDF with a NUL byte in it (binary content). */
static char *pdf_bytes(size_t *len)
{
	static const char head[] = "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\n";
	char *p = malloc(4096);
	size_t i, n = sizeof(head) - 1;

	assert_non_null(p);
	memcpy(p, head, n);
	for (i = 0; i < 3000; i++)
		p[n++] = (char)(i * 7 % 256); /* binary, NUL bytes included */
	memcpy(p + n, "\n%%EOF\n", 7);
	*len = n + 7;
	return p;
}

/* Runs `ccgw kyc ARGS` as the operator (owner role); stdout into *out (heap). Exit code. */
static int run_kyc(const char *args, char **out)
{
	char cmd[2048], *buf = calloc(1, 65536);
	size_t n;
	FILE *p;
	int st;

	assert_non_null(buf);
	snprintf(cmd, sizeof(cmd),
	         "CCGW_HOME=/nonexistent-ccgw-home CCGW_MIGRATE_URL='%s' CCGW_DATABASE_URL='%s'"
	         " '%s' kyc %s 2>/dev/null",
	         db.owner_url, db.app_url, CCGW_BINARY, args);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(buf, 1, 65535, p);
	buf[n] = '\0';
	st = pclose(p);
	*out = buf;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void sink_post(const char *path, const char *body)
{
	char url[256];
	const char *headers[] = {"Content-Type: application/json", NULL};
	struct testhttp_resp r;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", sink_port, path);
	testhttp_request("POST", url, headers, body, strlen(body), &r);
	assert_int_equal(r.status, 200);
	testhttp_resp_clear(&r);
}

/* The webhook bodies the receiver got on path for event, in order (an array; the caller
 * frees), each with "sig_ok" copied in. Waits up to 15 s for at least want of them. */
static json_t *sink_events(const char *path, const char *event, size_t want)
{
	char url[256];
	json_t *out = NULL;
	int tries;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/__requests", sink_port);
	for (tries = 0; tries < 150; tries++) {
		struct testhttp_resp r;
		json_t *reqs, *q;
		size_t i;

		json_decref(out);
		out = json_array();
		testhttp_request("GET", url, NULL, NULL, 0, &r);
		reqs = jparse(r.body);
		testhttp_resp_clear(&r);
		json_array_foreach(reqs, i, q)
		{
			json_t *body;

			if (strcmp(json_string_value(json_object_get(q, "path")), path) != 0)
				continue;
			body = json_loads(json_string_value(json_object_get(q, "body")), 0, NULL);
			if (body && json_is_string(json_object_get(body, "event")) &&
			    strcmp(json_string_value(json_object_get(body, "event")), event) == 0) {
				json_object_set(body, "sig_ok", json_object_get(q, "sig_ok"));
				json_array_append(out, body);
			}
			json_decref(body);
		}
		json_decref(reqs);
		if (json_array_size(out) >= want)
			break;
		usleep(100000);
	}
	return out;
}

/* Registers the receiver as tenant's webhook notification target at /hook/<slug>. */
static void hook_target(const char *key, const char *slug)
{
	struct testhttp_resp r;
	char body[256];

	snprintf(body, sizeof(body),
	         "{\"kind\": \"webhook\", \"url\": \"http://127.0.0.1:%d/hook/%s\", \"secret\":"
	         " \"" HOOK_SECRET "\"}",
	         sink_port, slug);
	api(key, "POST", "/api/v1/notification-targets", body, &r);
	if (r.status != 201)
		fail_msg("notification target: %ld %s", r.status, r.body);
	testhttp_resp_clear(&r);
}

static void put_kyc(const char *key, const char *legal_name)
{
	struct testhttp_resp r;
	char body[512];

	snprintf(body, sizeof(body),
	         "{\"legal_name\": \"%s\", \"registration_number\": \"PVT-2019/0042\", \"tax_id\":"
	         " \"P051234567X\", \"country\": \"KE\"}",
	         legal_name);
	api(key, "PUT", "/api/v1/kyc", body, &r);
	if (r.status != 200)
		fail_msg("PUT /api/v1/kyc: %ld %s", r.status, r.body);
	testhttp_resp_clear(&r);
}

static void start_server(int kyc_required)
{
	const char *on[] = {"CCGW_WEBHOOK_ALLOW_PRIVATE=1", "CCGW_KYC_REQUIRED=1",
	                    "CCGW_KYC_UNVERIFIED_ORDER_LIMIT=1", NULL};
	const char *off[] = {"CCGW_WEBHOOK_ALLOW_PRIVATE=1", NULL};

	testsrv_start(&srv, &db, kyc_required ? on : off);
}

static int group_setup(void **state)
{
	(void)state;
	testdb_setup(&db, "kyc");
	tenant_a = testdb_tenant_create(&db, "shop-a", &key_a);
	tenant_b = testdb_tenant_create(&db, "shop-b", &key_b);
	sink_pid = testsrv_spawn_mock("sink_mock.py", NULL, &sink_port);
	sink_post("/__secret", "{\"prefix\": \"/hook\", \"secret\": \"" HOOK_SECRET "\"}");
	start_server(1);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	testsrv_stop(&srv);
	testsrv_stop_pid(sink_pid);
	free(tenant_a);
	free(key_a);
	free(tenant_b);
	free(key_b);
	return 0;
}

/* ---- the seller's details ---- */

static void test_details_validated(void **state)
{
	static const struct {
		const char *body, *field;
	} bad[] = {
	    {"{\"registration_number\": \"C1\", \"tax_id\": \"T1\", \"country\": \"KE\"}",
	     "legal_name"},
	    {"{\"legal_name\": \"\", \"registration_number\": \"C1\", \"tax_id\": \"T1\","
	     " \"country\": \"KE\"}",
	     "legal_name"},
	    {"{\"legal_name\": 7, \"registration_number\": \"C1\", \"tax_id\": \"T1\","
	     " \"country\": \"KE\"}",
	     "legal_name"},
	    {"{\"legal_name\": \"Asali Ltd\", \"tax_id\": \"T1\", \"country\": \"KE\"}",
	     "registration_number"},
	    {"{\"legal_name\": \"Asali Ltd\", \"registration_number\": \"C1;DROP\", \"tax_id\":"
	     " \"T1\", \"country\": \"KE\"}",
	     "registration_number"},
	    {"{\"legal_name\": \"Asali Ltd\", \"registration_number\": \"C1\", \"country\":"
	     " \"KE\"}",
	     "tax_id"},
	    {"{\"legal_name\": \"Asali Ltd\", \"registration_number\": \"C1\", \"tax_id\": \"T1\","
	     " \"country\": \"XX\"}",
	     "country"},
	    {"{\"legal_name\": \"Asali Ltd\", \"registration_number\": \"C1\", \"tax_id\": \"T1\","
	     " \"country\": \"Kenya\"}",
	     "country"},
	    {"{\"legal_name\": \"Asali Ltd\", \"registration_number\": \"C1\", \"tax_id\": \"T1\"}",
	     "country"},
	    {"{\"legal_name\": \"Asali Ltd\", \"registration_number\": \"C1\", \"tax_id\": \"T1\","
	     " \"country\": \"KE\", \"status\": \"verified\"}",
	     "status"},
	};
	struct testhttp_resp r;
	json_t *o;
	size_t i;

	(void)state;
	/* nothing submitted yet */
	api(key_a, "GET", "/api/v1/kyc", NULL, &r);
	assert_int_equal(r.status, 404);
	testhttp_resp_clear(&r);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		api(key_a, "PUT", "/api/v1/kyc", bad[i].body, &r);
		assert_field_error(&r, bad[i].field);
		testhttp_resp_clear(&r);
	}
	api(key_a, "PUT", "/api/v1/kyc", "not json", &r);
	assert_int_equal(r.status, 400);
	testhttp_resp_clear(&r);
	/* every refusal left nothing behind */
	assert_int_equal(
	    owner_count("SELECT count(*) FROM kyc_info WHERE tenant_id = $1", tenant_a), 0);
	api(key_a, "GET", "/api/v1/kyc", NULL, &r);
	assert_int_equal(r.status, 404);
	testhttp_resp_clear(&r);
	/* a good submission; the country may come in lower case */
	api(key_a, "PUT", "/api/v1/kyc",
	    "{\"legal_name\": \"Asali Traders Ltd\", \"registration_number\": \"PVT-2019/0042\","
	    " \"tax_id\": \"P051234567X\", \"country\": \"ke\"}",
	    &r);
	assert_int_equal(r.status, 200);
	testhttp_resp_clear(&r);
	api(key_a, "GET", "/api/v1/kyc", NULL, &r);
	assert_int_equal(r.status, 200);
	o = jparse(r.body);
	assert_string_equal(json_string_value(json_object_get(o, "status")), "pending");
	assert_string_equal(json_string_value(json_object_get(o, "legal_name")),
	                    "Asali Traders Ltd");
	assert_string_equal(json_string_value(json_object_get(o, "registration_number")),
	                    "PVT-2019/0042");
	assert_string_equal(json_string_value(json_object_get(o, "tax_id")), "P051234567X");
	assert_string_equal(json_string_value(json_object_get(o, "country")), "KE");
	assert_int_equal(json_array_size(json_object_get(o, "documents")), 0);
	json_decref(o);
	testhttp_resp_clear(&r);
	/* the seller cannot verify itself, even straight in the database as the app role */
	{
		PGconn *c = testdb_connect_app(&db);
		const char *p[1] = {tenant_a};
		PGresult *res = PQexecParams(c, "SELECT set_config('app.tenant_id', $1, false)", 1,
		                             NULL, p, NULL, NULL, 0);

		PQclear(res);
		res = PQexec(c, "UPDATE kyc_info SET status = 'verified'");
		assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
		PQclear(res);
		PQfinish(c);
	}
	assert_int_equal(owner_count("SELECT count(*) FROM kyc_info WHERE tenant_id = $1"
	                             " AND status = 'pending'",
	                             tenant_a),
	                 1);
}

/* ---- documents ---- */

static void test_documents(void **state)
{
	static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0,
	                                    0,    13,  'I', 'H', 'D',  'R',  0,    0,    0, 1};
	static const unsigned char jpeg[] = {0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10,
	                                     'J',  'F',  'I',  'F',  0};
	static const char gif[] = "GIF89a\x01\x00\x01\x00";
	struct testhttp_resp r;
	char want[65], path[128], *big, *v, *pdf;
	const char *p[2];
	size_t pdf_len;
	int i;
	json_t *o;

	(void)state;
	pdf = pdf_bytes(&pdf_len);
	/* B has submitted no details: documents wait for them */
	upload_multipart(key_b, "business_registration", pdf, pdf_len, "cert.pdf", &r);
	assert_int_equal(r.status, 409);
	testhttp_resp_clear(&r);
	assert_int_equal(docs_of(tenant_b), 0);

	/* refusals, each storing nothing */
	upload_multipart(key_a, "business_registration", gif, sizeof(gif) - 1, "x.gif", &r);
	assert_field_error(&r, "file");
	testhttp_resp_clear(&r);
	api_raw(key_a, "POST", "/api/v1/kyc/documents?doc_type=tax_certificate",
	        "Content-Type: application/pdf", "PDF-1.4 but no percent", 22, &r);
	assert_field_error(&r, "file");
	testhttp_resp_clear(&r);
	upload_multipart(key_a, NULL, pdf, pdf_len, "cert.pdf", &r);
	assert_field_error(&r, "doc_type");
	testhttp_resp_clear(&r);
	upload_multipart(key_a, "bad type!", pdf, pdf_len, "cert.pdf", &r);
	assert_field_error(&r, "doc_type");
	testhttp_resp_clear(&r);
	upload_multipart(key_a, "business_registration", NULL, 0, NULL, &r);
	assert_field_error(&r, "file");
	testhttp_resp_clear(&r);
	/* over 5 MiB by one byte, with a PDF's magic: 400, in either form */
	big = malloc((size_t)(5 * MIB + 1));
	assert_non_null(big);
	memset(big, 'a', (size_t)(5 * MIB + 1));
	memcpy(big, "%PDF-1.4\n", 9);
	upload_multipart(key_a, "business_registration", big, (size_t)(5 * MIB + 1), "big.pdf", &r);
	assert_field_error(&r, "file");
	testhttp_resp_clear(&r);
	api_raw(key_a, "POST", "/api/v1/kyc/documents?doc_type=business_registration",
	        "Content-Type: application/pdf", big, (size_t)(5 * MIB + 1), &r);
	assert_field_error(&r, "file");
	testhttp_resp_clear(&r);
	/* the upload's larger body is for that route only: elsewhere max_body (4 MiB) holds */
	/* the server answers 413 before the client has sent the whole body and closes: the
	 * connection can then be reset under the answer (status 0), so that is tried again */
	for (i = 0; i < 5; i++) {
		api_raw(key_a, "POST", "/api/v1/products", "Content-Type: application/json", big,
		        (size_t)(5 * MIB), &r);
		if (r.status != 0)
			break;
		testhttp_resp_clear(&r);
	}
	assert_int_equal(r.status, 413);
	testhttp_resp_clear(&r);
	assert_int_equal(docs_of(tenant_a), 0);

	/* exactly 5 MiB is allowed */
	api_raw(key_a, "POST", "/api/v1/kyc/documents?doc_type=bank_statement&filename=big.pdf",
	        "Content-Type: application/pdf", big, (size_t)(5 * MIB), &r);
	assert_int_equal(r.status, 201);
	testhttp_resp_clear(&r);
	free(big);

	/* a good PDF: stored whole, with its SHA-256 */
	sha256_hex(pdf, pdf_len, want);
	upload_multipart(key_a, "business_registration", pdf, pdf_len, "C:\\docs\\cert.pdf", &r);
	assert_int_equal(r.status, 201);
	o = jparse(r.body);
	testhttp_resp_clear(&r);
	assert_string_equal(json_string_value(json_object_get(o, "sha256")), want);
	assert_string_equal(json_string_value(json_object_get(o, "content_type")),
	                    "application/pdf");
	assert_string_equal(json_string_value(json_object_get(o, "doc_type")),
	                    "business_registration");
	assert_string_equal(json_string_value(json_object_get(o, "filename")), "cert.pdf");
	assert_int_equal(json_integer_value(json_object_get(o, "size_bytes")), (long)pdf_len);
	p[0] = json_string_value(json_object_get(o, "id"));
	p[1] = NULL;
	/* PostgreSQL's own digest of the stored bytes agrees */
	v = testdb_owner_scalar(&db,
	                        "SELECT encode(sha256(content), 'hex') || '|' || sha256 || '|' ||"
	                        " octet_length(content) FROM kyc_documents WHERE id = $1",
	                        1, p);
	{
		char w2[160];

		snprintf(w2, sizeof(w2), "%s|%s|%zu", want, want, pdf_len);
		assert_string_equal(v, w2);
	}
	free(v);
	/* and the seller can fetch it back byte for byte */
	snprintf(path, sizeof(path), "/api/v1/kyc/documents/%s/content", p[0]);
	api(key_a, "GET", path, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, pdf_len);
	assert_memory_equal(r.body, pdf, pdf_len);
	assert_non_null(strstr(r.headers, "application/pdf"));
	testhttp_resp_clear(&r);

	/* PNG and JPEG as raw bodies */
	{
		char url[256];
		const char *h[] = {url, "X-Doc-Type: director id", "Content-Type: image/png", NULL};

		snprintf(url, sizeof(url), "Authorization: Bearer %s", key_a);
		snprintf(path, sizeof(path), "%s/api/v1/kyc/documents", srv.base_url);
		testhttp_request("POST", path, h, (const char *)png, sizeof(png), &r);
	}
	assert_int_equal(r.status, 201);
	assert_non_null(strstr(r.body, "\"image/png\""));
	assert_non_null(strstr(r.body, "\"doc_type\":\"director id\""));
	testhttp_resp_clear(&r);
	/* a JPEG as JSON with the file in base64; bad base64 is refused naming the file */
	{
		char b64[64], body[256];

		assert_int_equal(EVP_EncodeBlock((unsigned char *)b64, jpeg, sizeof(jpeg)), 16);
		snprintf(body, sizeof(body),
		         "{\"doc_type\": \"director_id\", \"file\": \"%s\","
		         " \"filename\": \"id.jpg\"}",
		         b64);
		api(key_a, "POST", "/api/v1/kyc/documents", body, &r);
		assert_int_equal(r.status, 201);
		assert_non_null(strstr(r.body, "\"image/jpeg\""));
		assert_non_null(strstr(r.body, "\"size_bytes\":11"));
		testhttp_resp_clear(&r);
		api(key_a, "POST", "/api/v1/kyc/documents",
		    "{\"doc_type\": \"director_id\", \"file\": \"/9j/4A?!\"}", &r);
		assert_field_error(&r, "file");
		testhttp_resp_clear(&r);
	}

	/* GET lists the documents without their bytes */
	api(key_a, "GET", "/api/v1/kyc", NULL, &r);
	assert_int_equal(r.status, 200);
	{
		json_t *k = jparse(r.body), *docs = json_object_get(k, "documents");

		assert_int_equal(json_array_size(docs), 4);
		assert_null(json_object_get(json_array_get(docs, 1), "content"));
		assert_string_equal(
		    json_string_value(json_object_get(json_array_get(docs, 1), "sha256")), want);
		json_decref(k);
	}
	testhttp_resp_clear(&r);
	assert_int_equal(docs_of(tenant_a), 4);
	json_decref(o);
	free(pdf);
}

/* ---- another tenant ---- */

static void test_other_tenant_404(void **state)
{
	struct testhttp_resp r;
	char path[160], *doc;
	const char *p[1] = {tenant_a};

	(void)state;
	doc = testdb_owner_scalar(&db,
	                          "SELECT id::text FROM kyc_documents WHERE tenant_id = $1"
	                          " ORDER BY created_at LIMIT 1",
	                          1, p);
	assert_non_null(doc);
	/* B has no KYC and never sees A's */
	api(key_b, "GET", "/api/v1/kyc", NULL, &r);
	assert_int_equal(r.status, 404);
	assert_null(strstr(r.body, "Asali"));
	testhttp_resp_clear(&r);
	snprintf(path, sizeof(path), "/api/v1/kyc/documents/%s", doc);
	api(key_b, "GET", path, NULL, &r);
	assert_int_equal(r.status, 404);
	testhttp_resp_clear(&r);
	api(key_a, "GET", path, NULL, &r);
	assert_int_equal(r.status, 200);
	testhttp_resp_clear(&r);
	snprintf(path, sizeof(path), "/api/v1/kyc/documents/%s/content", doc);
	api(key_b, "GET", path, NULL, &r);
	assert_int_equal(r.status, 404);
	assert_null(strstr(r.body, "%PDF"));
	testhttp_resp_clear(&r);
	/* no key at all */
	api("", "GET", "/api/v1/kyc", NULL, &r);
	assert_int_equal(r.status, 401);
	testhttp_resp_clear(&r);
	/* B's own submission leaves A's untouched */
	put_kyc(key_b, "Shop B Enterprises");
	assert_int_equal(owner_count("SELECT count(*) FROM kyc_info WHERE tenant_id = $1"
	                             " AND legal_name = 'Asali Traders Ltd'",
	                             tenant_a),
	                 1);
	free(doc);
}

/* ---- the operator ---- */

static void test_operator_review(void **state)
{
	char *out;
	json_t *o, *ev;
	struct testhttp_resp r;

	(void)state;
	hook_target(key_a, "shop-a");
	/* list: both shops pending, A with its documents */
	assert_int_equal(run_kyc("list --status pending", &out), 0);
	o = jparse(out);
	free(out);
	assert_int_equal(json_array_size(json_object_get(o, "data")), 2);
	{
		json_t *row;
		size_t i;
		int seen = 0;

		json_array_foreach(json_object_get(o, "data"), i, row)
		{
			if (strcmp(json_string_value(json_object_get(row, "slug")), "shop-a") != 0)
				continue;
			seen = 1;
			assert_string_equal(json_string_value(json_object_get(row, "legal_name")),
			                    "Asali Traders Ltd");
			assert_int_equal(json_integer_value(json_object_get(row, "documents")), 4);
		}
		assert_true(seen);
	}
	json_decref(o);
	assert_int_equal(run_kyc("list --status verified", &out), 0);
	assert_non_null(strstr(out, "\"data\":[]"));
	free(out);
	assert_int_equal(run_kyc("list --status bogus", &out), 2);
	free(out);

	/* usage errors change nothing */
	assert_int_equal(run_kyc("review --tenant shop-a --reject", &out), 2);
	free(out);
	assert_int_equal(run_kyc("review --tenant shop-a --approve --reject --reason x", &out), 2);
	free(out);
	assert_int_equal(run_kyc("review --tenant no-such-shop --approve", &out), 1);
	free(out);
	assert_int_equal(
	    owner_count("SELECT count(*) FROM kyc_info WHERE status <> 'pending'", NULL), 0);

	/* a rejection with its reason: the seller sees it and is told */
	assert_int_equal(
	    run_kyc("review --tenant shop-a --reject --reason 'The certificate is unreadable'",
	            &out),
	    0);
	assert_non_null(strstr(out, "\"rejected\""));
	free(out);
	api(key_a, "GET", "/api/v1/kyc", NULL, &r);
	o = jparse(r.body);
	testhttp_resp_clear(&r);
	assert_string_equal(json_string_value(json_object_get(o, "status")), "rejected");
	assert_string_equal(json_string_value(json_object_get(o, "review_reason")),
	                    "The certificate is unreadable");
	assert_true(json_is_string(json_object_get(o, "reviewed_at")));
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(json_object_get(o, "documents"), 0), "status")),
	                    "rejected");
	json_decref(o);
	ev = sink_events("/hook/shop-a", "kyc.reviewed", 1);
	assert_int_equal(json_array_size(ev), 1);
	o = json_array_get(ev, 0);
	assert_true(json_is_true(json_object_get(o, "sig_ok")));
	assert_string_equal(json_string_value(json_object_get(o, "tenant_id")), tenant_a);
	assert_string_equal(json_string_value(json_object_get(json_object_get(o, "kyc"), "status")),
	                    "rejected");
	assert_string_equal(json_string_value(json_object_get(json_object_get(o, "kyc"), "reason")),
	                    "The certificate is unreadable");
	json_decref(ev);

	/* resubmitted details go back to pending; then approved */
	put_kyc(key_a, "Asali Traders Limited");
	assert_int_equal(owner_count("SELECT count(*) FROM kyc_info WHERE tenant_id = $1"
	                             " AND status = 'pending' AND review_reason IS NULL",
	                             tenant_a),
	                 1);
	assert_int_equal(run_kyc("review --tenant shop-a --approve", &out), 0);
	free(out);
	api(key_a, "GET", "/api/v1/kyc", NULL, &r);
	assert_non_null(strstr(r.body, "\"status\":\"verified\""));
	testhttp_resp_clear(&r);
	ev = sink_events("/hook/shop-a", "kyc.reviewed", 2);
	assert_int_equal(json_array_size(ev), 2);
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(json_array_get(ev, 1), "kyc"), "status")),
	                    "verified");
	json_decref(ev);
	/* B heard nothing of A's review */
	ev = sink_events("/hook/shop-b", "kyc.reviewed", 0);
	assert_int_equal(json_array_size(ev), 0);
	json_decref(ev);
	assert_int_equal(run_kyc("list --status verified", &out), 0);
	assert_non_null(strstr(out, "shop-a"));
	assert_null(strstr(out, "shop-b"));
	free(out);
}

/* ---- the order limit, through web chat checkouts ---- */

static void create_product(const char *key, const char *sku, const char *name)
{
	struct testhttp_resp r;
	char body[512];

	snprintf(body, sizeof(body),
	         "{\"sku\": \"%s\", \"name\": \"%s\", \"description\": \"%s\", \"category\":"
	         " \"Honey\", \"price_minor\": 85000, \"currency\": \"KES\", \"stock\": 50,"
	         " \"active\": true}",
	         sku, name, name);
	api(key, "POST", "/api/v1/products", body, &r);
	if (r.status != 201)
		fail_msg("product create answered %ld: %s", r.status, r.body);
	testhttp_resp_clear(&r);
}

static json_t *next_frame(struct wsc_client *c, int ms)
{
	int cc;
	char *t = wsc_recv(c, ms, &cc);
	json_t *o;

	if (!t)
		return NULL;
	o = jparse(t);
	free(t);
	return o;
}

static void send_frame(struct wsc_client *c, const char *type, const char *key, const char *v)
{
	char id[48];
	json_t *f;
	char *t;

	snprintf(id, sizeof(id), "k-%d-%d", (int)getpid(), ++id_seq);
	f = json_pack("{s:s, s:s, s:s}", "type", type, key, v, "client_msg_id", id);
	t = json_dumps(f, JSON_COMPACT);
	assert_int_equal(wsc_send_text(c, t), 0);
	free(t);
	json_decref(f);
}

/* The frames that arrive within ms, then until 600 ms of quiet; their texts joined. */
static json_t *collect(struct wsc_client *c, int ms, struct sbuf *text)
{
	json_t *out = json_array(), *f;

	while ((f = next_frame(c, json_array_size(out) ? 600 : ms)) != NULL) {
		const char *t = json_string_value(json_object_get(f, "text"));

		if (t)
			sbuf_printf(text, "%s\n", t);
		json_array_append_new(out, f);
	}
	return out;
}

static int find_payload(const json_t *frames, const char *prefix, int exact, char *out,
                        size_t outlen)
{
	size_t i, j, k, l;
	const json_t *f, *b, *sec, *row;

	out[0] = '\0';
	json_array_foreach(frames, i, f)
	{
		json_array_foreach(json_object_get(f, "buttons"), j, b)
		{
			const char *p = json_string_value(json_object_get(b, "payload"));

			if (p && (exact ? strcmp(p, prefix) == 0
			                : strncmp(p, prefix, strlen(prefix)) == 0))
				snprintf(out, outlen, "%s", p);
		}
		json_array_foreach(json_object_get(json_object_get(f, "list"), "sections"), k, sec)
		    json_array_foreach(json_object_get(sec, "rows"), l, row)
		{
			const char *p = json_string_value(json_object_get(row, "payload"));

			if (p && (exact ? strcmp(p, prefix) == 0
			                : strncmp(p, prefix, strlen(prefix)) == 0))
				snprintf(out, outlen, "%s", p);
		}
	}
	return out[0] != '\0';
}

/*
 * A new shopper on slug's web chat goes from "hi" (or, sw set, "habari": the conversation in
 * Swahili) to the confirmation of an order. Returns 1 when the bot confirmed the order
 * (#number), 0 when it refused it; *last gets the bot's last texts (heap).
 */
static int webchat_checkout(const char *slug, int sw, char **last)
{
	static const struct {
		const char *p;
		int exact, once;
	} plan[] = {
	    {"ck:yes", 1, 1},   {"pay:cash_on_delivery", 1, 1},
	    {"pay:", 0, 1},     {"phone:use", 1, 1},
	    {"name:use", 1, 1}, {"ck", 1, 1},
	    {"add:", 0, 1},     {"prod:", 0, 1},
	    {"cat:", 0, 1},     {"browse", 1, 0},
	};
	int pressed[sizeof(plan) / sizeof(plan[0])] = {0};
	struct wsc_client *c = calloc(1, sizeof(*c));
	char path[128], payload[128];
	json_t *h, *w, *frames;
	int step, result = -1;
	size_t p;
	char *t;

	assert_non_null(c);
	snprintf(path, sizeof(path), "/ws/chat/%s", slug);
	assert_int_equal(wsc_connect(c, srv.port, path, NULL), 0);
	h = json_pack("{s:s, s:n}", "type", "hello", "session");
	t = json_dumps(h, JSON_COMPACT);
	assert_int_equal(wsc_send_text(c, t), 0);
	free(t);
	json_decref(h);
	w = next_frame(c, 20000);
	assert_non_null(w);
	json_decref(w);
	send_frame(c, "text", "text", sw ? "habari" : "hi");
	*last = NULL;
	for (step = 0; step < 30 && result < 0; step++) {
		struct sbuf text;

		sbuf_init(&text);
		frames = collect(c, 20000, &text); /* generous: CI machines run loaded */
		free(*last);
		*last = sbuf_take(&text);
		assert_non_null(*last);
		assert_true(json_array_size(frames) > 0);
		payload[0] = '\0';
		for (p = 0; p < sizeof(plan) / sizeof(plan[0]) && !payload[0]; p++) {
			if (plan[p].once && pressed[p])
				continue;
			if (find_payload(frames, plan[p].p, plan[p].exact, payload,
			                 sizeof(payload)))
				pressed[p] = 1;
		}
		if (pressed[0] && (strstr(*last, "order #") || strstr(*last, "Oda yako #"))) {
			result = 1;
		} else if (pressed[0] && (strstr(*last, "cannot take orders") ||
		                          strstr(*last, "haliwezi kupokea oda"))) {
			result = 0;
		} else if (payload[0]) {
			send_frame(c, "postback", "payload", payload);
		} else if (strstr(*last, "address") || strstr(*last, "location") ||
		           strstr(*last, "anwani")) {
			send_frame(c, "text", "text", "Moi Avenue 12, Nairobi");
		} else if (strstr(*last, "phone") || strstr(*last, "simu")) {
			send_frame(c, "text", "text", "0712345678");
		} else if (strstr(*last, "name") || strstr(*last, "jina")) {
			send_frame(c, "text", "text", "Amina Wanjiru");
		} else {
			send_frame(c, "text", "text", "browse");
		}
		json_decref(frames);
	}
	wsc_close(c);
	free(c);
	if (result < 0)
		fail_msg("the checkout did not end; last: %s", *last);
	return result;
}

static long orders_of(const char *tenant)
{
	return tenant_count(tenant, "SELECT count(*) FROM orders");
}

static long limit_notices(const char *tenant)
{
	return owner_count("SELECT count(*) FROM outbox WHERE tenant_id = $1"
	                   " AND event_type = 'kyc.order_limit'",
	                   tenant);
}

static void test_order_limit(void **state)
{
	char *last = NULL;
	json_t *ev;

	(void)state;
	/* shop-b (pending KYC) and shop-a (verified by test_operator_review); limit 1 */
	create_product(key_b, "HN-B-1", "Acacia Honey 500g");
	create_product(key_a, "HN-A-1", "Acacia Honey 500g");
	hook_target(key_b, "shop-b");

	assert_int_equal(webchat_checkout("shop-b", 0, &last), 1);
	free(last);
	assert_int_equal(orders_of(tenant_b), 1);
	assert_int_equal(limit_notices(tenant_b), 0);
	/* the limit reached: a polite refusal, no order, the cart kept, the seller told */
	assert_int_equal(webchat_checkout("shop-b", 0, &last), 0);
	assert_non_null(strstr(last, "Sorry, this shop cannot take orders yet"));
	assert_null(strstr(last, "order #"));
	free(last);
	assert_int_equal(orders_of(tenant_b), 1);
	assert_int_equal(tenant_count(tenant_b, "SELECT count(*) FROM carts WHERE status = 'open'"
	                                        " AND EXISTS (SELECT 1 FROM cart_items i"
	                                        " WHERE i.cart_id = carts.id)"),
	                 1);
	ev = sink_events("/hook/shop-b", "kyc.order_limit", 1);
	assert_int_equal(json_array_size(ev), 1);
	assert_true(json_is_true(json_object_get(json_array_get(ev, 0), "sig_ok")));
	assert_int_equal(json_integer_value(json_object_get(
	                     json_object_get(json_array_get(ev, 0), "kyc"), "order_limit")),
	                 1);
	json_decref(ev);
	/* another shopper, in Swahili, is refused too, in Swahili; the seller is not told twice */
	assert_int_equal(webchat_checkout("shop-b", 1, &last), 0);
	assert_non_null(strstr(last, "Samahani, duka hili haliwezi kupokea oda bado"));
	free(last);
	assert_int_equal(orders_of(tenant_b), 1);
	assert_int_equal(limit_notices(tenant_b), 1);

	/* the verified shop is not limited */
	assert_int_equal(webchat_checkout("shop-a", 0, &last), 1);
	free(last);
	assert_int_equal(webchat_checkout("shop-a", 0, &last), 1);
	free(last);
	assert_int_equal(orders_of(tenant_a), 2);
	assert_int_equal(limit_notices(tenant_a), 0);

	/* kyc_required off (the default): the unverified shop takes orders again */
	testsrv_stop(&srv);
	start_server(0);
	assert_int_equal(webchat_checkout("shop-b", 0, &last), 1);
	free(last);
	assert_int_equal(orders_of(tenant_b), 2);
	assert_int_equal(limit_notices(tenant_b), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_details_validated), cmocka_unit_test(test_documents),
	    cmocka_unit_test(test_other_tenant_404),  cmocka_unit_test(test_operator_review),
	    cmocka_unit_test(test_order_limit),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
