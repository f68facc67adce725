import { Migration } from '@mikro-orm/migrations';

export class Migration20261121133120_initial extends Migration {

  override name = 'Migration20261121133120_initial';

  override up(): void | Promise<void> {
    this.addSql(`create type "staff_role" as enum ('OWNER', 'ADMIN', 'PAYMENT_MANAGER', 'STAFF');`);
    this.addSql(`create type "outbox_delivery_status" as enum ('PROCESSED', 'DEAD');`);
    this.addSql(`create type "user_status" as enum ('ACTIVE', 'DISABLED');`);
    this.addSql(`create table "invitation" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "email" text not null, "role" "staff_role" not null, "token_hash" text not null, "invited_by_id" uuid not null, "expires_at" timestamptz not null, "accepted_at" timestamptz null, "revoked_at" timestamptz null, primary key ("id"));`);
    this.addSql(`create index "invitation_organization_id_index" on "invitation" ("organization_id");`);
    this.addSql(`alter table "invitation" add constraint "invitation_token_hash_unique" unique ("token_hash");`);

    this.addSql(`create table "organization" ("id" uuid not null, "name" text not null, "currency" char(3) not null default 'USD', "time_zone" text not null default 'UTC', "created_at" timestamptz not null, primary key ("id"));`);

    this.addSql(`create table "outbox_delivery" ("id" uuid not null, "message_id" uuid not null, "handler" text not null, "event_type" text not null, "organization_id" uuid null, "status" "outbox_delivery_status" not null, "attempts" int not null default 0, "last_error" text null, "updated_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`create index "outbox_delivery_organization_id_status_index" on "outbox_delivery" ("organization_id", "status");`);
    this.addSql(`alter table "outbox_delivery" add constraint "outbox_delivery_message_id_handler_unique" unique ("message_id", "handler");`);

    this.addSql(`create table "outbox_message" ("id" uuid not null, "organization_id" uuid null, "type" text not null, "payload" jsonb not null, "occurred_at" timestamptz not null, "published_at" timestamptz null, "claimed_until" timestamptz null, "relay_attempts" int not null default 0, primary key ("id"));`);
    this.addSql(`create index "outbox_message_unpublished_idx" on "outbox_message" ("occurred_at") where "published_at" is null;`);

    this.addSql(`create table "refresh_token" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "user_id" uuid not null, "token_hash" text not null, "family_id" uuid not null, "expires_at" timestamptz not null, "used_at" timestamptz null, "revoked_at" timestamptz null, primary key ("id"));`);
    this.addSql(`create index "refresh_token_organization_id_index" on "refresh_token" ("organization_id");`);
    this.addSql(`alter table "refresh_token" add constraint "refresh_token_token_hash_unique" unique ("token_hash");`);
    this.addSql(`create index "refresh_token_family_id_index" on "refresh_token" ("family_id");`);

    this.addSql(`create table "app_user" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "email" text not null, "name" text not null, "password_hash" text not null, "role" "staff_role" not null, "status" "user_status" not null default 'ACTIVE', "last_login_at" timestamptz null, primary key ("id"));`);
    this.addSql(`create index "app_user_organization_id_index" on "app_user" ("organization_id");`);
    this.addSql(`alter table "app_user" add constraint "app_user_email_unique" unique ("email");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "invitation" cascade;`);
    this.addSql(`drop table if exists "organization" cascade;`);
    this.addSql(`drop table if exists "outbox_delivery" cascade;`);
    this.addSql(`drop table if exists "outbox_message" cascade;`);
    this.addSql(`drop table if exists "refresh_token" cascade;`);
    this.addSql(`drop table if exists "app_user" cascade;`);

    this.addSql(`drop type "staff_role";`);
    this.addSql(`drop type "outbox_delivery_status";`);
    this.addSql(`drop type "user_status";`);
  }

}
