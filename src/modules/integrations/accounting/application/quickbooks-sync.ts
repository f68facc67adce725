import { createHash } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Clock } from '#libs/ddd/index.js';
import type { MoneyJson } from '#libs/money/index.js';
import { CustomerDirectory, CustomerStatus, type CustomerSnapshot } from '../../../customers/index.js';
import { Invoicing, InvoiceStatus, Reconciliation, ReceivedPaymentStatus } from '../../../invoicing/index.js';
import {
  AccountingConnection,
  AccountingConnectionState,
  AccountingEntityType,
  AccountingMapping,
  AccountingPaymentAllocation,
  AccountingSyncItem,
  AccountingSyncStatus,
} from '../domain/accounting.entities.js';
import { QboAmount, QuickBooksFault, QuickBooksHttp, QuickBooksOAuthError, type QboRequest } from '../infrastructure/quickbooks-http.js';
import { TokenVault } from '../infrastructure/token-vault.js';
import { AccountingSync, ConnectionPaused, type SyncOutcome } from './accounting-sync.port.js';

type QboEntity = Record<string, unknown> & { Id: string; SyncToken: string };

/** What the Invoicing and Customers events carry that the sync reads (their payload types are not exported). */
interface InvoiceIssuedFacts {
  number: string;
  subtotal: MoneyJson;
  tax: MoneyJson;
  total: MoneyJson;
}
interface CreditCreatedFacts {
  customerId: string;
  invoiceId: string | null;
  kind: string;
  amount: MoneyJson;
}

/** Work of one item: the connection and its scoped EntityManager. */
interface Ctx {
  em: EntityManager;
  conn: AccountingConnection;
}

const ITEM_NAME = 'Services';
/** Refresh a little before the hour is up, so a call never starts with a token about to lapse. */
const REFRESH_MARGIN_MS = 60_000;

/**
 * The QuickBooks Online adapter. Each push recomputes what QuickBooks should hold from our facts (the customer as it is
 * now, the payment with its allocations in force) and creates the record once, or updates it (with its SyncToken)
 * when we already map it. A record a push needs that QuickBooks does not have yet (the invoice's customer, the
 * payment's invoices) is created first, whatever order the events came in.
 *
 * Idempotency, twice over: the mapping table (a re-delivered event updates), and QuickBooks' `requestid` — derived from
 * the operation, so a create whose answer was lost is answered again by QuickBooks instead of being done twice.
 */
@Injectable()
export class QuickBooksSync extends AccountingSync {
  readonly provider = 'QUICKBOOKS' as const;
  readonly queuesEvents = true;
  private readonly logger = new Logger(QuickBooksSync.name);

  constructor(
    private readonly http: QuickBooksHttp,
    private readonly vault: TokenVault,
    private readonly clock: Clock,
    private readonly customers: CustomerDirectory,
    private readonly invoicing: Invoicing,
    private readonly reconciliation: Reconciliation,
  ) {
    super();
  }

  async push(em: EntityManager, conn: AccountingConnection, item: AccountingSyncItem): Promise<SyncOutcome> {
    const ctx: Ctx = { em, conn };
    switch (item.entityType) {
      case AccountingEntityType.CUSTOMER:
        return this.outcome(await this.syncCustomer(ctx, item.entityId, true));
      case AccountingEntityType.INVOICE:
        return this.outcome(
          item.eventType === 'InvoiceVoided'
            ? await this.voidInvoice(ctx, item.entityId)
            : await this.syncInvoice(ctx, item.entityId, item.payload as unknown as InvoiceIssuedFacts, true),
        );
      case AccountingEntityType.PAYMENT:
        return this.outcome(await this.syncPayment(ctx, item.entityId));
      case AccountingEntityType.CREDIT:
        return this.outcome(await this.syncCredit(ctx, item.entityId, item.payload as unknown as CreditCreatedFacts));
      default:
        return { status: AccountingSyncStatus.SKIPPED, externalId: null };
    }
  }

