import { Injectable } from '@nestjs/common';
import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Role } from '#libs/auth/index.js';
import { Clock, domainEvent, isUuid } from '#libs/ddd/index.js';
import { Outbox } from '#libs/outbox/index.js';
import { currentTenant } from '#libs/tenancy/index.js';
import { CustomerDirectory } from '../../customers/index.js';
import { Channel, MessageKind, Notifications } from '../../notifications/index.js';
import { Wallet } from '../../wallet/index.js';
import { AgreementsError, AgreementsErrorReason } from '../agreements.error.js';
import { AgreementsEvents, type AgreementStatusChangedPayload } from '../agreements.events.js';
import { AgreementTransition, ServiceAgreement } from '../domain/agreement.entity.js';
import { AgreementStatus, canTransition } from '../domain/agreement-status.js';
import { priceLines } from '../domain/agreement-lines.js';
import { AgreementSignupLink, SignupLinkStatus } from '../domain/signup-link.entity.js';
import { ApplicationError } from '#libs/ddd/index.js';
import { OrganizationClock } from './organization-today.js';
import { WorkOrders } from './work-orders.use-case.js';

export interface SignedBy {
  paymentMethodId: string;
  ipAddress: string | null;
  userAgent: string | null;
  /** The agreement version the customer saw and accepted. */
  version: number;
}

/**
 * The only way an agreement's status changes. Each change locks the agreement row, checks the transition is legal
 * (CONFLICT / ILLEGAL_TRANSITION naming from and to otherwise), records an AgreementTransition (who — null for the
 * customer or Settle —, when, why) and announces AgreementStatusChanged, all in the caller's transaction.
 */
@Injectable()
export class AgreementLifecycle {
  constructor(
    private readonly outbox: Outbox,
    private readonly clock: Clock,
    private readonly org: OrganizationClock,
    private readonly workOrders: WorkOrders,
    private readonly wallet: Wallet,
    private readonly customers: CustomerDirectory,
    private readonly notifications: Notifications,
  ) {}

