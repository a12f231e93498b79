/*
 * storefront.c: the shop page and the product page, rendered as plain HTML on a worker thread
 * inside the tenant's transaction: the published version (or the draft, for the preview),
 * the banners current now, the live catalog by category with price and stock state, order
 * links for the channels the shop has, Open Graph and Twitter card tags. Every seller-supplied
 * text goes through html_text(); every URL piece through curl's escaping.
 */
#include "storefront.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "channel.h"
#include "money.h"
#include "pg.h"
#include "util.h"

#define SF_DEFAULT_PRIMARY    "#0a7d4f"
#define SF_DEFAULT_BACKGROUND "#ffffff"
#define SF_DEFAULT_TEXT       "#1b1b1b"
#define SF_LOW_STOCK          5
#define SF_LINKS_MAX          8

/* ---- colours ---- */

int storefront_color_valid(const char *c)
{
	size_t i;

	if (!c || strlen(c) != 7 || c[0] != '#')
		return 0;
	for (i = 1; i < 7; i++)
		if (util_hex_digit(c[i]) < 0)
			return 0;
	return 1;
}

static double channel_lin(int v)
{
	double c = v / 255.0;

	return c <= 0.03928 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4);
}

static double luminance(const char *c)
{
	int r = util_hex_digit(c[1]) * 16 + util_hex_digit(c[2]);
	int g = util_hex_digit(c[3]) * 16 + util_hex_digit(c[4]);
	int b = util_hex_digit(c[5]) * 16 + util_hex_digit(c[6]);

	return 0.2126 * channel_lin(r) + 0.7152 * channel_lin(g) + 0.0722 * channel_lin(b);
}

double storefront_contrast(const char *a, const char *b)
{
	double la, lb;

	if (!storefront_color_valid(a) || !storefront_color_valid(b))
		return 0;
	la = luminance(a);
	lb = luminance(b);
	return la > lb ? (la + 0.05) / (lb + 0.05) : (lb + 0.05) / (la + 0.05);
}

/* Black or white, whichever reads better on bg. */
static const char *ink_on(const char *bg)
{
	return storefront_contrast("#ffffff", bg) >= storefront_contrast("#111111", bg) ? "#ffffff"
	                                                                                : "#111111";
}

/* ---- escaping ---- */

static void html_text(struct sbuf *b, const char *s)
{
	const char *p = s ? s : "";
	size_t run = 0;

	for (; p[run]; run++) {
		const char *rep = NULL;

		switch (p[run]) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&#39;";
			break;
		default:
			continue;
		}
		sbuf_append(b, p, run);
		sbuf_puts(b, rep);
		p += run + 1;
		run = (size_t)-1;
	}
	sbuf_append(b, p, run);
}

/* Appends s percent-encoded (everything but A-Z a-z 0-9 - . _ ~). */
static void url_part(struct sbuf *b, const char *s)
{
	char *e = curl_easy_escape(NULL, s ? s : "", 0);

	if (e) {
		sbuf_puts(b, e);
		curl_free(e);
	}
}

/* ---- the words of the page ---- */

struct words {
	const char *skip, *categories, *featured, *about, *in_stock, *low_stock, *out_of_stock,
	    *wa, *tg, *chat, *all, *offers, *logo, *preview, *wa_text, *price, *chat_shop;
};

static const struct words words_en = {
    "Skip to the products", "Categories", "Featured", "About us", "In stock", "Only %ld left",
    "Out of stock", "Order on WhatsApp", "Order on Telegram", "Chat here", "All products",
    "Offers", "%s logo", "Preview of your draft: not published yet",
    "Hello! I would like to order %s (SKU: %s)", "Price", "Chat with us",
};
static const struct words words_sw = {
    "Ruka hadi bidhaa", "Aina", "Bidhaa teule", "Kuhusu sisi", "Zipo", "Zimebaki %ld tu",
    "Zimeisha", "Agiza kwa WhatsApp", "Agiza kwa Telegram", "Ongea hapa", "Bidhaa zote",
    "Ofa", "Nembo ya %s", "Onyesho la rasimu yako: bado haijachapishwa",
    "Habari! Ningependa kuagiza %s (SKU: %s)", "Bei", "Ongea nasi",
};

/* ---- what the page shows ---- */

#define SW(v) ((v)->lang[0] == 's')

struct sf_product {
	char *id, *sku, *name, *description, *category, *currency, *image_url;
	char *card_id, *thumb_id;
	long long price_minor;
	long stock;
	int card_w, card_h;
};

struct sf_banner {
	char *title, *link_url, *card_id;
};

