import { Migration } from '@mikro-orm/migrations';

export class Migration20261121141137_wallet extends Migration {

  override name = 'Migration20261121141137_wallet';

  override up(): void | Promise<void> {
    this.addSql(`create type "consent_action" as enum ('GRANTED', 'REVOKED');`);
    this.addSql(`create type "consent_source" as enum ('HOSTED_PAGE', 'STAFF_ON_CUSTOMER_INSTRUCTION');`);
    this.addSql(`create type "payment_method_kind" as enum ('CARD', 'BANK_ACCOUNT');`);
    this.addSql(`create type "payment_method_status" as enum ('ACTIVE', 'REMOVED');`);
    this.addSql(`create type "payment_method_saved_via" as enum ('STAFF', 'HOSTED_PAGE');`);
    this.addSql(`create table "payment_method_consent" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "payment_method_id" uuid not null, "customer_id" uuid not null, "action" "consent_action" not null, "source" "consent_source" null, "recorded_by" uuid null, "note" text null, "ip_address" text null, "user_agent" text null, primary key ("id"));`);
    this.addSql(`create index "payment_method_consent_organization_id_index" on "payment_method_consent" ("organization_id");`);
    this.addSql(`create index "payment_method_consent_organization_id_payment_met_84899_index" on "payment_method_consent" ("organization_id", "payment_method_id", "created_at");`);

    this.addSql(`create table "payment_method" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "customer_id" uuid not null, "kind" "payment_method_kind" not null, "status" "payment_method_status" not null default 'ACTIVE', "gateway" text not null, "gateway_payment_method_id" text not null, "fingerprint" text not null, "brand" text null, "last4" text not null, "exp_month" smallint null, "exp_year" smallint null, "funding" text null, "bank_name" text null, "account_type" text null, "billing_address" jsonb not null, "is_default" boolean not null default false, "saved_via" "payment_method_saved_via" not null, "saved_by" uuid null, "consent_granted" boolean not null default false, "consent_granted_at" timestamptz null, "consent_source" "consent_source" null, "consent_recorded_by" uuid null, "consent_revoked_at" timestamptz null, "expiry_notice_for" text null, "removed_at" timestamptz null, "removed_by" uuid null, primary key ("id"));`);
    this.addSql(`create index "payment_method_organization_id_index" on "payment_method" ("organization_id");`);
    this.addSql(`create unique index "payment_method_default_uniq" on "payment_method" ("organization_id", "customer_id") where "status" = 'ACTIVE' and "is_default";`);
    this.addSql(`create unique index "payment_method_fingerprint_uniq" on "payment_method" ("organization_id", "customer_id", "kind", "fingerprint") where "status" = 'ACTIVE';`);
    this.addSql(`create index "payment_method_organization_id_customer_id_status_index" on "payment_method" ("organization_id", "customer_id", "status");`);

    this.addSql(`create table "wallet_account" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "customer_id" uuid not null, "gateway" text not null, "gateway_customer_id" text not null, primary key ("id"));`);
    this.addSql(`create index "wallet_account_organization_id_index" on "wallet_account" ("organization_id");`);
    this.addSql(`alter table "wallet_account" add constraint "wallet_account_organization_id_customer_id_unique" unique ("organization_id", "customer_id");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "payment_method_consent" cascade;`);
    this.addSql(`drop table if exists "payment_method" cascade;`);
    this.addSql(`drop table if exists "wallet_account" cascade;`);

    this.addSql(`drop type "consent_action";`);
    this.addSql(`drop type "consent_source";`);
    this.addSql(`drop type "payment_method_kind";`);
    this.addSql(`drop type "payment_method_status";`);
    this.addSql(`drop type "payment_method_saved_via";`);
  }

}
