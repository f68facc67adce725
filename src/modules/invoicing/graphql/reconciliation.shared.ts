import { ParseUUIDPipe } from '@nestjs/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Role } from '#libs/auth/index.js';
import type { GraphQLContext } from '../../../graphql/loaders.js';
import type { InvoicingContextValue, OrganizationContext } from '../application/organization-context.js';
import { InvoicingError } from '../invoicing.error.js';

/** Reconciliation and credits move money owed on the books: OWNER, ADMIN, PAYMENT_MANAGER. Viewing is any staff role. */
export const RECONCILIATION_ROLES = [Role.OWNER, Role.ADMIN, Role.PAYMENT_MANAGER];

export const paymentIdPipe = () => new ParseUUIDPipe({ exceptionFactory: () => InvoicingError.paymentNotFound() });
export const creditIdPipe = () => new ParseUUIDPipe({ exceptionFactory: () => InvoicingError.creditNotFound() });

/** The organization's locale, currency and today, read once per request (with a context) or now. */
export async function orgOf(em: EntityManager, context: OrganizationContext, ctx?: GraphQLContext): Promise<InvoicingContextValue> {
  if (!ctx?.loaders) return context.of(em);
  const loader = ctx.loaders.get<string, InvoicingContextValue>('invoicing.reconciliation.org', async (keys) => {
    const value = await context.of(em);
    return keys.map(() => value);
  });
  return loader.load('org');
}
