import { Migration } from '@mikro-orm/migrations';

export class Migration20261201200000_agreements extends Migration {

  override name = 'Migration20261201200000_agreements';

  override up(): void | Promise<void> {
    this.addSql(`create type "agreement_signup_link_status" as enum ('PENDING', 'USED', 'CANCELLED');`);
    this.addSql(`create type "agreement_status" as enum ('QUOTE', 'SENT', 'SIGNED', 'ACTIVE', 'SUSPENDED', 'CLOSED', 'EXPIRED');`);
    this.addSql(`create type "billing_frequency" as enum ('MONTHLY', 'QUARTERLY', 'SEMI_ANNUAL', 'ANNUAL');`);
    this.addSql(`create type "work_order_status" as enum ('SCHEDULED', 'SUSPENDED', 'COMPLETED', 'CANCELLED');`);

    this.addSql(`create table "service_agreement" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "customer_id" uuid not null, "name" text not null, "terms" text not null, "lines" jsonb not null, "currency" char(3) not null, "frequency" "billing_frequency" not null, "billing_day" smallint null, "start_date" date not null, "end_date" date null, "payment_method_id" uuid null, "status" "agreement_status" not null default 'QUOTE', "billed_through" date null, "version" int not null default 1, "renewal_of_id" uuid null, "created_by" uuid null, "signed_at" timestamptz null, "signed_ip_address" text null, "signed_user_agent" text null, "signed_version" int null, "approved_at" timestamptz null, "approved_by" uuid null, "closed_at" timestamptz null, primary key ("id"));`);
    this.addSql(`create index "service_agreement_organization_id_index" on "service_agreement" ("organization_id");`);
    this.addSql(`create index "service_agreement_organization_id_status_end_date_index" on "service_agreement" ("organization_id", "status", "end_date");`);
    this.addSql(`create index "service_agreement_organization_id_customer_id_index" on "service_agreement" ("organization_id", "customer_id");`);
    this.addSql(`create index "service_agreement_organization_id_created_at_id_index" on "service_agreement" ("organization_id", "created_at", "id");`);
    this.addSql(`alter table "service_agreement" add constraint "service_agreement_billing_day_check" check ("billing_day" is null or ("billing_day" >= 1 and "billing_day" <= 28));`);

    this.addSql(`create table "agreement_transition" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "agreement_id" uuid not null, "from_status" "agreement_status" null, "to_status" "agreement_status" not null, "at" timestamptz not null, "version" int not null, "actor_user_id" uuid null, "reason" text null, primary key ("id"));`);
    this.addSql(`create index "agreement_transition_organization_id_index" on "agreement_transition" ("organization_id");`);
    this.addSql(`create index "agreement_transition_agreement_id_version_index" on "agreement_transition" ("agreement_id", "version");`);

    this.addSql(`create table "work_order" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "customer_id" uuid not null, "agreement_id" uuid null, "scheduled_for" date not null, "title" text not null, "status" "work_order_status" not null default 'SCHEDULED', "invoice_id" uuid null, "technician_user_id" uuid null, "completed_at" timestamptz null, "cancelled_at" timestamptz null, "created_by" uuid null, primary key ("id"));`);
    this.addSql(`create index "work_order_organization_id_index" on "work_order" ("organization_id");`);
    this.addSql(`create index "work_order_organization_id_customer_id_index" on "work_order" ("organization_id", "customer_id");`);
    this.addSql(`create index "work_order_organization_id_scheduled_for_status_index" on "work_order" ("organization_id", "scheduled_for", "status");`);
    this.addSql(`alter table "work_order" add constraint "work_order_agreement_id_scheduled_for_unique" unique ("agreement_id", "scheduled_for");`);

    this.addSql(`create table "agreement_signup_link" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "agreement_id" uuid not null, "token_hash" text not null, "expires_at" timestamptz not null, "status" "agreement_signup_link_status" not null default 'PENDING', "sent_by" uuid null, "sent_to_email" text null, "accepted_at" timestamptz null, "accepted_ip_address" text null, "accepted_user_agent" text null, "accepted_version" int null, "gateway_session_id" text null, "used_at" timestamptz null, "cancelled_at" timestamptz null, primary key ("id"));`);
    this.addSql(`create index "agreement_signup_link_organization_id_index" on "agreement_signup_link" ("organization_id");`);
    this.addSql(`alter table "agreement_signup_link" add constraint "agreement_signup_link_token_hash_unique" unique ("token_hash");`);
    this.addSql(`create index "agreement_signup_link_agreement_id_index" on "agreement_signup_link" ("agreement_id");`);

    // A new kind of message (AGREEMENT_SIGNUP): not used in this transaction, as PostgreSQL requires of a new enum value.
    this.addSql(`alter type "message_kind" add value if not exists 'AGREEMENT_SIGNUP' after 'PAYMENT_METHOD_SAVED';`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "agreement_signup_link" cascade;`);
    this.addSql(`drop table if exists "work_order" cascade;`);
    this.addSql(`drop table if exists "agreement_transition" cascade;`);
    this.addSql(`drop table if exists "service_agreement" cascade;`);

    this.addSql(`drop type "agreement_signup_link_status";`);
    this.addSql(`drop type "agreement_status";`);
    this.addSql(`drop type "billing_frequency";`);
    this.addSql(`drop type "work_order_status";`);

    // PostgreSQL cannot drop an enum value: rebuild message_kind without AGREEMENT_SIGNUP (its messages and templates go).
    this.addSql(`delete from "message" where "kind" = 'AGREEMENT_SIGNUP';`);
    this.addSql(`delete from "notification_template" where "kind" = 'AGREEMENT_SIGNUP';`);
    this.addSql(`alter type "message_kind" rename to "message_kind_old";`);
    this.addSql(`create type "message_kind" as enum ('RECEIPT', 'PAYMENT_FAILED', 'PAYMENT_REQUEST', 'PAYMENT_PROFILE_REQUEST', 'PAYMENT_METHOD_SAVED', 'AGREEMENT_APPROVED', 'AGREEMENT_SUSPENDED', 'AGREEMENT_REACTIVATED', 'RENEWAL_NOTICE', 'UPCOMING_INSTALLMENT', 'CARD_EXPIRING', 'STAFF_ALERT');`);
    this.addSql(`alter table "message" alter column "kind" type "message_kind" using "kind"::text::"message_kind";`);
    this.addSql(`alter table "notification_template" alter column "kind" type "message_kind" using "kind"::text::"message_kind";`);
    this.addSql(`drop type "message_kind_old";`);
  }

}