  private outcome(mapping: AccountingMapping | null): SyncOutcome {
    return mapping
      ? { status: AccountingSyncStatus.SYNCED, externalId: mapping.externalId }
      : { status: AccountingSyncStatus.SKIPPED, externalId: null };
  }

  // ── customers ──────────────────────────────────────────────────────────────────────────────────────────────────

  /** Creates the customer, or (when `update`) brings an existing one up to date. Null when the customer is gone. */
  private async syncCustomer(ctx: Ctx, customerId: string, update: boolean): Promise<AccountingMapping | null> {
    const existing = await this.mapping(ctx, AccountingEntityType.CUSTOMER, customerId);
    if (existing && !update) return existing;
    const customer = await this.customers.get(ctx.em, customerId);
    if (!customer) return existing;
    const disambiguate = existing?.detail?.disambiguated === true;
    const send = (withSuffix: boolean) => {
      const body = { ...customerBody(customer), DisplayName: displayName(customer, withSuffix) };
      return existing
        ? this.update(ctx, 'customer', existing, { ...body, sparse: true })
        : this.create(ctx, 'customer', AccountingEntityType.CUSTOMER, customerId, body, withSuffix ? 'suffixed' : '');
    };
    let saved: QboEntity;
    let suffixed = disambiguate;
    try {
      saved = await send(suffixed);
    } catch (error) {
      // 6240 Duplicate Name Exists: another customer, vendor or employee has this DisplayName. Two of our customers may
      // share a name; QuickBooks wants it unique, so ours gets a short suffix from its id rather than another's record.
      if (!(error instanceof QuickBooksFault) || !error.has('6240') || suffixed) throw error;
      suffixed = true;
      saved = await send(true);
    }
    return this.remember(ctx, AccountingEntityType.CUSTOMER, customerId, saved, { disambiguated: suffixed }, existing);
  }

  // ── the one "Services" item ────────────────────────────────────────────────────────────────────────────────────

  private async serviceItem(ctx: Ctx): Promise<string> {
    const existing = await this.mapping(ctx, AccountingEntityType.ITEM, ctx.conn.id);
    if (existing) return existing.externalId;
    const found = await this.query(ctx, `select * from Item where Name = '${ITEM_NAME}'`, 'Item');
    let item = found[0];
    if (!item) {
      const accounts = await this.query(ctx, `select * from Account where AccountType = 'Income' maxresults 1`, 'Account');
      if (!accounts[0]) throw new QuickBooksFault(400, 'ValidationFault', [], 'The QuickBooks company has no income account for the Services item');
      item = await this.create(ctx, 'item', AccountingEntityType.ITEM, ctx.conn.id, {
        Name: ITEM_NAME,
        Type: 'Service',
        IncomeAccountRef: { value: accounts[0].Id },
      });
    }
    return (await this.remember(ctx, AccountingEntityType.ITEM, ctx.conn.id, item, null, null)).externalId;
  }

