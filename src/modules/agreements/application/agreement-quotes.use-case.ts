import { Injectable } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Clock, type FieldProblem, isUuid } from '#libs/ddd/index.js';
import { AppConfig } from '../../../config/index.js';
import { hashLinkToken } from '../../../platform/hosted-pages.js';
import { CustomerDirectory, type CustomerSnapshot, CustomerStatus } from '../../customers/index.js';
import { Channel, MessageKind, Notifications, SealedLinks } from '../../notifications/index.js';
import { AgreementsError, AgreementsErrorReason } from '../agreements.error.js';
import { ServiceAgreement } from '../domain/agreement.entity.js';
import { type AgreementLineCommand, checkLines, priceLines } from '../domain/agreement-lines.js';
import { AgreementStatus } from '../domain/agreement-status.js';
import {
  BillingFrequency,
  billingDayOf,
  describeBillingDay,
  isCalendarDate,
  isOnBillingDay,
  renewalDates,
} from '../domain/billing-schedule.js';
import { AgreementSignupLink } from '../domain/signup-link.entity.js';
import { AgreementLifecycle } from './agreement-lifecycle.js';
import { OrganizationClock } from './organization-today.js';

/** The purpose under which sign-up link tokens are sealed (see SealedLinks). */
export const SIGNUP_LINK_PURPOSE = 'agreement-signup';
export const MAX_NAME = 200;
export const MAX_TERMS = 20_000;

export interface AgreementQuoteCommand {
  customerId: string;
  name: string;
  terms: string;
  lines: AgreementLineCommand[];
  frequency: BillingFrequency;
  /** 1–28. Absent (and billOnLastDay not set): the start date's day, or the last day when it starts on one. */
  billingDay?: number | null;
  /** Bill on the last day of each month. */
  billOnLastDay?: boolean | null;
  startDate: string;
  endDate?: string | null;
}

export type AgreementQuotePatch = Partial<Omit<AgreementQuoteCommand, 'customerId'>>;

/**
 * Quotes: created and edited by staff while in QUOTE; sent to the customer with a single-use sign-up link; copied into
 * renewal quotes. Everything is checked before anything is written (BAD_USER_INPUT naming each field).
 */
@Injectable()
export class AgreementQuotes {
  constructor(
    private readonly customers: CustomerDirectory,
    private readonly lifecycle: AgreementLifecycle,
    private readonly notifications: Notifications,
    private readonly sealed: SealedLinks,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly org: OrganizationClock,
  ) {}

  async create(em: EntityManager, cmd: AgreementQuoteCommand, actorUserId: string | null, renewalOfId: string | null = null): Promise<ServiceAgreement> {
    const problems: FieldProblem[] = [];
    const agreement = new ServiceAgreement();
    agreement.currency = (await this.org.of(em)).currency;
    this.apply(agreement, cmd, problems, true);
    if (!isUuid(cmd.customerId)) throw customerNotFound(cmd.customerId);
    if (problems.length) throw AgreementsError.invalid(problems);
    const customer = await this.customers.get(em, cmd.customerId);
    if (!customer) throw customerNotFound(cmd.customerId);
    requireNotArchived(customer);
    Object.assign(agreement, {
      customerId: customer.id,
      createdBy: actorUserId,
      renewalOfId,
    });
    em.persist(agreement);
    this.lifecycle.recordCreated(em, agreement, actorUserId, renewalOfId ? 'Renewal quote' : null);
    await em.flush();
    return agreement;
  }

  /** Only the fields given change; only a QUOTE may be edited. */
  async update(em: EntityManager, id: string, patch: AgreementQuotePatch): Promise<ServiceAgreement> {
    const agreement = await this.lifecycle.lock(em, id);
    if (agreement.status !== AgreementStatus.QUOTE) {
      throw new AgreementsError(
        AgreementsErrorReason.NOT_A_QUOTE,
        `"${agreement.name}" is ${agreement.status}: only a QUOTE can be edited (make a renewal quote, or close it and quote again)`,
        undefined,
        { status: agreement.status },
      );
    }
    const problems: FieldProblem[] = [];
    const draft = Object.assign(new ServiceAgreement(), {
      currency: agreement.currency,
      name: agreement.name,
      terms: agreement.terms,
      lines: agreement.lines,
      frequency: agreement.frequency,
      billingDay: agreement.billingDay,
      startDate: agreement.startDate,
      endDate: agreement.endDate,
    });
    this.apply(draft, patch, problems, false);
    if (problems.length) throw AgreementsError.invalid(problems);
    Object.assign(agreement, {
      name: draft.name,
      terms: draft.terms,
      lines: draft.lines,
      frequency: draft.frequency,
      billingDay: draft.billingDay,
      startDate: draft.startDate,
      endDate: draft.endDate,
    });
    agreement.version += 1;
    await em.flush();
    return agreement;
  }

