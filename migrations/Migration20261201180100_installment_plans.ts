import { Migration } from '@mikro-orm/migrations';

export class Migration20261201180100_installment_plans extends Migration {

  override name = 'Migration20261201180100_installment_plans';

  override up(): void | Promise<void> {
    this.addSql(`create type "installment_plan_status" as enum ('ACTIVE', 'COMPLETED', 'CANCELLED');`);
    this.addSql(`create type "installment_status" as enum ('SCHEDULED', 'PROCESSING', 'PAID', 'FAILED', 'SKIPPED', 'CANCELLED');`);
    this.addSql(`create table "installment" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "plan_id" uuid not null, "customer_id" uuid not null, "sequence" smallint not null, "due_on" date not null, "amount" bigint not null, "currency" char(3) not null, "status" "installment_status" not null default 'SCHEDULED', "attempts" smallint not null default 0, "idempotency_key" text null, "claimed_at" timestamptz null, "payment_method_id" uuid null, "gateway_charge_id" text null, "last_error" text null, "paid_at" timestamptz null, "reminded_for" date null, primary key ("id"));`);
    this.addSql(`create index "installment_organization_id_index" on "installment" ("organization_id");`);
    this.addSql(`create index "installment_due_idx" on "installment" ("due_on") where "status" in ('SCHEDULED', 'PROCESSING');`);
    this.addSql(`create index "installment_organization_id_customer_id_status_due_on_index" on "installment" ("organization_id", "customer_id", "status", "due_on");`);
    this.addSql(`create index "installment_organization_id_status_due_on_index" on "installment" ("organization_id", "status", "due_on");`);
    this.addSql(`alter table "installment" add constraint "installment_idempotency_key_unique" unique ("idempotency_key");`);
    this.addSql(`alter table "installment" add constraint "installment_plan_id_sequence_unique" unique ("plan_id", "sequence");`);

    this.addSql(`create table "installment_plan" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "customer_id" uuid not null, "invoice_id" uuid null, "payment_method_id" uuid not null, "total" bigint not null, "currency" char(3) not null, "status" "installment_plan_status" not null default 'ACTIVE', "created_by" uuid null, "completed_at" timestamptz null, "cancelled_at" timestamptz null, "cancelled_by" uuid null, "cancel_reason" text null, primary key ("id"));`);
    this.addSql(`create index "installment_plan_organization_id_index" on "installment_plan" ("organization_id");`);
    this.addSql(`create index "installment_plan_organization_id_customer_id_status_index" on "installment_plan" ("organization_id", "customer_id", "status");`);

    this.addSql(`create table "installment_plan_invoice" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "plan_id" uuid not null, "invoice_id" uuid not null, "amount" bigint not null, primary key ("id"));`);
    this.addSql(`create index "installment_plan_invoice_organization_id_index" on "installment_plan_invoice" ("organization_id");`);
    this.addSql(`create index "installment_plan_invoice_organization_id_invoice_id_index" on "installment_plan_invoice" ("organization_id", "invoice_id");`);
    this.addSql(`alter table "installment_plan_invoice" add constraint "installment_plan_invoice_plan_id_invoice_id_unique" unique ("plan_id", "invoice_id");`);

    this.addSql(`alter table "installment" add constraint "installment_amount_positive" check ("amount" > 0);`);

    this.addSql(`alter table "installment_plan" add constraint "installment_plan_total_positive" check ("total" > 0);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "installment_plan_invoice" cascade;`);
    this.addSql(`drop table if exists "installment_plan" cascade;`);
    this.addSql(`drop table if exists "installment" cascade;`);
    this.addSql(`drop type "installment_status";`);
    this.addSql(`drop type "installment_plan_status";`);
  }

}
