import { Migration } from '@mikro-orm/migrations';

export class Migration20261201210000_outbound_webhooks extends Migration {

  override name = 'Migration20261201210000_outbound_webhooks';

  override up(): void | Promise<void> {
    this.addSql(`create type "webhook_delivery_status" as enum ('PENDING', 'SENDING', 'DELIVERED', 'FAILED', 'SKIPPED');`);
    this.addSql(`create table "webhook_endpoint" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "url" text not null, "description" text null, "event_types" jsonb not null, "enabled" boolean not null default true, "secret_ciphertext" text not null, "secret_hint" text not null, "secret_rotated_at" timestamptz not null, "disabled_at" timestamptz null, "created_by" uuid null, primary key ("id"));`);
    this.addSql(`create index "webhook_endpoint_organization_id_index" on "webhook_endpoint" ("organization_id");`);
    this.addSql(`create index "webhook_endpoint_organization_id_created_at_id_index" on "webhook_endpoint" ("organization_id", "created_at", "id");`);

    this.addSql(`create table "webhook_delivery" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "endpoint_id" uuid not null, "event_id" uuid not null, "event_type" text not null, "body" text not null, "status" "webhook_delivery_status" not null default 'PENDING', "attempts" int not null default 0, "next_attempt_at" timestamptz null, "lease_until" timestamptz null, "window_started_at" timestamptz not null, "delivered_at" timestamptz null, "replay_pending" boolean not null default false, "last_status_code" int null, "last_error" text null, primary key ("id"));`);
    this.addSql(`create index "webhook_delivery_organization_id_index" on "webhook_delivery" ("organization_id");`);
    this.addSql(`create index "webhook_delivery_due_idx" on "webhook_delivery" ("next_attempt_at") where "status" in ('PENDING', 'SENDING');`);
    this.addSql(`create index "webhook_delivery_organization_id_endpoint_id_creat_6d997_index" on "webhook_delivery" ("organization_id", "endpoint_id", "created_at", "id");`);
    this.addSql(`alter table "webhook_delivery" add constraint "webhook_delivery_event_id_endpoint_id_unique" unique ("event_id", "endpoint_id");`);

    this.addSql(`create table "webhook_delivery_attempt" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "delivery_id" uuid not null, "number" int not null, "started_at" timestamptz not null, "duration_ms" int not null, "status_code" int null, "response_body" text null, "error" text null, "replay" boolean not null default false, primary key ("id"));`);
    this.addSql(`create index "webhook_delivery_attempt_organization_id_index" on "webhook_delivery_attempt" ("organization_id");`);
    this.addSql(`alter table "webhook_delivery_attempt" add constraint "webhook_delivery_attempt_delivery_id_number_unique" unique ("delivery_id", "number");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "webhook_delivery_attempt" cascade;`);
    this.addSql(`drop table if exists "webhook_delivery" cascade;`);
    this.addSql(`drop table if exists "webhook_endpoint" cascade;`);

    this.addSql(`drop type "webhook_delivery_status";`);
  }

}
