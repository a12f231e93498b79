/*
 * demo_seed.c: the demo shop's catalog and settings (see demo_seed.h). Products are upserted
 * by SKU, so running it again restores names, prices and stock.
 */
#include "demo_seed.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "pg.h"

struct demo_product {
	const char *sku, *name, *category, *description;
	long price_minor;
	int stock;
	int active;
};

/* clang-format off */
static const struct demo_product demo_products[] = {
	{ "HNY-ACA-500", "Acacia Honey 500g", "Honey", "Light, floral honey from Baringo acacia trees.", 85000, 40, 1 },
	{ "HNY-ACA-1K", "Acacia Honey 1kg", "Honey", "Our best seller in the family size jar.", 160000, 25, 1 },
	{ "HNY-FOR-500", "Wild Forest Honey 500g", "Honey", "Dark, rich honey from the Mau forest.", 95000, 30, 1 },
	{ "HNY-COMB-250", "Honeycomb 250g", "Honey", "Raw comb, cut by hand.", 70000, 12, 1 },
	{ "HNY-RAW-250", "Raw Honey 250g", "Honey", "Unfiltered, unheated honey.", 45000, 50, 1 },
	{ "HNY-GIN-350", "Honey with Ginger 350g", "Honey", "Honey blended with fresh ginger.", 65000, 0, 1 },
	{ "COF-AA-BEAN", "Kenya AA Coffee Beans 250g", "Coffee & Tea", "Whole beans from Nyeri, medium roast.", 120000, 35, 1 },
	{ "COF-AA-GRD", "Kenya AA Ground Coffee 500g", "Coffee & Tea", "Ground for filter and French press.", 210000, 20, 1 },
	{ "COF-ESP-250", "Kiambu Espresso Blend 250g", "Coffee & Tea", "Dark roast for espresso.", 110000, 18, 1 },
	{ "TEA-GOLD-100", "Kericho Gold Tea 100 bags", "Coffee & Tea", "Classic Kenyan black tea.", 45000, 60, 1 },
	{ "TEA-PURP-50", "Purple Tea 50g", "Coffee & Tea", "Rare purple leaf tea, rich in antioxidants.", 90000, 15, 1 },
	{ "TEA-MASALA", "Chai Masala Spice 100g", "Coffee & Tea", "Cardamom, ginger, cinnamon and clove.", 35000, 45, 1 },
	{ "COF-INST-100", "Instant Coffee 100g", "Coffee & Tea", "Discontinued.", 40000, 10, 0 },
	{ "MUG-BEAD", "Maasai Beaded Mug", "Kitchen", "Ceramic mug with a hand-beaded band.", 95000, 20, 1 },
	{ "MUG-ENAMEL", "Enamel Chai Mug", "Kitchen", "The classic white and blue enamel mug.", 55000, 40, 1 },
	{ "MUG-SET-2", "Ceramic Mug Set of 2", "Kitchen", "Two stoneware mugs in savannah colours.", 150000, 14, 1 },
	{ "KIT-SPOON", "Olive Wood Spoon", "Kitchen", "Hand-carved cooking spoon.", 40000, 30, 1 },
	{ "KIT-COAST-4", "Sisal Coasters (4)", "Kitchen", "Woven sisal coasters, set of four.", 60000, 25, 1 },
	{ "KIT-JIKO", "Jiko Charcoal Stove", "Kitchen", "Energy-saving ceramic-lined jiko.", 280000, 8, 1 },
	{ "CLO-KIKOI-BLU", "Kikoi Beach Wrap Blue", "Clothing", "Cotton kikoi from Mombasa, blue stripes.", 180000, 16, 1 },
	{ "CLO-KIKOI-RED", "Kikoi Striped Red", "Clothing", "Cotton kikoi, red and gold.", 180000, 16, 1 },
	{ "CLO-TEE-BLK-M", "Nairobi T-Shirt Black M", "Clothing", "Soft cotton tee with the city skyline.", 120000, 22, 1 },
	{ "CLO-TEE-WHT-L", "Nairobi T-Shirt White L", "Clothing", "Soft cotton tee with the city skyline.", 120000, 22, 1 },
	{ "CLO-KANGA", "Kanga Wrap", "Clothing", "Printed kanga with a Swahili saying.", 90000, 30, 1 },
	{ "CLO-SHUKA", "Maasai Shuka Blanket", "Clothing", "Red checked shuka, warm and light.", 220000, 10, 1 },
	{ "BEA-SOAP-SHEA", "Shea Butter Soap", "Beauty", "Handmade soap with shea butter.", 30000, 60, 1 },
	{ "BEA-SOAP-ALOE", "Aloe Vera Soap", "Beauty", "Soothing aloe vera soap bar.", 28000, 55, 1 },
	{ "BEA-SOAP-COCO", "Coconut Oil Soap", "Beauty", "Coastal coconut oil soap bar.", 28000, 55, 1 },
	{ "BEA-OIL-BAOBAB", "Baobab Body Oil 100ml", "Beauty", "Cold-pressed baobab seed oil.", 130000, 12, 1 },
	{ "BEA-SOAP-BLACK", "African Black Soap 200g", "Beauty", "Traditional black soap.", 35000, 40, 1 },
};
/* clang-format on */

