import { Entity, Enum, Index, Property } from '@mikro-orm/decorators/legacy';
import { registerEnumType } from '@nestjs/graphql';
import type { PostalAddress } from '#libs/ddd/index.js';
import { TenantEntity, TenantScoped } from '#libs/tenancy/index.js';

export enum PaymentMethodKind {
  CARD = 'CARD',
  /** An eCheck: a bank account debited through ACH. */
  BANK_ACCOUNT = 'BANK_ACCOUNT',
}
registerEnumType(PaymentMethodKind, { name: 'PaymentMethodKind' });

export enum PaymentMethodStatus {
  ACTIVE = 'ACTIVE',
  /** Removed from the wallet and detached at the gateway; kept for the history of past payments. */
  REMOVED = 'REMOVED',
}
registerEnumType(PaymentMethodStatus, { name: 'PaymentMethodStatus' });

export enum ConsentSource {
  /** The customer ticked the consent box on a hosted page (a payment profile request). */
  HOSTED_PAGE = 'HOSTED_PAGE',
  /** A staff member recorded it on the customer's instruction (phone, counter, signed form). */
  STAFF_ON_CUSTOMER_INSTRUCTION = 'STAFF_ON_CUSTOMER_INSTRUCTION',
}
registerEnumType(ConsentSource, { name: 'ConsentSource', description: 'How the customer gave consent to be charged' });

export enum SavedVia {
  STAFF = 'STAFF',
  HOSTED_PAGE = 'HOSTED_PAGE',
}
registerEnumType(SavedVia, { name: 'SavedVia' });

/** Most a customer may keep of each kind (seed 002: "up to 10 credit cards and 10 eChecks"). */
export const MAX_METHODS_PER_KIND = 10;

/**
 * A saved card or bank account: the gateway's token and the details that are safe to keep (brand, last 4, expiry,
 * bank name, fingerprint, billing address). Never a card number, a CVC or a full account number.
 */
@Entity({ tableName: 'payment_method' })
@TenantScoped()
@Index({ properties: ['organizationId', 'customerId', 'status'] })
@Index({
  name: 'payment_method_fingerprint_uniq',
  expression:
    'create unique index "payment_method_fingerprint_uniq" on "payment_method" ("organization_id", "customer_id", "kind", "fingerprint") where "status" = \'ACTIVE\'',
})
@Index({
  name: 'payment_method_default_uniq',
  expression:
    'create unique index "payment_method_default_uniq" on "payment_method" ("organization_id", "customer_id") where "status" = \'ACTIVE\' and "is_default"',
})
export class PaymentMethod extends TenantEntity {
  @Property({ type: 'uuid' })
  customerId!: string;

  @Enum({ items: () => PaymentMethodKind, nativeEnumName: 'payment_method_kind' })
  kind!: PaymentMethodKind;

  @Enum({ items: () => PaymentMethodStatus, nativeEnumName: 'payment_method_status' })
  status: PaymentMethodStatus = PaymentMethodStatus.ACTIVE;

  @Property({ type: 'text' })
  gateway!: string;

  @Property({ type: 'text' })
  gatewayPaymentMethodId!: string;

  @Property({ type: 'text' })
  fingerprint!: string;

  /** Cards: visa, mastercard, amex, ... */
  @Property({ type: 'text', nullable: true })
  brand: string | null = null;

  @Property({ type: 'text' })
  last4!: string;

  @Property({ type: 'smallint', nullable: true })
  expMonth: number | null = null;

  @Property({ type: 'smallint', nullable: true })
  expYear: number | null = null;

  /** Cards: credit, debit, prepaid. */
  @Property({ type: 'text', nullable: true })
  funding: string | null = null;

  @Property({ type: 'text', nullable: true })
  bankName: string | null = null;

  /** Bank accounts: checking or savings. */
  @Property({ type: 'text', nullable: true })
  accountType: string | null = null;

  @Property({ type: 'jsonb' })
  billingAddress!: PostalAddress;

  @Property({ type: 'boolean' })
  isDefault: boolean = false;

  @Enum({ items: () => SavedVia, nativeEnumName: 'payment_method_saved_via' })
  savedVia!: SavedVia;

  /** The staff member who saved it; null when the customer did, on a hosted page. */
  @Property({ type: 'uuid', nullable: true })
  savedBy: string | null = null;

  // Consent to charge for future agreed purchases. The history is in payment_method_consent.
  @Property({ type: 'boolean' })
  consentGranted: boolean = false;

  @Property({ type: 'timestamptz', nullable: true })
  consentGrantedAt: Date | null = null;

  @Enum({ items: () => ConsentSource, nativeEnumName: 'consent_source', nullable: true })
  consentSource: ConsentSource | null = null;

  @Property({ type: 'uuid', nullable: true })
  consentRecordedBy: string | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  consentRevokedAt: Date | null = null;

  /** The expiry (YYYY-MM) a "card expiring" notice was last sent for, so a card gets one notice per expiry. */
  @Property({ type: 'text', nullable: true })
  expiryNoticeFor: string | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  removedAt: Date | null = null;

  @Property({ type: 'uuid', nullable: true })
  removedBy: string | null = null;

  /** Cards: the last day the card works, as YYYY-MM-DD (it works through the end of its expiry month). */
  expiresOn(): string | null {
    if (this.expMonth === null || this.expYear === null) return null;
    return lastDayOfMonth(this.expYear, this.expMonth);
  }

  /** Cards past their expiry month, by the given date (in UTC). */
  isExpired(now: Date): boolean {
    const on = this.expiresOn();
    return on !== null && on < now.toISOString().slice(0, 10);
  }

  /** A short label for people: "Visa ending in 4242", "Checking account at STRIPE TEST BANK ending in 6789". */
  label(): string {
    if (this.kind === PaymentMethodKind.CARD) return `${brandName(this.brand)} ending in ${this.last4}`;
    const type = this.accountType === 'savings' ? 'Savings account' : 'Checking account';
    return `${type}${this.bankName ? ` at ${this.bankName}` : ''} ending in ${this.last4}`;
  }
}

export function lastDayOfMonth(year: number, month: number): string {
  const day = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

const BRANDS: Record<string, string> = {
  visa: 'Visa',
  mastercard: 'Mastercard',
  amex: 'American Express',
  discover: 'Discover',
  diners: 'Diners Club',
  jcb: 'JCB',
  unionpay: 'UnionPay',
};

export function brandName(brand: string | null): string {
  return (brand && BRANDS[brand]) ?? 'Card';
}