  // ── invoices ───────────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * The invoice as issued. Lines: its subtotal on the Services item and, when taxed, its tax on a second line, so the
   * QuickBooks total is ours to the cent (tax codes are not mapped). Null for a draft or an unknown invoice.
   */
  private async syncInvoice(ctx: Ctx, invoiceId: string, facts: InvoiceIssuedFacts | null, update: boolean): Promise<AccountingMapping | null> {
    const existing = await this.mapping(ctx, AccountingEntityType.INVOICE, invoiceId);
    if (existing && (!update || existing.detail?.voided === true)) return existing;
    const invoice = await this.invoicing.invoice(ctx.em, invoiceId);
    if (!invoice || invoice.status === InvoiceStatus.DRAFT || !invoice.number) return existing;
    const issued = facts ?? (await this.issuedFacts(ctx, invoiceId));
    const currency = invoice.total.currency;
    const subtotal = issued?.subtotal.amount ?? invoice.total.amount.toString();
    const tax = issued?.tax.amount ?? '0';
    const customer = await this.syncCustomer(ctx, invoice.customerId, false);
    if (!customer) throw new QuickBooksFault(400, 'ValidationFault', [], `Customer ${invoice.customerId} of invoice ${invoice.number} was not found`);
    const itemId = await this.serviceItem(ctx);
    const line = (amount: string, description: string) => ({
      DetailType: 'SalesItemLineDetail',
      Amount: QboAmount.of(amount, currency),
      Description: description,
      SalesItemLineDetail: { ItemRef: { value: itemId, name: ITEM_NAME }, Qty: 1, UnitPrice: QboAmount.of(amount, currency) },
    });
    const body = {
      DocNumber: invoice.number.slice(0, 21),
      TxnDate: invoice.issueDate ?? undefined,
      DueDate: invoice.dueDate ?? undefined,
      CustomerRef: { value: customer.externalId },
      Line: [line(subtotal, `Invoice ${invoice.number}`), ...(BigInt(tax) !== 0n ? [line(tax, `Tax on ${invoice.number}`)] : [])],
      PrivateNote: `Settle invoice ${invoice.id}`,
    };
    const saved = existing
      ? await this.update(ctx, 'invoice', existing, { ...body, sparse: true })
      : await this.create(ctx, 'invoice', AccountingEntityType.INVOICE, invoiceId, body);
    return this.remember(ctx, AccountingEntityType.INVOICE, invoiceId, saved, { number: invoice.number }, existing);
  }

  /** What InvoiceIssued said (subtotal and tax), from the queue; null when the invoice was issued before connecting. */
  private async issuedFacts(ctx: Ctx, invoiceId: string): Promise<InvoiceIssuedFacts | null> {
    const issued = await ctx.em.findOne(
      AccountingSyncItem,
      { entityType: AccountingEntityType.INVOICE, entityId: invoiceId, eventType: 'InvoiceIssued' },
      { orderBy: { createdAt: 'asc' } },
    );
    return issued ? (issued.payload as unknown as InvoiceIssuedFacts) : null;
  }

  /** QuickBooks keeps a voided invoice (amounts zeroed, number kept): create it first if it never got there. */
  private async voidInvoice(ctx: Ctx, invoiceId: string): Promise<AccountingMapping | null> {
    const mapping = await this.syncInvoice(ctx, invoiceId, null, false);
    if (!mapping || mapping.detail?.voided === true) return mapping;
    const saved = await this.call<QboEntity>(ctx, {
      method: 'POST',
      path: 'invoice',
      query: { operation: 'void' },
      body: { Id: mapping.externalId, SyncToken: mapping.syncToken },
      requestId: this.requestId(ctx, 'void', AccountingEntityType.INVOICE, invoiceId, mapping.syncToken),
    }, 'Invoice');
    return this.remember(ctx, AccountingEntityType.INVOICE, invoiceId, saved, { ...mapping.detail, voided: true }, mapping);
  }