static const char demo_settings[] =
    "{\"tax_bp\": 1600,"
    " \"delivery_fee_minor\": 20000,"
    " \"welcome_text\": \"Karibu! Welcome to Duka la Demo, Nairobi's little shop of honey,"
    " coffee, mugs, kikoi and soap.\","
    " \"welcome_text_sw\": \"Karibu Duka la Demo! Tuna asali, kahawa, chai, vikombe, kikoi na"
    " sabuni.\","
    " \"time_zone\": \"Africa/Nairobi\","
    " \"payment_methods\": ["
    "  {\"code\": \"cash_on_delivery\", \"label\": \"Cash on delivery\","
    "   \"instructions\": \"Pay the rider in cash when your order arrives.\","
    "   \"instructions_sw\": \"Mlipe msafirishaji pesa taslimu oda yako ikifika.\"},"
    "  {\"code\": \"mpesa\", \"label\": \"M-Pesa\","
    "   \"instructions\": \"Pay with M-Pesa: Lipa na M-Pesa, Buy Goods, Till 123456. Use your"
    " order number as the reference.\","
    "   \"instructions_sw\": \"Lipa kwa M-Pesa: Lipa na M-Pesa, Buy Goods, Till 123456. Tumia"
    " nambari ya oda yako kama kumbukumbu.\"},"
    "  {\"code\": \"bank_transfer\", \"label\": \"Bank transfer\","
    "   \"instructions\": \"Transfer to Duka la Demo, Equity Bank, account 0123456789, with your"
    " order number as the reference.\","
    "   \"instructions_sw\": \"Tuma pesa kwa Duka la Demo, Equity Bank, akaunti 0123456789,"
    " ukitumia nambari ya oda yako kama kumbukumbu.\"}]}";

/* The demo's storefront (docs/STOREFRONT.md): saved as the draft and published once, so
 * /shop/demo works out of the box; a seller's later edits are kept. */
static const char demo_storefront[] =
    "{\"headline\": \"Honey, coffee, kikoi and soap from Nairobi, delivered to your door\","
    " \"about\": \"Duka la Demo is a small family shop in Nairobi. Order here, on WhatsApp or"
    " on Telegram: we answer every message and deliver across the city.\","
    " \"lang\": \"en\","
    " \"theme\": {\"primary\": \"#0a7d4f\", \"background\": \"#ffffff\", \"text\": \"#1b1b1b\"},"
    " \"logo_asset_id\": null,"
    " \"featured_categories\": [\"Honey\", \"Coffee & Tea\"],"
    " \"featured_products\": [\"HNY-ACA-500\", \"COF-AA-BEAN\", \"MUG-BEAD\", \"CLO-KIKOI-BLU\"],"
    " \"banners\": [{\"title\": \"Free delivery in Nairobi on orders over KES 3,000\"}]}";

