/** Receipts (entities listed in ../entities.ts). */
export const RECEIPT_ENTITIES: (abstract new (...args: never[]) => object)[] = [];
