// Public contract of the invoicing module: the only file other modules may import.
export { InvoicingModule } from './invoicing.module.js';