  // ── payments ───────────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * The payment as it stands: what was kept (amount − refunded; nothing once reversed), applied to each invoice its
   * allocations in force pay (a Line with LinkedTxn to the QuickBooks invoice). The rest is unapplied in QuickBooks,
   * which is how QuickBooks holds a customer's credit from a payment.
   */
  private async syncPayment(ctx: Ctx, paymentId: string): Promise<AccountingMapping | null> {
    const payment = await this.reconciliation.payment(ctx.em, paymentId);
    if (!payment) return null;
    const existing = await this.mapping(ctx, AccountingEntityType.PAYMENT, paymentId);
    const currency = payment.amount.currency;
    const reversed = payment.status === ReceivedPaymentStatus.REVERSED;
    const kept = reversed ? 0n : payment.amount.amount - payment.refunded.amount;
    const customer = await this.syncCustomer(ctx, payment.customerId, false);
    if (!customer) throw new QuickBooksFault(400, 'ValidationFault', [], `Customer ${payment.customerId} of payment ${paymentId} was not found`);

    const allocations = reversed
      ? []
      : await ctx.em.find(AccountingPaymentAllocation, { paymentId, reversed: false }, { orderBy: { createdAt: 'asc', id: 'asc' } });
    const perInvoice = new Map<string, bigint>();
    for (const a of allocations) perInvoice.set(a.invoiceId, (perInvoice.get(a.invoiceId) ?? 0n) + BigInt(a.amount));
    const lines: Record<string, unknown>[] = [];
    let left = kept;
    for (const [invoiceId, amount] of perInvoice) {
      // Events may still be on their way (a refund seen before the reversal of its allocation): never apply more than
      // the payment holds; the item of the last event brings the final state.
      const applied = amount < left ? amount : left;
      if (applied <= 0n) continue;
      const invoice = await this.syncInvoice(ctx, invoiceId, null, false);
      if (!invoice) continue;
      lines.push({ Amount: QboAmount.of(applied, currency), LinkedTxn: [{ TxnId: invoice.externalId, TxnType: 'Invoice' }] });
      left -= applied;
    }
    const body = {
      CustomerRef: { value: customer.externalId },
      TotalAmt: QboAmount.of(kept, currency),
      TxnDate: payment.receivedAt.toISOString().slice(0, 10),
      ...(payment.reference ? { PaymentRefNum: payment.reference.slice(0, 21) } : {}),
      PrivateNote: `Settle payment ${paymentId} (${payment.method})${reversed ? ' — reversed' : ''}${payment.refunded.isPositive() ? ` — refunded ${payment.refunded.amount} minor units` : ''}`,
      Line: lines,
    };
    const saved = existing
      ? await this.update(ctx, 'payment', existing, { ...body, sparse: true })
      : await this.create(ctx, 'payment', AccountingEntityType.PAYMENT, paymentId, body);
    return this.remember(ctx, AccountingEntityType.PAYMENT, paymentId, saved, null, existing);
  }

  // ── credits ────────────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * A credit note or account credit becomes a Credit Memo. An OVERPAYMENT credit is skipped: in QuickBooks it is already
   * the unapplied part of its Payment, and a Credit Memo would count it twice.
   */
  private async syncCredit(ctx: Ctx, creditId: string, facts: CreditCreatedFacts): Promise<AccountingMapping | null> {
    if (facts.kind === 'OVERPAYMENT') return null;
    const existing = await this.mapping(ctx, AccountingEntityType.CREDIT, creditId);
    const customer = await this.syncCustomer(ctx, facts.customerId, false);
    if (!customer) throw new QuickBooksFault(400, 'ValidationFault', [], `Customer ${facts.customerId} of credit ${creditId} was not found`);
    const invoice = facts.invoiceId ? await this.syncInvoice(ctx, facts.invoiceId, null, false) : null;
    const itemId = await this.serviceItem(ctx);
    const description = `${facts.kind} credit${invoice?.detail?.number ? ` on ${String(invoice.detail.number)}` : ''}`;
    const body = {
      CustomerRef: { value: customer.externalId },
      Line: [
        {
          DetailType: 'SalesItemLineDetail',
          Amount: QboAmount.of(facts.amount.amount, facts.amount.currency),
          Description: description,
          SalesItemLineDetail: { ItemRef: { value: itemId, name: ITEM_NAME }, Qty: 1, UnitPrice: QboAmount.of(facts.amount.amount, facts.amount.currency) },
        },
      ],
      PrivateNote: `Settle credit ${creditId}`,
    };
    const saved = existing
      ? await this.update(ctx, 'creditmemo', existing, { ...body, sparse: true })
      : await this.create(ctx, 'creditmemo', AccountingEntityType.CREDIT, creditId, body);
    return this.remember(ctx, AccountingEntityType.CREDIT, creditId, saved, null, existing);
  }

  // ── QuickBooks calls ───────────────────────────────────────────────────────────────────────────────────────────

  private async create(ctx: Ctx, resource: string, type: AccountingEntityType, id: string, body: Record<string, unknown>, variant = ''): Promise<QboEntity> {
    // Independent of the content on purpose: a retry after a lost answer must be recognised, even if the record changed.
    return this.call<QboEntity>(ctx, { method: 'POST', path: resource, body, requestId: this.requestId(ctx, 'create', type, id, variant) }, entityKey(resource));
  }

