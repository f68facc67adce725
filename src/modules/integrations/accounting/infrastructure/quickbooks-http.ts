import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { minorUnits, toCurrencyCode } from '#libs/money/index.js';
import { QuickBooksSettings } from './quickbooks.settings.js';

/** One error of a QuickBooks Fault, as Intuit sends it (`Fault.Error[]`; the gateway's 401/429 use lower case). */
export interface QboFaultError {
  code: string;
  message: string;
  detail: string;
  element: string;
}

/** A QuickBooks answer that is not a success: HTTP status plus the parsed Fault (or null for a bare 5xx or no answer). */
export class QuickBooksFault extends Error {
  constructor(
    readonly status: number,
    readonly type: string | null,
    readonly errors: QboFaultError[],
    message?: string,
  ) {
    super(message ?? describe(status, type, errors));
    this.name = 'QuickBooksFault';
  }

  /** 429 (ThrottleExceeded), 5xx or no answer at all (status 0): try again later. */
  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }

  get unauthorized(): boolean {
    return this.status === 401;
  }

  has(code: string): boolean {
    return this.errors.some((e) => e.code === code || e.code === code.padStart(6, '0'));
  }

  toJSON(): Record<string, unknown> {
    return { status: this.status, type: this.type, errors: this.errors };
  }
}

/** The token endpoint refused (`{"error":"invalid_grant"}` for a revoked or expired refresh token), or did not answer. */
export class QuickBooksOAuthError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string | null,
  ) {
    super(`QuickBooks OAuth ${status}: ${error}${description ? ` (${description})` : ''}`);
    this.name = 'QuickBooksOAuthError';
  }

  /** The grant itself is dead (not a temporary failure): the organization has to connect again. */
  get grantRejected(): boolean {
    return this.status === 400 || this.status === 401;
  }
}

export interface QboTokens {
  accessToken: string;
  refreshToken: string;
  /** Seconds (QuickBooks: 3600). */
  expiresIn: number;
  /** Seconds (QuickBooks: about 100 days). */
  refreshExpiresIn: number | null;
}

/** An amount written into the JSON body as a decimal number, exactly, from integer minor units (never a float). */
export class QboAmount {
  constructor(readonly text: string) {}

  static of(minor: bigint | string, currency: string): QboAmount {
    const digits = minorUnits(toCurrencyCode(currency));
    const value = BigInt(minor);
    const negative = value < 0n;
    const abs = (negative ? -value : value).toString().padStart(digits + 1, '0');
    const text = digits === 0 ? abs : `${abs.slice(0, -digits)}.${abs.slice(-digits)}`;
    return new QboAmount(negative ? `-${text}` : text);
  }
}

const MARK = `qbo-amount-${randomBytes(6).toString('hex')}:`;

/** JSON with each QboAmount as a bare JSON number of its exact decimal text. */
export function qboJson(body: unknown): string {
  const text = JSON.stringify(body, (_key, value: unknown) => (value instanceof QboAmount ? `${MARK}${value.text}` : value));
  return text.replace(new RegExp(`"${MARK}(-?[0-9]+(?:\\.[0-9]+)?)"`, 'g'), '$1');
}

export interface QboRequest {
  method: 'GET' | 'POST';
  /** After /v3/company/<realm>/, e.g. `invoice`, `customer/58`, `query`. */
  path: string;
  query?: Record<string, string>;
  body?: unknown;
  /** QuickBooks' idempotency key: the same requestid again answers the first response without doing it twice. */
  requestId?: string;
}

/**
 * Plain-HTTP QuickBooks Online client (fetch): the OAuth 2.0 token endpoint and the v3 Accounting API. Knows nothing
 * of connections or our records; QuickBooksSync decides what to send.
 */
@Injectable()
export class QuickBooksHttp {
  constructor(private readonly settings: QuickBooksSettings) {}

  authorizeUrl(state: string): string {
    const url = new URL(this.settings.authUrl);
    url.searchParams.set('client_id', this.settings.clientId ?? '');
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('scope', 'com.intuit.quickbooks.accounting');
    url.searchParams.set('redirect_uri', this.settings.redirectUri);
    url.searchParams.set('state', state);
    return url.toString();
  }

  exchangeCode(code: string): Promise<QboTokens> {
    return this.tokenRequest({ grant_type: 'authorization_code', code, redirect_uri: this.settings.redirectUri });
  }

