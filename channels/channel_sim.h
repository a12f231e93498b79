/*
 * channel_sim.h: the platform's side of `ccgw simulate` (docs/SIMULATE.md), one per adapter
 * that can be simulated (channel_ops.sim): what a simulated channel registers, how a
 * shopper's step becomes the webhook request the platform would send (signed as it signs),
 * and how a request the adapter sends to the platform is answered as the platform answers
 * and shown to the shopper as a normalized reply. Pure functions, no I/O, like the adapters.
 */
#ifndef CCGW_CHANNEL_SIM_H
#define CCGW_CHANNEL_SIM_H

#include <jansson.h>
#include <stddef.h>

#include "channel.h"

/* A simulated shopper as the platform knows it. */
struct channel_sim_shopper {
	const char *id;   /* from shopper_id */
	const char *name; /* the profile name */
	long long seq;    /* a number never used before: message and update ids */
};

enum channel_sim_act {
	CHANNEL_SIM_TEXT = 0,
	CHANNEL_SIM_PRESS, /* a button or list row of a reply */
	CHANNEL_SIM_LOCATION,
	CHANNEL_SIM_CONTACT, /* text: the phone number */
};

struct channel_sim_input {
	enum channel_sim_act act;
	const char *text;
	const json_t *choice; /* PRESS: one of a reply's "choices", as outbound made it */
	double lat, lon;
};

struct channel_sim_ops {
	/* 1: a shopper speaks the gateway's web chat socket (CONTRACT: "Web chat WebSocket
	 * protocol"); the members below are then unused (NULL). */
	int socket;
	/* The registration body (POST /api/v1/channels) of a new simulated channel: fresh
	 * secrets hex[0..2] (48 hex characters each) and digits (12 random digits) for the
	 * platform's ids. NULL on OOM; the caller wipes and frees it. */
	json_t *(*registration)(const char *const hex[3], const char *digits);
	/* A new shopper's platform id from 12 random digits, into out. */
	void (*shopper_id)(const char *digits, char *out, size_t outlen);
	/* The webhook request (headers and body; the caller sets the URL) the platform sends for
	 * the shopper's input, authenticated with the opened channel config as the platform
	 * does. 0, or -1 with err. */
	int (*inbound)(const json_t *config, const struct channel_sim_shopper *sh,
	               const struct channel_sim_input *in, struct channel_request *out, char *err,
	               size_t errlen);
	/*
	 * A request the adapter sent (path after the API base, body parsed: NULL when not
	 * JSON): *status and *answer (heap JSON text) as the platform answers; *reply the
	 * normalized reply the shopper sees, {"text", "choices": [{"title", "payload",
	 * "description"?, ...}], "list_button"?} (NULL for a request that shows nothing), and
	 * recipient the shopper's id. seq: a number never used before. 0, or -1 out of memory.
	 */
	int (*outbound)(const char *path, const json_t *body, long long seq, int *status,
	                char **answer, char *recipient, size_t rlen, json_t **reply);
};

/* A normalized reply's choice (channel_sim_ops.outbound): appends {"title", "payload",
 * "description"?} to choices, or nothing when title or payload is NULL. */
void channel_sim_choice_add(json_t *choices, const char *title, const char *payload,
                            const char *description);

#endif