struct sf_view {
	const struct storefront_req *rq;
	const struct words *w;
	char lang[3];
	char *shop_name;
	json_t *content; /* the version (or draft) shown */
	char primary[8], background[8], text[8], ink[8];
	char *logo_id;
	int logo_w, logo_h;
	/* the channels with an order link, one per type (the adapter's order_link) */
	struct {
		const struct channel_ops *ops;
		json_t *config;
	} links[SF_LINKS_MAX];
	int nlinks;
	struct sf_product *products;
	int nproducts;
	struct sf_banner *banners;
	int nbanners;
};

static char *dup_or_null(const PGresult *res, int r, int c)
{
	return PQgetisnull(res, r, c) ? NULL : strdup(PQgetvalue(res, r, c));
}

static void view_clear(struct sf_view *v)
{
	int i;

	for (i = 0; i < v->nproducts; i++) {
		struct sf_product *p = &v->products[i];

		free(p->id);
		free(p->sku);
		free(p->name);
		free(p->description);
		free(p->category);
		free(p->currency);
		free(p->image_url);
		free(p->card_id);
		free(p->thumb_id);
	}
	free(v->products);
	for (i = 0; i < v->nbanners; i++) {
		free(v->banners[i].title);
		free(v->banners[i].link_url);
		free(v->banners[i].card_id);
	}
	free(v->banners);
	free(v->shop_name);
	free(v->logo_id);
	for (i = 0; i < v->nlinks; i++)
		json_decref(v->links[i].config);
	json_decref(v->content);
}

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s && *s ? s : NULL;
}

static void pick_color(char out[8], const json_t *a, const json_t *b, const char *key,
                       const char *def)
{
	const char *c = jstr(a, key);

	if (!storefront_color_valid(c))
		c = jstr(b, key);
	snprintf(out, 8, "%s", storefront_color_valid(c) ? c : def);
}

/* The shop, its theme and the content shown. 0, STOREFRONT_NOT_FOUND or PG_ERR_*. */
static int load_shop(PGconn *conn, struct sf_view *v, char storefront_id[37])
{
	PGresult *res;
	json_t *theme = NULL, *ctheme;
	const char *lang;
	int rc = 0;

	res = pg_exec(conn,
	              "SELECT t.name, c.theme::text, COALESCE(t.settings->>'lang', '')"
	              " FROM tenants t LEFT JOIN storefront_config c ON c.tenant_id = t.id"
	              " WHERE t.id = app_tenant_id()",
	              0, NULL);
	if (!res)
		return PG_ERR_QUERY;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return STOREFRONT_NOT_FOUND;
	}
	v->shop_name = strdup(PQgetvalue(res, 0, 0));
	if (!PQgetisnull(res, 0, 1))
		theme = json_loads(PQgetvalue(res, 0, 1), 0, NULL);
	snprintf(v->lang, sizeof(v->lang), "%.2s", PQgetvalue(res, 0, 2));
	PQclear(res);

	if (v->rq->draft)
		res = pg_exec(conn,
		              "SELECT content::text, NULL FROM storefront_drafts"
		              " WHERE tenant_id = app_tenant_id()",
		              0, NULL);
	else
		res = pg_exec(conn,
		              "SELECT s.content::text, s.id FROM storefronts s JOIN storefront_config c"
		              " ON c.tenant_id = s.tenant_id AND c.published_version = s.version"
		              " WHERE s.tenant_id = app_tenant_id()",
		              0, NULL);
	if (!res) {
		rc = PG_ERR_QUERY;
		goto out;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		rc = STOREFRONT_NOT_FOUND;
		goto out;
	}
	v->content = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	snprintf(storefront_id, 37, "%s", PQgetisnull(res, 0, 1) ? "" : PQgetvalue(res, 0, 1));
	PQclear(res);
	if (!json_is_object(v->content)) {
		json_decref(v->content);
		v->content = json_object();
	}
	ctheme = json_object_get(v->content, "theme");
	if (jstr(theme, "name")) {
		free(v->shop_name);
		v->shop_name = strdup(jstr(theme, "name"));
	}
	lang = jstr(v->content, "lang") ? jstr(v->content, "lang")
	       : jstr(theme, "lang")    ? jstr(theme, "lang")
	                                : v->lang;
	snprintf(v->lang, sizeof(v->lang), "%s", strcmp(lang, "sw") == 0 ? "sw" : "en");
	v->w = strcmp(v->lang, "sw") == 0 ? &words_sw : &words_en;
	pick_color(v->primary, ctheme, theme, "primary", SF_DEFAULT_PRIMARY);
	pick_color(v->background, ctheme, theme, "background", SF_DEFAULT_BACKGROUND);
	pick_color(v->text, ctheme, theme, "text", SF_DEFAULT_TEXT);
	/* the draft's colours were checked when saved; colours set elsewhere (the web chat's
	 * settings) are adjusted here so the page always reads */
	if (storefront_contrast(v->text, v->background) < STOREFRONT_MIN_CONTRAST)
		snprintf(v->text, sizeof(v->text), "%s", ink_on(v->background));
	if (storefront_contrast(ink_on(v->primary), v->primary) < STOREFRONT_MIN_CONTRAST)
		snprintf(v->primary, sizeof(v->primary), "%s", v->text);
	snprintf(v->ink, sizeof(v->ink), "%s", ink_on(v->primary));
