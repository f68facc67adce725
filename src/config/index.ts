export { AppConfig, ConfigError, loadConfig, type ProcessRole } from './app-config.js';