  /**
   * QUOTE → SENT (or SENT → SENT: a new link, the previous one stops working): emails — or texts, when the customer
   * has no email — a single-use sign-up link. The token is never stored: the message holds a sealed marker the
   * dispatcher replaces when it sends, and the link row keeps its SHA-256.
   */
  async send(em: EntityManager, id: string, actorUserId: string | null): Promise<{ agreement: ServiceAgreement; link: AgreementSignupLink }> {
    const agreement = await this.lifecycle.lock(em, id);
    if (agreement.status !== AgreementStatus.QUOTE && agreement.status !== AgreementStatus.SENT) {
      throw new AgreementsError(
        AgreementsErrorReason.ILLEGAL_TRANSITION,
        `"${agreement.name}" cannot go from ${agreement.status} to ${AgreementStatus.SENT}`,
        undefined,
        { from: agreement.status, to: AgreementStatus.SENT },
      );
    }
    const customer = await this.customers.require(em, agreement.customerId);
    requireNotArchived(customer);
    if (!customer.billingAddress) {
      throw AgreementsError.invalid([
        { field: 'customerId', message: `${customer.name} has no billing address: add it first (the card processor checks it when the method is saved)` },
      ]);
    }
    const channels = customer.email ? [Channel.EMAIL] : customer.phone ? [Channel.SMS] : [];
    if (channels.length === 0) {
      throw new AgreementsError(AgreementsErrorReason.NO_CONTACT, `${customer.name} has no email or phone number to send the sign-up link to`, 'customerId');
    }
    const resend = agreement.status === AgreementStatus.SENT;
    await this.lifecycle.cancelLinks(em, agreement.id);
    this.lifecycle.transition(em, agreement, AgreementStatus.SENT, actorUserId, resend ? 'Sign-up link sent again' : 'Sign-up link sent');

    const now = this.clock.now();
    const link = em.create(AgreementSignupLink, {
      agreementId: agreement.id,
      expiresAt: new Date(now.getTime() + this.config.agreements.signupTtlHours * 3_600_000),
      sentBy: actorUserId,
    } as AgreementSignupLink);
    link.tokenHash = hashLinkToken(this.sealed.token(SIGNUP_LINK_PURPOSE, link.id));
    const { messages } = await this.notifications.notifyCustomer(em, {
      dedupeKey: `agreement-signup:${link.id}`,
      kind: MessageKind.AGREEMENT_SIGNUP,
      recipient: { customerId: customer.id, name: customer.name, email: customer.email, phone: customer.phone },
      channels,
      data: {
        agreementName: agreement.name,
        amount: priceLines(agreement.lines, agreement.currency).total,
        secureLink: `${this.config.http.publicUrl}/a/${this.sealed.marker(SIGNUP_LINK_PURPOSE, link.id)}`,
        expiresAt: link.expiresAt,
      },
    });
    link.sentToEmail = messages.find((m) => m.channel === Channel.EMAIL)?.recipient ?? null;
    await em.flush();
    return { agreement, link };
  }

  /**
   * A new QUOTE copied from an agreement with an end date: same customer, services, terms and schedule, starting on
   * the first billing day after it ends and running as many periods. One open renewal per agreement: asking again
   * answers the existing one.
   */
  async createRenewal(em: EntityManager, id: string, actorUserId: string | null): Promise<ServiceAgreement> {
    const old = await this.lifecycle.lock(em, id);
    const dates = renewalDates(old);
    if (!dates) {
      throw new AgreementsError(AgreementsErrorReason.NOT_RENEWABLE, `"${old.name}" has no end date: it bills until it is closed, so there is nothing to renew`);
    }
    const existing = await em.findOne(ServiceAgreement, {
      renewalOfId: old.id,
      status: { $nin: [AgreementStatus.CLOSED, AgreementStatus.EXPIRED] },
    });
    if (existing) return existing;
    return this.create(
      em,
      {
        customerId: old.customerId,
        name: old.name,
        terms: old.terms,
        lines: old.lines.map((l) => ({ ...l, unitPrice: BigInt(l.unitPrice) })),
        frequency: old.frequency,
        billingDay: old.billingDay,
        billOnLastDay: old.billingDay === null,
        startDate: dates.startDate,
        endDate: dates.endDate,
      },
      actorUserId,
      old.id,
    );
  }

