/*
 * warm.h: a new database session rehearses the work it will do before it does it for a
 * shopper. PostgreSQL keeps its catalog caches, prepared statements, plans and compiled
 * trigger functions per session, so the first turns on each of ccgw serve's pool connections
 * cost far more than the later ones (measured: transactions of 90 to 220 ms against a few
 * ms), and the messages behind them queue. While the server opens its pool, each connection
 * runs a few turns of the engine, on the channel changed last (warm_targets(), sql/104), in
 * transactions that are rolled back: nothing stays. Two rounds of three turns, each round a
 * new shopper's, so that the turn's statements reach the generic plan PostgreSQL keeps from a
 * statement's sixth run (the first five are planned afresh each time).
 */
#ifndef CCGW_WARM_H
#define CCGW_WARM_H

#include <libpq-fe.h>

struct app;

/* Rehearses on conn (outside a transaction): the turns run, rolled back. Returns the
 * channels rehearsed on (0 when the database has none, or without an engine), -1 when the
 * channels could not be read. */
int app_db_warm(struct app *app, PGconn *conn);

#endif
