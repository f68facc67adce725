export { TenantEntity } from './tenant-entity.js';
export {
  TENANT_FILTER,
  TenantScoped,
  isTenantScoped,
  tenantFilter,
  scopeToTenant,
  currentTenant,
  type TenantScope,
} from './tenant-filter.js';
export { TenantSubscriber, CrossTenantWriteError } from './tenant.subscriber.js';