  /**
   * A sparse update with our SyncToken. Stale (5010: changed in QuickBooks since): read its SyncToken again and retry
   * once; our values win, which is the point of the sync.
   */
  private async update(ctx: Ctx, resource: string, mapping: AccountingMapping, body: Record<string, unknown>): Promise<QboEntity> {
    const send = (syncToken: string) => {
      const full = { ...body, Id: mapping.externalId, SyncToken: syncToken };
      const digest = createHash('sha256').update(JSON.stringify(full)).digest('hex').slice(0, 16);
      return this.call<QboEntity>(
        ctx,
        { method: 'POST', path: resource, body: full, requestId: this.requestId(ctx, 'update', mapping.entityType, mapping.entityId, `${syncToken}:${digest}`) },
        entityKey(resource),
      );
    };
    try {
      return await send(mapping.syncToken);
    } catch (error) {
      if (!(error instanceof QuickBooksFault) || !error.has('5010')) throw error;
      const current = await this.call<QboEntity>(ctx, { method: 'GET', path: `${resource}/${encodeURIComponent(mapping.externalId)}` }, entityKey(resource));
      return send(current.SyncToken);
    }
  }

  private async query(ctx: Ctx, statement: string, entity: string): Promise<QboEntity[]> {
    const answer = await this.call<{ QueryResponse?: Record<string, unknown> }>(ctx, { method: 'GET', path: 'query', query: { query: statement } });
    const rows = answer.QueryResponse?.[entity];
    return Array.isArray(rows) ? (rows as QboEntity[]) : [];
  }

  /**
   * One API call with a fresh access token. An access token about to expire is refreshed first; a 401 refreshes once
   * and tries again. A refresh QuickBooks refuses marks the connection EXPIRED and pauses the sync (ConnectionPaused).
   */
  private async call<T>(ctx: Ctx, req: QboRequest, key?: string): Promise<T> {
    let token = await this.accessToken(ctx, false);
    let answer: Record<string, unknown>;
    try {
      answer = await this.http.api(ctx.conn.realmId, token, req);
    } catch (error) {
      if (!(error instanceof QuickBooksFault) || !error.unauthorized) throw error;
      token = await this.accessToken(ctx, true);
      try {
        answer = await this.http.api(ctx.conn.realmId, token, req);
      } catch (again) {
        if (again instanceof QuickBooksFault && again.unauthorized) {
          await this.expire(ctx, `QuickBooks refused a freshly refreshed token: ${again.message}`);
          throw new ConnectionPaused('QuickBooks refused the connection');
        }
        throw again;
      }
    }
    if (!key) return answer as T;
    const entity = answer[key] as QboEntity | undefined;
    if (!entity?.Id) throw new QuickBooksFault(502, null, [], `QuickBooks answered without a ${key}`);
    return entity as unknown as T;
  }

  private async accessToken(ctx: Ctx, force: boolean): Promise<string> {
    const { conn } = ctx;
    if (conn.status !== AccountingConnectionState.CONNECTED) throw new ConnectionPaused(`The QuickBooks connection is ${conn.status}`);
    if (!force && conn.accessTokenExpiresAt.getTime() - REFRESH_MARGIN_MS > this.clock.now().getTime()) {
      const token = this.vault.open(conn.accessTokenSealed);
      if (token) return token;
    }
    const refreshToken = this.vault.open(conn.refreshTokenSealed);
    if (!refreshToken) {
      await this.expire(ctx, 'The stored QuickBooks tokens cannot be read (was JWT_SECRET changed?): connect again');
      throw new ConnectionPaused('unreadable tokens');
    }
    try {
      const tokens = await this.http.refresh(refreshToken);
      const now = this.clock.now();
      conn.accessTokenSealed = this.vault.seal(tokens.accessToken);
      // QuickBooks rotates the refresh token: the newest one is the one that works from now on. Saved at once.
      conn.refreshTokenSealed = this.vault.seal(tokens.refreshToken);
      conn.accessTokenExpiresAt = new Date(now.getTime() + tokens.expiresIn * 1000);
      conn.refreshTokenExpiresAt = tokens.refreshExpiresIn ? new Date(now.getTime() + tokens.refreshExpiresIn * 1000) : conn.refreshTokenExpiresAt;
      await ctx.em.flush();
      return tokens.accessToken;
    } catch (error) {
      if (error instanceof QuickBooksOAuthError && error.grantRejected) {
        await this.expire(ctx, `QuickBooks refused to refresh the connection: ${error.message}`);
        throw new ConnectionPaused('refresh refused');
      }
      if (error instanceof QuickBooksOAuthError) throw new QuickBooksFault(error.status || 0, 'OAuth', [], error.message);
      throw error;
    }
  }

