/*
 * reply_text.h: a normalized reply (commerce/message.h) as plain text with numbered choices,
 * for channels without buttons: the terminal console, and any adapter's fallback. Choices are
 * numbered buttons first, then list rows section by section: the order in which the engine
 * remembers what it offered (conversations.offered), so typing "2" presses the second.
 */
#ifndef CCGW_REPLY_TEXT_H
#define CCGW_REPLY_TEXT_H

#include <jansson.h>

/* Returns a heap string (caller frees): the text, the card (title, subtitle, price), then
 * "1. Title - description" lines and a one-line hint in the reply's language ("lang").
 * NULL when out of memory or reply is not an object. */
char *reply_text_render(const json_t *reply) __attribute__((warn_unused_result));

/* The text and the card (title, subtitle, price) without the choices, for channels that
 * show the choices as buttons (heap; NULL when out of memory or reply is not an object). An
 * empty string when the reply has neither. */
char *reply_text_plain(const json_t *reply) __attribute__((warn_unused_result));

/* How many numbered choices reply_text_render shows for reply. */
size_t reply_text_choices(const json_t *reply);

#endif
