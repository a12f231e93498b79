/*
 * sim.h: the simulator behind `ccgw simulate` (docs/SIMULATE.md). A run (struct sim) owns the
 * fake platform API (sim_api.h), a gateway (in this process, or an existing `ccgw serve`
 * given by URL), a database session, and one simulated channel per tenant and type, which it
 * registers through the admin API's own code or reuses. A shopper (struct sim_shopper) is a
 * fresh WhatsApp number, Telegram chat or web chat session that sends signed webhooks,
 * Telegram updates or WebSocket frames through the production path and reads the replies.
 */
#ifndef CCGW_SIM_H
#define CCGW_SIM_H

#include <jansson.h>
#include <stddef.h>

#define SIM_WUR __attribute__((warn_unused_result))

struct sim;
struct sim_shopper;

/* Opens a run: the configuration (as every command: .ccgw/env, CCGW_*), the database, the
 * fake API, and a gateway in this process unless url (an existing serve on this database,
 * http://IPv4:PORT) is given. NULL with err. */
struct sim *sim_open(const char *url, char *err, size_t errlen) SIM_WUR;
/* Stops the gateway and the fake API, releases the channels (NULL is ignored). */
void sim_close(struct sim *sim);
/* Asks a run to stop (from a signal handler): the gateway stops taking requests. */
void sim_interrupt(void);

/* The channel type a run simulates when none is named. */
#define SIM_DEFAULT_CHANNEL "whatsapp"

/* 1 when type is a channel type with a simulator (channel_ops.sim). */
int sim_channel_type_ok(const char *type);
/* The types with a simulator, comma-separated, into out (returned). */
const char *sim_channel_types(char *out, size_t outlen);

/* A new shopper of tenant slug on a simulated channel of type, shown to the shop as name
 * (NULL: "Simulated Shopper"). NULL with err (no such tenant, the channel could not be
 * registered, the web chat refused the socket). */
struct sim_shopper *sim_shopper_new(struct sim *sim, const char *slug, const char *type,
                                    const char *name, char *err, size_t errlen) SIM_WUR;
void sim_shopper_free(struct sim_shopper *sh);
/* What the shopper calls itself on the platform: the number, the chat id or the session. */
const char *sim_shopper_id(const struct sim_shopper *sh);

/* The shopper sends text; presses a choice ({"title", "payload"} of a reply); shares a
 * place or a phone number. 0, or -1 with err (the gateway's answer when it refused). */
int sim_shopper_text(struct sim_shopper *sh, const char *text, char *err, size_t errlen) SIM_WUR;
int sim_shopper_press(struct sim_shopper *sh, const json_t *choice, char *err,
                      size_t errlen) SIM_WUR;
int sim_shopper_location(struct sim_shopper *sh, double lat, double lon, char *err,
                         size_t errlen) SIM_WUR;
int sim_shopper_contact(struct sim_shopper *sh, const char *phone, char *err,
                        size_t errlen) SIM_WUR;

/* Waits up to ms until every reply the bot wrote for the shopper so far has been sent (the
 * outbox has none pending for it), so sim_shopper_reply(sh, 0) then gives them all. 0, or
 * -1 on a timeout, a database error, or a channel that cannot tell (the web chat's socket:
 * then wait for quiet). */
int sim_shopper_settle(struct sim_shopper *sh, int ms) SIM_WUR;

/* The next reply to the shopper within ms, or NULL: {"text": "...", "choices": [{"title",
 * "payload", "description"?}], "list_button"?}. The caller owns it. */
json_t *sim_shopper_reply(struct sim_shopper *sh, int ms) SIM_WUR;

#endif
