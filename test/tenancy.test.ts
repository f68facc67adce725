import { randomUUID } from 'node:crypto';
import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import { waitForQueueIdle } from '#libs/testing/index.js';
import { MASS_CHARGE_QUEUE } from '../src/modules/payments/index.js';
import { MikroORM } from '@mikro-orm/postgresql';
import { getIntrospectionQuery, type IntrospectionQuery, type IntrospectionInputValue, type IntrospectionType } from 'graphql';
import { addUser, signUpOrganization, startTestApp, type TestApp } from './support/test-app.js';

type Org = Awaited<ReturnType<typeof signUpOrganization>>;
/** Organization A's PAYMENT_MANAGER, for the operations only that role may call. */
let intruderManager: Awaited<ReturnType<typeof addUser>>;
const ADDRESS = { line1: '1 Victim Way', city: 'Springfield', postalCode: '12345', country: 'US' };
const MONEY = { amount: '100', currency: 'USD' };
const AGREEMENT = {
  name: 'Pool care',
  terms: 'Weekly cleaning.',
  frequency: 'MONTHLY',
  startDate: '2099-01-01',
  lines: [{ description: 'Weekly cleaning', unitPrice: '12000' }],
};
interface Victim {
  org: Org;
  staffUserId: string;
  deadLetterId: string;
  notificationId: string;
  messageId: string;
  customerId: string;
  /** A customer account of B, and a member of it. */
  customerAccountId: string;
  customerMemberId: string;
  /** A saved card of that customer. */
  paymentMethodId: string;
  /** A pending payment profile request for that customer. */
  profileRequestId: string;
  /** An issued invoice and a draft of that customer. */
  invoiceId: string;
  draftInvoiceId: string;
  /** An unreconciled offline payment, its receipt, an account credit, an installment plan on another invoice and one
   * of its installments, and a mass invoice batch. */
  receivedPaymentId: string;
  receiptId: string;
  creditId: string;
  planInvoiceId: string;
  installmentPlanId: string;
  installmentId: string;
  massInvoiceId: string;
  /** A card payment of that customer, and a mass charge batch. */
  paymentId: string;
  massChargeId: string;
  /** A quoted agreement of that customer, and a one-off work order. */
  agreementId: string;
  workOrderId: string;
  /** A billing run, and a webhook endpoint with one delivery. */
  billingRunId: string;
  webhookEndpointId: string;
  webhookDeliveryId: string;
  /** A payment request sent to that customer, and a failed accounting sync item. */
  paymentRequestId: string;
  accountingSyncId: string;
}

/**
 * For every query and mutation that takes an id: organization A's OWNER asks for organization B's record and gets
 * NOT_FOUND, and B's record is unchanged. A new id-taking operation without a case here fails the last test.
 */
