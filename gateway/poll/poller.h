/*
 * poller.h: long polling, for channels whose adapter can fetch its updates (Telegram's
 * getUpdates) and whose config asks for it. For a seller with no public HTTPS address, and
 * for trying ccgw on a laptop.
 *
 * A supervisor thread looks every few seconds for polling channels (channel_poll_list) and
 * tries to take each one's lease: a session-level advisory lock on a connection of its own,
 * held as long as that connection lives. So one process polls a bot at a time however many
 * run on the database, and when the holder dies its connection closes, the lock is free and
 * another process takes the bot over at its next look. The holder runs a thread per channel:
 * fetch from the stored offset, run the updates through the one inbound flow (inbound.h),
 * and only after they committed store the offset that confirms them, so a restart neither
 * loses nor repeats an update.
 */
#ifndef CCGW_POLLER_H
#define CCGW_POLLER_H

#include "app.h"

struct poller;

/* The poller for app (borrowed for its life); NULL on failure. */
struct poller *poller_new(struct app *app) __attribute__((warn_unused_result));
/* Starts the supervisor; 0 or -1. */
int poller_start(struct poller *p) __attribute__((warn_unused_result));
/* Stops polling (an open long poll is cut), joins the threads, releases the leases. */
void poller_stop(struct poller *p);
void poller_free(struct poller *p);

#endif
