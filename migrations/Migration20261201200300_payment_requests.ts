import { Migration } from '@mikro-orm/migrations';

export class Migration20261201200300_payment_requests extends Migration {
  override name = 'Migration20261201200300_payment_requests';

  override up(): void | Promise<void> {
    // ─── payment requests (seed 003): pay links by email / SMS, one Payment per attempt on the link ───
    this.addSql(`create type "payment_request_reference_type" as enum ('INVOICE', 'CONTRACT', 'OPPORTUNITY', 'OTHER');`);
    this.addSql(`create type "payment_request_status" as enum ('OPEN', 'COMPLETED', 'EXPIRED', 'CANCELLED', 'CONSOLIDATED');`);
    this.addSql(`create type "payment_request_attempt_status" as enum ('PENDING', 'PROCESSING', 'SUCCEEDED', 'FAILED');`);
    this.addSql(`create type "payment_request_pay_mode" as enum ('CARD', 'BANK_ACCOUNT', 'INSTALLMENTS');`);

    this.addSql(`create table "payment_request" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "customer_id" uuid not null, "amount" bigint not null, "currency" char(3) not null, "description" text not null, "reference" text null, "reference_type" "payment_request_reference_type" not null default 'OTHER', "invoice_id" uuid null, "channels" text[] not null, "sent_to_email" text null, "sent_to_phone" text null, "send_count" smallint not null default 1, "token_hash" text not null, "expires_at" timestamptz not null, "status" "payment_request_status" not null default 'OPEN', "attempt_count" smallint not null default 0, "last_failure_message" text null, "payment_id" uuid null, "method_label" text null, "completed_at" timestamptz null, "expired_at" timestamptz null, "cancelled_at" timestamptz null, "cancelled_by" uuid null, "consolidated_at" timestamptz null, "consolidated_by" uuid null, "read_at" timestamptz null, "created_by" uuid not null, "recreated_from_id" uuid null, "installment_plan_id" uuid null, "bank_debit_pending_since" timestamptz null, "checkout_session_id" text null, "checkout_mode" "payment_request_pay_mode" null, "checkout_consent_text" text null, "checkout_accepted_at" timestamptz null, "checkout_ip_address" text null, "checkout_user_agent" text null, primary key ("id"));`);
    this.addSql(`create index "payment_request_organization_id_index" on "payment_request" ("organization_id");`);
    this.addSql(`alter table "payment_request" add constraint "payment_request_token_hash_unique" unique ("token_hash");`);
    this.addSql(`create index "payment_request_org_created_idx" on "payment_request" ("organization_id", "created_at", "id");`);
    this.addSql(`create index "payment_request_org_creator_idx" on "payment_request" ("organization_id", "created_by", "created_at");`);
    this.addSql(`create index "payment_request_org_customer_idx" on "payment_request" ("organization_id", "customer_id", "created_at");`);
    this.addSql(`create index "payment_request_open_expiry_idx" on "payment_request" ("expires_at") where "status" = 'OPEN';`);
    this.addSql(`alter table "payment_request" add constraint "payment_request_amount" check ("amount" > 0);`);

    this.addSql(`create table "payment_request_attempt" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "request_id" uuid not null, "number" smallint not null, "gateway_session_id" text not null, "status" "payment_request_attempt_status" not null default 'PENDING', "mode" "payment_request_pay_mode" not null default 'CARD', "installment_id" uuid null, "payment_id" uuid null, "method_label" text null, "failure_message" text null, "started_at" timestamptz not null, "finished_at" timestamptz null, primary key ("id"));`);
    this.addSql(`create index "payment_request_attempt_organization_id_index" on "payment_request_attempt" ("organization_id");`);
    this.addSql(`alter table "payment_request_attempt" add constraint "payment_request_attempt_number_unique" unique ("request_id", "number");`);
    this.addSql(`alter table "payment_request_attempt" add constraint "payment_request_attempt_session_unique" unique ("gateway_session_id");`);

    // How long a pay link stays open, per organization (the payments settings row; 24 hours by default).
    this.addSql(`alter table "payment_settings" add column "payment_request_ttl_hours" smallint not null default 24;`);
    // Whether the pay page offers "Pay in 4" (Invoicing installment plans).
    this.addSql(`alter table "payment_settings" add column "payment_request_installments" boolean not null default false;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "payment_settings" drop column "payment_request_installments";`);
    this.addSql(`alter table "payment_settings" drop column "payment_request_ttl_hours";`);
    this.addSql(`drop table if exists "payment_request_attempt" cascade;`);
    this.addSql(`drop table if exists "payment_request" cascade;`);
    this.addSql(`drop type "payment_request_pay_mode";`);
    this.addSql(`drop type "payment_request_attempt_status";`);
    this.addSql(`drop type "payment_request_status";`);
    this.addSql(`drop type "payment_request_reference_type";`);
  }
}