out:
	json_decref(theme);
	return rc;
}

static int load_logo(PGconn *conn, struct sf_view *v)
{
	const char *logo = jstr(v->content, "logo_asset_id");
	PGresult *res;

	if (!logo || !util_uuid_valid(logo))
		return 0;
	res = pg_exec(conn,
	              "SELECT id, width, height FROM storefront_assets WHERE tenant_id ="
	              " app_tenant_id() AND parent_asset_id = $1 AND variant = 'thumb'",
	              1, (const char *const[]){logo});
	if (!res)
		return PG_ERR_QUERY;
	if (PQntuples(res) == 1) {
		v->logo_id = strdup(PQgetvalue(res, 0, 0));
		v->logo_w = atoi(PQgetvalue(res, 0, 1));
		v->logo_h = atoi(PQgetvalue(res, 0, 2));
	}
	PQclear(res);
	return 0;
}

static int load_banners(PGconn *conn, struct sf_view *v, const char *storefront_id)
{
	PGresult *res;
	char *draft = NULL;
	int i, n;

	if (v->rq->draft) {
		draft = json_dumps(json_object_get(v->content, "banners") ? json_object_get(
		                                                                v->content, "banners")
		                                                          : json_array(),
		                   JSON_COMPACT | JSON_ENCODE_ANY);
		if (!draft)
			return PG_ERR_QUERY;
		res = pg_exec(
		    conn,
		    "SELECT x.e->>'title', x.e->>'link_url', a.id"
		    " FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(e, n)"
		    " LEFT JOIN storefront_assets a ON a.tenant_id = app_tenant_id()"
		    "  AND a.parent_asset_id = (x.e->>'asset_id')::uuid AND a.variant = 'card'"
		    " WHERE COALESCE((x.e->>'starts_at')::timestamptz <= now(), true)"
		    "  AND COALESCE((x.e->>'ends_at')::timestamptz > now(), true) ORDER BY x.n",
		    1, (const char *const[]){draft});
		free(draft);
	} else {
		res = pg_exec(conn,
		              "SELECT b.title, b.link_url, a.id FROM storefront_banners b"
		              " LEFT JOIN storefront_assets a ON a.tenant_id = b.tenant_id"
		              "  AND a.parent_asset_id = b.asset_id AND a.variant = 'card'"
		              " WHERE b.tenant_id = app_tenant_id() AND b.storefront_id = $1"
		              "  AND b.active AND (b.starts_at IS NULL OR b.starts_at <= now())"
		              "  AND (b.ends_at IS NULL OR b.ends_at > now()) ORDER BY b.position",
		              1, (const char *const[]){storefront_id});
	}
	if (!res)
		return PG_ERR_QUERY;
	n = PQntuples(res);
	v->banners = calloc((size_t)n + 1, sizeof(*v->banners));
	if (!v->banners) {
		PQclear(res);
		return PG_ERR_ABORT;
	}
	for (i = 0; i < n; i++) {
		v->banners[i].title = dup_or_null(res, i, 0);
		v->banners[i].link_url = dup_or_null(res, i, 1);
		v->banners[i].card_id = dup_or_null(res, i, 2);
	}
	v->nbanners = n;
	PQclear(res);
	return 0;
}

