// Public contract of the customers module: the only file other modules may import.
export { CustomersModule } from './customers.module.js';