  refresh(refreshToken: string): Promise<QboTokens> {
    return this.tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken });
  }

  /** Best effort: tells Intuit to forget the grant (disconnect). */
  async revoke(token: string): Promise<void> {
    try {
      await fetch(this.settings.revokeUrl, {
        method: 'POST',
        headers: { ...this.basicAuth(), accept: 'application/json', 'content-type': 'application/json' },
        body: JSON.stringify({ token }),
        signal: AbortSignal.timeout(this.settings.timeoutMs),
      });
    } catch {
      // The grant is dropped on our side either way.
    }
  }

  async api<T = Record<string, unknown>>(realmId: string, accessToken: string, req: QboRequest): Promise<T> {
    const url = new URL(`${this.settings.apiUrl}/v3/company/${encodeURIComponent(realmId)}/${req.path}`);
    for (const [k, v] of Object.entries(req.query ?? {})) url.searchParams.set(k, v);
    if (req.requestId) url.searchParams.set('requestid', req.requestId);
    url.searchParams.set('minorversion', this.settings.minorVersion);
    let res: Response;
    try {
      res = await fetch(url, {
        method: req.method,
        headers: {
          authorization: `Bearer ${accessToken}`,
          accept: 'application/json',
          ...(req.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: req.body === undefined ? undefined : qboJson(req.body),
        signal: AbortSignal.timeout(this.settings.timeoutMs),
      });
    } catch (error) {
      throw new QuickBooksFault(0, null, [], `QuickBooks did not answer: ${error instanceof Error ? error.message : String(error)}`);
    }
    const text = await res.text();
    const json = parseJson(text);
    if (res.ok && json && !faultOf(json)) return json as T;
    const fault = json ? faultOf(json) : null;
    throw new QuickBooksFault(res.status, fault?.type ?? null, fault?.errors ?? [], fault ? undefined : `QuickBooks answered ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`);
  }

  private async tokenRequest(form: Record<string, string>): Promise<QboTokens> {
    let res: Response;
    try {
      res = await fetch(this.settings.tokenUrl, {
        method: 'POST',
        headers: { ...this.basicAuth(), accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form).toString(),
        signal: AbortSignal.timeout(this.settings.timeoutMs),
      });
    } catch (error) {
      throw new QuickBooksOAuthError(0, 'no_answer', error instanceof Error ? error.message : String(error));
    }
    const json = parseJson(await res.text()) ?? {};
    if (!res.ok || typeof json.access_token !== 'string' || typeof json.refresh_token !== 'string') {
      throw new QuickBooksOAuthError(
        res.status,
        typeof json.error === 'string' ? json.error : 'token_request_failed',
        typeof json.error_description === 'string' ? json.error_description : null,
      );
    }
    return {
      accessToken: json.access_token,
      refreshToken: json.refresh_token,
      expiresIn: typeof json.expires_in === 'number' ? json.expires_in : 3600,
      refreshExpiresIn: typeof json.x_refresh_token_expires_in === 'number' ? json.x_refresh_token_expires_in : null,
    };
  }

  private basicAuth(): Record<string, string> {
    const { clientId, clientSecret } = this.settings;
    return { authorization: `Basic ${Buffer.from(`${clientId ?? ''}:${clientSecret ?? ''}`).toString('base64')}` };
  }
}

function parseJson(text: string): Record<string, unknown> | null {
  if (!text) return null;
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** `{"Fault":{"Error":[…],"type":"ValidationFault"}}`, or the API gateway's `{"fault":{"error":[…],"type":"…"}}`. */
function faultOf(json: Record<string, unknown>): { type: string | null; errors: QboFaultError[] } | null {
  const fault = (json.Fault ?? json.fault) as Record<string, unknown> | undefined;
  if (!fault || typeof fault !== 'object') return null;
  const list = (fault.Error ?? fault.error) as Record<string, unknown>[] | undefined;
  const errors = (Array.isArray(list) ? list : []).map((e) => ({
    code: String(e.code ?? ''),
    message: String(e.Message ?? e.message ?? ''),
    detail: String(e.Detail ?? e.detail ?? ''),
    element: String(e.element ?? ''),
  }));
  return { type: typeof fault.type === 'string' ? fault.type : null, errors };
}

function describe(status: number, type: string | null, errors: QboFaultError[]): string {
  const first = errors[0];
  if (!first) return `QuickBooks answered ${status}${type ? ` (${type})` : ''}`;
  return `QuickBooks ${status} ${type ?? 'Fault'} ${first.code}: ${first.message}${first.detail ? ` — ${first.detail}` : ''}`;
}
