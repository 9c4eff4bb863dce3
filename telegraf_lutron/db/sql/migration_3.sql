-- Migration 3 of the lutron schema: kinds: lights, fans and shades counted apart; zone kind in the rollups.
-- Generated from telegraf_lutron/db/schema.py by `python -m telegraf_lutron.db.golden --write`: do not edit.

ALTER TABLE "lutron"."zone_hourly" ADD COLUMN IF NOT EXISTS kind text;

ALTER TABLE "lutron"."zone_daily" ADD COLUMN IF NOT EXISTS kind text;

DO $$ BEGIN IF EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'lutron' AND table_name = 'stage_zone' AND column_name = 'level') THEN ALTER TABLE "lutron"."stage_zone" RENAME COLUMN "level" TO "on_value"; END IF; END $$;

DO $$ BEGIN IF EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'lutron' AND table_name = 'stage_area' AND column_name = 'zones_on') THEN ALTER TABLE "lutron"."stage_area" RENAME COLUMN "zones_on" TO "on_value"; END IF; END $$;

DO $$ BEGIN IF EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'lutron' AND table_name = 'stage_system' AND column_name = 'zones_on') THEN ALTER TABLE "lutron"."stage_system" RENAME COLUMN "zones_on" TO "on_value"; END IF; END $$;
