/*
 * image.c: the storefront's image handling on libvips (image.h): magic bytes, the header
 * check, and scaled JPEG variants. libvips does the decoding and scaling (shrink-on-load for
 * JPEG and WebP, a proper kernel for the rest); nothing here touches pixels.
 */
#include "image.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <vips/vips.h>

static pthread_once_t image_once = PTHREAD_ONCE_INIT;
static int image_ready;

static void image_start(void)
{
	if (vips_init("ccgw") != 0)
		return;
	vips_cache_set_max(0);     /* each upload is new: keep nothing between calls */
	vips_concurrency_set(1);   /* a request's worker thread, not a pool per image */
	image_ready = 1;
}

static int image_ensure(char *err, size_t errlen)
{
	pthread_once(&image_once, image_start);
	if (!image_ready) {
		snprintf(err, errlen, "the image library could not start");
		return -1;
	}
	return 0;
}

enum image_type image_sniff(const void *buf, size_t len)
{
	const unsigned char *b = buf;

	if (len >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
		return IMAGE_JPEG;
	if (len >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0)
		return IMAGE_PNG;
	if (len >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0)
		return IMAGE_WEBP;
	return IMAGE_NONE;
}

const char *image_mime(enum image_type type)
{
	switch (type) {
	case IMAGE_JPEG:
		return "image/jpeg";
	case IMAGE_PNG:
		return "image/png";
	case IMAGE_WEBP:
		return "image/webp";
	case IMAGE_NONE:
	default:
		return NULL;
	}
}

static void vips_err(char *err, size_t errlen, const char *what)
{
	const char *msg = vips_error_buffer();
	size_t n = strcspn(msg ? msg : "", "\n");

	snprintf(err, errlen, "%s%s%.*s", what, n ? ": " : "", (int)(n > 200 ? 200 : n),
	         msg ? msg : "");
	vips_error_clear();
}

int image_probe(const void *buf, size_t len, int *width, int *height, char *err, size_t errlen)
{
	VipsImage *im;
	int rc = -1;

	if (image_ensure(err, errlen) < 0)
		return -1;
	im = vips_image_new_from_buffer(buf, len, "", "access", VIPS_ACCESS_SEQUENTIAL, NULL);
	if (!im) {
		vips_err(err, errlen, "not a readable image");
		return -1;
	}
	*width = vips_image_get_width(im);
	*height = vips_image_get_height(im);
	if (*width <= 0 || *height <= 0)
		snprintf(err, errlen, "the image has no pixels");
	else if ((long)*width * (long)*height > IMAGE_MAX_PIXELS)
		snprintf(err, errlen, "the image is %d x %d pixels; at most %ld megapixels are taken",
		         *width, *height, IMAGE_MAX_PIXELS / 1000000);
	else
		rc = 0;
	g_object_unref(im);
	return rc;
}

int image_variant_make(const void *buf, size_t len, int max_width, int max_height,
                       struct image_variant *out, char *err, size_t errlen)
{
	VipsImage *thumb = NULL, *flat = NULL, *use;
	VipsArrayDouble *white = NULL;
	void *data = NULL;
	size_t dlen = 0;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (image_ensure(err, errlen) < 0)
		return -1;
	if (vips_thumbnail_buffer((void *)buf, len, &thumb, max_width, "height", max_height, "size",
	                          VIPS_SIZE_DOWN, NULL) != 0) {
		vips_err(err, errlen, "the image could not be scaled");
		goto out;
	}
	use = thumb;
	if (vips_image_hasalpha(thumb)) {
		white = vips_array_double_newv(3, 255.0, 255.0, 255.0);
		if (vips_flatten(thumb, &flat, "background", white, NULL) != 0) {
			vips_err(err, errlen, "the image could not be flattened");
			goto out;
		}
		use = flat;
	}
	if (vips_jpegsave_buffer(use, &data, &dlen, "Q", 82, "strip", TRUE, "interlace", TRUE,
	                         NULL) != 0) {
		vips_err(err, errlen, "the image could not be saved");
		goto out;
	}
	out->data = data;
	out->len = dlen;
	out->width = vips_image_get_width(use);
	out->height = vips_image_get_height(use);
	rc = 0;
out:
	if (white)
		vips_area_unref(VIPS_AREA(white));
	if (flat)
		g_object_unref(flat);
	if (thumb)
		g_object_unref(thumb);
	return rc;
}

void image_variant_clear(struct image_variant *v)
{
	if (!v)
		return;
	g_free(v->data);
	memset(v, 0, sizeof(*v));
}
