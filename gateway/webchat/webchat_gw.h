/*
 * webchat_gw.h: the web chat, served by ccgw itself: the page a shop puts on its own site
 * (GET /chat/{slug}, its assets, its look, and the one-line widget.js) and the WebSocket that
 * carries the conversation (CONTRACT: "Web chat WebSocket protocol"; /ws/chat/{slug}).
 *
 * A hello opens or resumes a conversation with a signed session token (HMAC-SHA256 under a
 * key derived from CCGW_SECRET_KEY; it names the tenant, the conversation, the chat and an
 * expiry); text and postback frames go through the one inbound flow (inbound.h) like any
 * channel's messages; replies go to the outbox like every channel's, and the process that
 * holds the shopper's socket delivers them (local delivery): a message's own replies from
 * memory right after its transaction (recorded as sent in batches; frames carry the outbox
 * id), others after a hello (what the shopper missed, in order) and when the outbox's NOTIFY
 * names the conversation (a seller's status change, another process).
 */
#ifndef CCGW_WEBCHAT_GW_H
#define CCGW_WEBCHAT_GW_H

#include "app.h"
#include "http.h"
#include "ws.h"

#define WEBCHAT_RATE       10.0 /* messages per second per connection (bursts of 10) */
#define WEBCHAT_TOKEN_DAYS 30   /* a session token's life; each hello renews it */

/* The WebSocket paths: /ws/chat/{slug}. */
extern const struct ws_route webchat_ws_routes[];

/* Starts the thread that listens for outbox rows for the sockets this process holds. */
int webchat_start(struct app *app) __attribute__((warn_unused_result));
void webchat_stop(void);

/* GET /chat/{slug}: the page. */
void webchat_page(struct http_ctx *ctx, const struct http_request *req,
                  struct http_response *resp);
/* GET /chat/{slug}/{file}: chat.js, chat.css, widget.js, config.json. */
void webchat_asset(struct http_ctx *ctx, const struct http_request *req,
                   struct http_response *resp);

/* A session token for tenant, conversation and chat, valid until expires (seconds since the
 * epoch), into out; and its check: 0 with the three ids when it is ours, untouched and not
 * expired. The key is derived from key (32 bytes; NULL: a key made at start, so tokens do not
 * outlive the process). */
void webchat_token_make(const unsigned char *key, const char *tenant, const char *conv,
                        const char *chat, long long expires, char *out, size_t outlen);
int webchat_token_check(const unsigned char *key, const char *token, long long now,
                        char tenant[37], char conv[37], char chat[37]);

#endif
