import { Migration } from '@mikro-orm/migrations';

export class Migration20261121134545_notifications extends Migration {

  override name = 'Migration20261121134545_notifications';

  override up(): void | Promise<void> {
    this.addSql(`create type "message_kind" as enum ('RECEIPT', 'PAYMENT_FAILED', 'PAYMENT_REQUEST', 'PAYMENT_PROFILE_REQUEST', 'PAYMENT_METHOD_SAVED', 'AGREEMENT_APPROVED', 'AGREEMENT_SUSPENDED', 'AGREEMENT_REACTIVATED', 'RENEWAL_NOTICE', 'UPCOMING_INSTALLMENT', 'STAFF_ALERT');`);
    this.addSql(`create type "message_channel" as enum ('EMAIL', 'SMS');`);
    this.addSql(`create type "message_status" as enum ('QUEUED', 'SENDING', 'SENT', 'FAILED');`);
    this.addSql(`create table "in_app_notification" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "user_id" uuid not null, "dedupe_key" text not null, "title" text not null, "body" text not null, "link" text null, "read_at" timestamptz null, primary key ("id"));`);
    this.addSql(`create index "in_app_notification_organization_id_index" on "in_app_notification" ("organization_id");`);
    this.addSql(`create index "in_app_notification_user_id_read_at_created_at_index" on "in_app_notification" ("user_id", "read_at", "created_at");`);
    this.addSql(`alter table "in_app_notification" add constraint "in_app_notification_organization_id_user_id_dedupe_key_unique" unique ("organization_id", "user_id", "dedupe_key");`);

    this.addSql(`create table "message" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "dedupe_key" text not null, "kind" "message_kind" not null, "channel" "message_channel" not null, "recipient" text not null, "recipient_name" text not null, "sender_name" text not null, "customer_id" uuid null, "user_id" uuid null, "subject" text null, "text" text not null, "html" text null, "status" "message_status" not null default 'QUEUED', "attempts" int not null default 0, "next_attempt_at" timestamptz not null, "lease_until" timestamptz null, "last_error" text null, "provider_message_id" text null, "sent_at" timestamptz null, primary key ("id"));`);
    this.addSql(`create index "message_organization_id_index" on "message" ("organization_id");`);
    this.addSql(`create index "message_organization_id_customer_id_created_at_index" on "message" ("organization_id", "customer_id", "created_at");`);
    this.addSql(`create index "message_due_idx" on "message" ("next_attempt_at") where "status" in ('QUEUED', 'SENDING');`);
    this.addSql(`alter table "message" add constraint "message_organization_id_dedupe_key_channel_unique" unique ("organization_id", "dedupe_key", "channel");`);

    this.addSql(`create table "notification_template" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "kind" "message_kind" not null, "channel" "message_channel" not null, "subject" text null, "body" text not null, primary key ("id"));`);
    this.addSql(`create index "notification_template_organization_id_index" on "notification_template" ("organization_id");`);
    this.addSql(`alter table "notification_template" add constraint "notification_template_organization_id_kind_channel_unique" unique ("organization_id", "kind", "channel");`);

    this.addSql(`alter table "organization" add "locale" text not null default 'en-US';`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "in_app_notification" cascade;`);
    this.addSql(`drop table if exists "message" cascade;`);
    this.addSql(`drop table if exists "notification_template" cascade;`);

    this.addSql(`alter table "organization" drop column "locale";`);

    this.addSql(`drop type "message_kind";`);
    this.addSql(`drop type "message_channel";`);
    this.addSql(`drop type "message_status";`);
  }

}
