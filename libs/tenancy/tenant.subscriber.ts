import type { EventArgs, EventSubscriber } from '@mikro-orm/core';
import { currentTenant, isTenantScoped } from './tenant-filter.js';

export class CrossTenantWriteError extends Error {}

/**
 * Fills `organizationId` on insert from the EntityManager's tenant scope, and refuses an insert or update that
 * names another organization than the one in scope: a bug there would leak data across tenants.
 */
export class TenantSubscriber implements EventSubscriber {
  beforeCreate(args: EventArgs<object>): void {
    this.check(args, true);
  }

  beforeUpdate(args: EventArgs<object>): void {
    this.check(args, false);
  }

  private check({ entity, em }: EventArgs<object>, creating: boolean): void {
    if (!isTenantScoped(entity.constructor)) return;
    const row = entity as { organizationId?: string | null };
    const scope = currentTenant(em);
    if (creating && row.organizationId === undefined) {
      if (!scope) {
        throw new CrossTenantWriteError(`${entity.constructor.name} has no organizationId and no tenant is in scope`);
      }
      row.organizationId = scope;
      return;
    }
    if (scope && row.organizationId !== scope) {
      throw new CrossTenantWriteError(
        `${entity.constructor.name} belongs to organization ${row.organizationId}, not to ${scope} in scope`,
      );
    }
  }
}
