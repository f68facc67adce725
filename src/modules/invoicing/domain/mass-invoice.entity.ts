/** Mass invoice batches and their per-customer items (entities listed in ../entities.ts). */
export const MASS_INVOICE_ENTITIES: (abstract new (...args: never[]) => object)[] = [];