  private async expire(ctx: Ctx, reason: string): Promise<void> {
    this.logger.warn(`QuickBooks connection of organization ${ctx.conn.organizationId} expired: ${reason}`);
    ctx.conn.status = AccountingConnectionState.EXPIRED;
    ctx.conn.lastError = reason.slice(0, 2000);
    await ctx.em.flush();
  }

  // ── mappings ───────────────────────────────────────────────────────────────────────────────────────────────────

  private mapping(ctx: Ctx, entityType: AccountingEntityType, entityId: string): Promise<AccountingMapping | null> {
    return ctx.em.findOne(AccountingMapping, { realmId: ctx.conn.realmId, entityType, entityId });
  }

  private async remember(
    ctx: Ctx,
    entityType: AccountingEntityType,
    entityId: string,
    saved: QboEntity,
    detail: Record<string, unknown> | null,
    existing: AccountingMapping | null,
  ): Promise<AccountingMapping> {
    const mapping =
      existing ??
      ctx.em.create(AccountingMapping, {
        realmId: ctx.conn.realmId,
        entityType,
        entityId,
        externalId: saved.Id,
        syncToken: saved.SyncToken,
      } as AccountingMapping);
    mapping.externalId = saved.Id;
    mapping.syncToken = String(saved.SyncToken);
    if (detail) mapping.detail = { ...(mapping.detail ?? {}), ...detail };
    await ctx.em.flush();
    return mapping;
  }

  /** Stable per operation (≤ 50 characters, as QuickBooks requires), unique per company. */
  private requestId(ctx: Ctx, op: string, type: AccountingEntityType, id: string, variant: string): string {
    return createHash('sha256').update(`${ctx.conn.organizationId}:${ctx.conn.realmId}:${op}:${type}:${id}:${variant}`).digest('hex').slice(0, 40);
  }
}

function entityKey(resource: string): string {
  return { customer: 'Customer', invoice: 'Invoice', payment: 'Payment', creditmemo: 'CreditMemo', item: 'Item' }[resource] ?? resource;
}

/** QuickBooks refuses ':' (and tabs, new lines) in a DisplayName; at most 500 characters. */
function displayName(customer: CustomerSnapshot, suffixed: boolean): string {
  const base = customer.name.replace(/[:\t\n\r]/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 480);
  return suffixed ? `${base} (${customer.id.slice(0, 8)})` : base;
}

function customerBody(customer: CustomerSnapshot): Record<string, unknown> {
  const address = customer.billingAddress;
  return {
    ...(customer.email ? { PrimaryEmailAddr: { Address: customer.email } } : {}),
    ...(customer.phone ? { PrimaryPhone: { FreeFormNumber: customer.phone } } : {}),
    ...(address
      ? {
          BillAddr: {
            Line1: address.line1,
            ...(address.line2 ? { Line2: address.line2 } : {}),
            City: address.city,
            ...(address.region ? { CountrySubDivisionCode: address.region } : {}),
            PostalCode: address.postalCode,
            Country: address.country,
          },
        }
      : {}),
    Active: customer.status !== CustomerStatus.ARCHIVED,
    Notes: `Settle customer ${customer.id}`,
  };
}
