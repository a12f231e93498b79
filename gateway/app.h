/*
 * app.h: what every subcommand shares: the configuration path given with --config (taken out
 * of argv by main before dispatch) and the loader that applies the log level.
 */
#ifndef CCGW_APP_H
#define CCGW_APP_H

#include "config.h"

extern const char *app_config_path;

/* Loads the configuration and sets the log level; on failure prints the reason to stderr
 * and returns -1. */
int app_config_load(struct config *cfg) __attribute__((warn_unused_result));

#endif