  /** Checks and writes the fields given into the agreement (for a create, every required field). */
  private apply(a: ServiceAgreement, cmd: AgreementQuotePatch, problems: FieldProblem[], creating: boolean): void {
    if (creating || cmd.name !== undefined) {
      const name = typeof cmd.name === 'string' ? cmd.name.trim().replace(/\s+/g, ' ') : '';
      if (!name) problems.push({ field: 'name', message: 'is required' });
      else if (name.length > MAX_NAME) problems.push({ field: 'name', message: `must be at most ${MAX_NAME} characters` });
      a.name = name;
    }
    if (creating || cmd.terms !== undefined) {
      const terms = typeof cmd.terms === 'string' ? cmd.terms.trim() : '';
      if (!terms) problems.push({ field: 'terms', message: 'the customer must be shown the terms they accept' });
      else if (terms.length > MAX_TERMS) problems.push({ field: 'terms', message: `must be at most ${MAX_TERMS} characters` });
      a.terms = terms;
    }
    if (creating || cmd.lines !== undefined) a.lines = checkLines(cmd.lines, a.currency, problems);
    if (creating || cmd.frequency !== undefined) {
      if (!Object.values(BillingFrequency).includes(cmd.frequency as BillingFrequency)) {
        problems.push({ field: 'frequency', message: 'must be MONTHLY, QUARTERLY, SEMI_ANNUAL or ANNUAL' });
      } else a.frequency = cmd.frequency!;
    }
    if (creating || cmd.startDate !== undefined) {
      if (!isCalendarDate(cmd.startDate)) problems.push({ field: 'startDate', message: 'must be a date as YYYY-MM-DD' });
      else a.startDate = cmd.startDate;
    }
    if (cmd.endDate !== undefined) {
      if (cmd.endDate !== null && !isCalendarDate(cmd.endDate)) problems.push({ field: 'endDate', message: 'must be a date as YYYY-MM-DD, or null for open-ended' });
      else a.endDate = cmd.endDate;
    } else if (creating) a.endDate = null;

    // The billing anchor: given, or the start date's own day.
    const anchorGiven = cmd.billingDay !== undefined || cmd.billOnLastDay !== undefined;
    if (cmd.billOnLastDay && cmd.billingDay !== undefined && cmd.billingDay !== null) {
      problems.push({ field: 'billingDay', message: 'give a day of the month or billOnLastDay, not both' });
    } else if (cmd.billOnLastDay) {
      a.billingDay = null;
    } else if (cmd.billingDay !== undefined && cmd.billingDay !== null) {
      if (!Number.isInteger(cmd.billingDay) || cmd.billingDay < 1 || cmd.billingDay > 28) {
        problems.push({ field: 'billingDay', message: 'must be a day of the month from 1 to 28 (or use billOnLastDay), so that every month has it' });
      } else a.billingDay = cmd.billingDay;
    } else if ((creating || cmd.startDate !== undefined) && isCalendarDate(a.startDate)) {
      const implied = billingDayOf(a.startDate);
      if (implied === undefined && (creating || !anchorGiven)) {
        problems.push({
          field: 'startDate',
          message: 'an agreement starts on its billing day: the 1st to the 28th or the last day of a month (or give billingDay)',
        });
      } else if (implied !== undefined) a.billingDay = implied;
    }
    if (isCalendarDate(a.startDate) && !problems.some((p) => p.field === 'billingDay' || p.field === 'startDate')) {
      if (!isOnBillingDay(a.startDate, a.billingDay)) {
        problems.push({ field: 'startDate', message: `must fall on the billing day (${describeBillingDay(a.billingDay)} of the month), so every period is a whole one` });
      }
    }
    if (a.endDate && isCalendarDate(a.startDate) && a.endDate < a.startDate) {
      problems.push({ field: 'endDate', message: 'must be on or after the start date' });
    }
    if (problems.length === 0 && a.lines.length && !priceLines(a.lines, 'USD').total.isPositive()) {
      problems.push({ field: 'lines', message: 'an agreement must bill more than zero per period' });
    }
  }
}

function requireNotArchived(customer: CustomerSnapshot): void {
  if (customer.status === CustomerStatus.ARCHIVED) {
    throw new AgreementsError(AgreementsErrorReason.CUSTOMER_ARCHIVED, `Customer ${customer.name} is archived; reactivate them first`, 'customerId');
  }
}

function customerNotFound(id: string): AgreementsError {
  return new AgreementsError(AgreementsErrorReason.CUSTOMER_NOT_FOUND, `Customer ${id} was not found`, 'customerId');
}
