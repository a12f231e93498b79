/*
 * cli.h: the subcommands of the ccgw binary. Each takes the arguments after its own name
 * (argv[0] is the subcommand) and returns the process exit code. Machine output goes to
 * stdout, errors to stderr.
 */
#ifndef CCGW_CLI_H
#define CCGW_CLI_H

#include <jansson.h>

int cli_serve(int argc, char **argv);
/* The dispatcher `ccgw serve` runs (for /metrics), NULL when none runs. */
struct dispatcher *cli_serve_dispatcher(void);
int cli_migrate(int argc, char **argv);
int cli_tenant(int argc, char **argv);
int cli_demo(int argc, char **argv);
int cli_console(int argc, char **argv);
int cli_parse(int argc, char **argv);
int cli_kyc(int argc, char **argv); /* cli_kyc.c: the operator's KYC list and review */
int cli_simulate(int argc, char **argv);

/* cli_tenant.c, also for `ccgw demo`: prints obj (borrowed; NULL when building it ran out of
 * memory) as one compact JSON line on stdout. 0, or -1 after "<cmd>: out of memory" on
 * stderr. */
int cli_tenant_print(const char *cmd, json_t *obj) __attribute__((warn_unused_result));

#endif
