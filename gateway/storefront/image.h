/*
 * image.h: images for the storefront's assets, through libvips: the type of an upload by its
 * magic bytes (JPEG, PNG, WebP; nothing else is taken), its size, and scaled-down JPEG
 * variants (thumbnail, card) made at upload. No I/O: bytes in, bytes out. Thread-safe; libvips
 * is started once per process on first use, with its operation cache off.
 */
#ifndef CCGW_IMAGE_H
#define CCGW_IMAGE_H

#include <stddef.h>

#define IMAGE_WUR __attribute__((warn_unused_result))

#define IMAGE_MAX_PIXELS (40L * 1000 * 1000) /* larger images are refused (decoding bombs) */

enum image_type { IMAGE_NONE = 0, IMAGE_JPEG, IMAGE_PNG, IMAGE_WEBP };

/* The type the first bytes say, or IMAGE_NONE. */
enum image_type image_sniff(const void *buf, size_t len);
/* "image/jpeg", "image/png", "image/webp"; NULL for IMAGE_NONE. */
const char *image_mime(enum image_type type);

/* Reads the image's header: 0 with its size, or -1 with err (not an image libvips can read,
 * or larger than IMAGE_MAX_PIXELS). */
int image_probe(const void *buf, size_t len, int *width, int *height, char *err,
                size_t errlen) IMAGE_WUR;

/* A variant made by image_variant_make; free with image_variant_clear. */
struct image_variant {
	void *data; /* JPEG bytes (g_malloc'd: image_variant_clear frees them) */
	size_t len;
	int width, height;
};

/* The image scaled down (never up) to fit max_width x max_height, transparency flattened
 * onto white, saved as a progressive JPEG without metadata. 0, or -1 with err. */
int image_variant_make(const void *buf, size_t len, int max_width, int max_height,
                       struct image_variant *out, char *err, size_t errlen) IMAGE_WUR;
void image_variant_clear(struct image_variant *v);

#endif
