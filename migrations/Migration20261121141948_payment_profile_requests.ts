import { Migration } from '@mikro-orm/migrations';

export class Migration20261121141948_payment_profile_requests extends Migration {

  override name = 'Migration20261121141948_payment_profile_requests';

  override up(): void | Promise<void> {
    this.addSql(`create type "profile_request_purpose" as enum ('NEW', 'REPLACE_CARD');`);
    this.addSql(`create type "profile_request_status" as enum ('PENDING', 'COMPLETED', 'CANCELLED');`);
    this.addSql(`create table "payment_profile_request" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "customer_id" uuid not null, "token_hash" text not null, "channels" text[] not null, "sent_to_email" text null, "sent_to_phone" text null, "kinds" text[] not null, "purpose" "profile_request_purpose" not null default 'NEW', "replaces_payment_method_id" uuid null, "note" text null, "expires_at" timestamptz not null, "status" "profile_request_status" not null default 'PENDING', "requested_by" uuid null, "gateway_session_id" text null, "consent_given" boolean not null default false, "consent_given_at" timestamptz null, "consent_ip_address" text null, "consent_user_agent" text null, "completed_at" timestamptz null, "payment_method_id" uuid null, "cancelled_at" timestamptz null, "cancelled_by" uuid null, primary key ("id"));`);
    this.addSql(`create index "payment_profile_request_organization_id_index" on "payment_profile_request" ("organization_id");`);
    this.addSql(`alter table "payment_profile_request" add constraint "payment_profile_request_token_hash_unique" unique ("token_hash");`);
    this.addSql(`create index "payment_profile_request_organization_id_customer_i_6c6ea_index" on "payment_profile_request" ("organization_id", "customer_id", "created_at");`);
    this.addSql(`create index "payment_profile_request_organization_id_created_at_id_index" on "payment_profile_request" ("organization_id", "created_at", "id");`);

    // A new kind of message (CARD_EXPIRING): not used in this transaction, as PostgreSQL requires of a new enum value.
    this.addSql(`alter type "message_kind" add value if not exists 'CARD_EXPIRING' after 'UPCOMING_INSTALLMENT';`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "payment_profile_request" cascade;`);

    this.addSql(`drop type "profile_request_purpose";`);
    this.addSql(`drop type "profile_request_status";`);

    // PostgreSQL cannot drop an enum value: rebuild message_kind without CARD_EXPIRING (its messages and templates go).
    this.addSql(`delete from "message" where "kind" = 'CARD_EXPIRING';`);
    this.addSql(`delete from "notification_template" where "kind" = 'CARD_EXPIRING';`);
    this.addSql(`alter type "message_kind" rename to "message_kind_old";`);
    this.addSql(`create type "message_kind" as enum ('RECEIPT', 'PAYMENT_FAILED', 'PAYMENT_REQUEST', 'PAYMENT_PROFILE_REQUEST', 'PAYMENT_METHOD_SAVED', 'AGREEMENT_APPROVED', 'AGREEMENT_SUSPENDED', 'AGREEMENT_REACTIVATED', 'RENEWAL_NOTICE', 'UPCOMING_INSTALLMENT', 'STAFF_ALERT');`);
    this.addSql(`alter table "message" alter column "kind" type "message_kind" using "kind"::text::"message_kind";`);
    this.addSql(`alter table "notification_template" alter column "kind" type "message_kind" using "kind"::text::"message_kind";`);
    this.addSql(`drop type "message_kind_old";`);
  }

}