const CASES: Record<string, (a: Org, b: Victim) => Promise<{ errors?: { extensions?: Record<string, unknown> }[] }>> = {
  user: (a, b) => a.client.request(`query($id: ID!) { user(id: $id) { email } }`, { id: b.staffUserId }),
  disableUser: (a, b) => a.client.request(`mutation($id: ID!) { disableUser(userId: $id) { status } }`, { id: b.staffUserId }),
  changeUserRole: (a, b) =>
    a.client.request(`mutation($i: ChangeUserRoleInput!) { changeUserRole(input: $i) { role } }`, {
      i: { userId: b.staffUserId, role: 'ADMIN' },
    }),
  replayDeadLetter: (a, b) =>
    a.client.request(`mutation($id: ID!) { replayDeadLetter(id: $id) { id } }`, { id: b.deadLetterId }),
  markNotificationRead: (a, b) =>
    a.client.request(`mutation($id: ID!) { markNotificationRead(id: $id) { id } }`, { id: b.notificationId }),
  resendMessage: (a, b) => a.client.request(`mutation($id: ID!) { resendMessage(id: $id) { id } }`, { id: b.messageId }),
  customer: (a, b) => a.client.request(`query($id: ID!) { customer(id: $id) { name } }`, { id: b.customerAccountId }),
  updateCustomer: (a, b) =>
    a.client.request(`mutation($id: ID!) { updateCustomer(id: $id, input: { name: "Hijacked" }) { id } }`, { id: b.customerAccountId }),
  archiveCustomer: (a, b) => a.client.request(`mutation($id: ID!) { archiveCustomer(id: $id) { id } }`, { id: b.customerAccountId }),
  reactivateCustomer: (a, b) =>
    a.client.request(`mutation($id: ID!) { reactivateCustomer(id: $id) { id } }`, { id: b.customerAccountId }),
  addCustomerMember: (a, b) =>
    a.client.request(`mutation($id: ID!) { addCustomerMember(customerId: $id, input: { name: "Intruder" }) { id } }`, {
      id: b.customerAccountId,
    }),
  updateCustomerMember: (a, b) =>
    a.client.request(`mutation($id: ID!) { updateCustomerMember(id: $id, input: { name: "Hijacked" }) { id } }`, {
      id: b.customerMemberId,
    }),
  removeCustomerMember: (a, b) =>
    a.client.request(`mutation($id: ID!) { removeCustomerMember(id: $id) { id } }`, { id: b.customerMemberId }),
  paymentMethod: (a, b) => a.client.request(`query($id: ID!) { paymentMethod(id: $id) { id } }`, { id: b.paymentMethodId }),
  paymentMethods: (a, b) =>
    a.client.request(`query($id: ID!) { paymentMethods(customerId: $id) { id } }`, { id: b.customerAccountId }),
  savePaymentMethod: (a, b) =>
    a.client.request(`mutation($i: SavePaymentMethodInput!) { savePaymentMethod(input: $i) { updatedExisting } }`, {
      i: { customerId: b.customerAccountId, token: 'pm_card_mastercard', consentGiven: true, billingAddress: ADDRESS },
    }),
  setDefaultPaymentMethod: (a, b) =>
    a.client.request(`mutation($id: ID!) { setDefaultPaymentMethod(id: $id) { id } }`, { id: b.paymentMethodId }),
  removePaymentMethod: (a, b) => a.client.request(`mutation($id: ID!) { removePaymentMethod(id: $id) { id } }`, { id: b.paymentMethodId }),
  updateCardExpiry: (a, b) =>
    a.client.request(`mutation($i: UpdateCardExpiryInput!) { updateCardExpiry(input: $i) { id } }`, {
      i: { id: b.paymentMethodId, expMonth: 1, expYear: 2040 },
    }),
  replaceCard: (a, b) =>
    a.client.request(`mutation($i: ReplaceCardInput!) { replaceCard(input: $i) { id } }`, { i: { id: b.paymentMethodId, token: 'pm_card_amex' } }),
  grantPaymentMethodConsent: (a, b) =>
    a.client.request(`mutation($i: PaymentMethodConsentInput!) { grantPaymentMethodConsent(input: $i) { id } }`, { i: { id: b.paymentMethodId } }),
  revokePaymentMethodConsent: (a, b) =>
    a.client.request(`mutation($i: PaymentMethodConsentInput!) { revokePaymentMethodConsent(input: $i) { id } }`, { i: { id: b.paymentMethodId } }),
  paymentProfileRequest: (a, b) => a.client.request(`query($id: ID!) { paymentProfileRequest(id: $id) { id } }`, { id: b.profileRequestId }),
  cancelPaymentProfileRequest: (a, b) =>
    a.client.request(`mutation($id: ID!) { cancelPaymentProfileRequest(id: $id) { id } }`, { id: b.profileRequestId }),
  sendPaymentProfileRequest: (a, b) =>
    a.client.request(`mutation($i: SendPaymentProfileRequestInput!) { sendPaymentProfileRequest(input: $i) { id } }`, {
      i: { customerId: b.customerAccountId, channels: ['EMAIL'], email: 'intruder@example.com' },
    }),
  invoice: (a, b) => a.client.request(`query($id: ID!) { invoice(id: $id) { id } }`, { id: b.invoiceId }),
  createInvoice: (a, b) =>
    a.client.request(`mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { id } }`, {
      i: { customerId: b.customerAccountId, lines: [{ description: 'Intrusion', unitPrice: '100' }], issue: true },
    }),
  updateInvoiceDraft: (a, b) =>
    a.client.request(`mutation($id: ID!) { updateInvoiceDraft(id: $id, input: { memo: "Hijacked" }) { id } }`, { id: b.draftInvoiceId }),
  issueInvoice: (a, b) => a.client.request(`mutation($id: ID!) { issueInvoice(id: $id) { id } }`, { id: b.draftInvoiceId }),
  voidInvoice: (a, b) => a.client.request(`mutation($id: ID!) { voidInvoice(id: $id, reason: "Hijacked") { id } }`, { id: b.invoiceId }),
  receivedPayment: (a, b) => a.client.request(`query($id: ID!) { receivedPayment(id: $id) { id } }`, { id: b.receivedPaymentId }),
  receivedPayments: (a, b) =>
    a.client.request(`query($id: ID!) { receivedPayments(customerId: $id) { totalCount } }`, { id: b.customerAccountId }),
  recordOfflinePayment: (a, b) =>
    a.client.request(`mutation($i: RecordOfflinePaymentInput!) { recordOfflinePayment(input: $i) { id } }`, {
      i: { customerId: b.customerAccountId, amount: MONEY, method: 'CASH' },
    }),
  allocatePayment: (a, b) =>
    a.client.request(`mutation($i: AllocatePaymentInput!) { allocatePayment(input: $i) { payment { id } } }`, {
      i: { paymentId: b.receivedPaymentId, allocations: [{ invoiceId: b.invoiceId, amount: MONEY }] },
    }),
  creditUnallocatedPayment: (a, b) =>
    a.client.request(`mutation($id: ID!) { creditUnallocatedPayment(paymentId: $id) { credit { id } } }`, { id: b.receivedPaymentId }),
  reversePayment: (a, b) =>
    a.client.request(`mutation($id: ID!) { reversePayment(paymentId: $id, reason: "Hijacked") { id } }`, { id: b.receivedPaymentId }),
  credit: (a, b) => a.client.request(`query($id: ID!) { credit(id: $id) { id } }`, { id: b.creditId }),
  credits: (a, b) => a.client.request(`query($id: ID!) { credits(customerId: $id) { totalCount } }`, { id: b.customerAccountId }),
  createCreditNote: (a, b) =>
    a.client.request(`mutation($i: CreateCreditNoteInput!) { createCreditNote(input: $i) { id } }`, {
      i: { invoiceId: b.invoiceId, kind: 'ADJUSTMENT', amount: MONEY, reason: 'Hijacked' },
    }),
  createAccountCredit: (a, b) =>
    a.client.request(`mutation($i: CreateAccountCreditInput!) { createAccountCredit(input: $i) { id } }`, {
      i: { customerId: b.customerAccountId, amount: MONEY, reason: 'Hijacked' },
    }),
  applyCredit: (a, b) =>
    a.client.request(`mutation($i: ApplyCreditInput!) { applyCredit(input: $i) { id } }`, {
      i: { creditId: b.creditId, invoiceId: b.invoiceId, amount: MONEY },
    }),
  unreconciledPayments: (a, b) =>
    a.client.request(`query($id: ID) { unreconciledPayments(customerId: $id) { totalCount } }`, { id: b.customerAccountId }),
  receipt: (a, b) => a.client.request(`query($id: ID!) { receipt(id: $id) { id } }`, { id: b.receiptId }),
  resendReceipt: (a, b) => a.client.request(`mutation($id: ID!) { resendReceipt(id: $id) { id } }`, { id: b.receiptId }),
  installmentPlan: (a, b) => a.client.request(`query($id: ID!) { installmentPlan(id: $id) { id } }`, { id: b.installmentPlanId }),
  upcomingPayments: (a, b) =>
    a.client.request(`query($id: ID!) { upcomingPayments(customerId: $id) { totalCount } }`, { id: b.customerAccountId }),
  createInstallmentPlan: (a, b) =>
    a.client.request(`mutation($i: CreateInstallmentPlanInput!) { createInstallmentPlan(input: $i) { id } }`, {
      i: { invoiceId: b.invoiceId, paymentMethodId: b.paymentMethodId, count: 2, firstDueOn: '2099-01-01', interval: 'MONTHLY' },
    }),
  changeInstallmentPlanMethod: (a, b) =>
    a.client.request(`mutation($p: ID!, $m: ID!) { changeInstallmentPlanMethod(planId: $p, paymentMethodId: $m) { id } }`, {
      p: b.installmentPlanId,
      m: b.paymentMethodId,
    }),
  skipInstallment: (a, b) => a.client.request(`mutation($id: ID!) { skipInstallment(installmentId: $id) { id } }`, { id: b.installmentId }),
  rescheduleInstallment: (a, b) =>
    a.client.request(`mutation($id: ID!) { rescheduleInstallment(installmentId: $id, dueOn: "2099-01-15") { id } }`, { id: b.installmentId }),
  cancelInstallmentPlan: (a, b) =>
    a.client.request(`mutation($id: ID!) { cancelInstallmentPlan(planId: $id, reason: "Hijacked") { id } }`, { id: b.installmentPlanId }),
  massInvoice: (a, b) => a.client.request(`query($id: ID!) { massInvoice(id: $id) { id } }`, { id: b.massInvoiceId }),
  resumeMassInvoice: (a, b) => a.client.request(`mutation($id: ID!) { resumeMassInvoice(id: $id) { id } }`, { id: b.massInvoiceId }),
  cancelMassInvoice: (a, b) => a.client.request(`mutation($id: ID!) { cancelMassInvoice(id: $id) { id } }`, { id: b.massInvoiceId }),
  createMassInvoice: (a, b) =>
    a.client.request(`mutation($i: CreateMassInvoiceInput!) { createMassInvoice(input: $i) { id } }`, {
      i: { customerIds: [b.customerAccountId], lines: [{ description: 'Intrusion', unitPrice: '100' }], issue: true },
    }),
  payment: (a, b) => a.client.request(`query($id: ID!) { payment(id: $id) { id } }`, { id: b.paymentId }),
  takePayment: (a, b) =>
    a.client.request(`mutation($i: TakePaymentInput!) { takePayment(input: $i) { id } }`, {
      i: { customerId: b.customerAccountId, paymentMethodId: b.paymentMethodId, amount: MONEY },
    }),
  refundPayment: (a, b) =>
    a.client.request(`mutation($i: RefundPaymentInput!) { refundPayment(input: $i) { id } }`, { i: { paymentId: b.paymentId, reason: 'Hijacked' } }),
  cancelPayment: (a, b) => a.client.request(`mutation($id: ID!) { cancelPayment(paymentId: $id, reason: "Hijacked") { id } }`, { id: b.paymentId }),
  retryPayment: (a, b) => a.client.request(`mutation($id: ID!) { retryPayment(paymentId: $id) { id } }`, { id: b.paymentId }),
  resolvePayment: (a, b) => a.client.request(`mutation($id: ID!) { resolvePayment(paymentId: $id, note: "Hijacked") { id } }`, { id: b.paymentId }),
  requestPaymentMethodUpdate: (a, b) =>
    a.client.request(`mutation($id: ID!) { requestPaymentMethodUpdate(paymentId: $id, channels: [EMAIL]) { id } }`, { id: b.paymentId }),
  processingPayments: (a, b) =>
    a.client.request(`query($id: ID) { processingPayments(customerId: $id) { totalCount } }`, { id: b.customerAccountId }),
  massCharge: (a, b) => a.client.request(`query($id: ID!) { massCharge(id: $id) { id } }`, { id: b.massChargeId }),
  resumeMassCharge: (a, b) => a.client.request(`mutation($id: ID!) { resumeMassCharge(id: $id) { id } }`, { id: b.massChargeId }),
  cancelMassCharge: (a, b) => a.client.request(`mutation($id: ID!) { cancelMassCharge(id: $id) { id } }`, { id: b.massChargeId }),
  createMassCharge: (a, b) =>
    a.client.request(`mutation($i: CreateMassChargeInput!) { createMassCharge(input: $i) { id } }`, {
      i: { customerIds: [b.customerAccountId], amountMode: 'FIXED', amount: '100' },
    }),
  agreement: (a, b) => a.client.request(`query($id: ID!) { agreement(id: $id) { id } }`, { id: b.agreementId }),
  createAgreementQuote: (a, b) =>
    a.client.request(`mutation($i: CreateAgreementQuoteInput!) { createAgreementQuote(input: $i) { id } }`, {
      i: { ...AGREEMENT, customerId: b.customerAccountId },
    }),
  updateAgreementQuote: (a, b) =>
    a.client.request(`mutation($id: ID!) { updateAgreementQuote(id: $id, input: { name: "Hijacked" }) { id } }`, { id: b.agreementId }),
  sendAgreement: (a, b) => a.client.request(`mutation($id: ID!) { sendAgreement(id: $id) { id } }`, { id: b.agreementId }),
  approveAgreement: (a, b) => a.client.request(`mutation($id: ID!) { approveAgreement(id: $id) { id } }`, { id: b.agreementId }),
  closeAgreement: (a, b) => a.client.request(`mutation($id: ID!) { closeAgreement(id: $id, reason: "Hijacked") { id } }`, { id: b.agreementId }),
  createRenewalQuote: (a, b) => a.client.request(`mutation($id: ID!) { createRenewalQuote(agreementId: $id) { id } }`, { id: b.agreementId }),
  createRenewalQuotes: (a, b) =>
    a.client.request(`mutation($id: ID!) { createRenewalQuotes(input: { ids: [$id] }) { __typename } }`, { id: b.agreementId }),
  sendRenewalNotices: (a, b) =>
    a.client.request(`mutation($id: ID!) { sendRenewalNotices(input: { ids: [$id] }) { __typename } }`, { id: b.agreementId }),
  workOrder: (a, b) => a.client.request(`query($id: ID!) { workOrder(id: $id) { id } }`, { id: b.workOrderId }),
  createWorkOrder: (a, b) =>
    a.client.request(`mutation($i: CreateWorkOrderInput!) { createWorkOrder(input: $i) { id } }`, {
      i: { customerId: b.customerAccountId, scheduledFor: '2099-01-10', title: 'Intrusion' },
    }),
  completeWorkOrder: (a, b) => a.client.request(`mutation($id: ID!) { completeWorkOrder(id: $id) { id } }`, { id: b.workOrderId }),
  cancelWorkOrder: (a, b) => a.client.request(`mutation($id: ID!) { cancelWorkOrder(id: $id) { id } }`, { id: b.workOrderId }),
  invoiceWorkOrder: (a, b) =>
    a.client.request(`mutation($id: ID!) { invoiceWorkOrder(id: $id, lines: [{ description: "Intrusion", unitPrice: "100" }]) { id } }`, {
      id: b.workOrderId,
    }),
  reactivateAgreement: (a, b) => a.client.request(`mutation($id: ID!) { reactivateAgreement(id: $id) { id } }`, { id: b.agreementId }),
  billingRun: (a, b) => a.client.request(`query($id: ID!) { billingRun(id: $id) { id } }`, { id: b.billingRunId }),
  resumeBillingRun: (a, b) => a.client.request(`mutation($id: ID!) { resumeBillingRun(id: $id) { id } }`, { id: b.billingRunId }),
  webhookEndpoint: (a, b) => a.client.request(`query($id: ID!) { webhookEndpoint(id: $id) { id } }`, { id: b.webhookEndpointId }),
  webhookDeliveries: (a, b) =>
    a.client.request(`query($id: ID!) { webhookDeliveries(endpointId: $id) { totalCount } }`, { id: b.webhookEndpointId }),
  updateWebhookEndpoint: (a, b) =>
    a.client.request(`mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: { description: "Hijacked" }) { id } }`, { id: b.webhookEndpointId }),
  disableWebhookEndpoint: (a, b) => a.client.request(`mutation($id: ID!) { disableWebhookEndpoint(id: $id) { id } }`, { id: b.webhookEndpointId }),
  enableWebhookEndpoint: (a, b) => a.client.request(`mutation($id: ID!) { enableWebhookEndpoint(id: $id) { id } }`, { id: b.webhookEndpointId }),
  deleteWebhookEndpoint: (a, b) => a.client.request(`mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }`, { id: b.webhookEndpointId }),
  rotateWebhookSecret: (a, b) => a.client.request(`mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }`, { id: b.webhookEndpointId }),
  paymentRequest: (a, b) => a.client.request(`query($id: ID!) { paymentRequest(id: $id) { id } }`, { id: b.paymentRequestId }),
  createPaymentRequest: (a, b) =>
    a.client.request(`mutation($i: CreatePaymentRequestInput!) { createPaymentRequest(input: $i) { id } }`, {
      i: { customerId: b.customerAccountId, amount: MONEY, channels: ['EMAIL'], description: 'Intrusion' },
    }),
  resendPaymentRequest: (a, b) => a.client.request(`mutation($id: ID!) { resendPaymentRequest(id: $id) { id } }`, { id: b.paymentRequestId }),
  cancelPaymentRequest: (a, b) => a.client.request(`mutation($id: ID!) { cancelPaymentRequest(id: $id) { id } }`, { id: b.paymentRequestId }),
  markPaymentRequestRead: (a, b) => a.client.request(`mutation($id: ID!) { markPaymentRequestRead(id: $id) { id } }`, { id: b.paymentRequestId }),
  // Consolidation is for PAYMENT_MANAGERs only: A's own payment manager asks for B's request.
  consolidatePaymentRequest: (_a, b) =>
    intruderManager.client.request(`mutation($id: ID!) { consolidatePaymentRequest(id: $id) { id } }`, { id: b.paymentRequestId }),
  retryAccountingSync: (a, b) => a.client.request(`mutation($id: ID!) { retryAccountingSync(id: $id) { id } }`, { id: b.accountingSyncId }),
  replayWebhookDelivery: (a, b) => a.client.request(`mutation($id: ID!) { replayWebhookDelivery(id: $id) { id } }`, { id: b.webhookDeliveryId }),
};

