// Public contract of the agreements module: the only file other modules may import.
export { AgreementsModule } from './agreements.module.js';
