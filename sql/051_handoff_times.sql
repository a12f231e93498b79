-- 051_handoff_times.sql: when a conversation was handed to a person (handoff_at) and when a
-- person last wrote in it (agent_at), so the bot can take a waiting shopper back: when they
-- ask for the bot, or when nobody from the shop has answered within the shop's
-- handoff_timeout_minutes setting.
ALTER TABLE conversations ADD COLUMN handoff_at timestamptz, ADD COLUMN agent_at timestamptz;
UPDATE conversations SET handoff_at = coalesce(last_message_at, updated_at, now()) WHERE handoff;
