import { Migration } from '@mikro-orm/migrations';

export class Migration20261201180200_receipts extends Migration {
  override name = 'Migration20261201180200_receipts';

  override up(): void | Promise<void> {}

  override down(): void | Promise<void> {}
}