int demo_seed_product_count(void)
{
	return (int)(sizeof(demo_products) / sizeof(demo_products[0]));
}

static int refresh_tx(PGconn *conn, void *arg)
{
	const char *tenant_id = arg;
	const char *params[8];
	char price[24], stock[16], channel_id[37];
	size_t i;

	params[0] = tenant_id;
	params[1] = demo_settings;
	if (pg_cmd(conn,
	           "UPDATE tenants SET name = 'Duka la Demo', settings = $2::jsonb WHERE id = $1",
	           2, params) < 0)
		return -1;
	if (pg_cmd(conn,
	           "INSERT INTO order_counters (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING", 1,
	           params) < 0)
		return -1;
	for (i = 0; i < sizeof(demo_products) / sizeof(demo_products[0]); i++) {
		const struct demo_product *p = &demo_products[i];

		snprintf(price, sizeof(price), "%ld", p->price_minor);
		snprintf(stock, sizeof(stock), "%d", p->stock);
		params[1] = p->sku;
		params[2] = p->name;
		params[3] = p->description;
		params[4] = p->category;
		params[5] = price;
		params[6] = stock;
		params[7] = p->active ? "true" : "false";
		if (pg_cmd(conn,
		           "INSERT INTO products (tenant_id, sku, name, description, category,"
		           " price_minor, currency, stock, active)"
		           " VALUES ($1, $2, $3, $4, $5, $6, 'KES', $7, $8)"
		           " ON CONFLICT (tenant_id, sku) WHERE deleted_at IS NULL DO UPDATE SET"
		           " name = EXCLUDED.name, description = EXCLUDED.description,"
		           " category = EXCLUDED.category, price_minor = EXCLUDED.price_minor,"
		           " currency = EXCLUDED.currency, stock = EXCLUDED.stock,"
		           " active = EXCLUDED.active",
		           8, params) < 0)
			return -1;
	}
	if (tenant_channel_ensure(conn, tenant_id, "console", channel_id) < 0 ||
	    tenant_channel_ensure(conn, tenant_id, "webchat", channel_id) < 0)
		return -1;
	params[1] = demo_storefront;
	if (pg_cmd(conn,
	           "INSERT INTO storefront_drafts (tenant_id, content) VALUES ($1, $2::jsonb)"
	           " ON CONFLICT (tenant_id) DO NOTHING",
	           2, params) < 0 ||
	    pg_cmd(conn,
	           "SELECT storefront_publish() WHERE NOT EXISTS (SELECT 1 FROM storefront_config"
	           " WHERE tenant_id = $1 AND published_version IS NOT NULL)",
	           1, params) < 0)
		return -1;
	return 0;
}

int demo_seed(PGconn *conn, char *tenant_id, char *api_key, int *created)
{
	char err[256];
	int rc;

	*created = 0;
	api_key[0] = '\0';
	rc = tenant_id_by_slug(conn, DEMO_SLUG, tenant_id);
	if (rc == TENANT_ERR_NOT_FOUND) {
		rc = tenant_create(conn, DEMO_SLUG, "Duka la Demo", "KES", tenant_id, api_key, err,
		                   sizeof(err));
		if (rc == 0)
			*created = 1;
		else if (rc == TENANT_ERR_DUPLICATE) /* created meanwhile by someone else */
			rc = tenant_id_by_slug(conn, DEMO_SLUG, tenant_id);
	}
	if (rc < 0)
		return rc;
	rc = pg_tx_run(conn, tenant_id, refresh_tx, tenant_id);
	if (rc < 0) {
		log_error(NULL, "demo: seeding the catalog failed");
		return rc;
	}
	return 0;
}
