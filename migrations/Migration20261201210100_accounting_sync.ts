import { Migration } from '@mikro-orm/migrations';

export class Migration20261201210100_accounting_sync extends Migration {

  override name = 'Migration20261201210100_accounting_sync';

  override up(): void | Promise<void> {
    this.addSql(`create type "accounting_connection_state" as enum ('CONNECTED', 'EXPIRED', 'DISCONNECTED');`);
    this.addSql(`create type "accounting_entity_type" as enum ('CUSTOMER', 'INVOICE', 'PAYMENT', 'CREDIT', 'ITEM');`);
    this.addSql(`create type "accounting_sync_status" as enum ('PENDING', 'SYNCED', 'FAILED', 'SKIPPED');`);
    this.addSql(`create table "accounting_connection" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "provider" text not null default 'QUICKBOOKS', "status" "accounting_connection_state" not null default 'CONNECTED', "realm_id" text not null, "access_token_sealed" text not null, "refresh_token_sealed" text not null, "access_token_expires_at" timestamptz not null, "refresh_token_expires_at" timestamptz null, "connected_at" timestamptz not null, "connected_by" uuid null, "last_error" text null, "sync_lease_until" timestamptz null, "last_synced_at" timestamptz null, primary key ("id"));`);
    this.addSql(`create index "accounting_connection_organization_id_index" on "accounting_connection" ("organization_id");`);
    this.addSql(`alter table "accounting_connection" add constraint "accounting_connection_organization_id_unique" unique ("organization_id");`);

    this.addSql(`create table "accounting_mapping" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "realm_id" text not null, "entity_type" "accounting_entity_type" not null, "entity_id" uuid not null, "external_id" text not null, "sync_token" text not null, "detail" jsonb null, primary key ("id"));`);
    this.addSql(`create index "accounting_mapping_organization_id_index" on "accounting_mapping" ("organization_id");`);
    this.addSql(`alter table "accounting_mapping" add constraint "accounting_mapping_record_unique" unique ("organization_id", "realm_id", "entity_type", "entity_id");`);

    this.addSql(`create table "accounting_sync_item" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "event_id" uuid not null, "event_type" text not null, "entity_type" "accounting_entity_type" not null, "entity_id" uuid not null, "payload" jsonb not null, "status" "accounting_sync_status" not null default 'PENDING', "attempts" int not null default 0, "next_attempt_at" timestamptz not null, "last_error" text null, "fault" jsonb null, "http_status" int null, "external_id" text null, "synced_at" timestamptz null, primary key ("id"));`);
    this.addSql(`create index "accounting_sync_item_organization_id_index" on "accounting_sync_item" ("organization_id");`);
    this.addSql(`create index "accounting_sync_item_due_index" on "accounting_sync_item" ("organization_id", "status", "next_attempt_at");`);
    this.addSql(`create index "accounting_sync_item_record_index" on "accounting_sync_item" ("organization_id", "entity_type", "entity_id");`);
    this.addSql(`alter table "accounting_sync_item" add constraint "accounting_sync_item_event_id_unique" unique ("event_id");`);

    this.addSql(`create table "accounting_payment_allocation" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "allocation_id" uuid not null, "payment_id" uuid not null, "invoice_id" uuid not null, "amount" bigint not null, "currency" char(3) not null, "reversed" boolean not null default false, primary key ("id"));`);
    this.addSql(`create index "accounting_payment_allocation_organization_id_index" on "accounting_payment_allocation" ("organization_id");`);
    this.addSql(`create index "accounting_payment_allocation_organization_id_payment_id_index" on "accounting_payment_allocation" ("organization_id", "payment_id");`);
    this.addSql(`alter table "accounting_payment_allocation" add constraint "accounting_payment_allocation_allocation_unique" unique ("organization_id", "allocation_id");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "accounting_connection" cascade;`);
    this.addSql(`drop table if exists "accounting_mapping" cascade;`);
    this.addSql(`drop table if exists "accounting_sync_item" cascade;`);
    this.addSql(`drop table if exists "accounting_payment_allocation" cascade;`);

    this.addSql(`drop type "accounting_connection_state";`);
    this.addSql(`drop type "accounting_entity_type";`);
    this.addSql(`drop type "accounting_sync_status";`);
  }

}
