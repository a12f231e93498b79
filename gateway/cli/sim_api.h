/*
 * sim_api.h: the fake platform API of `ccgw simulate` (docs/SIMULATE.md): a small HTTP server
 * on a loopback port, in this process. A simulated channel of type T has the API base
 * <base>/T; each request under it is answered as the platform answers by T's simulator
 * (channels/channel_sim.h), which also says what the shopper sees, kept here as a reply the
 * simulated shopper reads.
 */
#ifndef CCGW_SIM_API_H
#define CCGW_SIM_API_H

#include <jansson.h>
#include <stddef.h>

struct sim_api;

/* Starts the server on 127.0.0.1 (a free port) and its thread. NULL with err on failure. */
struct sim_api *sim_api_start(char *err, size_t errlen) __attribute__((warn_unused_result));
/* Stops the thread and frees everything (NULL is ignored). */
void sim_api_free(struct sim_api *api);
/* "http://127.0.0.1:PORT"; a channel type's API base is this + "/<type>". Borrowed. */
const char *sim_api_base_url(const struct sim_api *api);

/*
 * The next reply sent to recipient (the shopper's platform id), waiting up to ms; NULL when
 * none came. The caller owns the reply (channel_sim.h: outbound).
 */
json_t *sim_api_take(struct sim_api *api, const char *recipient, int ms)
    __attribute__((warn_unused_result));

/* Requests answered so far (for the report of a failing run). */
unsigned long sim_api_requests(const struct sim_api *api);

#endif