static int load_products(PGconn *conn, struct sf_view *v)
{
	PGresult *res = pg_exec(
	    conn,
	    "SELECT p.id, p.sku, p.name, p.description, p.category, p.currency, p.image_url,"
	    " card.id, thumb.id, p.price_minor, p.stock, card.width, card.height"
	    " FROM products p"
	    " LEFT JOIN storefront_assets card ON card.tenant_id = p.tenant_id"
	    "  AND card.parent_asset_id = p.image_asset_id AND card.variant = 'card'"
	    " LEFT JOIN storefront_assets thumb ON thumb.tenant_id = p.tenant_id"
	    "  AND thumb.parent_asset_id = p.image_asset_id AND thumb.variant = 'thumb'"
	    " WHERE p.tenant_id = app_tenant_id() AND p.active AND p.deleted_at IS NULL"
	    "  AND ($1::text IS NULL OR p.sku = $1)"
	    " ORDER BY p.category, p.name, p.sku LIMIT 500",
	    1, (const char *const[]){v->rq->sku});
	int i, n;

	if (!res)
		return PG_ERR_QUERY;
	n = PQntuples(res);
	v->products = calloc((size_t)n + 1, sizeof(*v->products));
	if (!v->products) {
		PQclear(res);
		return PG_ERR_ABORT;
	}
	for (i = 0; i < n; i++) {
		struct sf_product *p = &v->products[i];

		p->id = dup_or_null(res, i, 0);
		p->sku = dup_or_null(res, i, 1);
		p->name = dup_or_null(res, i, 2);
		p->description = dup_or_null(res, i, 3);
		p->category = dup_or_null(res, i, 4);
		p->currency = dup_or_null(res, i, 5);
		p->image_url = dup_or_null(res, i, 6);
		p->card_id = dup_or_null(res, i, 7);
		p->thumb_id = dup_or_null(res, i, 8);
		p->price_minor = atoll(PQgetvalue(res, i, 9));
		p->stock = atol(PQgetvalue(res, i, 10));
		p->card_w = atoi(PQgetvalue(res, i, 11));
		p->card_h = atoi(PQgetvalue(res, i, 12));
		if (p->image_url && strncmp(p->image_url, "https://", 8) != 0) {
			free(p->image_url); /* only https pictures from elsewhere */
			p->image_url = NULL;
		}
	}
	v->nproducts = n;
	PQclear(res);
	return 0;
}

/* The channels whose adapter makes an order link, the first of each type. */
static int load_channels(PGconn *conn, struct sf_view *v)
{
	PGresult *res = pg_exec(conn,
	                        "SELECT type, config::text FROM channels WHERE tenant_id ="
	                        " app_tenant_id() AND status <> 'disabled' ORDER BY created_at, id",
	                        0, NULL);
	int i, k;

	if (!res)
		return PG_ERR_QUERY;
	for (i = 0; i < PQntuples(res) && v->nlinks < SF_LINKS_MAX; i++) {
		const struct channel_ops *ops = channel_ops_find(PQgetvalue(res, i, 0));

		if (!ops || !ops->order_link || !ops->order_title)
			continue;
		for (k = 0; k < v->nlinks && v->links[k].ops != ops; k++)
			;
		if (k < v->nlinks)
			continue;
		v->links[v->nlinks].config = json_loads(PQgetvalue(res, i, 1), 0, NULL);
		if (!v->links[v->nlinks].config)
			continue;
		v->links[v->nlinks++].ops = ops;
	}
	PQclear(res);
	return 0;
}

/* ---- rendering ---- */

static void asset_url(struct sbuf *b, const struct sf_view *v, int absolute, const char *id)
{
	if (absolute)
		sbuf_puts(b, v->rq->base);
	sbuf_puts(b, "/shop/");
	sbuf_puts(b, v->rq->slug);
	sbuf_puts(b, "/assets/");
	sbuf_puts(b, id);
}

static void product_url(struct sbuf *b, const struct sf_view *v, int absolute,
                        const struct sf_product *p)
{
	if (absolute)
		sbuf_puts(b, v->rq->base);
	sbuf_puts(b, "/shop/");
	sbuf_puts(b, v->rq->slug);
	sbuf_puts(b, "/p/");
	/* each part of a SKU with '/' encoded alone: the route takes up to three parts */
	{
		const char *s = p->sku, *slash;

		while ((slash = strchr(s, '/'))) {
			char part[80];

			snprintf(part, sizeof(part), "%.*s", (int)(slash - s), s);
			url_part(b, part);
			sbuf_puts(b, "/");
			s = slash + 1;
		}
		url_part(b, s);
	}
}

static void order_links(struct sbuf *b, const struct sf_view *v, const struct sf_product *p)
{
	char base[256], value[1024];
	const char *param;
	struct sbuf text;
	int i;

	sbuf_puts(b, "<div class=\"order\">");
	sbuf_init(&text);
	if (SW(v))
		sbuf_printf(&text, "Habari! Ningependa kuagiza %s (SKU: %s)", p->name, p->sku);
	else
		sbuf_printf(&text, "Hello! I would like to order %s (SKU: %s)", p->name, p->sku);
	for (i = 0; p->stock > 0 && i < v->nlinks; i++) {
		if (v->links[i].ops->order_link(v->links[i].config, p->sku, text.data ? text.data : "",
		                                base, sizeof(base), &param, value,
		                                sizeof(value)) != 0)
			continue;
		sbuf_puts(b, "<a class=\"btn\" rel=\"noopener\" href=\"");
		html_text(b, base);
		sbuf_printf(b, "?%s=", param);
		url_part(b, value);
		sbuf_puts(b, "\">");
		html_text(b, SW(v) ? "Agiza kwa " : "Order on ");
		html_text(b, v->links[i].ops->order_title);
		sbuf_puts(b, "</a>");
	}
	sbuf_free(&text);
	/* the web chat is every shop's: it starts with this product in front of the shopper */
	sbuf_printf(b, "<a class=\"btn chat\" href=\"/chat/%s?product=", v->rq->slug);
	url_part(b, p->sku);
	sbuf_puts(b, "\">");
	html_text(b, v->w->chat);
	sbuf_puts(b, "</a></div>");
}