/**
 * Lists whose optional id argument is a filter, not a lookup: with another organization's id they answer an empty
 * page (not NOT_FOUND: a customer of one's own with no rows yet looks the same), and never one of its rows.
 */
const FILTERS: Record<string, (a: Org, b: Victim) => Promise<{ totalCount: number; nodes: unknown[] }>> = {
  messages: async (a, b) =>
    (await a.client.ok(`query($id: ID) { messages(customerId: $id) { totalCount nodes { id } } }`, { id: b.customerId })).messages,
  paymentProfileRequests: async (a, b) =>
    (await a.client.ok(`query($id: ID) { paymentProfileRequests(customerId: $id) { totalCount nodes { id } } }`, { id: b.customerAccountId }))
      .paymentProfileRequests,
  receipts: async (a, b) =>
    (await a.client.ok(`query($id: ID) { receipts(customerId: $id) { totalCount nodes { id } } }`, { id: b.customerAccountId })).receipts,
  payments: async (a, b) =>
    (await a.client.ok(`query($id: ID) { payments(filter: { customerId: $id }) { totalCount nodes { id } } }`, { id: b.customerAccountId })).payments,
  myPayments: async (a, b) =>
    (await a.client.ok(`query($id: ID) { myPayments(filter: { customerId: $id }) { totalCount nodes { id } } }`, { id: b.customerAccountId }))
      .myPayments,
  paymentActionCenter: async (a, b) =>
    (await a.client.ok(`query($id: ID) { paymentActionCenter(filter: { customerId: $id }) { totalCount nodes { id } } }`, { id: b.customerAccountId }))
      .paymentActionCenter,
  agreements: async (a, b) =>
    (await a.client.ok(`query($id: ID) { agreements(filter: { customerId: $id }) { totalCount nodes { id } } }`, { id: b.customerAccountId })).agreements,
  workOrders: async (a, b) =>
    (await a.client.ok(`query($id: ID) { workOrders(customerId: $id) { totalCount nodes { id } } }`, { id: b.customerAccountId })).workOrders,
  dispatchableWorkOrders: async (a, b) =>
    (
      await a.client.ok(`query($id: ID) { dispatchableWorkOrders(from: "2099-01-01", to: "2099-12-31", technicianUserId: $id) { totalCount nodes { id } } }`, {
        id: b.staffUserId,
      })
    ).dispatchableWorkOrders,
  paymentRequests: async (a, b) =>
    (await a.client.ok(`query($id: ID) { paymentRequests(filter: { customerId: $id }) { totalCount nodes { id } } }`, { id: b.customerAccountId }))
      .paymentRequests,
  myPaymentRequests: async (a, b) =>
    (await a.client.ok(`query($id: ID) { myPaymentRequests(filter: { customerId: $id }) { totalCount nodes { id } } }`, { id: b.customerAccountId }))
      .myPaymentRequests,
  invoices: async (a, b) =>
    (await a.client.ok(`query($id: ID) { invoices(filter: { customerId: $id }) { totalCount nodes { id } } }`, { id: b.customerAccountId })).invoices,
};

