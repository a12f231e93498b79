/*
 * telegram.h: the Telegram Bot API adapter. Today it holds what a seller registers (the bot
 * token from @BotFather and the secret token Telegram sends back in
 * X-Telegram-Bot-Api-Secret-Token) and the type's settings; inbound updates and rendering
 * come with the Telegram channel.
 */
#ifndef CCGW_TELEGRAM_H
#define CCGW_TELEGRAM_H

#include "channel.h"

extern const struct channel_ops telegram_channel_ops;
/* telegram_sim.c: the Bot API for `ccgw simulate` */
extern const struct channel_sim_ops telegram_sim_ops;

#endif
