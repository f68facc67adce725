import { Migration } from '@mikro-orm/migrations';

export class Migration20261201180100_installment_plans extends Migration {
  override name = 'Migration20261201180100_installment_plans';

  override up(): void | Promise<void> {}

  override down(): void | Promise<void> {}
}