describe('tenancy: one organization never reaches another one\'s records', () => {
  let t: TestApp;
  let a: Org;
  let b: Victim;

  beforeAll(async () => {
    t = await startTestApp();
    a = await signUpOrganization(t.gql, 'Org A');
    intruderManager = await addUser(a.client, 'PAYMENT_MANAGER');
    const orgB = await signUpOrganization(t.gql, 'Org B');
    const staff = await addUser(orgB.client, 'STAFF');
    const deadLetterId = randomUUID();
    await t.app.get(MikroORM).em.fork().execute(
      `insert into outbox_delivery (id, message_id, handler, event_type, organization_id, status, attempts, last_error, updated_at)
       values (?, ?, 'some.handler', 'SomethingHappened', ?, 'DEAD', 3, 'boom', now())`,
      [deadLetterId, randomUUID(), orgB.organizationId],
    );
    // B's OWNER is told that the STAFF user joined (an in-app notification), and B has a FAILED message.
    await t.drainOutbox();
    const notificationId = (await orgB.client.ok(`{ myNotifications(first: 1) { nodes { id } } }`)).myNotifications.nodes[0].id;
    const messageId = randomUUID();
    const customerId = randomUUID();
    await t.app.get(MikroORM).em.fork().execute(
      `insert into message (id, organization_id, created_at, updated_at, dedupe_key, kind, channel, recipient, recipient_name,
                            sender_name, customer_id, text, status, attempts, next_attempt_at, last_error)
       values (?, ?, now(), now(), 'receipt:1', 'RECEIPT', 'EMAIL', 'pat@example.com', 'Pat', 'Org B', ?, 'Thanks', 'FAILED', 8, now(), 'boom')`,
      [messageId, orgB.organizationId, customerId],
    );
    const customerAccountId = (await orgB.client.ok(`mutation { createCustomer(input: { name: "Bea Customer" }) { id } }`)).createCustomer.id;
    const customerMemberId = (
      await orgB.client.ok(`mutation($c: ID!) { addCustomerMember(customerId: $c, input: { name: "Ben Member" }) { id } }`, {
        c: customerAccountId,
      })
    ).addCustomerMember.id;
    const paymentMethodId = (
      await orgB.client.ok(`mutation($i: SavePaymentMethodInput!) { savePaymentMethod(input: $i) { paymentMethod { id } } }`, {
        i: { customerId: customerAccountId, token: 'pm_card_visa', consentGiven: true, billingAddress: ADDRESS },
      })
    ).savePaymentMethod.paymentMethod.id;
    const profileRequestId = (
      await orgB.client.ok(`mutation($i: SendPaymentProfileRequestInput!) { sendPaymentProfileRequest(input: $i) { id } }`, {
        i: { customerId: customerAccountId, channels: ['EMAIL'], email: 'bea@example.com' },
      })
    ).sendPaymentProfileRequest.id;
    const invoice = (lines: string, issue: boolean) =>
      orgB.client.ok(`mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { id } }`, {
        i: { customerId: customerAccountId, lines: [{ description: lines, unitPrice: '2500' }], issue },
      });
    const invoiceId = (await invoice('Spring opening', true)).createInvoice.id;
    const draftInvoiceId = (await invoice('Draft', false)).createInvoice.id;
    const planInvoiceId = (await invoice('Season pass', true)).createInvoice.id;
    const receivedPaymentId = (
      await orgB.client.ok(`mutation($i: RecordOfflinePaymentInput!) { recordOfflinePayment(input: $i) { id } }`, {
        i: { customerId: customerAccountId, amount: { amount: '700', currency: 'USD' }, method: 'CHEQUE', reference: '1042' },
      })
    ).recordOfflinePayment.id;
    const creditId = (
      await orgB.client.ok(`mutation($i: CreateAccountCreditInput!) { createAccountCredit(input: $i) { id } }`, {
        i: { customerId: customerAccountId, amount: { amount: '300', currency: 'USD' }, reason: 'Goodwill' },
      })
    ).createAccountCredit.id;
    const plan = (
      await orgB.client.ok(`mutation($i: CreateInstallmentPlanInput!) { createInstallmentPlan(input: $i) { id installments { id } } }`, {
        i: { invoiceId: planInvoiceId, paymentMethodId, count: 2, firstDueOn: '2099-01-01', interval: 'MONTHLY' },
      })
    ).createInstallmentPlan;
    const massInvoiceId = (
      await orgB.client.ok(`mutation($i: CreateMassInvoiceInput!) { createMassInvoice(input: $i) { id } }`, {
        i: { customerIds: [customerAccountId], lines: [{ description: 'Late fee', unitPrice: '1500' }], issue: false },
      })
    ).createMassInvoice.id;
    const paidInvoiceId = (await invoice('Filter cleaning', true)).createInvoice.id;
    const paymentId = (
      await orgB.client.ok(`mutation($i: TakePaymentInput!) { takePayment(input: $i) { id status } }`, {
        i: { customerId: customerAccountId, paymentMethodId, amount: { amount: '2500', currency: 'USD' }, invoices: [{ invoiceId: paidInvoiceId, amount: { amount: '2500', currency: 'USD' } }] },
      })
    ).takePayment.id;
    const massChargeId = (
      await orgB.client.ok(`mutation($i: CreateMassChargeInput!) { createMassCharge(input: $i) { id } }`, {
        i: { customerIds: [customerAccountId], amountMode: 'FIXED', amount: '900' },
      })
    ).createMassCharge.id;
    const agreementId = (
      await orgB.client.ok(`mutation($i: CreateAgreementQuoteInput!) { createAgreementQuote(input: $i) { id } }`, {
        i: { ...AGREEMENT, customerId: customerAccountId },
      })
    ).createAgreementQuote.id;
    const workOrderId = (
      await orgB.client.ok(`mutation($i: CreateWorkOrderInput!) { createWorkOrder(input: $i) { id } }`, {
        i: { customerId: customerAccountId, scheduledFor: '2099-02-01', title: 'Heater repair', technicianUserId: staff.userId },
      })
    ).createWorkOrder.id;
    const webhookEndpointId = (
      await orgB.client.ok(`mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { endpoint { id } } }`, {
        i: { url: 'http://127.0.0.1:9/settle-hooks', eventTypes: ['invoice.*'] },
      })
    ).createWebhookEndpoint.endpoint.id;
    await invoice('Skimmer basket', true); // an event for the endpoint: one delivery (to a port nobody listens on)
    const billingRunId = (await orgB.client.ok(`mutation { billAgreements { id } }`)).billAgreements.id;
    await orgB.client.ok(`mutation($id: ID!) { updateCustomer(id: $id, input: { email: "bea@example.com" }) { id } }`, { id: customerAccountId });
    const paymentRequestId = (
      await orgB.client.ok(`mutation($i: CreatePaymentRequestInput!) { createPaymentRequest(input: $i) { id } }`, {
        i: { customerId: customerAccountId, amount: { amount: '4000', currency: 'USD' }, channels: ['EMAIL'], description: 'Deposit' },
      })
    ).createPaymentRequest.id;
    const accountingSyncId = randomUUID();
    await t.app.get(MikroORM).em.fork().execute(
      `insert into accounting_sync_item (id, organization_id, created_at, updated_at, event_id, event_type, entity_type, entity_id, payload,
                                         status, attempts, next_attempt_at, last_error)
       values (?, ?, now(), now(), ?, 'CustomerCreated', 'CUSTOMER', ?, '{}', 'FAILED', 8, now(), 'Fault 6000: a business validation error')`,
      [accountingSyncId, orgB.organizationId, randomUUID(), customerAccountId],
    );
    await waitForQueueIdle(t.app.get<Queue>(getQueueToken(MASS_CHARGE_QUEUE))); // the 9.00 on-account charge
    await t.drainOutbox(); // the payments' receipts, the webhook deliveries
    const webhookDeliveryId = (
      await orgB.client.ok(`query($id: ID!) { webhookDeliveries(endpointId: $id) { nodes { id } } }`, { id: webhookEndpointId })
    ).webhookDeliveries.nodes[0].id;
    const receiptId = (await orgB.client.ok(`query($c: ID) { receipts(customerId: $c) { nodes { id } } }`, { c: customerAccountId })).receipts.nodes[0]
      .id;
    b = {
      org: orgB,
      staffUserId: staff.userId,
      deadLetterId,
      notificationId,
      messageId,
      customerId,
      customerAccountId,
      customerMemberId,
      paymentMethodId,
      profileRequestId,
      invoiceId,
      draftInvoiceId,
      receivedPaymentId,
      receiptId,
      creditId,
      planInvoiceId,
      installmentPlanId: plan.id,
      installmentId: plan.installments[0].id,
      massInvoiceId,
      paymentId,
      massChargeId,
      agreementId,
      workOrderId,
      billingRunId,
      webhookEndpointId,
      webhookDeliveryId,
      paymentRequestId,
      accountingSyncId,
    };
  });
  afterAll(() => t.close());

  it.each(Object.keys(CASES))('%s with another organization\'s id answers NOT_FOUND', async (operation) => {
    const res = await CASES[operation]!(a, b);
    expect(res.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it.each(Object.keys(FILTERS))('%s filtered by another organization\'s id finds none of its rows', async (operation) => {
    expect(await FILTERS[operation]!(a, b)).toEqual({ totalCount: 0, nodes: [] });
  });

  it('left the other organization\'s records as they were', async () => {
    const seen = await b.org.client.ok(`query($id: ID!) { user(id: $id) { role status } }`, { id: b.staffUserId });
    expect(seen.user).toEqual({ role: 'STAFF', status: 'ACTIVE' });
    const dead = await b.org.client.ok(`{ deadLetters(first: 5) { nodes { id } } }`);
    expect(dead.deadLetters.nodes).toEqual([{ id: b.deadLetterId }]);
    const notifications = await b.org.client.ok(`{ myNotifications(first: 5) { nodes { id readAt } } }`);
    // (B's owner was also told that the mass invoice finished.)
    expect(notifications.myNotifications.nodes).toEqual(expect.arrayContaining([{ id: b.notificationId, readAt: null }]));
    const messages = await b.org.client.ok(`query($id: ID) { messages(customerId: $id) { nodes { id status attempts } } }`, {
      id: b.customerId,
    });
    expect(messages.messages.nodes).toEqual([{ id: b.messageId, status: 'FAILED', attempts: 8 }]);
    const customer = await b.org.client.ok(`query($id: ID!) { customer(id: $id) { name status members { id name } } }`, {
      id: b.customerAccountId,
    });
    expect(customer.customer).toEqual({ name: 'Bea Customer', status: 'ACTIVE', members: [{ id: b.customerMemberId, name: 'Ben Member' }] });
    const wallet = await b.org.client.ok(`query($id: ID!) { paymentMethods(customerId: $id) { id label isDefault status consent { granted } } }`, {
      id: b.customerAccountId,
    });
    expect(wallet.paymentMethods).toEqual([
      { id: b.paymentMethodId, label: 'Visa ending in 4242', isDefault: true, status: 'ACTIVE', consent: { granted: true } },
    ]);
    const requests = await b.org.client.ok(`query($id: ID) { paymentProfileRequests(customerId: $id) { nodes { id status } } }`, {
      id: b.customerAccountId,
    });
    expect(requests.paymentProfileRequests.nodes).toEqual([{ id: b.profileRequestId, status: 'PENDING' }]);
    const invoices = await b.org.client.ok(`query($id: ID) { invoices(filter: { customerId: $id }) { nodes { id status memo } } }`, {
      id: b.customerAccountId,
    });
    expect(invoices.invoices.nodes).toEqual(
      expect.arrayContaining([
        { id: b.draftInvoiceId, status: 'DRAFT', memo: null },
        { id: b.invoiceId, status: 'OPEN', memo: null },
      ]),
    );
    const balance = await b.org.client.ok(`query($id: ID!) { customer(id: $id) { balance { owed { amount } creditAvailable { amount } unallocatedPayments { amount } } } }`, {
      id: b.customerAccountId,
    });
    // Three issued invoices of 25.00 owed, the 3.00 credit, the 7.00 cheque and the 9.00 mass charge on account, untouched by A.
    expect(balance.customer.balance).toEqual({ owed: { amount: '7500' }, creditAvailable: { amount: '300' }, unallocatedPayments: { amount: '1600' } });
    const payment = await b.org.client.ok(`query($id: ID!) { payment(id: $id) { status amountRefunded { amount } resolution } }`, { id: b.paymentId });
    expect(payment.payment).toEqual({ status: 'SUCCEEDED', amountRefunded: { amount: '0' }, resolution: null });
    const agreement = await b.org.client.ok(`query($id: ID!) { agreement(id: $id) { name status } }`, { id: b.agreementId });
    expect(agreement.agreement).toEqual({ name: 'Pool care', status: 'QUOTE' });
    const workOrder = await b.org.client.ok(`query($id: ID!) { workOrder(id: $id) { status } }`, { id: b.workOrderId });
    expect(workOrder.workOrder.status).toBe('SCHEDULED');
    const endpoint = await b.org.client.ok(`query($id: ID!) { webhookEndpoint(id: $id) { description enabled } }`, { id: b.webhookEndpointId });
    expect(endpoint.webhookEndpoint).toEqual({ description: null, enabled: true });
    const request = await b.org.client.ok(`query($id: ID!) { paymentRequest(id: $id) { status } }`, { id: b.paymentRequestId });
    expect(request.paymentRequest.status).toBe('OPEN');
    const syncRows = await t.app.get(MikroORM).em.fork().execute(`select status, attempts from accounting_sync_item where id = ?`, [b.accountingSyncId]);
    expect(syncRows).toEqual([{ status: 'FAILED', attempts: 8 }]);
    const plan = await b.org.client.ok(`query($id: ID!) { installmentPlan(id: $id) { status installments { id status dueOn } } }`, { id: b.installmentPlanId });
    expect(plan.installmentPlan.status).toBe('ACTIVE');
    expect(plan.installmentPlan.installments.map((i: { status: string }) => i.status)).toEqual(['SCHEDULED', 'SCHEDULED']);
    expect((await b.org.client.ok(`query($id: ID!) { massInvoice(id: $id) { status } }`, { id: b.massInvoiceId })).massInvoice.status).not.toBe('CANCELLED');
  });

  it('lists only the organization\'s own rows', async () => {
    const list = await a.client.ok(`{ users(first: 50) { totalCount nodes { id } } }`);
    expect(list.users.totalCount).toBe(2);
    expect(list.users.nodes).toEqual(expect.arrayContaining([{ id: a.userId }, { id: intruderManager.userId }]));
    expect((await a.client.ok(`{ deadLetters(first: 5) { totalCount } }`)).deadLetters.totalCount).toBe(0);
    expect((await a.client.ok(`{ customers(filter: { status: [ACTIVE, INACTIVE, ARCHIVED] }) { totalCount } }`)).customers.totalCount).toBe(0);
  });

  it('has a case for every query and mutation that takes an id', async () => {
    const schema = (await t.gql.ok<IntrospectionQuery>(getIntrospectionQuery())) as IntrospectionQuery;
    const types = new Map(schema.__schema.types.map((ty) => [ty.name, ty]));
    const takesId = (args: readonly IntrospectionInputValue[], seen = new Set<string>()): boolean =>
      args.some((arg) => {
        let ref: { kind: string; name?: string | null; ofType?: unknown } = arg.type;
        while (ref.ofType) ref = ref.ofType as typeof ref;
        if (ref.name === 'ID') return true;
        const input = ref.name ? (types.get(ref.name) as IntrospectionType | undefined) : undefined;
        if (input?.kind !== 'INPUT_OBJECT' || seen.has(input.name)) return false;
        return takesId(input.inputFields, new Set([...seen, input.name]));
      });
    const idOperations = ['Query', 'Mutation'].flatMap((root) => {
      const type = types.get(root);
      return type && 'fields' in type ? type.fields.filter((f) => takesId(f.args)).map((f) => f.name) : [];
    });
    expect(idOperations.length).toBeGreaterThan(0);
    expect(idOperations.filter((name) => !(name in CASES) && !(name in FILTERS))).toEqual([]);
  });
});
