import { Migration } from '@mikro-orm/migrations';

export class Migration20261121141750_sandbox_gateway extends Migration {

  override name = 'Migration20261121141750_sandbox_gateway';

  override up(): void | Promise<void> {
    // The sandbox gateway's objects (it stands in for Stripe's servers): not tenant-scoped, no card or account numbers.
    this.addSql(`create table "sandbox_gateway_object" ("id" text not null, "type" text not null, "data" jsonb not null, "idempotency_key" text null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`alter table "sandbox_gateway_object" add constraint "sandbox_gateway_object_idempotency_key_unique" unique ("idempotency_key");`);
    this.addSql(`create index "sandbox_gateway_object_type_created_at_index" on "sandbox_gateway_object" ("type", "created_at");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "sandbox_gateway_object" cascade;`);
  }

}
