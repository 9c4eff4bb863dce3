-- Migration 5 of the lutron schema: the newest names of every zone, for readers of the change rollups.
-- Generated from telegraf_lutron/db/schema.py by `python -m telegraf_lutron.db.golden --write`: do not edit.

CREATE INDEX zone_change_hourly_hour_idx ON "lutron"."zone_change_hourly" (hour);

CREATE TABLE "lutron"."zone_names" (site text NOT NULL, zone_id text NOT NULL, "time" timestamptz NOT NULL, zone text, area_id text NOT NULL, area text, floor text, output_type text, kind text, rated_watts double precision, PRIMARY KEY (site, zone_id));

COMMENT ON TABLE "lutron"."zone_names" IS 'each zone''s newest lutron_zone_info row (names, area, kind, rated watts)';

CREATE TABLE "lutron"."change_last" (series text NOT NULL, site text NOT NULL, id text NOT NULL, "time" timestamptz NOT NULL, watts double precision NOT NULL, level double precision, first_time timestamptz, PRIMARY KEY (series, site, id));

COMMENT ON TABLE "lutron"."change_last" IS 'the newest change row of every series as change_rollup last saw it: the open segment after it, which no rollup holds yet, is added by readers up to the newest house row; first_time (houses): the first row, where readers switch from the snapshot rollups';
