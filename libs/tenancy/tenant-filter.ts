import type { EntityManager, FilterDef } from '@mikro-orm/core';

export const TENANT_FILTER = 'tenant';

export interface TenantScope {
  organizationId: string;
}

/** Any class, abstract ones included. */
export type ClassRef = abstract new (...args: never[]) => unknown;

const scoped = new Set<unknown>();

/**
 * Marks an entity as tenant-scoped. The entity must have an `organizationId` property; it need not extend
 * TenantEntity (e.g. rows whose organization is nullable, like outbox deliveries of platform events).
 */
export function TenantScoped(): ClassDecorator {
  return (target) => {
    scoped.add(target);
  };
}

export function isTenantScoped(entity: unknown): boolean {
  for (let c: unknown = entity; c && c !== Function.prototype; c = Object.getPrototypeOf(c)) {
    if (scoped.has(c)) return true;
  }
  return false;
}

/**
 * The global filter. Enabled by default: a query on a tenant-scoped entity with no tenant in context throws
 * ("No arguments provided for filter 'tenant'") instead of silently reading every organization's rows.
 * System code that truly spans organizations (login by email, the outbox relay) passes
 * `filters: { tenant: false }` explicitly, so each such place is visible in a grep.
 */
export function tenantFilter(entities: ClassRef[]): FilterDef {
  return {
    name: TENANT_FILTER,
    cond: (args: TenantScope) => ({ organizationId: args.organizationId }),
    entity: entities.filter(isTenantScoped) as FilterDef['entity'],
    default: true,
  };
}

/** Scopes an EntityManager (normally the request's fork) to one organization. */
export function scopeToTenant(em: EntityManager, organizationId: string): void {
  em.setFilterParams(TENANT_FILTER, { organizationId } satisfies TenantScope);
}

export function currentTenant(em: EntityManager): string | undefined {
  return em.getFilterParams<Partial<TenantScope>>(TENANT_FILTER)?.organizationId;
}
