import { Migration } from '@mikro-orm/migrations';

export class Migration20261201200100_billing_runs extends Migration {
  override name = 'Migration20261201200100_billing_runs';

  override up(): void | Promise<void> {
    // ─── billing runs (agreements) ───
    this.addSql(`create type "billing_run_status" as enum ('QUEUED', 'RUNNING', 'COMPLETED', 'COMPLETED_WITH_FAILURES');`);
    this.addSql(`create type "billing_run_batch_status" as enum ('PENDING', 'DONE');`);
    this.addSql(`create type "billed_period_status" as enum ('INVOICED', 'CHARGED', 'PROCESSING', 'FAILED');`);

    this.addSql(`create table "billing_run" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "up_to" date not null, "status" "billing_run_status" not null default 'QUEUED', "scheduled" boolean not null default false, "currency" char(3) not null, "agreements_total" int not null default 0, "agreements_done" int not null default 0, "invoiced" int not null default 0, "charged" int not null default 0, "failed" int not null default 0, "skipped" int not null default 0, "up_to_date" int not null default 0, "amount_invoiced" bigint not null default '0', "amount_charged" bigint not null default '0', "batches_total" int not null default 0, "batches_done" int not null default 0, "created_by" uuid null, "planned_at" timestamptz null, "started_at" timestamptz null, "finished_at" timestamptz null, primary key ("id"));`);
    this.addSql(`create index "billing_run_organization_id_index" on "billing_run" ("organization_id");`);
    this.addSql(`create index "billing_run_organization_id_created_at_id_index" on "billing_run" ("organization_id", "created_at", "id");`);

    this.addSql(`create table "billing_run_batch" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "run_id" uuid not null, "seq" int not null, "agreement_ids" jsonb not null, "status" "billing_run_batch_status" not null default 'PENDING', primary key ("id"));`);
    this.addSql(`create index "billing_run_batch_organization_id_index" on "billing_run_batch" ("organization_id");`);
    this.addSql(`alter table "billing_run_batch" add constraint "billing_run_batch_run_id_seq_unique" unique ("run_id", "seq");`);

    this.addSql(`create table "billed_period" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "agreement_id" uuid not null, "customer_id" uuid not null, "run_id" uuid not null, "period_start" date not null, "period_end" date not null, "label" text not null, "invoice_id" uuid not null, "payment_id" uuid not null, "amount" bigint not null, "currency" char(3) not null, "status" "billed_period_status" not null default 'INVOICED', "failure_code" text null, "failure_reason" text null, primary key ("id"));`);
    this.addSql(`create index "billed_period_organization_id_index" on "billed_period" ("organization_id");`);
    this.addSql(`create index "billed_period_organization_id_agreement_id_period_start_index" on "billed_period" ("organization_id", "agreement_id", "period_start");`);
    this.addSql(`create index "billed_period_organization_id_run_id_status_index" on "billed_period" ("organization_id", "run_id", "status");`);
    this.addSql(`alter table "billed_period" add constraint "billed_period_agreement_id_period_start_unique" unique ("agreement_id", "period_start");`);
    this.addSql(`alter table "billed_period" add constraint "billed_period_dates" check ("period_end" >= "period_start");`);

    this.addSql(`create table "billing_run_skip" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "run_id" uuid not null, "agreement_id" uuid not null, "customer_id" uuid not null, "reason_code" text not null, "reason" text not null, primary key ("id"));`);
    this.addSql(`create index "billing_run_skip_organization_id_index" on "billing_run_skip" ("organization_id");`);
    this.addSql(`alter table "billing_run_skip" add constraint "billing_run_skip_run_id_agreement_id_unique" unique ("run_id", "agreement_id");`);

    this.addSql(`create table "agreement_billing_settings" ("organization_id" uuid not null, "auto_bill" boolean not null default false, "hour" smallint not null default 6, "last_scheduled_on" date null, "updated_by" uuid null, "updated_at" timestamptz not null, primary key ("organization_id"));`);
    this.addSql(`alter table "agreement_billing_settings" add constraint "agreement_billing_settings_hour" check ("hour" >= 0 and "hour" <= 23);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "billing_run" cascade;`);
    this.addSql(`drop table if exists "billing_run_batch" cascade;`);
    this.addSql(`drop table if exists "billed_period" cascade;`);
    this.addSql(`drop table if exists "billing_run_skip" cascade;`);
    this.addSql(`drop table if exists "agreement_billing_settings" cascade;`);
    this.addSql(`drop type "billing_run_status";`);
    this.addSql(`drop type "billing_run_batch_status";`);
    this.addSql(`drop type "billed_period_status";`);
  }
}
