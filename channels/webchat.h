/*
 * webchat.h: the web chat adapter (CONTRACT: "Web chat WebSocket protocol"). A shopper's text
 * or postback frame becomes a normalized message; a reply becomes a "message" frame, written
 * to the shopper's socket by the process that holds it (deliver_local).
 */
#ifndef CCGW_WEBCHAT_H
#define CCGW_WEBCHAT_H

#include "channel.h"

#define WEBCHAT_CLIENT_ID_MAX 64 /* bytes of a client_msg_id */

extern const struct channel_ops webchat_channel_ops;

#endif
