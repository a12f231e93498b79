/*
 * console.h: the terminal console's adapter (`ccgw console`). It delivers locally: a reply is
 * printed as plain text with numbered choices (reply_text.h) on the shopper's terminal.
 */
#ifndef CCGW_CONSOLE_H
#define CCGW_CONSOLE_H

#include "channel.h"

extern const struct channel_ops console_channel_ops;

#endif
