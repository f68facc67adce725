import { Migration } from '@mikro-orm/migrations';

export class Migration20261121145909_invoicing extends Migration {

  override name = 'Migration20261121145909_invoicing';

  override up(): void | Promise<void> {
    this.addSql(`create type "credit_kind" as enum ('REFUND', 'ADJUSTMENT', 'GOODWILL', 'OVERPAYMENT');`);
    this.addSql(`create type "invoice_status" as enum ('DRAFT', 'OPEN', 'PARTIALLY_PAID', 'PAID', 'VOID');`);
    this.addSql(`create type "billed_ref_type" as enum ('WORK_ORDER', 'AGREEMENT_PERIOD', 'OPPORTUNITY', 'NONE');`);
    this.addSql(`create type "payment_source" as enum ('OFFLINE', 'PAYMENTS');`);
    this.addSql(`create type "received_payment_status" as enum ('UNRECONCILED', 'RECONCILED', 'REVERSED');`);
    this.addSql(`create table "credit" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "customer_id" uuid not null, "invoice_id" uuid null, "kind" "credit_kind" not null, "currency" char(3) not null, "amount" bigint not null, "remaining" bigint not null, "reason" text not null, "source_payment_id" uuid null, "created_by" uuid null, "cancelled_at" timestamptz null, primary key ("id"));`);
    this.addSql(`create index "credit_organization_id_index" on "credit" ("organization_id");`);
    this.addSql(`create index "credit_organization_id_created_at_index" on "credit" ("organization_id", "created_at");`);
    this.addSql(`create index "credit_organization_id_invoice_id_index" on "credit" ("organization_id", "invoice_id");`);
    this.addSql(`create index "credit_organization_id_customer_id_created_at_index" on "credit" ("organization_id", "customer_id", "created_at");`);

    this.addSql(`create table "credit_application" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "credit_id" uuid not null, "invoice_id" uuid not null, "customer_id" uuid not null, "currency" char(3) not null, "amount" bigint not null, "created_by" uuid null, "reversed_at" timestamptz null, primary key ("id"));`);
    this.addSql(`create index "credit_application_organization_id_index" on "credit_application" ("organization_id");`);
    this.addSql(`create index "credit_application_organization_id_created_at_index" on "credit_application" ("organization_id", "created_at");`);
    this.addSql(`create index "credit_application_organization_id_credit_id_index" on "credit_application" ("organization_id", "credit_id");`);
    this.addSql(`create index "credit_application_organization_id_invoice_id_index" on "credit_application" ("organization_id", "invoice_id");`);

    this.addSql(`create table "invoice" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "customer_id" uuid not null, "number" text null, "sequence" bigint null, "status" "invoice_status" not null default 'DRAFT', "currency" char(3) not null, "subtotal" bigint not null default '0', "tax" bigint not null default '0', "total" bigint not null default '0', "amount_paid" bigint not null default '0', "amount_credited" bigint not null default '0', "issue_date" date null, "due_date" date null, "payment_terms_days" smallint not null default 30, "billed_ref_type" "billed_ref_type" not null default 'NONE', "billed_ref_id" uuid null, "billed_ref_label" text null, "memo" text null, "created_by" uuid null, "issued_at" timestamptz null, "issued_by" uuid null, "paid_at" timestamptz null, "voided_at" timestamptz null, "voided_by" uuid null, "void_reason" text null, primary key ("id"));`);
    this.addSql(`create index "invoice_organization_id_index" on "invoice" ("organization_id");`);
    this.addSql(`create index "invoice_unpaid_due_idx" on "invoice" ("organization_id", "due_date") where "status" in ('OPEN', 'PARTIALLY_PAID');`);
    this.addSql(`create index "invoice_organization_id_issue_date_index" on "invoice" ("organization_id", "issue_date");`);
    this.addSql(`create index "invoice_organization_id_created_at_id_index" on "invoice" ("organization_id", "created_at", "id");`);
    this.addSql(`create index "invoice_organization_id_customer_id_status_index" on "invoice" ("organization_id", "customer_id", "status");`);
    this.addSql(`alter table "invoice" add constraint "invoice_organization_id_number_unique" unique ("organization_id", "number");`);

    this.addSql(`create table "invoice_line" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "invoice_id" uuid not null, "position" smallint not null, "description" text not null, "quantity" bigint not null, "unit_price" bigint not null, "tax_rate" int null, "subtotal" bigint not null, "tax" bigint not null, "total" bigint not null, primary key ("id"));`);
    this.addSql(`create index "invoice_line_organization_id_index" on "invoice_line" ("organization_id");`);
    this.addSql(`create index "invoice_line_organization_id_invoice_id_position_index" on "invoice_line" ("organization_id", "invoice_id", "position");`);

    this.addSql(`create table "invoice_number_counter" ("organization_id" uuid not null, "next" bigint not null, primary key ("organization_id"));`);

    this.addSql(`create table "payment_allocation" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "payment_id" uuid not null, "invoice_id" uuid not null, "customer_id" uuid not null, "currency" char(3) not null, "amount" bigint not null, "created_by" uuid null, "reversed_at" timestamptz null, primary key ("id"));`);
    this.addSql(`create index "payment_allocation_organization_id_index" on "payment_allocation" ("organization_id");`);
    this.addSql(`create index "payment_allocation_organization_id_created_at_index" on "payment_allocation" ("organization_id", "created_at");`);
    this.addSql(`create index "payment_allocation_organization_id_payment_id_index" on "payment_allocation" ("organization_id", "payment_id");`);
    this.addSql(`create index "payment_allocation_organization_id_invoice_id_index" on "payment_allocation" ("organization_id", "invoice_id");`);

    this.addSql(`create table "received_payment" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "customer_id" uuid not null, "source" "payment_source" not null, "method" text not null, "reference" text null, "currency" char(3) not null, "amount" bigint not null, "amount_allocated" bigint not null default '0', "amount_credited" bigint not null default '0', "status" "received_payment_status" not null default 'UNRECONCILED', "received_at" timestamptz not null, "recorded_by" uuid null, "reversed_at" timestamptz null, "reversal_reason" text null, primary key ("id"));`);
    this.addSql(`create index "received_payment_organization_id_index" on "received_payment" ("organization_id");`);
    this.addSql(`create index "received_payment_organization_id_received_at_index" on "received_payment" ("organization_id", "received_at");`);
    this.addSql(`create index "received_payment_organization_id_customer_id_received_at_index" on "received_payment" ("organization_id", "customer_id", "received_at");`);
    this.addSql(`create index "received_payment_organization_id_status_received_at_id_index" on "received_payment" ("organization_id", "status", "received_at", "id");`);

    this.addSql(`alter table "customer" add "balance_owed" bigint not null default '0', add "balance_currency" char(3) null, add "oldest_unpaid_due_date" date null;`);
    this.addSql(`create index "customer_oldest_unpaid_idx" on "customer" ("organization_id", "oldest_unpaid_due_date") where "oldest_unpaid_due_date" is not null;`);
    this.addSql(`create index "customer_balance_owed_idx" on "customer" ("organization_id", "balance_owed") where "balance_owed" > 0;`);

    this.addSql(`alter table "credit" add constraint "credit_remaining_within_amount" check ("amount" > 0 and "remaining" >= 0 and "remaining" <= "amount");`);

    this.addSql(`alter table "credit_application" add constraint "credit_application_amount_positive" check ("amount" > 0);`);

    this.addSql(`alter table "invoice" add constraint "invoice_settled_within_total" check ("amount_paid" >= 0 and "amount_credited" >= 0 and "amount_paid" + "amount_credited" <= greatest("total", 0));`);

    this.addSql(`alter table "payment_allocation" add constraint "payment_allocation_amount_positive" check ("amount" > 0);`);

    this.addSql(`alter table "received_payment" add constraint "received_payment_within_amount" check ("amount" > 0 and "amount_allocated" >= 0 and "amount_credited" >= 0 and "amount_allocated" + "amount_credited" <= "amount");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "credit" cascade;`);
    this.addSql(`drop table if exists "credit_application" cascade;`);
    this.addSql(`drop table if exists "invoice" cascade;`);
    this.addSql(`drop table if exists "invoice_line" cascade;`);
    this.addSql(`drop table if exists "invoice_number_counter" cascade;`);
    this.addSql(`drop table if exists "payment_allocation" cascade;`);
    this.addSql(`drop table if exists "received_payment" cascade;`);

    this.addSql(`drop index "customer_oldest_unpaid_idx";`);
    this.addSql(`drop index "customer_balance_owed_idx";`);
    this.addSql(`alter table "customer" drop column "balance_owed", drop column "balance_currency", drop column "oldest_unpaid_due_date";`);

    this.addSql(`drop type "credit_kind";`);
    this.addSql(`drop type "invoice_status";`);
    this.addSql(`drop type "billed_ref_type";`);
    this.addSql(`drop type "payment_source";`);
    this.addSql(`drop type "received_payment_status";`);
  }

}
