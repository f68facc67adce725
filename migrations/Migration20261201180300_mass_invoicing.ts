import { Migration } from '@mikro-orm/migrations';

export class Migration20261201180300_mass_invoicing extends Migration {

  override name = 'Migration20261201180300_mass_invoicing';

  override up(): void | Promise<void> {
    this.addSql(`create type "mass_invoice_status" as enum ('QUEUED', 'RUNNING', 'COMPLETED', 'COMPLETED_WITH_FAILURES', 'CANCELLED');`);
    this.addSql(`create type "mass_invoice_item_status" as enum ('PENDING', 'INVOICED', 'FAILED', 'SKIPPED');`);
    this.addSql(`create table "mass_invoice_batch" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "status" "mass_invoice_status" not null default 'QUEUED', "issue" boolean not null, "currency" char(3) not null, "lines" jsonb not null, "due_date" date null, "payment_terms_days" smallint null, "billed_ref_type" "billed_ref_type" not null default 'NONE', "billed_ref_id" uuid null, "billed_ref_label" text null, "memo" text null, "customer_filter" jsonb null, "total" int not null, "invoiced" int not null default 0, "failed" int not null default 0, "skipped" int not null default 0, "created_by" uuid null, "started_at" timestamptz null, "finished_at" timestamptz null, primary key ("id"));`);
    this.addSql(`create index "mass_invoice_batch_organization_id_index" on "mass_invoice_batch" ("organization_id");`);
    this.addSql(`create index "mass_invoice_batch_organization_id_created_at_id_index" on "mass_invoice_batch" ("organization_id", "created_at", "id");`);

    this.addSql(`create table "mass_invoice_item" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "batch_id" uuid not null, "position" int not null, "customer_id" uuid not null, "status" "mass_invoice_item_status" not null default 'PENDING', "invoice_id" uuid null, "error_code" text null, "error" text null, primary key ("id"));`);
    this.addSql(`create index "mass_invoice_item_organization_id_index" on "mass_invoice_item" ("organization_id");`);
    this.addSql(`create index "mass_invoice_item_batch_id_status_position_index" on "mass_invoice_item" ("batch_id", "status", "position");`);
    this.addSql(`alter table "mass_invoice_item" add constraint "mass_invoice_item_batch_id_customer_id_unique" unique ("batch_id", "customer_id");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "mass_invoice_batch" cascade;`);
    this.addSql(`drop table if exists "mass_invoice_item" cascade;`);

    this.addSql(`drop type "mass_invoice_status";`);
    this.addSql(`drop type "mass_invoice_item_status";`);
  }

}
