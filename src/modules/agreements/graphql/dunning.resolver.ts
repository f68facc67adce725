import { ParseUUIDPipe } from '@nestjs/common';
import { Args, ID, Mutation, Query, Resolver } from '@nestjs/graphql';
import { EntityManager } from '@mikro-orm/postgresql';
import { CurrentUser, type Principal, Role, Roles } from '#libs/auth/index.js';
import { ApplicationError } from '#libs/ddd/index.js';
import { Dunning } from '../application/dunning.js';
import { OrganizationClock } from '../application/organization-today.js';
import { AgreementView } from './agreement.types.js';
import { DunningPolicyView, UpdateDunningPolicyInput } from './dunning.types.js';

/** Ids are UUIDs; anything else is an agreement that does not exist (NOT_FOUND). */
function idPipe(): ParseUUIDPipe {
  return new ParseUUIDPipe({ exceptionFactory: () => ApplicationError.notFound('Agreement') });
}


/** The dunning policy (OWNER, ADMIN) and the one-click reactivation of a suspended agreement (+ PAYMENT_MANAGER). */
@Resolver(() => DunningPolicyView)
export class DunningResolver {
  constructor(
    private readonly em: EntityManager,
    private readonly dunning: Dunning,
    private readonly org: OrganizationClock,
  ) {}

  @Roles(Role.OWNER, Role.ADMIN)
  @Query(() => DunningPolicyView, { description: "The organization's dunning policy (the defaults — never suspend — until changed)" })
  async dunningPolicy(): Promise<DunningPolicyView> {
    return DunningPolicyView.from(await this.dunning.policy(this.em));
  }

  @Roles(Role.OWNER, Role.ADMIN)
  @Mutation(() => DunningPolicyView, {
    description: 'Change the dunning policy (OWNER, ADMIN); it applies at the next evaluation (a payment event of the customer, or the daily job)',
  })
  async updateDunningPolicy(@CurrentUser() principal: Principal, @Args('input') input: UpdateDunningPolicyInput): Promise<DunningPolicyView> {
    return DunningPolicyView.from(await this.em.transactional((tx) => this.dunning.updatePolicy(tx, input, principal.userId)));
  }

  @Roles(Role.OWNER, Role.ADMIN, Role.PAYMENT_MANAGER)
  @Mutation(() => AgreementView, {
    description:
      'One click: a SUSPENDED agreement is ACTIVE again and its suspended visits SCHEDULED; the customer is told. ' +
      'CONFLICT / AGREEMENT_OVERDUE while its policy would still suspend it (collect the overdue payment first)',
  })
  async reactivateAgreement(@CurrentUser() principal: Principal, @Args('id', { type: () => ID }, idPipe()) id: string): Promise<AgreementView> {
    const agreement = await this.em.transactional((tx) => this.dunning.reactivate(tx, id, principal.userId));
    return AgreementView.from(agreement, (await this.org.of(this.em)).locale);
  }
}
