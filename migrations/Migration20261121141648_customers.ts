import { Migration } from '@mikro-orm/migrations';

export class Migration20261121141648_customers extends Migration {

  override name = 'Migration20261121141648_customers';

  override up(): void | Promise<void> {
    // pg_trgm: trigram GIN index for the customers search (LIKE '%…%'); btree_gin: organization_id inside GIN indexes.
    this.addSql(`create extension if not exists pg_trgm;`);
    this.addSql(`create extension if not exists btree_gin;`);
    this.addSql(`create type "customer_status" as enum ('ACTIVE', 'INACTIVE', 'ARCHIVED');`);
    this.addSql(`create table "customer" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "name" text not null, "sort_name" text not null, "email" text null, "phone" text null, "billing_address" jsonb null, "service_addresses" jsonb not null default '[]', "external_reference" text null, "notes" text null, "tags" text[] not null default '{}', "status" "customer_status" not null default 'ACTIVE', "archived_at" timestamptz null, "marketing_opt_out" boolean not null default false, "has_card" boolean not null default false, "has_bank_account" boolean not null default false, "has_consent" boolean not null default false, "card_expires_on" date null, "search_text" text not null, primary key ("id"));`);
    this.addSql(`create index "customer_organization_id_index" on "customer" ("organization_id");`);
    this.addSql(`create index "customer_card_expiry_idx" on "customer" ("organization_id", "card_expires_on") where "card_expires_on" is not null;`);
    this.addSql(`create index "customer_tags_idx" on "customer" using gin ("organization_id", "tags");`);
    this.addSql(`create index "customer_search_trgm_idx" on "customer" using gin ("organization_id", "search_text" gin_trgm_ops);`);
    this.addSql(`create index "customer_list_idx" on "customer" ("organization_id", "sort_name", "id") include ("status", "has_card", "has_bank_account", "has_consent", "card_expires_on");`);
    this.addSql(`alter table "customer" add constraint "customer_organization_id_external_reference_unique" unique ("organization_id", "external_reference");`);

    this.addSql(`create table "customer_member" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "customer_id" uuid not null, "name" text not null, "email" text null, "phone" text null, "relationship" text null, "date_of_birth" date null, primary key ("id"));`);
    this.addSql(`create index "customer_member_organization_id_index" on "customer_member" ("organization_id");`);
    this.addSql(`create index "customer_member_organization_id_customer_id_index" on "customer_member" ("organization_id", "customer_id");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "customer_member" cascade;`);
    this.addSql(`drop table if exists "customer" cascade;`);

    this.addSql(`drop type "customer_status";`);
    // The extensions stay: they may predate this migration or serve other tables by now.
  }

}
