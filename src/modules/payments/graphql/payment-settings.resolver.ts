import { Args, Mutation, Query, Resolver } from '@nestjs/graphql';
import { EntityManager } from '@mikro-orm/postgresql';
import { Authenticated, CurrentUser, MANAGERS, type Principal, Roles } from '#libs/auth/index.js';
import { PaymentSettingsService } from '../application/payment-settings.js';
import { PaymentSettingsView, UpdatePaymentSettingsInput } from './payment-settings.types.js';

/** The organization's payment settings: every staff role may read them; OWNER and ADMIN change them. */
@Resolver(() => PaymentSettingsView)
export class PaymentSettingsResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly settings: PaymentSettingsService,
  ) {}

  @Authenticated()
  @Query(() => PaymentSettingsView, { description: "The organization's payment settings (the automatic retry schedule)" })
  async paymentSettings(): Promise<PaymentSettingsView> {
    return PaymentSettingsView.from(await this.settings.of(this.em));
  }

  @Roles(...MANAGERS)
  @Mutation(() => PaymentSettingsView, {
    description: 'Change the automatic retry schedule (OWNER, ADMIN); it applies to failures from now on',
  })
  async updatePaymentSettings(@CurrentUser() principal: Principal, @Args('input') input: UpdatePaymentSettingsInput): Promise<PaymentSettingsView> {
    return PaymentSettingsView.from(await this.em.transactional((tx) => this.settings.update(tx, input, principal.userId)));
  }
}

