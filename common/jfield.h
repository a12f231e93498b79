/*
 * jfield.h: reading and checking the fields of a JSON object (a request body, a registration)
 * with errors a person can act on: the field's name, with a prefix such as "[3]." or
 * "status_template.", and what is wrong with it ("must be at most 200 characters").
 */
#ifndef CCGW_JFIELD_H
#define CCGW_JFIELD_H

#include <jansson.h>
#include <stddef.h>

struct jfield_error {
	char field[96];
	char message[256];
};

void jfield_error_set(struct jfield_error *err, const char *prefix, const char *field,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Each reader returns 1 with *out set when the field is given, 0 when it is absent or null and
 * not required, and -1 with err filled otherwise. Strings are counted in characters and may
 * not hold NUL or control characters other than tab, line feed and carriage return.
 */
int jfield_string(const json_t *obj, const char *prefix, const char *name, int required,
		  size_t minchars, size_t maxchars, const char **out, struct jfield_error *err);
int jfield_int(const json_t *obj, const char *prefix, const char *name, int required,
	       long long min, long long max, long long *out, struct jfield_error *err);
int jfield_bool(const json_t *obj, const char *prefix, const char *name, int required, int *out,
		struct jfield_error *err);
/* -1 (err names it) when obj has a key not in allowed (NULL-terminated); else 0. */
int jfield_known(const json_t *obj, const char *prefix, const char *const *allowed,
		 struct jfield_error *err);

/* 1 when every character of s is an ASCII digit, an ASCII letter (unless digits_only) or in
 * extra; 0 otherwise. */
int jfield_chars_ok(const char *s, const char *extra, int digits_only);

#endif
