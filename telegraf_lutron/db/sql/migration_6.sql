-- Migration 6 of the lutron schema: causes: hourly and daily energy by cause per zone, unoccupied energy per area.
-- Generated from telegraf_lutron/db/schema.py by `python -m telegraf_lutron.db.golden --write`: do not edit.

CREATE TABLE "lutron"."zone_cause_hourly" (site text NOT NULL, zone_id text NOT NULL, hour timestamptz NOT NULL, day date NOT NULL, cause text NOT NULL, keypad_id text NOT NULL, component text NOT NULL, timeclock_id text NOT NULL, timeclock_event text NOT NULL, energy_joules double precision NOT NULL, on_seconds double precision NOT NULL);

CREATE INDEX zone_cause_hourly_series_idx ON "lutron"."zone_cause_hourly" (site, zone_id, hour);

CREATE INDEX zone_cause_hourly_hour_idx ON "lutron"."zone_cause_hourly" (hour);

CREATE TABLE "lutron"."zone_cause_daily" (site text NOT NULL, zone_id text NOT NULL, day date NOT NULL, cause text NOT NULL, keypad_id text NOT NULL, component text NOT NULL, timeclock_id text NOT NULL, timeclock_event text NOT NULL, energy_joules double precision NOT NULL, on_seconds double precision NOT NULL);

CREATE INDEX zone_cause_daily_series_idx ON "lutron"."zone_cause_daily" (site, zone_id, day);

CREATE INDEX zone_cause_daily_day_idx ON "lutron"."zone_cause_daily" (day);

CREATE TABLE "lutron"."area_unoccupied_hourly" (site text NOT NULL, area_id text NOT NULL, hour timestamptz NOT NULL, day date NOT NULL, energy_joules double precision NOT NULL, lit_seconds double precision NOT NULL, watts_max double precision, PRIMARY KEY (site, area_id, hour));

CREATE INDEX area_unoccupied_hourly_hour_idx ON "lutron"."area_unoccupied_hourly" (hour);

CREATE TABLE "lutron"."area_unoccupied_daily" (site text NOT NULL, area_id text NOT NULL, day date NOT NULL, energy_joules double precision NOT NULL, lit_seconds double precision NOT NULL, watts_max double precision, PRIMARY KEY (site, area_id, day));

COMMENT ON TABLE "lutron"."zone_cause_hourly" IS 'exact energy (J) and on-time (s) per zone, local hour and cause of the level (with the keypad button or time clock event behind it, '''' where unknown), from lutron_zone_change';

COMMENT ON TABLE "lutron"."zone_cause_daily" IS 'the zone_cause_hourly rows per local day';

COMMENT ON TABLE "lutron"."area_unoccupied_hourly" IS 'exact energy (J) of an area''s lights while its sensors said unoccupied, seconds with such lights on and their peak watts, per local hour, from lutron_area_change';

COMMENT ON TABLE "lutron"."area_unoccupied_daily" IS 'the area_unoccupied_hourly rows per local day';
