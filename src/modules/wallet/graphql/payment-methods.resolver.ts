import { ParseUUIDPipe } from '@nestjs/common';
import { Args, ID, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { EntityManager } from '@mikro-orm/postgresql';
import { Authenticated, CurrentUser, type Principal, Roles } from '#libs/auth/index.js';
import { ApplicationError, Clock } from '#libs/ddd/index.js';
import { CustomerDirectory } from '../../customers/index.js';
import { ManagePaymentMethods } from '../application/manage-payment-methods.use-case.js';
import { SavePaymentMethod, WALLET_MANAGER_ROLES } from '../application/save-payment-method.use-case.js';
import { ConsentRecord } from '../domain/consent-record.entity.js';
import { ConsentSource, PaymentMethod, PaymentMethodStatus, SavedVia } from '../domain/payment-method.entity.js';
import { WalletError } from '../wallet.error.js';
import {
  ConsentRecordView,
  PaymentMethodConsentInput,
  PaymentMethodView,
  ReplaceCardInput,
  SavePaymentMethodInput,
  SavePaymentMethodPayload,
  UpdateCardExpiryInput,
} from './payment-methods.types.js';

const idPipe = () => new ParseUUIDPipe({ exceptionFactory: () => ApplicationError.notFound('Payment method') });

/**
 * The wallet over GraphQL. Every staff role may look; saving, removing and anything touching consent need OWNER,
 * ADMIN or PAYMENT_MANAGER, because a saved method with consent can be charged without the customer present.
 */
@Resolver(() => PaymentMethodView)
export class PaymentMethodsResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly clock: Clock,
    private readonly saver: SavePaymentMethod,
    private readonly manage: ManagePaymentMethods,
    private readonly customers: CustomerDirectory,
  ) {}

  @Authenticated()
  @Query(() => [PaymentMethodView], { description: "A customer's saved cards and bank accounts, default first" })
  async paymentMethods(
    @Args('customerId', { type: () => ID }, new ParseUUIDPipe({ exceptionFactory: () => ApplicationError.notFound('Customer') }))
    customerId: string,
    @Args('includeRemoved', { defaultValue: false, description: 'Also list removed methods (history)' }) includeRemoved: boolean,
  ): Promise<PaymentMethodView[]> {
    await this.customers.require(this.em, customerId); // another organization's customer is NOT_FOUND, not an empty wallet
    const methods = await this.em.find(
      PaymentMethod,
      includeRemoved ? { customerId } : { customerId, status: PaymentMethodStatus.ACTIVE },
      { orderBy: { isDefault: 'desc', createdAt: 'desc', id: 'desc' } },
    );
    return methods.map((m) => this.view(m));
  }

  @Authenticated()
  @Query(() => PaymentMethodView, { description: 'One saved method' })
  async paymentMethod(@Args('id', { type: () => ID }, idPipe()) id: string): Promise<PaymentMethodView> {
    const method = await this.em.findOne(PaymentMethod, { id });
    if (!method) throw WalletError.notFound(id);
    return this.view(method);
  }

  @ResolveField(() => [ConsentRecordView], { description: 'Every grant and revocation of consent, oldest first' })
  async consentHistory(@Parent() method: PaymentMethodView): Promise<ConsentRecordView[]> {
    const records = await this.em.find(ConsentRecord, { paymentMethodId: method.id }, { orderBy: { createdAt: 'asc', id: 'asc' } });
    return records.map(ConsentRecordView.from);
  }

  @Roles(...WALLET_MANAGER_ROLES)
  @Mutation(() => SavePaymentMethodPayload, {
    description:
      "Save a card or bank account to a customer's wallet from a gateway token (OWNER, ADMIN, PAYMENT_MANAGER). At most 10 " +
      'cards and 10 bank accounts; the same card again updates the saved one. The customer is notified.',
  })
  async savePaymentMethod(
    @CurrentUser() principal: Principal,
    @Args('input') input: SavePaymentMethodInput,
  ): Promise<SavePaymentMethodPayload> {
    const result = await this.em.transactional((tx) =>
      this.saver.execute(tx, {
        customerId: input.customerId,
        token: input.token,
        billingAddress: input.billingAddress ? input.billingAddress.toAddress() : null,
        makeDefault: input.makeDefault,
        consent: input.consentGiven ? { source: ConsentSource.STAFF_ON_CUSTOMER_INSTRUCTION, note: input.consentNote ?? null } : null,
        via: SavedVia.STAFF,
        actorUserId: principal.userId,
      }),
    );
    return Object.assign(new SavePaymentMethodPayload(), {
      paymentMethod: this.view(result.method),
      updatedExisting: result.updatedExisting,
    });
  }

  @Roles(...WALLET_MANAGER_ROLES)
  @Mutation(() => PaymentMethodView, { description: 'Make a method the default (OWNER, ADMIN, PAYMENT_MANAGER)' })
  async setDefaultPaymentMethod(@Args('id', { type: () => ID }, idPipe()) id: string): Promise<PaymentMethodView> {
    return this.view(await this.em.transactional((tx) => this.manage.setDefault(tx, id)));
  }

  @Roles(...WALLET_MANAGER_ROLES)
  @Mutation(() => PaymentMethodView, {
    description: 'Remove a method from the wallet and detach it at the gateway (OWNER, ADMIN, PAYMENT_MANAGER)',
  })
  async removePaymentMethod(
    @CurrentUser() principal: Principal,
    @Args('id', { type: () => ID }, idPipe()) id: string,
  ): Promise<PaymentMethodView> {
    return this.view(await this.em.transactional((tx) => this.manage.remove(tx, id, principal.userId)));
  }

  @Roles(...WALLET_MANAGER_ROLES)
  @Mutation(() => PaymentMethodView, {
    description: "A renewed card's new expiry; only with the customer's consent (OWNER, ADMIN, PAYMENT_MANAGER)",
  })
  async updateCardExpiry(@Args('input') input: UpdateCardExpiryInput): Promise<PaymentMethodView> {
    return this.view(await this.em.transactional((tx) => this.manage.updateCardExpiry(tx, input.id, input.expMonth, input.expYear)));
  }

  @Roles(...WALLET_MANAGER_ROLES)
  @Mutation(() => PaymentMethodView, {
    description:
      "Replace a card with a new one, keeping its consent and default; only with the customer's consent (OWNER, ADMIN, PAYMENT_MANAGER)",
  })
  async replaceCard(@CurrentUser() principal: Principal, @Args('input') input: ReplaceCardInput): Promise<PaymentMethodView> {
    return this.view(
      await this.em.transactional((tx) => this.manage.replaceCard(tx, input.id, input.token, principal.userId, SavedVia.STAFF)),
    );
  }

  @Roles(...WALLET_MANAGER_ROLES)
  @Mutation(() => PaymentMethodView, {
    description: "Record the customer's consent to future charges, on their instruction (OWNER, ADMIN, PAYMENT_MANAGER)",
  })
  async grantPaymentMethodConsent(
    @CurrentUser() principal: Principal,
    @Args('input') input: PaymentMethodConsentInput,
  ): Promise<PaymentMethodView> {
    return this.view(await this.em.transactional((tx) => this.manage.grantConsent(tx, input.id, principal.userId, input.note ?? null)));
  }

  @Roles(...WALLET_MANAGER_ROLES)
  @Mutation(() => PaymentMethodView, {
    description: 'Revoke consent: the method can no longer be charged without the customer (OWNER, ADMIN, PAYMENT_MANAGER)',
  })
  async revokePaymentMethodConsent(
    @CurrentUser() principal: Principal,
    @Args('input') input: PaymentMethodConsentInput,
  ): Promise<PaymentMethodView> {
    return this.view(await this.em.transactional((tx) => this.manage.revokeConsent(tx, input.id, principal.userId, input.note ?? null)));
  }

  private view(method: PaymentMethod): PaymentMethodView {
    return PaymentMethodView.from(method, this.clock.now());
  }
}
