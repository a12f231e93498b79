/*
 * jfield.c: field readers for JSON objects, shared by the admin API and the channel adapters'
 * registration checks, so a field is refused in the same words wherever it is read.
 */
#include "jfield.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"

void jfield_error_set(struct jfield_error *err, const char *prefix, const char *field,
		      const char *fmt, ...)
{
	va_list ap;

	snprintf(err->field, sizeof(err->field), "%s%s", prefix ? prefix : "", field);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

/* Characters (not bytes) of valid UTF-8; -1 when s holds a control character other than
 * tab, newline or carriage return. */
static long text_chars(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
			return -1;
		if (c == 0x7f)
			return -1;
	}
	return (long)utf8_count(s);
}

/* The field's value, or NULL when absent or null (err set when it was required). */
static const json_t *field_get(const json_t *obj, const char *prefix, const char *name,
			       int required, int *rc, struct jfield_error *err)
{
	const json_t *v = json_object_get(obj, name);

	if (!v || json_is_null(v)) {
		*rc = required ? -1 : 0;
		if (required)
			jfield_error_set(err, prefix, name, "is required");
		return NULL;
	}
	return v;
}

int jfield_string(const json_t *obj, const char *prefix, const char *name, int required,
		  size_t minchars, size_t maxchars, const char **out, struct jfield_error *err)
{
	int rc;
	const json_t *v = field_get(obj, prefix, name, required, &rc, err);
	const char *s;
	size_t len;
	long n;

	if (!v)
		return rc;
	if (!json_is_string(v)) {
		jfield_error_set(err, prefix, name, "must be a string");
		return -1;
	}
	s = json_string_value(v);
	len = json_string_length(v);
	if (strlen(s) != len) {
		jfield_error_set(err, prefix, name, "must not contain NUL characters");
		return -1;
	}
	n = text_chars(s, len);
	if (n < 0) {
		jfield_error_set(err, prefix, name, "must not contain control characters");
		return -1;
	}
	if ((size_t)n < minchars) {
		jfield_error_set(err, prefix, name,
				 minchars == 1 ? "must not be empty" : "must be at least %zu characters",
				 minchars);
		return -1;
	}
	if ((size_t)n > maxchars) {
		jfield_error_set(err, prefix, name, "must be at most %zu characters", maxchars);
		return -1;
	}
	*out = s;
	return 1;
}

int jfield_int(const json_t *obj, const char *prefix, const char *name, int required,
	       long long min, long long max, long long *out, struct jfield_error *err)
{
	int rc;
	const json_t *v = field_get(obj, prefix, name, required, &rc, err);
	long long x;

	if (!v)
		return rc;
	if (!json_is_integer(v)) {
		jfield_error_set(err, prefix, name, "must be an integer");
		return -1;
	}
	x = (long long)json_integer_value(v);
	if (x < min) {
		jfield_error_set(err, prefix, name,
				 min == 0 ? "must not be negative" : "must be at least %lld", min);
		return -1;
	}
	if (x > max) {
		jfield_error_set(err, prefix, name, "must be at most %lld", max);
		return -1;
	}
	*out = x;
	return 1;
}

int jfield_bool(const json_t *obj, const char *prefix, const char *name, int required, int *out,
		struct jfield_error *err)
{
	int rc;
	const json_t *v = field_get(obj, prefix, name, required, &rc, err);

	if (!v)
		return rc;
	if (!json_is_boolean(v)) {
		jfield_error_set(err, prefix, name, "must be true or false");
		return -1;
	}
	*out = json_is_true(v);
	return 1;
}

int jfield_known(const json_t *obj, const char *prefix, const char *const *allowed,
		 struct jfield_error *err)
{
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach((json_t *)obj, key, v)
	{
		for (i = 0; allowed[i]; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (!allowed[i]) {
			char shown[48];

			snprintf(shown, sizeof(shown), "%s", key);
			jfield_error_set(err, prefix, shown, "is not a known field");
			return -1;
		}
	}
	return 0;
}

int jfield_chars_ok(const char *s, const char *extra, int digits_only)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= '0' && c <= '9')
			continue;
		if (digits_only)
			return 0;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
			continue;
		if (!strchr(extra, c))
			return 0;
	}
	return 1;
}
