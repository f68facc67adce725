import { Migration } from '@mikro-orm/migrations';

export class Migration20261201200200_dunning extends Migration {
  override name = 'Migration20261201200200_dunning';

  override up(): void | Promise<void> {
    // ─── dunning (agreements): the organization's policy, and the messages sent once ───
    this.addSql(`create type "dunning_trigger" as enum ('IMMEDIATELY', 'AFTER_FAILED_ATTEMPTS', 'AFTER_DAYS_UNPAID');`);

    this.addSql(`create table "dunning_policy" ("organization_id" uuid not null, "suspend" boolean not null default false, "trigger" "dunning_trigger" not null default 'IMMEDIATELY', "threshold" smallint null, "notify_office_by_email" boolean not null default false, "auto_reactivate_when_paid" boolean not null default false, "updated_by" uuid null, "updated_at" timestamptz not null, primary key ("organization_id"));`);
    this.addSql(`alter table "dunning_policy" add constraint "dunning_policy_threshold_check" check (("trigger" = 'IMMEDIATELY' and "threshold" is null) or ("trigger" <> 'IMMEDIATELY' and "threshold" >= 1 and "threshold" <= 365));`);

    this.addSql(`create table "dunning_notice" ("id" uuid not null, "organization_id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "key" text not null, "agreement_id" uuid not null, "payment_id" uuid null, primary key ("id"));`);
    this.addSql(`create index "dunning_notice_organization_id_index" on "dunning_notice" ("organization_id");`);
    this.addSql(`create index "dunning_notice_organization_id_agreement_id_index" on "dunning_notice" ("organization_id", "agreement_id");`);
    this.addSql(`alter table "dunning_notice" add constraint "dunning_notice_organization_id_key_unique" unique ("organization_id", "key");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "dunning_notice" cascade;`);
    this.addSql(`drop table if exists "dunning_policy" cascade;`);
    this.addSql(`drop type "dunning_trigger";`);
  }
}
