import { Migration } from '@mikro-orm/migrations';

export class Migration20261201190000_payments extends Migration {

  override name = 'Migration20261201190000_payments';

  override up(): void | Promise<void> {
    this.addSql(`create type "payment_status" as enum ('PENDING', 'PROCESSING', 'UNKNOWN', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'PARTIALLY_REFUNDED', 'REFUNDED');`);
    this.addSql(`create type "payment_purpose" as enum ('INVOICES', 'ON_ACCOUNT', 'INSTALLMENT', 'AGREEMENT', 'MASS_CHARGE', 'PAYMENT_REQUEST');`);
    this.addSql(`create type "payment_method_type" as enum ('CARD', 'BANK_ACCOUNT');`);
    this.addSql(`create type "payment_resolution" as enum ('OPEN', 'RESOLVED');`);
    this.addSql(`create type "payment_attempt_status" as enum ('PENDING', 'PROCESSING', 'UNKNOWN', 'SUCCEEDED', 'FAILED', 'CANCELLED');`);
    this.addSql(`create type "payment_event_type" as enum ('CREATED', 'ATTEMPT_STARTED', 'PROCESSING', 'SUCCEEDED', 'FAILED', 'UNKNOWN', 'WEBHOOK', 'ALLOCATED', 'REVERSED', 'REFUNDED', 'CANCELLED', 'RETRY_SCHEDULED', 'RESOLVED', 'METHOD_UPDATE_REQUESTED');`);
    this.addSql(`create table "payment" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "customer_id" uuid not null, "status" "payment_status" not null default 'PENDING', "amount" bigint not null, "currency" char(3) not null, "amount_refunded" bigint not null default '0', "purpose" "payment_purpose" not null, "purpose_ref_id" uuid null, "allocations" jsonb not null, "description" text null, "method_type" "payment_method_type" not null, "payment_method_id" uuid null, "gateway_payment_method_id" text not null, "gateway_customer_id" text null, "method_label" text not null, "brand" text null, "last4" text null, "gateway" text not null, "off_session" boolean not null, "idempotency_key" text not null, "request_hash" text not null, "attempt_count" smallint not null default 0, "gateway_charge_id" text null, "failure_code" text null, "failure_message" text null, "next_retry_at" timestamptz null, "resolution" "payment_resolution" null, "resolved_by" uuid null, "resolved_at" timestamptz null, "resolution_note" text null, "created_by" uuid null, "succeeded_at" timestamptz null, "failed_at" timestamptz null, primary key ("id"));`);
    this.addSql(`create index "payment_organization_id_index" on "payment" ("organization_id");`);
    this.addSql(`create index "payment_retry_due_idx" on "payment" ("next_retry_at") where "next_retry_at" is not null;`);
    this.addSql(`create index "payment_organization_id_created_by_created_at_index" on "payment" ("organization_id", "created_by", "created_at");`);
    this.addSql(`create index "payment_organization_id_status_created_at_index" on "payment" ("organization_id", "status", "created_at");`);
    this.addSql(`create index "payment_organization_id_customer_id_created_at_index" on "payment" ("organization_id", "customer_id", "created_at");`);
    this.addSql(`create index "payment_organization_id_created_at_id_index" on "payment" ("organization_id", "created_at", "id");`);
    this.addSql(`alter table "payment" add constraint "payment_organization_id_idempotency_key_unique" unique ("organization_id", "idempotency_key");`);

    this.addSql(`create table "payment_attempt" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "payment_id" uuid not null, "number" smallint not null, "idempotency_key" text not null, "status" "payment_attempt_status" not null default 'PENDING', "gateway_charge_id" text null, "failure_code" text null, "gateway_code" text null, "failure_message" text null, "started_by" uuid null, "started_at" timestamptz not null, "finished_at" timestamptz null, primary key ("id"));`);
    this.addSql(`create index "payment_attempt_organization_id_index" on "payment_attempt" ("organization_id");`);
    this.addSql(`create index "payment_attempt_unsettled_idx" on "payment_attempt" ("started_at") where "status" in ('PENDING', 'UNKNOWN', 'PROCESSING');`);
    this.addSql(`alter table "payment_attempt" add constraint "payment_attempt_organization_id_gateway_charge_id_unique" unique ("organization_id", "gateway_charge_id");`);
    this.addSql(`alter table "payment_attempt" add constraint "payment_attempt_payment_id_number_unique" unique ("payment_id", "number");`);

    this.addSql(`create table "payment_event" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "payment_id" uuid not null, "type" "payment_event_type" not null, "summary" text not null, "detail" jsonb null, "actor_user_id" uuid null, "at" timestamptz not null, primary key ("id"));`);
    this.addSql(`create index "payment_event_organization_id_index" on "payment_event" ("organization_id");`);
    this.addSql(`create index "payment_event_organization_id_payment_id_created_at_index" on "payment_event" ("organization_id", "payment_id", "created_at");`);

    this.addSql(`alter table "payment" add constraint "payment_amounts" check ("amount" > 0 and "amount_refunded" >= 0 and "amount_refunded" <= "amount");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "payment" cascade;`);
    this.addSql(`drop table if exists "payment_attempt" cascade;`);
    this.addSql(`drop table if exists "payment_event" cascade;`);

    this.addSql(`drop type "payment_status";`);
    this.addSql(`drop type "payment_purpose";`);
    this.addSql(`drop type "payment_method_type";`);
    this.addSql(`drop type "payment_resolution";`);
    this.addSql(`drop type "payment_attempt_status";`);
    this.addSql(`drop type "payment_event_type";`);
  }

}
