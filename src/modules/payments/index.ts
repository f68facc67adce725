// Public contract of the payments module: the only file other modules may import.
export { PaymentsModule } from './payments.module.js';
