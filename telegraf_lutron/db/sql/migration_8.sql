-- Migration 8 of the lutron schema: causes: energy by cause per zone and local month.
-- Generated from telegraf_lutron/db/schema.py by `python -m telegraf_lutron.db.golden --write`: do not edit.

CREATE TABLE "lutron"."zone_cause_monthly" (site text NOT NULL, zone_id text NOT NULL, month date NOT NULL, cause text NOT NULL, keypad_id text NOT NULL, component text NOT NULL, timeclock_id text NOT NULL, timeclock_event text NOT NULL, energy_joules double precision NOT NULL, on_seconds double precision NOT NULL);

CREATE INDEX zone_cause_monthly_series_idx ON "lutron"."zone_cause_monthly" (site, zone_id, month);

CREATE INDEX zone_cause_monthly_month_idx ON "lutron"."zone_cause_monthly" (month);

COMMENT ON TABLE "lutron"."zone_cause_monthly" IS 'the zone_cause_daily rows per local month (month: its first day), every cause on its own row';
