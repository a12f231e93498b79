/*
 * cli_simulate.c: `ccgw simulate chat` (a terminal shopper on a simulated WhatsApp, Telegram
 * or web chat channel: replies printed as the platform shows them, choices numbered, a number
 * presses one, /location LAT,LON and /contact PHONE share those) and `ccgw simulate test
 * FILE... [--junit OUT.xml]` (conversation files: exit 0 all pass, 1 any fails, 2 a file
 * that cannot be read). Both run through sim.h: the fake platform API and the gateway in this
 * process, or an existing serve given with --url.
 */
#include "cli.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "sim.h"
#include "sim_convo.h"

#define CHAT_FIRST_WAIT_MS 10000
#define CHAT_QUIET_MS      600
#define CHAT_LINE_MAX      4096

static volatile sig_atomic_t sim_stop_asked;

static void on_interrupt(int sig)
{
	(void)sig;
	sim_stop_asked = 1;
	sim_interrupt();
}

/* SIGINT/SIGTERM end the run (after the gateway installed its own handlers): a read in
 * progress is interrupted (no SA_RESTART). */
static void interrupts_take(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_interrupt;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void simulate_usage(FILE *to)
{
	fprintf(
	    to,
	    "usage: ccgw simulate chat --tenant SLUG [--channel whatsapp|telegram|webchat] "
	    "[--as NAME] [--url URL]\n"
	    "       ccgw simulate test FILE... [--junit OUT.xml] [--channel C] [--tenant SLUG] "
	    "[--url URL]\n"
	    "  chat: type a message per line; a number presses that choice; /location LAT,LON\n"
	    "        and /contact PHONE share those; Ctrl-D quits\n"
	    "  test: runs conversation files (docs/SIMULATE.md); exit 0 all pass, 1 any fails,\n"
	    "        2 a file cannot be read\n"
	    "  --url: an existing `ccgw serve` on the same database (http://IPv4:PORT) instead\n"
	    "        of a gateway in this process\n");
}

/* ---- chat ---- */

struct chat {
	struct sim_shopper *sh;
	json_t *choices; /* the last offered, in order */
};

static void chat_show(struct chat *c, json_t *reply)
{
	if (json_array_size(json_object_get(reply, "choices")) > 0) {
		json_decref(c->choices);
		c->choices = json_incref(json_object_get(reply, "choices"));
	}
	sim_reply_print(stdout, "", reply);
	fputc('\n', stdout);
	fflush(stdout);
	json_decref(reply);
}

/* Prints what the bot says within first_ms, then until it is quiet. */
static void chat_replies(struct chat *c, int first_ms)
{
	json_t *r = sim_shopper_reply(c->sh, first_ms);

	while (r) {
		chat_show(c, r);
		r = sim_shopper_reply(c->sh, CHAT_QUIET_MS);
	}
}

/* One line the shopper typed. 0, or -1 with the reason on stderr (the chat goes on). */
static int chat_line(struct chat *c, char *line)
{
	char err[512] = "", *end;
	long n;
	int rc;

	if (strncmp(line, "/location ", 10) == 0) {
		double lat, lon;

		if (sscanf(line + 10, "%lf , %lf", &lat, &lon) != 2 || lat < -90 || lat > 90 ||
		    lon < -180 || lon > 180) {
			fprintf(stderr,
			        "usage: /location LAT,LON (e.g. /location -1.2921,36.8219)\n");
			return -1;
		}
		rc = sim_shopper_location(c->sh, lat, lon, err, sizeof(err));
	} else if (strncmp(line, "/contact ", 9) == 0) {
		rc = sim_shopper_contact(c->sh, line + 9, err, sizeof(err));
	} else {
		n = strtol(line, &end, 10);
		if (end != line && *end == '\0' && n >= 1 &&
		    (size_t)n <= json_array_size(c->choices))
			rc = sim_shopper_press(c->sh, json_array_get(c->choices, (size_t)n - 1),
			                       err, sizeof(err));
		else
			rc = sim_shopper_text(c->sh, line, err, sizeof(err));
	}
	if (rc < 0) {
		fprintf(stderr, "ccgw simulate: not sent: %s\n", err);
		return -1;
	}
	/* WhatsApp, Telegram: until nothing is pending for the shopper; the web chat: a while */
	if (sim_shopper_settle(c->sh, CHAT_FIRST_WAIT_MS) == 0)
		chat_replies(c, 0);
	else
		chat_replies(c, CHAT_FIRST_WAIT_MS);
	return 0;
}

/* Reads stdin by hand (a line at a time, with poll) so late replies are printed while the
 * shopper types. */
static void chat_loop(struct chat *c)
{
	char buf[CHAT_LINE_MAX + 1];
	size_t len = 0;
	int eof = 0;

	while (!sim_stop_asked && !eof) {
		struct pollfd p = {STDIN_FILENO, POLLIN, 0};
		char *nl;
		ssize_t n;

		chat_replies(c, 0);
		if (poll(&p, 1, 200) <= 0)
			continue;
		n = read(STDIN_FILENO, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			eof = 1;
			if (len == 0)
				break;
			buf[len++] = '\n'; /* the last line without a line end */
		} else {
			len += (size_t)n;
		}
		while ((nl = memchr(buf, '\n', len))) {
			size_t used = (size_t)(nl - buf) + 1;

			*nl = '\0';
			if (nl > buf && nl[-1] == '\r')
				nl[-1] = '\0';
			if (buf[0])
				(void)chat_line(c, buf);
			memmove(buf, buf + used, len - used);
			len -= used;
		}
		if (len == sizeof(buf) - 1) {
			fprintf(stderr, "ccgw simulate: a line over %d bytes was dropped\n",
			        CHAT_LINE_MAX);
			len = 0;
		}
	}
}

static int simulate_chat(int argc, char **argv)
{
	const char *slug = NULL, *channel = SIM_DEFAULT_CHANNEL, *name = NULL, *url = NULL;
	struct chat c = {NULL, NULL};
	struct sim *sim = NULL;
	char err[512];
	int i, rc = 1;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--tenant") == 0 && i + 1 < argc)
			slug = argv[++i];
		else if (strcmp(argv[i], "--channel") == 0 && i + 1 < argc)
			channel = argv[++i];
		else if (strcmp(argv[i], "--as") == 0 && i + 1 < argc)
			name = argv[++i];
		else if (strcmp(argv[i], "--url") == 0 && i + 1 < argc)
			url = argv[++i];
		else {
			simulate_usage(stderr);
			return 2;
		}
	}
	if (!slug || !sim_channel_type_ok(channel) || (name && strlen(name) > 100)) {
		simulate_usage(stderr);
		return 2;
	}
	sim = sim_open(url, err, sizeof(err));
	if (!sim) {
		fprintf(stderr, "ccgw simulate: %s\n", err);
		return 1;
	}
	interrupts_take();
	c.sh = sim_shopper_new(sim, slug, channel, name, err, sizeof(err));
	if (!c.sh) {
		fprintf(stderr, "ccgw simulate: %s\n", err);
		goto out;
	}
	fprintf(
	    stderr,
	    "Chatting with '%s' on simulated %s as %s (%s). Type a message (\"hi\" to start), a "
	    "number to press a choice, /location LAT,LON, /contact PHONE; Ctrl-D quits.\n",
	    slug, channel, name ? name : "Simulated Shopper", sim_shopper_id(c.sh));
	chat_loop(&c);
	rc = 0;
out:
	json_decref(c.choices);
	sim_shopper_free(c.sh);
	sim_close(sim);
	return rc;
}

