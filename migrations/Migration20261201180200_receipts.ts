import { Migration } from '@mikro-orm/migrations';

export class Migration20261201180200_receipts extends Migration {

  override name = 'Migration20261201180200_receipts';

  override up(): void | Promise<void> {
    this.addSql(`create table "receipt" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "number" text not null, "sequence" bigint not null, "payment_id" uuid not null, "customer_id" uuid not null, "currency" char(3) not null, "amount" bigint not null, "amount_applied" bigint not null default '0', "amount_credited" bigint not null default '0', "method_label" text not null, "method_brand" text null, "method_last4" varchar(4) null, "payment_reference" text null, "received_at" timestamptz not null, "applied_to" jsonb not null, "organization_name" text not null, "customer_name" text not null, "customer_email" text null, "link_token_hash" text not null, "link_expires_at" timestamptz not null, "last_emailed_at" timestamptz null, "email_count" int not null default 0, primary key ("id"));`);
    this.addSql(`create index "receipt_organization_id_index" on "receipt" ("organization_id");`);
    this.addSql(`create index "receipt_organization_id_received_at_id_index" on "receipt" ("organization_id", "received_at", "id");`);
    this.addSql(`create index "receipt_organization_id_customer_id_received_at_id_index" on "receipt" ("organization_id", "customer_id", "received_at", "id");`);
    this.addSql(`alter table "receipt" add constraint "receipt_link_token_hash_unique" unique ("link_token_hash");`);
    this.addSql(`alter table "receipt" add constraint "receipt_payment_id_unique" unique ("payment_id");`);
    this.addSql(`alter table "receipt" add constraint "receipt_organization_id_number_unique" unique ("organization_id", "number");`);

    this.addSql(`create table "receipt_number_counter" ("organization_id" uuid not null, "next" bigint not null, primary key ("organization_id"));`);

    this.addSql(`alter table "receipt" add constraint "receipt_amounts_within_amount" check ("amount" > 0 and "amount_applied" >= 0 and "amount_credited" >= 0 and "amount_applied" + "amount_credited" <= "amount");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "receipt" cascade;`);
    this.addSql(`drop table if exists "receipt_number_counter" cascade;`);
  }

}
