import { ReceiptOnPaymentRecorded } from './application/receipt-payment-recorded.handler.js';
import { Receipts } from './application/receipts.use-case.js';
import { ReceiptsResolver } from './graphql/receipts.resolver.js';
import type { ModulePart } from '../../platform/module-part.js';
import { ReceiptsController } from './web/receipts.controller.js';

/**
 * Receipts: one per payment received (PaymentRecorded), numbered RCT-000001 per organization, emailed to the customer
 * with a link to the PDF (GET /r/:token), downloadable by staff (GET /receipts/:id.pdf), listed and resent over GraphQL.
 */
export const RECEIPTS_PART: ModulePart = {
  providers: [Receipts, ReceiptOnPaymentRecorded],
  api: [ReceiptsResolver],
  controllers: [ReceiptsController],
};
