-- Migration 4 of the lutron schema: change rows: exact hourly and daily rollups per zone and house.
-- Generated from telegraf_lutron/db/schema.py by `python -m telegraf_lutron.db.golden --write`: do not edit.

CREATE TABLE "lutron"."zone_change_hourly" (site text NOT NULL, zone_id text NOT NULL, hour timestamptz NOT NULL, day date NOT NULL, energy_joules double precision NOT NULL, on_seconds double precision NOT NULL, watts_max double precision, PRIMARY KEY (site, zone_id, hour));

CREATE INDEX zone_change_hourly_hour_brin ON "lutron"."zone_change_hourly" USING brin (hour);

CREATE TABLE "lutron"."zone_change_daily" (site text NOT NULL, zone_id text NOT NULL, day date NOT NULL, energy_joules double precision NOT NULL, on_seconds double precision NOT NULL, watts_max double precision, PRIMARY KEY (site, zone_id, day));

CREATE TABLE "lutron"."house_hourly" (site text NOT NULL, hour timestamptz NOT NULL, day date NOT NULL, energy_joules double precision NOT NULL, watts_max double precision, covered_seconds double precision NOT NULL, PRIMARY KEY (site, hour));

CREATE TABLE "lutron"."house_daily" (site text NOT NULL, day date NOT NULL, energy_joules double precision NOT NULL, watts_max double precision, covered_seconds double precision NOT NULL, PRIMARY KEY (site, day));

CREATE TABLE "lutron"."change_dirty" (series text NOT NULL, site text NOT NULL, id text NOT NULL, since timestamptz NOT NULL, PRIMARY KEY (series, site, id));

COMMENT ON TABLE "lutron"."zone_change_hourly" IS 'exact energy (J), on-time (s) and peak watts per zone and local hour, from lutron_zone_change; only hours with energy or on-time';

COMMENT ON TABLE "lutron"."zone_change_daily" IS 'the zone_change_hourly rows per local day';

COMMENT ON TABLE "lutron"."house_hourly" IS 'exact energy (J), peak watts and seconds with data per local hour, from lutron_house';

COMMENT ON TABLE "lutron"."house_daily" IS 'the house_hourly rows per local day';

COMMENT ON TABLE "lutron"."change_dirty" IS 'series whose change rows arrived since their last rollup, from which time';