static void stock_line(struct sbuf *b, const struct sf_view *v, const struct sf_product *p)
{
	char buf[96];

	if (p->stock <= 0) {
		sbuf_puts(b, "<p class=\"stock out\">");
		html_text(b, v->w->out_of_stock);
	} else if (p->stock <= SF_LOW_STOCK) {
		snprintf(buf, sizeof(buf), SW(v) ? "Zimebaki %ld tu" : "Only %ld left", p->stock);
		sbuf_puts(b, "<p class=\"stock low\">");
		html_text(b, buf);
	} else {
		sbuf_puts(b, "<p class=\"stock\">");
		html_text(b, v->w->in_stock);
	}
	sbuf_puts(b, "</p>");
}

static void product_img(struct sbuf *b, const struct sf_view *v, const struct sf_product *p,
                        int eager)
{
	if (p->card_id) {
		sbuf_puts(b, "<img src=\"");
		asset_url(b, v, 0, p->card_id);
		sbuf_puts(b, "\"");
		if (p->thumb_id) {
			sbuf_puts(b, " srcset=\"");
			asset_url(b, v, 0, p->thumb_id);
			sbuf_printf(b, " %dw, ", STOREFRONT_THUMB_SIZE);
			asset_url(b, v, 0, p->card_id);
			/* a card in the grid is about half a phone's width; the product page's own
			 * picture half a desktop's */
			sbuf_printf(b, " %dw\" sizes=\"%s\"",
			            p->card_w > 0 ? p->card_w : STOREFRONT_CARD_SIZE,
			            eager ? "(max-width: 700px) 100vw, 550px"
			                  : "(max-width: 600px) 45vw, 240px");
		}
		sbuf_printf(b, " width=\"%d\" height=\"%d\"", p->card_w, p->card_h);
	} else if (p->image_url) {
		sbuf_puts(b, "<img src=\"");
		html_text(b, p->image_url);
		sbuf_puts(b, "\"");
	} else {
		return;
	}
	sbuf_puts(b, eager ? "" : " loading=\"lazy\"");
	sbuf_puts(b, " decoding=\"async\" alt=\"");
	html_text(b, p->name);
	sbuf_puts(b, "\">");
}

static void price(char *out, size_t outlen, const struct sf_product *p)
{
	money_format(p->price_minor, p->currency, out, outlen);
}

static void card(struct sbuf *b, const struct sf_view *v, const struct sf_product *p)
{
	char money[64];

	price(money, sizeof(money), p);
	sbuf_puts(b, "<li class=\"card\"><a class=\"pl\" href=\"");
	product_url(b, v, 0, p);
	sbuf_puts(b, "\">");
	product_img(b, v, p, 0);
	sbuf_puts(b, "<h3>");
	html_text(b, p->name);
	sbuf_puts(b, "</h3></a><p class=\"price\">");
	html_text(b, money);
	sbuf_puts(b, "</p>");
	stock_line(b, v, p);
	order_links(b, v, p);
	sbuf_puts(b, "</li>");
}

