-- Migration 2 of the lutron schema: rollups drained from a stage in batches.
-- Generated from telegraf_lutron/db/schema.py by `python -m telegraf_lutron.db.golden --write`: do not edit.

CREATE TABLE "lutron"."rollup_state" (level text PRIMARY KEY, staged_rows bigint NOT NULL DEFAULT 0, oldest timestamptz, since timestamptz);

COMMENT ON TABLE "lutron"."rollup_state" IS 'rows staged for the next rollup drain per level: how many, when the first arrived, the oldest time among them';

CREATE UNLOGGED TABLE "lutron"."stage_zone" ("site" text, "zone_id" text, "time" timestamptz, "energy_joules_total" double precision, "watts" double precision, "on_value" double precision, hour timestamptz NOT NULL, day date NOT NULL) WITH (autovacuum_enabled = false);

COMMENT ON TABLE "lutron"."stage_zone" IS 'rows of lutron_zone not yet rolled up (drained by lutron.drain_zone)';

INSERT INTO "lutron"."rollup_state" (level) VALUES ('zone');

CREATE UNLOGGED TABLE "lutron"."stage_area" ("site" text, "area_id" text, "time" timestamptz, "energy_joules_total" double precision, "watts" double precision, "on_value" double precision, hour timestamptz NOT NULL, day date NOT NULL) WITH (autovacuum_enabled = false);

COMMENT ON TABLE "lutron"."stage_area" IS 'rows of lutron_area not yet rolled up (drained by lutron.drain_area)';

INSERT INTO "lutron"."rollup_state" (level) VALUES ('area');

CREATE UNLOGGED TABLE "lutron"."stage_system" ("site" text, "time" timestamptz, "energy_joules_total" double precision, "watts" double precision, "on_value" double precision, hour timestamptz NOT NULL, day date NOT NULL) WITH (autovacuum_enabled = false);

COMMENT ON TABLE "lutron"."stage_system" IS 'rows of lutron_power not yet rolled up (drained by lutron.drain_system)';

INSERT INTO "lutron"."rollup_state" (level) VALUES ('system');

COMMENT ON TABLE "lutron"."pending_buckets" IS 'hourly buckets whose rollup failed; recomputed by the next rollup drain';

INSERT INTO "lutron"."settings" AS s (name, value) VALUES ('rollup_batch_rows', '20000') ON CONFLICT (name) DO UPDATE SET value = excluded.value WHERE s.value IS DISTINCT FROM excluded.value;

INSERT INTO "lutron"."settings" AS s (name, value) VALUES ('rollup_delay_seconds', '60') ON CONFLICT (name) DO UPDATE SET value = excluded.value WHERE s.value IS DISTINCT FROM excluded.value;
