/**
 * Integration events the Agreements module publishes through the outbox, in the transaction of the change. Payloads
 * carry ids only (and the statuses of a transition).
 */
export const AgreementsEvents = {
  /** Every status change of an agreement (QUOTE → SENT → SIGNED → ACTIVE ↔ SUSPENDED → CLOSED | EXPIRED). */
  AgreementStatusChanged: 'AgreementStatusChanged',
  WorkOrderCompleted: 'WorkOrderCompleted',
} as const;

export interface AgreementStatusChangedPayload {
  agreementId: string;
  customerId: string;
  from: string | null;
  to: string;
  /** The staff member; null for the customer (hosted page) or Settle itself. */
  actorUserId: string | null;
  reason: string | null;
}

export interface WorkOrderCompletedPayload {
  workOrderId: string;
  customerId: string;
  agreementId: string | null;
}
