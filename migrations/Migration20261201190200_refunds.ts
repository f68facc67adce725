import { Migration } from '@mikro-orm/migrations';

export class Migration20261201190200_refunds extends Migration {
  override name = 'Migration20261201190200_refunds';

  override up(): void | Promise<void> {
    this.addSql(`create type "refund_status" as enum ('PENDING', 'SUCCEEDED', 'FAILED');`);
    this.addSql(`create table "refund" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "payment_id" uuid not null, "customer_id" uuid not null, "amount" bigint not null, "currency" char(3) not null, "status" "refund_status" not null default 'PENDING', "reason" text not null, "reopen_invoices" boolean not null default false, "idempotency_key" text not null, "gateway_refund_id" text null, "failure_code" text null, "failure_message" text null, "created_by" uuid null, "succeeded_at" timestamptz null, "failed_at" timestamptz null, primary key ("id"));`);
    this.addSql(`create index "refund_organization_id_index" on "refund" ("organization_id");`);
    this.addSql(`create index "refund_pending_idx" on "refund" ("updated_at") where "status" = 'PENDING';`);
    this.addSql(`create index "refund_organization_id_payment_id_created_at_index" on "refund" ("organization_id", "payment_id", "created_at");`);
    this.addSql(`alter table "refund" add constraint "refund_organization_id_idempotency_key_unique" unique ("organization_id", "idempotency_key");`);
    this.addSql(`alter table "refund" add constraint "refund_amount_positive" check ("amount" > 0);`);

    // Invoicing: what Payments gave back of a received payment (out of its unallocated part), so it is not counted as unallocated.
    this.addSql(`alter table "received_payment" add column "amount_refunded" bigint not null default '0';`);
    this.addSql(`alter table "received_payment" drop constraint "received_payment_within_amount";`);
    this.addSql(`alter table "received_payment" add constraint "received_payment_within_amount" check ("amount" > 0 and "amount_allocated" >= 0 and "amount_credited" >= 0 and "amount_refunded" >= 0 and "amount_allocated" + "amount_credited" + "amount_refunded" <= "amount");`);

    // The customer's messages: money given back, and a bank debit cancelled before it settled.
    this.addSql(`alter type "message_kind" add value if not exists 'REFUND_ISSUED' after 'CARD_EXPIRING';`);
    this.addSql(`alter type "message_kind" add value if not exists 'PAYMENT_CANCELLED' after 'REFUND_ISSUED';`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "refund" cascade;`);
    this.addSql(`drop type "refund_status";`);

    this.addSql(`alter table "received_payment" drop constraint "received_payment_within_amount";`);
    this.addSql(`alter table "received_payment" drop column "amount_refunded";`);
    this.addSql(`alter table "received_payment" add constraint "received_payment_within_amount" check ("amount" > 0 and "amount_allocated" >= 0 and "amount_credited" >= 0 and "amount_allocated" + "amount_credited" <= "amount");`);

    // PostgreSQL cannot drop an enum value: rebuild message_kind without them (their messages and templates go).
    this.addSql(`delete from "message" where "kind" in ('REFUND_ISSUED', 'PAYMENT_CANCELLED');`);
    this.addSql(`delete from "notification_template" where "kind" in ('REFUND_ISSUED', 'PAYMENT_CANCELLED');`);
    // Rebuilt from the values it has now (other migrations may have added some), less these two.
    this.addSql(`do $$ declare labels text; begin
      select string_agg(quote_literal(enumlabel), ', ' order by enumsortorder) into labels
        from pg_enum where enumtypid = 'message_kind'::regtype and enumlabel not in ('REFUND_ISSUED', 'PAYMENT_CANCELLED');
      alter type "message_kind" rename to "message_kind_old";
      execute 'create type "message_kind" as enum (' || labels || ')';
    end $$;`);
    this.addSql(`alter table "message" alter column "kind" type "message_kind" using "kind"::text::"message_kind";`);
    this.addSql(`alter table "notification_template" alter column "kind" type "message_kind" using "kind"::text::"message_kind";`);
    this.addSql(`drop type "message_kind_old";`);
  }
}
