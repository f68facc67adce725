import { registerEnumType } from '@nestjs/graphql';

export enum AgreementStatus {
  /** A draft quote: editable. */
  QUOTE = 'QUOTE',
  /** The customer was emailed a sign-up link. */
  SENT = 'SENT',
  /** The customer accepted the terms and put a method on file (with consent) on the hosted page. */
  SIGNED = 'SIGNED',
  /** Approved by an ADMIN or OWNER: it bills and its work orders are scheduled. */
  ACTIVE = 'ACTIVE',
  /** Billing and visits are on hold (dunning): its future work orders are SUSPENDED too. */
  SUSPENDED = 'SUSPENDED',
  /** Ended by staff (or withdrawn before it started). */
  CLOSED = 'CLOSED',
  /** Reached its end date. */
  EXPIRED = 'EXPIRED',
}
registerEnumType(AgreementStatus, { name: 'AgreementStatus' });

/**
 * Every legal transition. SENT → SENT is a resend (a new link; the old one stops working). A quote, a sent or a
 * signed agreement may be closed (withdrawn); nothing leaves CLOSED or EXPIRED.
 */
export const TRANSITIONS: Readonly<Record<AgreementStatus, readonly AgreementStatus[]>> = {
  QUOTE: [AgreementStatus.SENT, AgreementStatus.CLOSED],
  SENT: [AgreementStatus.SENT, AgreementStatus.SIGNED, AgreementStatus.CLOSED],
  SIGNED: [AgreementStatus.ACTIVE, AgreementStatus.CLOSED],
  ACTIVE: [AgreementStatus.SUSPENDED, AgreementStatus.CLOSED, AgreementStatus.EXPIRED],
  SUSPENDED: [AgreementStatus.ACTIVE, AgreementStatus.CLOSED, AgreementStatus.EXPIRED],
  CLOSED: [],
  EXPIRED: [],
};

export function canTransition(from: AgreementStatus, to: AgreementStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Statuses of agreements that bill (or would again once reactivated). */
export const IN_FORCE: readonly AgreementStatus[] = [AgreementStatus.ACTIVE, AgreementStatus.SUSPENDED];
