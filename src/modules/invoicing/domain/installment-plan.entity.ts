/** Installment plans and their installments (entities listed in ../entities.ts). */
export const INSTALLMENT_ENTITIES: (abstract new (...args: never[]) => object)[] = [];
