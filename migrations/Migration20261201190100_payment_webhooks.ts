import { Migration } from '@mikro-orm/migrations';

export class Migration20261201190100_payment_webhooks extends Migration {

  override name = 'Migration20261201190100_payment_webhooks';

  override up(): void | Promise<void> {
    this.addSql(`create type "webhook_event_outcome" as enum ('PENDING', 'PROCESSED', 'IGNORED', 'UNMATCHED');`);
    this.addSql(`create table "webhook_event" ("id" uuid not null, "gateway" text not null, "event_id" text not null, "type" text not null, "charge_id" text null, "organization_id" uuid null, "payment_id" uuid null, "outcome" "webhook_event_outcome" not null default 'PENDING', "attempts" int not null default 0, "claimed_until" timestamptz null, "last_error" text null, "received_at" timestamptz not null, "processed_at" timestamptz null, primary key ("id"));`);
    this.addSql(`create index "webhook_event_payment_id_index" on "webhook_event" ("payment_id");`);
    this.addSql(`alter table "webhook_event" add constraint "webhook_event_gateway_event_id_unique" unique ("gateway", "event_id");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "webhook_event" cascade;`);

    this.addSql(`drop type "webhook_event_outcome";`);
  }

}
