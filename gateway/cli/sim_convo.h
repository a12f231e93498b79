/*
 * sim_convo.h: conversation files for `ccgw simulate test` (docs/SIMULATE.md): reading them
 * (one step a line: tenant:, channel:, me:, tap:, bot:, bot!:, location:, contact:, ---, #),
 * running each conversation as a fresh shopper through a simulator run (sim.h), and the
 * JUnit XML report, one testcase per conversation.
 */
#ifndef CCGW_SIM_CONVO_H
#define CCGW_SIM_CONVO_H

#include <stdio.h>

struct sim;

enum sim_step_kind {
	SIM_STEP_ME,
	SIM_STEP_TAP,
	SIM_STEP_BOT,
	SIM_STEP_BOT_NOT,
	SIM_STEP_LOCATION,
	SIM_STEP_CONTACT,
};

struct sim_step {
	enum sim_step_kind kind;
	int line;
	char *arg;
	double lat, lon; /* location */
};

struct sim_convo {
	char *name; /* the first comment of the conversation, or "conversation N" */
	int line;   /* where it starts */
	char tenant[64];
	char channel[16];
	struct sim_step *steps;
	size_t nsteps;
	/* the outcome */
	int failed;
	char *failure; /* "FILE:LINE: ..." */
	double seconds;
};

struct sim_file {
	char *path;
	struct sim_convo *convos;
	size_t nconvos;
};

/* Reads a conversation file; defaults for conversations that name no tenant or channel.
 * NULL with err ("FILE: ..." or "FILE:LINE: ...") when it cannot be read or parsed. */
struct sim_file *sim_file_read(const char *path, const char *def_tenant, const char *def_channel,
                               char *err, size_t errlen) __attribute__((warn_unused_result));
void sim_file_free(struct sim_file *f);

/* Runs every conversation of f (each a fresh shopper); prints one line per conversation on
 * out and the failures on errout. Returns the number that failed. */
int sim_file_run(struct sim *sim, struct sim_file *f, FILE *out, FILE *errout);

/* The JUnit XML of the files' results; 0, or -1 when it cannot be written. */
int sim_junit_write(const char *path, struct sim_file *const *files, size_t nfiles,
                    const char *const *unreadable, size_t nunreadable)
    __attribute__((warn_unused_result));

/* Prints a reply as the platform shows it (choices numbered from 1) with prefix on each
 * line. */
void sim_reply_print(FILE *out, const char *prefix, const void *reply);

#endif
