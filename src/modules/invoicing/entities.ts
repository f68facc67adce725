import { Credit, CreditApplication } from './domain/credit.entity.js';
import { INSTALLMENT_ENTITIES } from './domain/installment-plan.entity.js';
import { InvoiceLine } from './domain/invoice-line.entity.js';
import { InvoiceNumberCounter } from './domain/invoice-number-counter.entity.js';
import { Invoice } from './domain/invoice.entity.js';
import { MASS_INVOICE_ENTITIES } from './domain/mass-invoice.entity.js';
import { PaymentAllocation, ReceivedPayment } from './domain/received-payment.entity.js';
import { RECEIPT_ENTITIES } from './domain/receipt.entity.js';

export const INVOICING_ENTITIES = [
  Invoice,
  InvoiceLine,
  InvoiceNumberCounter,
  Credit,
  CreditApplication,
  ReceivedPayment,
  PaymentAllocation,
  ...INSTALLMENT_ENTITIES,
  ...RECEIPT_ENTITIES,
  ...MASS_INVOICE_ENTITIES,
];