/* ---- test ---- */

static int simulate_test(int argc, char **argv)
{
	const char *junit = NULL, *url = NULL, *tenant = "demo", *channel = SIM_DEFAULT_CHANNEL;
	struct sim_file **files = NULL;
	const char **unreadable = NULL;
	size_t nfiles = 0, nunread = 0, npaths = 0, k;
	const char **paths = NULL;
	struct sim *sim = NULL;
	char err[1024];
	int i, failed = 0, rc = 1, total = 0;

	paths = calloc((size_t)argc, sizeof(*paths));
	files = calloc((size_t)argc, sizeof(*files));
	unreadable = calloc((size_t)argc, sizeof(*unreadable));
	if (!paths || !files || !unreadable) {
		fprintf(stderr, "ccgw simulate: out of memory\n");
		goto out;
	}
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--junit") == 0 && i + 1 < argc)
			junit = argv[++i];
		else if (strcmp(argv[i], "--url") == 0 && i + 1 < argc)
			url = argv[++i];
		else if (strcmp(argv[i], "--tenant") == 0 && i + 1 < argc)
			tenant = argv[++i];
		else if (strcmp(argv[i], "--channel") == 0 && i + 1 < argc)
			channel = argv[++i];
		else if (strncmp(argv[i], "--", 2) == 0) {
			simulate_usage(stderr);
			rc = 2;
			goto out;
		} else
			paths[npaths++] = argv[i];
	}
	if (npaths == 0 || !sim_channel_type_ok(channel)) {
		simulate_usage(stderr);
		rc = 2;
		goto out;
	}
	for (k = 0; k < npaths; k++) {
		struct sim_file *f = sim_file_read(paths[k], tenant, channel, err, sizeof(err));

		if (!f) {
			fprintf(stderr, "ccgw simulate: %s\n", err);
			unreadable[nunread++] = paths[k];
			continue;
		}
		files[nfiles++] = f;
	}
	if (nfiles > 0) {
		sim = sim_open(url, err, sizeof(err));
		if (!sim) {
			fprintf(stderr, "ccgw simulate: %s\n", err);
			goto out;
		}
		interrupts_take();
	}
	for (k = 0; k < nfiles && !sim_stop_asked; k++) {
		failed += sim_file_run(sim, files[k], stdout, stderr);
		total += (int)files[k]->nconvos;
	}
	printf("%d conversation%s, %d failed%s\n", total, total == 1 ? "" : "s", failed,
	       nunread ? ", and a file could not be read" : "");
	if (junit && sim_junit_write(junit, files, nfiles, unreadable, nunread) < 0) {
		fprintf(stderr, "ccgw simulate: cannot write %s: %s\n", junit, strerror(errno));
		goto out;
	}
	rc = sim_stop_asked ? 1 : nunread ? 2 : failed ? 1 : 0;
out:
	sim_close(sim);
	for (k = 0; k < nfiles; k++)
		sim_file_free(files[k]);
	free(files);
	free(unreadable);
	free(paths);
	return rc;
}

int cli_simulate(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "chat") == 0)
		return simulate_chat(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "test") == 0)
		return simulate_test(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		simulate_usage(stdout);
		return 0;
	}
	simulate_usage(stderr);
	return 2;
}
