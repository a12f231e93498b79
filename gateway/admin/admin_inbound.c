/*
 * admin_inbound.c: GET /api/v1/inbound-failures: platform messages that passed the signature
 * but could not be processed (engine_inbound_failed), newest tries last: still being retried
 * by the platform ("retrying") or given up after ENGINE_INBOUND_TRIES ("failed"), with the
 * error. What the seller or operator looks at when a shopper says "the bot ignored me".
 */
#include "admin.h"
#include "admin_internal.h"

#define FAILURE_COLS                                                                               \
	"f.id, f.channel_id, f.platform_message_id, f.kind, f.status, f.attempts, f.last_error, " \
	"to_json(f.created_at)#>>'{}', to_json(f.updated_at)#>>'{}'"
#define FAILURE_NCOLS 9

static json_t *failure_json(const struct admin_call *call, const PGresult *res, int r)
{
	(void)call; /* an admin_row_fn */
	return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id", admin_col_string(res, r, 0),
	                 "channel_id", admin_col_string(res, r, 1), "platform_message_id",
	                 admin_col_string(res, r, 2), "kind", admin_col_string(res, r, 3), "status",
	                 admin_col_string(res, r, 4), "attempts", admin_col_int(res, r, 5), "error",
	                 admin_col_string(res, r, 6), "created_at", admin_col_string(res, r, 7),
	                 "updated_at", admin_col_string(res, r, 8));
}

ADMIN_HANDLER(admin_inbound_failures_list)
{
	struct admin_list list = {
	    /* clang-format off */
	    .sql = "SELECT " FAILURE_COLS ", " ADMIN_CURSOR_SQL("f.created_at", "f.id")
	           " FROM inbound_failures f WHERE f.tenant_id = app_tenant_id() "
	           "AND " ADMIN_LIST_AFTER_SQL("f.created_at", "f.id", ">")
	           " ORDER BY f.created_at, f.id LIMIT $1::int",
	    /* clang-format on */
	    .cursor_col = FAILURE_NCOLS,
	    .row = failure_json,
	};

	admin_list_serve(ctx, req, resp, &list);
}
