import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../../../config/index.js';

/**
 * QuickBooks Online settings. Client id and secret come from the environment (QBO_CLIENT_ID, QBO_CLIENT_SECRET), never
 * from the repository; without them the `none` adapter is all there is and connectQuickBooks says so. The base URLs
 * default to Intuit's production endpoints; tests point them at the local QuickBooks test server.
 * The variables are validated with the rest of the configuration (src/config) and read from `AppConfig.quickbooks`.
 */
@Injectable()
export class QuickBooksSettings {
  readonly clientId: string | undefined;
  readonly clientSecret: string | undefined;
  /** Intuit's authorization page (the user signs in and picks a company). */
  readonly authUrl: string;
  /** OAuth 2.0 token endpoint: authorization_code and refresh_token grants. */
  readonly tokenUrl: string;
  readonly revokeUrl: string;
  /** Accounting API base: https://quickbooks.api.intuit.com (sandbox companies: https://sandbox-quickbooks.api.intuit.com). */
  readonly apiUrl: string;
  readonly redirectUri: string;
  /** Intuit serves minor version 75 whatever is asked for since August 2025; we say so explicitly. */
  readonly minorVersion: string;
  readonly timeoutMs: number;

  constructor(config: AppConfig) {
    const section: Partial<Record<QuickBooksVariable, string>> = config.quickbooks;
    const get = (name: QuickBooksVariable) => section[name]?.trim() || undefined;
    this.clientId = get('QBO_CLIENT_ID');
    this.clientSecret = get('QBO_CLIENT_SECRET');
    this.authUrl = get('QBO_AUTH_URL') ?? 'https://appcenter.intuit.com/connect/oauth2';
    this.tokenUrl = get('QBO_TOKEN_URL') ?? 'https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer';
    this.revokeUrl = get('QBO_REVOKE_URL') ?? 'https://developer.api.intuit.com/v2/oauth2/tokens/revoke';
    this.apiUrl = (get('QBO_API_URL') ?? 'https://quickbooks.api.intuit.com').replace(/\/+$/, '');
    this.redirectUri = get('QBO_REDIRECT_URI') ?? `${config.http.publicUrl.replace(/\/+$/, '')}/integrations/quickbooks/callback`;
    this.minorVersion = get('QBO_MINOR_VERSION') ?? '75';
    this.timeoutMs = Number(get('QBO_TIMEOUT_MS') ?? 30_000);
  }

  get configured(): boolean {
    return Boolean(this.clientId && this.clientSecret);
  }
}

/** The variables, as `AppConfig.quickbooks` should carry them (raw strings, validated here). */
export type QuickBooksVariable =
  | 'QBO_CLIENT_ID'
  | 'QBO_CLIENT_SECRET'
  | 'QBO_AUTH_URL'
  | 'QBO_TOKEN_URL'
  | 'QBO_REVOKE_URL'
  | 'QBO_API_URL'
  | 'QBO_REDIRECT_URI'
  | 'QBO_MINOR_VERSION'
  | 'QBO_TIMEOUT_MS';