static const char page_css[] =
    "*{box-sizing:border-box}body{margin:0;font:16px/1.45 system-ui,-apple-system,'Segoe UI',"
    "Roboto,sans-serif;background:var(--bg);color:var(--fg)}a{color:var(--fg)}"
    ".skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:var(--bg);"
    "padding:8px;z-index:9}header,main,footer,nav{max-width:1100px;margin:0 auto;padding:12px 16px}"
    "header{display:flex;gap:12px;align-items:center;flex-wrap:wrap}header img{border-radius:8px;"
    "max-height:64px;width:auto}h1{margin:0;font-size:1.6rem}.headline{margin:0;width:100%}"
    "nav ul{list-style:none;margin:0;padding:0;display:flex;gap:8px;flex-wrap:wrap}"
    "nav a{display:inline-block;padding:6px 10px;border:1px solid var(--fg);border-radius:16px;"
    "text-decoration:none}.banner{background:var(--pr);color:var(--ink);border-radius:10px;"
    "padding:14px;margin:8px 0}.banner a,.banner p{color:var(--ink);margin:0;font-weight:600}"
    ".banner img{width:100%;height:auto;border-radius:8px}"
    ".grid{list-style:none;margin:0;padding:0;display:grid;gap:14px;"
    "grid-template-columns:repeat(auto-fill,minmax(160px,1fr))}.card{border:1px solid #8884;"
    "border-radius:10px;padding:10px;display:flex;flex-direction:column}.card img,.hero img"
    "{width:100%;height:auto;aspect-ratio:1/1;object-fit:cover;border-radius:8px;"
    "background:#8882}.pl{text-decoration:none}h3{font-size:1rem;margin:6px 0}"
    ".price{font-weight:700;margin:2px 0}.stock{margin:2px 0 8px;font-size:.9rem}"
    ".stock.out{text-decoration:line-through}.order{display:flex;flex-direction:column;"
    "gap:6px;margin-top:auto}.btn{display:block;text-align:center;padding:9px 8px;"
    "border-radius:8px;background:var(--pr);color:var(--ink);text-decoration:none;"
    "font-weight:600}.btn.chat{background:transparent;color:var(--fg);border:2px solid var(--pr)}"
    ".btn:focus,nav a:focus,.pl:focus{outline:3px solid var(--fg);outline-offset:2px}"
    ".hero{display:grid;gap:16px}@media(min-width:700px){.hero{grid-template-columns:1fr 1fr}}"
    ".preview{background:#ffd;color:#111;padding:8px 16px;margin:0;text-align:center}";

static void meta(struct sbuf *b, const char *attr, const char *name, const char *value)
{
	sbuf_printf(b, "<meta %s=\"%s\" content=\"", attr, name);
	html_text(b, value);
	sbuf_puts(b, "\">");
}

