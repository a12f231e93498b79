/*
 * channel_sim.c: what the adapters' simulator sides share (channel_sim.h).
 */
#include "channel_sim.h"

void channel_sim_choice_add(json_t *choices, const char *title, const char *payload,
                            const char *description)
{
	json_t *c;

	if (!title || !payload)
		return;
	c = json_pack("{s:s, s:s}", "title", title, "payload", payload);
	if (c && description && *description)
		json_object_set_new(c, "description", json_string(description));
	if (c)
		json_array_append_new(choices, c);
}
