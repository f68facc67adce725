import { AgreementTransition, ServiceAgreement } from './domain/agreement.entity.js';
import { BILLING_RUN_ENTITIES } from './domain/billing-run.entity.js';
import { DUNNING_ENTITIES } from './domain/dunning-policy.entity.js';
import { AgreementSignupLink } from './domain/signup-link.entity.js';
import { WorkOrder } from './domain/work-order.entity.js';

/** The agreements module's entities (registered by src/infra/database/entities.ts). */
export const AGREEMENTS_ENTITIES = [ServiceAgreement, AgreementTransition, WorkOrder, AgreementSignupLink, ...BILLING_RUN_ENTITIES, ...DUNNING_ENTITIES];