static void head(struct sbuf *b, const struct sf_view *v, const char *title, const char *desc,
                 const struct sf_product *p)
{
	struct sbuf u;

	sbuf_printf(b, "<!doctype html><html lang=\"%s\"><head><meta charset=\"utf-8\">", v->lang);
	sbuf_puts(b, "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">");
	if (v->rq->draft)
		sbuf_puts(b, "<meta name=\"robots\" content=\"noindex\">");
	sbuf_puts(b, "<title>");
	html_text(b, title);
	sbuf_puts(b, "</title>");
	meta(b, "name", "description", desc);
	/* Open Graph and Twitter cards: absolute URLs */
	sbuf_init(&u);
	if (p)
		product_url(&u, v, 1, p);
	else
		sbuf_printf(&u, "%s/shop/%s", v->rq->base, v->rq->slug);
	sbuf_puts(b, "<link rel=\"canonical\" href=\"");
	html_text(b, u.data);
	sbuf_puts(b, "\">");
	meta(b, "property", "og:type", p ? "product" : "website");
	meta(b, "property", "og:site_name", v->shop_name);
	meta(b, "property", "og:title", title);
	meta(b, "property", "og:description", desc);
	meta(b, "property", "og:url", u.data);
	meta(b, "property", "og:locale", strcmp(v->lang, "sw") == 0 ? "sw_KE" : "en_US");
	sbuf_free(&u);
	sbuf_init(&u);
	if (p && p->card_id)
		asset_url(&u, v, 1, p->card_id);
	else if (p && p->image_url)
		sbuf_puts(&u, p->image_url);
	else if (!p && v->logo_id)
		asset_url(&u, v, 1, v->logo_id);
	if (u.data && *u.data) {
		meta(b, "property", "og:image", u.data);
		meta(b, "property", "og:image:alt", p ? p->name : v->shop_name);
		meta(b, "name", "twitter:image", u.data);
	}
	meta(b, "name", "twitter:card", u.data && *u.data && p ? "summary_large_image" : "summary");
	sbuf_free(&u);
	meta(b, "name", "twitter:title", title);
	meta(b, "name", "twitter:description", desc);
	if (p) {
		char amount[40];

		snprintf(amount, sizeof(amount), "%lld.%02lld", p->price_minor / 100,
		         p->price_minor % 100);
		meta(b, "property", "product:price:amount", amount);
		meta(b, "property", "product:price:currency", p->currency);
		meta(b, "property", "product:availability", p->stock > 0 ? "in stock" : "out of stock");
	}
	sbuf_printf(b, "<style>:root{--bg:%s;--fg:%s;--pr:%s;--ink:%s}%s</style></head><body>",
	            v->background, v->text, v->primary, v->ink, page_css);
	if (v->rq->draft) {
		sbuf_puts(b, "<p class=\"preview\" role=\"note\">");
		html_text(b, v->w->preview);
		sbuf_puts(b, "</p>");
	}
	sbuf_puts(b, "<a class=\"skip\" href=\"#main\">");
	html_text(b, v->w->skip);
	sbuf_puts(b, "</a><header>");
	if (v->logo_id) {
		char alt[300];

		snprintf(alt, sizeof(alt), SW(v) ? "Nembo ya %s" : "%s logo", v->shop_name);
		sbuf_puts(b, "<img src=\"");
		asset_url(b, v, 0, v->logo_id);
		sbuf_printf(b, "\" width=\"%d\" height=\"%d\" alt=\"", v->logo_w, v->logo_h);
		html_text(b, alt);
		sbuf_puts(b, "\">");
	}
	sbuf_printf(b, "<%s>", p ? "p class=\"h1\"" : "h1");
	if (p)
		sbuf_printf(b, "<a href=\"/shop/%s\">", v->rq->slug);
	html_text(b, v->shop_name);
	sbuf_puts(b, p ? "</a></p>" : "</h1>");
	if (!p && jstr(v->content, "headline")) {
		sbuf_puts(b, "<p class=\"headline\">");
		html_text(b, jstr(v->content, "headline"));
		sbuf_puts(b, "</p>");
	}
	sbuf_puts(b, "</header>");
}

static void foot(struct sbuf *b, const struct sf_view *v)
{
	sbuf_puts(b, "<footer>");
	if (jstr(v->content, "about")) {
		sbuf_puts(b, "<h2>");
		html_text(b, v->w->about);
		sbuf_puts(b, "</h2><p>");
		html_text(b, jstr(v->content, "about"));
		sbuf_puts(b, "</p>");
	}
	sbuf_printf(b, "<p><a href=\"/chat/%s\">", v->rq->slug);
	html_text(b, v->w->chat_shop);
	sbuf_puts(b, "</a></p></footer></body></html>");
}

static void render_shop(struct sbuf *b, const struct sf_view *v)
{
	const json_t *fcats = json_object_get(v->content, "featured_categories");
	const json_t *fprods = json_object_get(v->content, "featured_products");
	const char *desc = jstr(v->content, "headline") ? jstr(v->content, "headline")
	                   : jstr(v->content, "about")  ? jstr(v->content, "about")
	                                                : v->shop_name;
	char (*cats)[101] = calloc((size_t)v->nproducts + 1, sizeof(*cats));
	int ncats = 0, i, j, pass, shown;

	head(b, v, v->shop_name, desc, NULL);
	if (!cats)
		return;
	/* categories: the featured ones first, in the seller's order, then the rest */
	for (i = 0; fcats && i < (int)json_array_size(fcats); i++) {
		const char *c = json_string_value(json_array_get(fcats, (size_t)i));

		for (j = 0; c && j < v->nproducts; j++)
			if (strcmp(v->products[j].category, c) == 0)
				break;
		if (c && j < v->nproducts) {
			for (j = 0; j < ncats && strcmp(cats[j], c) != 0; j++)
				;
			if (j == ncats)
				snprintf(cats[ncats++], sizeof(cats[0]), "%s", c);
		}
	}
	for (i = 0; i < v->nproducts; i++) {
		for (j = 0; j < ncats && strcmp(cats[j], v->products[i].category) != 0; j++)
			;
		if (j == ncats)
			snprintf(cats[ncats++], sizeof(cats[0]), "%s", v->products[i].category);
	}
	sbuf_puts(b, "<nav aria-label=\"");
	html_text(b, v->w->categories);
	sbuf_puts(b, "\"><ul>");
	for (i = 0; i < ncats; i++) {
		sbuf_printf(b, "<li><a href=\"#c%d\">", i + 1);
		html_text(b, cats[i]);
		sbuf_puts(b, "</a></li>");
	}
	sbuf_puts(b, "</ul></nav><main id=\"main\">");
	if (v->nbanners > 0) {
		sbuf_puts(b, "<section aria-label=\"");
		html_text(b, v->w->offers);
		sbuf_puts(b, "\">");
		for (i = 0; i < v->nbanners; i++) {
			const struct sf_banner *bn = &v->banners[i];

			sbuf_puts(b, "<div class=\"banner\">");
			if (bn->card_id) {
				sbuf_puts(b, "<img loading=\"lazy\" src=\"");
				asset_url(b, v, 0, bn->card_id);
				sbuf_puts(b, "\" alt=\"\">");
			}
			if (bn->link_url) {
				sbuf_puts(b, "<a href=\"");
				html_text(b, bn->link_url);
				sbuf_puts(b, "\">");
				html_text(b, bn->title);
				sbuf_puts(b, "</a>");
			} else {
				sbuf_puts(b, "<p>");
				html_text(b, bn->title);
				sbuf_puts(b, "</p>");
			}
			sbuf_puts(b, "</div>");
		}
		sbuf_puts(b, "</section>");
	}
	/* featured products, in the seller's order */
	for (pass = 0, shown = 0; fprods && pass < (int)json_array_size(fprods); pass++) {
		const char *sku = json_string_value(json_array_get(fprods, (size_t)pass));

		for (i = 0; sku && i < v->nproducts; i++)
			if (strcmp(v->products[i].sku, sku) == 0) {
				if (!shown++) {
					sbuf_puts(b, "<section aria-labelledby=\"featured\"><h2 id=\"featured\">");
					html_text(b, v->w->featured);
					sbuf_puts(b, "</h2><ul class=\"grid\">");
				}
				card(b, v, &v->products[i]);
			}
	}
	if (shown)
		sbuf_puts(b, "</ul></section>");
	for (i = 0; i < ncats; i++) {
		sbuf_printf(b, "<section aria-labelledby=\"c%d\"><h2 id=\"c%d\">", i + 1, i + 1);
		html_text(b, cats[i]);
		sbuf_puts(b, "</h2><ul class=\"grid\">");
		for (j = 0; j < v->nproducts; j++)
			if (strcmp(v->products[j].category, cats[i]) == 0)
				card(b, v, &v->products[j]);
		sbuf_puts(b, "</ul></section>");
	}
	sbuf_puts(b, "</main>");
	free(cats);
	foot(b, v);
}

static void render_product(struct sbuf *b, const struct sf_view *v, const struct sf_product *p)
{
	char money[64], title[400];

	price(money, sizeof(money), p);
	snprintf(title, sizeof(title), "%s: %s", p->name, money);
	head(b, v, title, p->description && *p->description ? p->description : p->name, p);
	sbuf_printf(b, "<nav aria-label=\"%s\"><ul><li><a href=\"/shop/%s\">",
	            strcmp(v->lang, "sw") == 0 ? "Njia" : "Breadcrumb", v->rq->slug);
	html_text(b, v->w->all);
	sbuf_puts(b, "</a></li><li><a href=\"/shop/");
	sbuf_puts(b, v->rq->slug);
	sbuf_puts(b, "#main\">");
	html_text(b, p->category);
	sbuf_puts(b, "</a></li></ul></nav><main id=\"main\"><article class=\"hero\"><div>");
	product_img(b, v, p, 1);
	sbuf_puts(b, "</div><div><h1>");
	html_text(b, p->name);
	sbuf_puts(b, "</h1><p class=\"price\">");
	html_text(b, money);
	sbuf_puts(b, "</p>");
	stock_line(b, v, p);
	if (p->description && *p->description) {
		sbuf_puts(b, "<p>");
		html_text(b, p->description);
		sbuf_puts(b, "</p>");
	}
	order_links(b, v, p);
	sbuf_puts(b, "</div></article></main>");
	foot(b, v);
}

int storefront_render(PGconn *conn, const struct storefront_req *rq, char **html, size_t *len)
{
	struct sf_view v;
	char storefront_id[37] = "";
	struct sbuf b;
	int rc;

	memset(&v, 0, sizeof(v));
	v.rq = rq;
	v.w = &words_en;
	*html = NULL;
	*len = 0;
	rc = load_shop(conn, &v, storefront_id);
	if (rc == 0)
		rc = load_products(conn, &v);
	if (rc == 0 && rq->sku && v.nproducts != 1)
		rc = STOREFRONT_NOT_FOUND;
	if (rc == 0 && !rq->sku)
		rc = load_banners(conn, &v, storefront_id);
	if (rc == 0)
		rc = load_logo(conn, &v);
	if (rc == 0)
		rc = load_channels(conn, &v);
	if (rc != 0) {
		view_clear(&v);
		return rc;
	}
	sbuf_init(&b);
	if (rq->sku)
		render_product(&b, &v, &v.products[0]);
	else
		render_shop(&b, &v);
	view_clear(&v);
	*len = b.len;
	*html = sbuf_take(&b);
	return *html ? 0 : PG_ERR_ABORT;
}

char *storefront_not_found_html(const char *lang)
{
	int sw = lang && strcmp(lang, "sw") == 0;
	struct sbuf b;

	sbuf_init(&b);
	sbuf_printf(&b,
	            "<!doctype html><html lang=\"%s\"><head><meta charset=\"utf-8\"><meta "
	            "name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>%s"
	            "</title></head><body><main><h1>%s</h1><p>%s</p></main></body></html>",
	            sw ? "sw" : "en", sw ? "Haipatikani" : "Not found",
	            sw ? "Ukurasa huu haupo" : "This page is not here",
	            sw ? "Duka au bidhaa hii haipatikani kwa sasa."
	               : "The shop or product is not available right now.");
	return sbuf_take(&b);
}
