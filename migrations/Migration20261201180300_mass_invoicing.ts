import { Migration } from '@mikro-orm/migrations';

export class Migration20261201180300_mass_invoicing extends Migration {
  override name = 'Migration20261201180300_mass_invoicing';

  override up(): void | Promise<void> {}

  override down(): void | Promise<void> {}
}
