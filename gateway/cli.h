/*
 * cli.h: the subcommands of the ccgw binary. Each takes the arguments after its own name
 * (argv[0] is the subcommand) and returns the process exit code. Machine output goes to
 * stdout, errors to stderr.
 */
#ifndef CCGW_CLI_H
#define CCGW_CLI_H

int cli_serve(int argc, char **argv);
int cli_migrate(int argc, char **argv);
int cli_tenant(int argc, char **argv);
int cli_demo(int argc, char **argv);
int cli_console(int argc, char **argv);
int cli_parse(int argc, char **argv);

#endif
