/*
 * main.c: the ccgw binary. Takes --config FILE out of the arguments, then hands the rest to
 * the subcommand named first (see cli.h).
 */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "cli.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
} commands[] = {
	{ "serve", cli_serve, "run the gateway (HTTP, webhooks, WebSocket, dispatch)" },
	{ "migrate", cli_migrate, "apply pending migrations from sql/" },
	{ "tenant", cli_tenant, "tenant create --slug S --name N [--currency C]" },
	{ "demo", cli_demo, "create or refresh the demo tenant and its catalog" },
	{ "console", cli_console, "console --tenant SLUG [--user ID]: chat with the shop bot" },
	{ "parse", cli_parse, "parse [--lang L] TEXT: print the NLP reading as JSON" },
	{ "kyc", cli_kyc, "kyc list [--status S] | kyc review --tenant SLUG --approve | --reject --reason TEXT" },
	{ "simulate", cli_simulate, "simulate chat|test: a shopper on a simulated channel, conversation files" },
};

static void usage(FILE *out)
{
	size_t i;

	fprintf(out, "usage: ccgw [--config FILE] COMMAND [ARGS]\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv)
{
	int i, j;
	size_t c;

	/* take --config FILE / --config=FILE out of argv, wherever it stands */
	for (i = 1, j = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			app_config_path = argv[++i];
			continue;
		}
		if (strncmp(argv[i], "--config=", 9) == 0) {
			app_config_path = argv[i] + 9;
			continue;
		}
		argv[j++] = argv[i];
	}
	argc = j;
	argv[argc] = NULL;
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (c = 0; c < sizeof(commands) / sizeof(commands[0]); c++)
		if (strcmp(argv[1], commands[c].name) == 0)
			return commands[c].run(argc - 1, argv + 1);
	fprintf(stderr, "ccgw: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
