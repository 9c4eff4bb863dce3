-- Migration 7 of the lutron schema: causes: a bucket with one cause keeps it on the zone's rollup row.
-- Generated from telegraf_lutron/db/schema.py by `python -m telegraf_lutron.db.golden --write`: do not edit.

ALTER TABLE "lutron"."zone_change_hourly" ADD COLUMN "cause" text, ADD COLUMN "keypad_id" text, ADD COLUMN "component" text, ADD COLUMN "timeclock_id" text, ADD COLUMN "timeclock_event" text;

COMMENT ON COLUMN "lutron"."zone_change_hourly"."cause" IS 'the cause of all of this hour''s energy and on-time (keypad_id ... timeclock_event: the source behind it, '''' where unknown); NULL: several causes, in zone_mixed_cause_hourly';

ALTER TABLE "lutron"."zone_cause_hourly" RENAME TO "zone_mixed_cause_hourly";

ALTER INDEX "lutron"."zone_cause_hourly_series_idx" RENAME TO "zone_mixed_cause_hourly_series_idx";

ALTER INDEX "lutron"."zone_cause_hourly_hour_idx" RENAME TO "zone_mixed_cause_hourly_hour_idx";

COMMENT ON TABLE "lutron"."zone_mixed_cause_hourly" IS 'energy (J) and on-time (s) per zone, local hour and cause, for the hours with several causes only (one cause: on the zone_change_hourly row)';

CREATE VIEW "lutron"."zone_cause_hourly" AS SELECT "site", "zone_id", "hour", "day", "cause", "keypad_id", "component", "timeclock_id", "timeclock_event", energy_joules, on_seconds FROM "lutron"."zone_change_hourly" WHERE "cause" IS NOT NULL UNION ALL SELECT "site", "zone_id", "hour", "day", "cause", "keypad_id", "component", "timeclock_id", "timeclock_event", energy_joules, on_seconds FROM "lutron"."zone_mixed_cause_hourly";

COMMENT ON VIEW "lutron"."zone_cause_hourly" IS 'exact energy (J) and on-time (s) per zone, local hour and cause of the level (with the keypad button or time clock event behind it, '''' where unknown): zone_change_hourly rows with one cause and zone_mixed_cause_hourly';

ALTER TABLE "lutron"."zone_change_daily" ADD COLUMN "cause" text, ADD COLUMN "keypad_id" text, ADD COLUMN "component" text, ADD COLUMN "timeclock_id" text, ADD COLUMN "timeclock_event" text;

COMMENT ON COLUMN "lutron"."zone_change_daily"."cause" IS 'the cause of all of this day''s energy and on-time (keypad_id ... timeclock_event: the source behind it, '''' where unknown); NULL: several causes, in zone_mixed_cause_daily';

ALTER TABLE "lutron"."zone_cause_daily" RENAME TO "zone_mixed_cause_daily";

ALTER INDEX "lutron"."zone_cause_daily_series_idx" RENAME TO "zone_mixed_cause_daily_series_idx";

ALTER INDEX "lutron"."zone_cause_daily_day_idx" RENAME TO "zone_mixed_cause_daily_day_idx";

COMMENT ON TABLE "lutron"."zone_mixed_cause_daily" IS 'energy (J) and on-time (s) per zone, local day and cause, for the days with several causes only (one cause: on the zone_change_daily row)';

CREATE VIEW "lutron"."zone_cause_daily" AS SELECT "site", "zone_id", "day", "cause", "keypad_id", "component", "timeclock_id", "timeclock_event", energy_joules, on_seconds FROM "lutron"."zone_change_daily" WHERE "cause" IS NOT NULL UNION ALL SELECT "site", "zone_id", "day", "cause", "keypad_id", "component", "timeclock_id", "timeclock_event", energy_joules, on_seconds FROM "lutron"."zone_mixed_cause_daily";

COMMENT ON VIEW "lutron"."zone_cause_daily" IS 'exact energy (J) and on-time (s) per zone, local day and cause of the level (with the keypad button or time clock event behind it, '''' where unknown): zone_change_daily rows with one cause and zone_mixed_cause_daily';
