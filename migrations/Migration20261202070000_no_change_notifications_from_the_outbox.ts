import { Migration } from '@mikro-orm/migrations';

/**
 * The outbox's own rows (`outbox_message`, `outbox_delivery`) stop notifying `settle_data_changed`. No cacheable
 * GraphQL field reads them (only the dead-letter queue does, which is never cached), yet the relay's claim and
 * publish updates and every handler's inbox row dropped the organization's cached answers again, seconds after the
 * business change that wrote the event had already dropped them: during a billing run, several times per billed
 * period. docs/decisions/0004-graphql-read-cache.md; test/graphql-read-cache.test.ts lists the tables left out.
 */
export class Migration20261202070000_no_change_notifications_from_the_outbox extends Migration {

  override name = 'Migration20261202070000_no_change_notifications_from_the_outbox';

  override up(): void | Promise<void> {
    for (const table of ['outbox_message', 'outbox_delivery']) {
      for (const trigger of ['settle_changed_ins', 'settle_changed_upd', 'settle_changed_del']) {
        this.addSql(`drop trigger if exists "${trigger}" on "${table}";`);
      }
    }
  }

  override down(): void | Promise<void> {
    for (const table of ['outbox_message', 'outbox_delivery']) {
      this.addSql(`create trigger settle_changed_ins after insert on "${table}" referencing new table as new_rows for each statement execute function settle_notify_changed_new('organization_id');`);
      this.addSql(`create trigger settle_changed_upd after update on "${table}" referencing old table as old_rows new table as new_rows for each statement execute function settle_notify_changed_both('organization_id');`);
      this.addSql(`create trigger settle_changed_del after delete on "${table}" referencing old table as old_rows for each statement execute function settle_notify_changed_old('organization_id');`);
    }
  }
}
