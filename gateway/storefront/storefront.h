/*
 * storefront.h: the public shop (docs/STOREFRONT.md): GET /shop/{slug}, /shop/{slug}/p/{sku}
 * and the assets under /shop/{slug}/assets/{id}, served by worker threads (the loop never
 * waits on PostgreSQL); the page of the published version, or of the draft for the seller's
 * preview, rendered on the server as plain HTML from the live catalog (no cache), with every
 * seller-supplied text escaped. Also the theme's contrast check (WCAG 2) the admin API uses.
 */
#ifndef CCGW_STOREFRONT_H
#define CCGW_STOREFRONT_H

#include <libpq-fe.h>
#include <stddef.h>

#include "http.h"

#define STOREFRONT_WUR __attribute__((warn_unused_result))

#define STOREFRONT_MIN_CONTRAST 4.5 /* WCAG 2 AA for body text */
#define STOREFRONT_THUMB_SIZE   240 /* the thumbnail variant fits 240 x 240 */
#define STOREFRONT_CARD_SIZE    640 /* the card variant fits 640 x 640 */

/* What to render: the tenant (its transaction must be running), the shop's slug, the public
 * base URL without a trailing slash (for absolute Open Graph URLs), a product's SKU or NULL
 * for the shop page, and whether to show the draft (the seller's preview). */
struct storefront_req {
	const char *slug;
	const char *base;
	const char *sku;
	int draft;
};

#define STOREFRONT_NOT_FOUND 1 /* nothing to show: unpublished, no draft, no such product */

/* Inside the tenant's transaction: loads what the page shows and renders it into *html
 * (heap, *len bytes; the caller frees). 0, STOREFRONT_NOT_FOUND, or a PG_ERR_*. */
int storefront_render(PGconn *conn, const struct storefront_req *rq, char **html,
                      size_t *len) STOREFRONT_WUR;

/* The small HTML page of a 404 in the language given ("en" or "sw"; heap). */
char *storefront_not_found_html(const char *lang) STOREFRONT_WUR;

/* 1 when c is "#rrggbb". */
int storefront_color_valid(const char *c);
/* The WCAG 2 contrast ratio of two "#rrggbb" colours (1 to 21), or 0 when one is invalid. */
double storefront_contrast(const char *a, const char *b);

/* The routes (routes.c). */
void storefront_page(struct http_ctx *ctx, const struct http_request *req,
                     struct http_response *resp);
void storefront_product(struct http_ctx *ctx, const struct http_request *req,
                        struct http_response *resp);
void storefront_asset(struct http_ctx *ctx, const struct http_request *req,
                      struct http_response *resp);

#endif