  /** The agreement, locked until the transaction ends (NOT_FOUND for another organization's). */
  async lock(em: EntityManager, id: string): Promise<ServiceAgreement> {
    const agreement = isUuid(id) ? await em.findOne(ServiceAgreement, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true }) : null;
    if (!agreement) throw AgreementsError.agreementNotFound(id);
    return agreement;
  }

  /** Records the creation of a quote (from null to QUOTE). */
  recordCreated(em: EntityManager, agreement: ServiceAgreement, actorUserId: string | null, reason: string | null): void {
    this.record(em, agreement, null, AgreementStatus.QUOTE, actorUserId, reason);
  }

  /** Moves a locked agreement to `to`, or refuses an illegal transition. */
  transition(em: EntityManager, agreement: ServiceAgreement, to: AgreementStatus, actorUserId: string | null, reason: string | null): void {
    const from = agreement.status;
    if (!canTransition(from, to)) throw illegal(agreement, from, to);
    agreement.status = to;
    agreement.version += 1;
    if (to === AgreementStatus.CLOSED || to === AgreementStatus.EXPIRED) agreement.closedAt = this.clock.now();
    this.record(em, agreement, from, to, actorUserId, reason);
  }

  /** SENT → SIGNED, from the hosted page: the customer accepted the terms and saved a method with consent. */
  async sign(em: EntityManager, agreement: ServiceAgreement, by: SignedBy): Promise<void> {
    this.transition(em, agreement, AgreementStatus.SIGNED, null, 'Accepted by the customer on the sign-up page');
    agreement.paymentMethodId = by.paymentMethodId;
    agreement.signedAt = this.clock.now();
    agreement.signedIpAddress = by.ipAddress;
    agreement.signedUserAgent = by.userAgent;
    agreement.signedVersion = by.version;
    await em.flush();
  }

  /**
   * SIGNED → ACTIVE: an OWNER or ADMIN's final approval. The method must be chargeable without the customer present
   * (with consent, not removed, not expired). Billing starts; the visits are scheduled; the customer is told.
   */
  async approve(em: EntityManager, id: string, actorUserId: string, reason: string | null): Promise<ServiceAgreement> {
    const agreement = await this.lock(em, id);
    if (!canTransition(agreement.status, AgreementStatus.ACTIVE) || agreement.status !== AgreementStatus.SIGNED) {
      throw illegal(agreement, agreement.status, AgreementStatus.ACTIVE);
    }
    if (!agreement.paymentMethodId) {
      throw new AgreementsError(AgreementsErrorReason.PAYMENT_METHOD_NOT_CHARGEABLE, `"${agreement.name}" has no payment method on file`, 'paymentMethodId');
    }
    try {
      await this.wallet.chargeable(em, agreement.paymentMethodId, { requireConsent: true });
    } catch (error) {
      if (!(error instanceof ApplicationError)) throw error;
      throw new AgreementsError(
        AgreementsErrorReason.PAYMENT_METHOD_NOT_CHARGEABLE,
        `"${agreement.name}" cannot be approved: ${error.message}`,
        'paymentMethodId',
        { walletReason: error.reason },
      );
    }
    this.transition(em, agreement, AgreementStatus.ACTIVE, actorUserId, reason);
    agreement.approvedAt = this.clock.now();
    agreement.approvedBy = actorUserId;
    await em.flush();
    await this.workOrders.generate(em, agreement);

    const customer = await this.customers.require(em, agreement.customerId);
    const channels = customer.email ? [Channel.EMAIL] : customer.phone ? [Channel.SMS] : [];
    if (channels.length) {
      await this.notifications.notifyCustomer(em, {
        dedupeKey: `agreement-approved:${agreement.id}`,
        kind: MessageKind.AGREEMENT_APPROVED,
        recipient: { customerId: customer.id, name: customer.name, email: customer.email, phone: customer.phone },
        channels,
        data: { agreementName: agreement.name, date: this.clock.now(), amount: priceLines(agreement.lines, agreement.currency).total },
      });
    }
    await em.flush();
    return agreement;
  }

  /** Ends an agreement (or withdraws a quote): its sign-up link stops working and its visits ahead are cancelled. */
  async close(em: EntityManager, id: string, actorUserId: string | null, reason: string | null): Promise<ServiceAgreement> {
    const agreement = await this.lock(em, id);
    this.transition(em, agreement, AgreementStatus.CLOSED, actorUserId, reason);
    await this.cancelLinks(em, agreement.id);
    await em.flush();
    await this.workOrders.cancelFuture(em, agreement.id, (await this.org.of(em)).today);
    return agreement;
  }

  /**
   * ACTIVE → SUSPENDED (for dunning: the caller decides when): the agreement stops billing and its visits from today
   * on are SUSPENDED, so technicians are not sent. Past and completed visits keep their status.
   */
  async suspend(em: EntityManager, id: string, reason: string, actorUserId: string | null): Promise<ServiceAgreement> {
    const agreement = await this.lock(em, id);
    this.transition(em, agreement, AgreementStatus.SUSPENDED, actorUserId, reason);
    await em.flush();
    await this.workOrders.suspendFuture(em, agreement.id, (await this.org.of(em)).today);
    return agreement;
  }

  /** SUSPENDED → ACTIVE: its suspended visits from today on are SCHEDULED again, and the schedule is topped up. */
  async reactivate(em: EntityManager, id: string, reason: string, actorUserId: string | null): Promise<ServiceAgreement> {
    const agreement = await this.lock(em, id);
    this.transition(em, agreement, AgreementStatus.ACTIVE, actorUserId, reason);
    await em.flush();
    const { today } = await this.org.of(em);
    await this.workOrders.resumeFuture(em, agreement.id, today);
    await this.workOrders.generate(em, agreement, today);
    return agreement;
  }

  /**
   * Agreements in force whose end date has passed become EXPIRED (by Settle: no actor); their visits ahead are
   * cancelled. Idempotent; answers the ids it expired. The billing run (or a daily job) calls it.
   */
  async expireEnded(em: EntityManager): Promise<string[]> {
    const { today } = await this.org.of(em);
    const ended = await em.find(ServiceAgreement, {
      status: { $in: [AgreementStatus.ACTIVE, AgreementStatus.SUSPENDED] },
      endDate: { $lt: today },
    });
    const expired: string[] = [];
    for (const candidate of ended) {
      const agreement = await this.lock(em, candidate.id);
      if (agreement.status !== AgreementStatus.ACTIVE && agreement.status !== AgreementStatus.SUSPENDED) continue;
      this.transition(em, agreement, AgreementStatus.EXPIRED, null, `Ended on ${agreement.endDate}`);
      await em.flush();
      await this.workOrders.cancelFuture(em, agreement.id, today);
      expired.push(agreement.id);
    }
    return expired;
  }

  async cancelLinks(em: EntityManager, agreementId: string): Promise<void> {
    const now = this.clock.now();
    await em.nativeUpdate(
      AgreementSignupLink,
      { agreementId, status: SignupLinkStatus.PENDING },
      { status: SignupLinkStatus.CANCELLED, cancelledAt: now, updatedAt: now },
    );
  }

  /** Tells the office in-app (OWNERs and ADMINs) that a customer signed and the agreement awaits approval. */
  async notifySigned(em: EntityManager, agreement: ServiceAgreement, customerName: string, methodLabel: string): Promise<void> {
    await this.notifications.notifyStaff(em, {
      dedupeKey: `agreement-signed:${agreement.id}:${agreement.version}`,
      roles: [Role.OWNER, Role.ADMIN],
      title: `${customerName} signed "${agreement.name}"`,
      body: `${customerName} accepted the agreement and put ${methodLabel} on file with consent to automatic billing. It is waiting for your approval.`,
      link: `/agreements/${agreement.id}`,
    });
  }

  private record(
    em: EntityManager,
    agreement: ServiceAgreement,
    from: AgreementStatus | null,
    to: AgreementStatus,
    actorUserId: string | null,
    reason: string | null,
  ): void {
    em.persist(
      em.create(AgreementTransition, {
        agreementId: agreement.id,
        fromStatus: from,
        toStatus: to,
        at: this.clock.now(),
        version: agreement.version,
        actorUserId,
        reason: reason?.trim() || null,
      } as AgreementTransition),
    );
    this.outbox.record(
      em,
      domainEvent<AgreementStatusChangedPayload>(AgreementsEvents.AgreementStatusChanged, currentTenant(em) ?? null, {
        agreementId: agreement.id,
        customerId: agreement.customerId,
        from,
        to,
        actorUserId,
        reason: reason?.trim() || null,
      }),
    );
  }
}

export function illegal(agreement: ServiceAgreement, from: AgreementStatus, to: AgreementStatus): AgreementsError {
  return new AgreementsError(
    AgreementsErrorReason.ILLEGAL_TRANSITION,
    `"${agreement.name}" cannot go from ${from} to ${to}`,
    undefined,
    { from, to },
  );
}
