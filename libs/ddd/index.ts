export { Clock, SystemClock, FixedClock } from './clock.js';
export { domainEvent, type DomainEvent, type DeliveredEvent } from './domain-event.js';
export { ApplicationError, ErrorCode, type FieldProblem } from './application-error.js';
export { newId, newOrderedId, isUuid } from './ids.js';
export { type PostalAddress, normalizeAddress, formatAddress } from './postal-address.js';
export { executeBound } from './bound-sql.js';
