import { Migration } from '@mikro-orm/migrations';

export class Migration20261201180000_reconciliation extends Migration {
  override name = 'Migration20261201180000_reconciliation';

  override up(): void | Promise<void> {}

  override down(): void | Promise<void> {}
}
