import { Migration } from '@mikro-orm/migrations';

export class Migration20261201190300_mass_charges extends Migration {
  override name = 'Migration20261201190300_mass_charges';

  override up(): void | Promise<void> {
    // ─── mass charges (mass charge) ───
    this.addSql(`create type "mass_charge_status" as enum ('QUEUED', 'RUNNING', 'COMPLETED', 'COMPLETED_WITH_FAILURES', 'CANCELLED');`);
    this.addSql(`create type "mass_charge_amount_mode" as enum ('OPEN_BALANCE', 'FIXED');`);
    this.addSql(`create type "mass_charge_item_status" as enum ('PENDING', 'CHARGING', 'SUCCEEDED', 'PROCESSING', 'FAILED', 'SKIPPED');`);
    this.addSql(`create table "mass_charge_batch" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "status" "mass_charge_status" not null default 'QUEUED', "amount_mode" "mass_charge_amount_mode" not null, "amount" bigint null, "currency" char(3) not null, "note" text null, "customer_filter" jsonb null, "total" int not null, "succeeded" int not null default 0, "processing" int not null default 0, "failed" int not null default 0, "skipped" int not null default 0, "amount_succeeded" bigint not null default '0', "created_by" uuid null, "started_at" timestamptz null, "finished_at" timestamptz null, primary key ("id"));`);
    this.addSql(`create index "mass_charge_batch_organization_id_index" on "mass_charge_batch" ("organization_id");`);
    this.addSql(`create index "mass_charge_batch_organization_id_created_at_id_index" on "mass_charge_batch" ("organization_id", "created_at", "id");`);

    this.addSql(`create table "mass_charge_item" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "batch_id" uuid not null, "position" int not null, "customer_id" uuid not null, "status" "mass_charge_item_status" not null default 'PENDING', "amount" bigint null, "payment_method_id" uuid null, "allocations" jsonb null, "payment_id" uuid null, "reason_code" text null, "reason" text null, primary key ("id"));`);
    this.addSql(`create index "mass_charge_item_organization_id_index" on "mass_charge_item" ("organization_id");`);
    this.addSql(`create index "mass_charge_item_batch_id_status_position_index" on "mass_charge_item" ("batch_id", "status", "position");`);
    this.addSql(`alter table "mass_charge_item" add constraint "mass_charge_item_batch_id_customer_id_unique" unique ("batch_id", "customer_id");`);

    // ─── payment_settings (Payment Action Center) ───
    this.addSql(`create table "payment_settings" ("organization_id" uuid not null, "retry_schedule_days" smallint[] not null default '{1,3,7}', "auto_retry" boolean not null default true, "updated_by" uuid null, "updated_at" timestamptz not null, primary key ("organization_id"));`);
  }

  override down(): void | Promise<void> {
    // ─── mass charges (mass charge) ───
    this.addSql(`drop table if exists "mass_charge_batch" cascade;`);
    this.addSql(`drop table if exists "mass_charge_item" cascade;`);
    this.addSql(`drop type "mass_charge_status";`);
    this.addSql(`drop type "mass_charge_amount_mode";`);
    this.addSql(`drop type "mass_charge_item_status";`);

    // ─── payment_settings (Payment Action Center) ───
    this.addSql(`drop table if exists "payment_settings" cascade;`);
  }
}
