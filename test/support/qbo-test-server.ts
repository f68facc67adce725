import { randomBytes } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A local stand-in for QuickBooks Online, written by us from Intuit's API reference, so the QuickBooks adapter runs
 * over real HTTP in tests without reaching Intuit.
 *
 * OAuth 2.0: `GET /connect/oauth2` (the authorization page: redirects to redirect_uri with code, state and realmId, as
 * Intuit does once the user approves), `POST /oauth2/v1/tokens/bearer` (Basic client auth; grant_type
 * authorization_code or refresh_token; access tokens last 3600 s; the refresh token rotates on every refresh; a
 * refused grant is `400 {"error":"invalid_grant"}`), `POST /v2/oauth2/tokens/revoke`.
 *
 * Accounting API v3 under `/v3/company/<realmId>/`: `customer`, `item`, `invoice` (and `?operation=void`), `payment`,
 * `creditmemo` (create, or update with Id + SyncToken, `sparse: true` merging), `<entity>/<id>` reads, and `query`
 * (`select * from <Entity> where <Field> = '<value>' [maxresults n]`). Answers are `{ "<Entity>": {…}, "time" }`;
 * errors are Intuit's Fault bodies: `ValidationFault` 6240 Duplicate Name Exists, 5010 Stale Object Error, 2500
 * Invalid Reference Id, 6000 business validation; the gateway's `AuthenticationFailed` 3200 (401) and
 * `ThrottleExceeded` 3001 (429). A token works only for its own company. `requestid` is honoured: the same id again
 * answers the first response without doing anything.
 *
 * Test controls: `failNext(...)` injects 429 / 5xx / 401 before the work, or a response lost after the work was done;
 * `expireAccessTokens()`, `revokeGrants(realmId)`; `records(realmId, entity)` and `requests` to assert on.
 */

type Entity = Record<string, unknown> & { Id: string; SyncToken: string };

export interface QboLoggedRequest {
  method: string;
  path: string;
  realmId: string | null;
  query: Record<string, string>;
  body: Record<string, unknown> | null;
  status: number;
}

export interface InjectedFailure {
  status: number;
  /** Do the work, then answer `status` anyway (the answer was lost on the way). */
  afterWork?: boolean;
}

interface Company {
  realmId: string;
  nextId: number;
  entities: Map<string, Map<string, Entity>>;
  requestIds: Map<string, { status: number; body: unknown }>;
}

interface AccessToken {
  realmId: string;
  expiresAt: number;
  valid: boolean;
}

const ENTITY_NAMES: Record<string, string> = {
  customer: 'Customer',
  item: 'Item',
  invoice: 'Invoice',
  payment: 'Payment',
  creditmemo: 'CreditMemo',
  account: 'Account',
};

export class QboTestServer {
  readonly clientId = `qbo-client-${randomBytes(4).toString('hex')}`;
  readonly clientSecret = randomBytes(16).toString('hex');
  readonly requests: QboLoggedRequest[] = [];
  /** Every call of the token endpoint: its grant type and whether it was granted. */
  readonly tokenRequests: { grantType: string; status: number }[] = [];
  /** The company the authorization page hands out next (`realmId`). */
  nextRealmId = '9130350000000001';
  private readonly companies = new Map<string, Company>();
  private readonly codes = new Map<string, string>();
  private readonly accessTokens = new Map<string, AccessToken>();
  /** refresh token → realm; a used or revoked one is deleted. */
  private readonly refreshTokens = new Map<string, string>();
  private readonly failures: InjectedFailure[] = [];
  private server!: http.Server;
  private readonly sockets = new Set<Socket>();
  url = '';

  /** QBO_* for the app: every base URL pointing here. */
  env(): Record<string, string> {
    return {
      QBO_CLIENT_ID: this.clientId,
      QBO_CLIENT_SECRET: this.clientSecret,
      QBO_AUTH_URL: `${this.url}/connect/oauth2`,
      QBO_TOKEN_URL: `${this.url}/oauth2/v1/tokens/bearer`,
      QBO_REVOKE_URL: `${this.url}/v2/oauth2/tokens/revoke`,
      QBO_API_URL: this.url,
    };
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  failNext(...failures: InjectedFailure[]): void {
    this.failures.push(...failures);
  }

  /** Every access token handed out so far stops working (401), as after an hour. */
  expireAccessTokens(): void {
    for (const t of this.accessTokens.values()) t.expiresAt = 0;
  }

  /** The user disconnected the app in QuickBooks: its tokens and refresh tokens stop working. */
  revokeGrants(realmId: string): void {
    for (const [k, t] of this.accessTokens) if (t.realmId === realmId) this.accessTokens.delete(k);
    for (const [k, r] of this.refreshTokens) if (r === realmId) this.refreshTokens.delete(k);
  }

  records(realmId: string, entity: string): Entity[] {
    return [...(this.companies.get(realmId)?.entities.get(entity)?.values() ?? [])];
  }

  apiRequests(realmId: string, method = 'POST', resource?: string): QboLoggedRequest[] {
    return this.requests.filter((r) => r.realmId === realmId && r.method === method && r.path !== 'query' && (!resource || r.path === resource));
  }

  private company(realmId: string): Company {
    let c = this.companies.get(realmId);
    if (!c) {
      c = { realmId, nextId: 1, entities: new Map(), requestIds: new Map() };
      this.companies.set(realmId, c);
      // A new company has an income account, as every QuickBooks company does.
      this.store(c, 'Account', { Name: 'Services', AccountType: 'Income', Active: true });
    }
    return c;
  }

  private store(c: Company, entity: string, fields: Record<string, unknown>): Entity {
    const table = c.entities.get(entity) ?? new Map<string, Entity>();
    c.entities.set(entity, table);
    const record: Entity = { ...fields, Id: String(c.nextId++), SyncToken: '0', MetaData: { CreateTime: new Date().toISOString() } };
    table.set(record.Id, record);
    return record;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const raw = await new Promise<string>((resolve) => {
      let data = '';
      req.on('data', (chunk: Buffer) => (data += chunk.toString('utf8')));
      req.on('end', () => resolve(data));
    });
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(body === undefined ? '' : JSON.stringify(body));
    };
    try {
      if (req.method === 'GET' && url.pathname === '/connect/oauth2') return this.authorize(url, res);
      if (req.method === 'POST' && url.pathname === '/oauth2/v1/tokens/bearer') {
        const form = new URLSearchParams(raw);
        const answer = this.token(req, form);
        this.tokenRequests.push({ grantType: form.get('grant_type') ?? '', status: answer.status });
        return send(answer.status, answer.body);
      }
      if (req.method === 'POST' && url.pathname === '/v2/oauth2/tokens/revoke') {
        const token = (JSON.parse(raw || '{}') as { token?: string }).token;
        const realm = token ? this.refreshTokens.get(token) : undefined;
        if (realm) this.revokeGrants(realm);
        return send(200, {});
      }
      const match = /^\/v3\/company\/([^/]+)\/(.+)$/.exec(url.pathname);
      if (!match) return send(404, fault('ValidationFault', '610', 'Object Not Found', `No route ${url.pathname}`));
      const [, realmId, path] = match as unknown as [string, string, string];
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : null;
      const query = Object.fromEntries(url.searchParams);
      const log: QboLoggedRequest = { method: req.method ?? 'GET', path, realmId, query, body, status: 0 };
      this.requests.push(log);
      const answer = this.api(req, realmId, path, query, body);
      log.status = answer.status;
      return send(answer.status, answer.body);
    } catch (error) {
      return send(500, fault('SystemFault', '10000', 'An application error has occurred while processing your request', String(error)));
    }
  }

  private authorize(url: URL, res: ServerResponse): void {
    const redirect = url.searchParams.get('redirect_uri');
    if (url.searchParams.get('client_id') !== this.clientId || !redirect || url.searchParams.get('response_type') !== 'code') {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end('invalid authorization request');
      return;
    }
    const code = `AB${randomBytes(12).toString('hex')}`;
    this.codes.set(code, this.nextRealmId);
    this.company(this.nextRealmId);
    const back = new URL(redirect);
    back.searchParams.set('code', code);
    back.searchParams.set('state', url.searchParams.get('state') ?? '');
    back.searchParams.set('realmId', this.nextRealmId);
    res.writeHead(302, { location: back.toString() });
    res.end();
  }

  private token(req: IncomingMessage, form: URLSearchParams): { status: number; body: unknown } {
    const basic = `Basic ${Buffer.from(`${this.clientId}:${this.clientSecret}`).toString('base64')}`;
    if (req.headers.authorization !== basic) return { status: 401, body: { error: 'invalid_client' } };
    let realmId: string | undefined;
    if (form.get('grant_type') === 'authorization_code') {
      realmId = this.codes.get(form.get('code') ?? '');
      this.codes.delete(form.get('code') ?? '');
    } else if (form.get('grant_type') === 'refresh_token') {
      realmId = this.refreshTokens.get(form.get('refresh_token') ?? '');
      this.refreshTokens.delete(form.get('refresh_token') ?? '');
    } else {
      return { status: 400, body: { error: 'unsupported_grant_type' } };
    }
    if (!realmId) return { status: 400, body: { error: 'invalid_grant' } };
    const access = `eyJ${randomBytes(24).toString('base64url')}`;
    const refresh = `RT1-${randomBytes(16).toString('hex')}`;
    this.accessTokens.set(access, { realmId, expiresAt: Date.now() + 3600_000, valid: true });
    this.refreshTokens.set(refresh, realmId);
    return {
      status: 200,
      body: { token_type: 'bearer', access_token: access, refresh_token: refresh, expires_in: 3600, x_refresh_token_expires_in: 8_726_400 },
    };
  }

  private api(
    req: IncomingMessage,
    realmId: string,
    path: string,
    query: Record<string, string>,
    body: Record<string, unknown> | null,
  ): { status: number; body: unknown } {
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const token = bearer ? this.accessTokens.get(bearer) : undefined;
    if (!token || token.realmId !== realmId || token.expiresAt <= Date.now()) {
      return { status: 401, body: gatewayFault('AUTHENTICATION', '3200', 'message=AuthenticationFailed; errorCode=003200; statusCode=401', 'Token expired or invalid') };
    }
    const injected = this.failures.shift();
    if (injected && !injected.afterWork) return failure(injected.status);
    const c = this.company(realmId);
    const requestId = query.requestid;
    if (requestId && c.requestIds.has(requestId)) return c.requestIds.get(requestId)!;
    const answer = this.operate(c, req.method ?? 'GET', path, query, body);
    if (requestId && req.method === 'POST') c.requestIds.set(requestId, answer);
    if (injected?.afterWork) return failure(injected.status);
    return answer;
  }

  private operate(c: Company, method: string, path: string, query: Record<string, string>, body: Record<string, unknown> | null): { status: number; body: unknown } {
    const ok = (entity: string, record: Entity) => ({ status: 200, body: { [entity]: record, time: new Date().toISOString() } });
    if (method === 'GET' && path === 'query') return this.query(c, query.query ?? '');
    const [resource, id] = path.split('/') as [string, string | undefined];
    const entity = ENTITY_NAMES[resource.toLowerCase()];
    if (!entity) return { status: 400, body: fault('ValidationFault', '4000', 'Unsupported Operation', `Unknown resource ${resource}`) };
    const table = c.entities.get(entity) ?? new Map<string, Entity>();
    c.entities.set(entity, table);
    if (method === 'GET') {
      const found = id ? table.get(id) : undefined;
      return found ? ok(entity, found) : { status: 400, body: fault('ValidationFault', '610', 'Object Not Found', `Object Not Found : Something you're trying to use has been made inactive or deleted.`) };
    }
    if (!body) return { status: 400, body: fault('ValidationFault', '2020', 'Required param missing, need to supply the required value for the API', 'body') };
    if (query.operation === 'void') {
      const current = table.get(String(body.Id));
      if (!current) return { status: 400, body: fault('ValidationFault', '610', 'Object Not Found', 'Another user has deleted this transaction.') };
      if (current.SyncToken !== String(body.SyncToken)) return stale(entity, current.Id);
      const voided: Entity = { ...current, TotalAmt: 0, Balance: 0, PrivateNote: 'Voided', SyncToken: String(Number(current.SyncToken) + 1) };
      voided.Line = (current.Line as Record<string, unknown>[]).map((l) => ({ ...l, Amount: 0 }));
      table.set(current.Id, voided);
      return ok(entity, voided);
    }
    const existing = body.Id !== undefined ? table.get(String(body.Id)) : undefined;
    if (body.Id !== undefined && !existing) return { status: 400, body: fault('ValidationFault', '610', 'Object Not Found', `Object Not Found : ${entity} ${String(body.Id)}`) };
    if (existing && existing.SyncToken !== String(body.SyncToken)) return stale(entity, existing.Id);
    const merged: Record<string, unknown> = existing ? (body.sparse === true ? { ...existing, ...body } : { ...body, Id: existing.Id }) : { ...body };
    delete merged.sparse;
    const problem = this.validate(c, entity, merged, existing?.Id ?? null);
    if (problem) return { status: 400, body: problem };
    this.derive(c, entity, merged, existing);
    if (existing) {
      const updated: Entity = { ...(merged as Entity), Id: existing.Id, SyncToken: String(Number(existing.SyncToken) + 1), MetaData: existing.MetaData };
      table.set(existing.Id, updated);
      return ok(entity, updated);
    }
    return ok(entity, this.store(c, entity, merged));
  }

  private validate(c: Company, entity: string, r: Record<string, unknown>, selfId: string | null): unknown {
    const ref = (e: string, v: unknown) => {
      const id = (v as { value?: unknown } | undefined)?.value;
      return typeof id === 'string' && c.entities.get(e)?.has(id);
    };
    const invalidRef = (what: string) => fault('ValidationFault', '2500', 'Invalid Reference Id', `Invalid Reference Id : ${what} assigned to this transaction has been deleted. Before you can modify this transaction, you must restore ${what}.`);
    if (entity === 'Customer' || entity === 'Item') {
      const nameField = entity === 'Customer' ? 'DisplayName' : 'Name';
      const name = r[nameField];
      if (typeof name !== 'string' || !name.trim()) return fault('ValidationFault', '2020', 'Required param missing, need to supply the required value for the API', `Required parameter ${nameField} is missing in the request`);
      if (entity === 'Customer' && /[:\t\n]/.test(name)) return fault('ValidationFault', '2170', 'Invalid String', 'DisplayName cannot contain a colon (:), tab or new line');
      const taken = [...(c.entities.get(entity)?.values() ?? [])].some((e) => e.Id !== selfId && String(e[nameField]).toLowerCase() === name.toLowerCase());
      if (taken) return fault('ValidationFault', '6240', 'Duplicate Name Exists Error', 'The name supplied already exists. : Another customer, vendor or employee is already using this name. Please use a different name.');
      if (entity === 'Item' && !ref('Account', r.IncomeAccountRef)) return invalidRef('Income account');
      return null;
    }
    if (!ref('Customer', r.CustomerRef)) return invalidRef('Customer');
    const lines = (r.Line ?? []) as Record<string, unknown>[];
    if (entity === 'Invoice' || entity === 'CreditMemo') {
      if (lines.length === 0) return fault('ValidationFault', '6000', 'A business validation error has occurred while processing your request', 'Business Validation Error: You must fill out at least one line item.');
      for (const l of lines) {
        if (l.DetailType !== 'SalesItemLineDetail' || typeof l.Amount !== 'number') return fault('ValidationFault', '2020', 'Required param missing, need to supply the required value for the API', 'Required parameter Line.DetailType / Line.Amount is missing in the request');
        if (!ref('Item', (l.SalesItemLineDetail as Record<string, unknown> | undefined)?.ItemRef)) return invalidRef('Item');
      }
      return null;
    }
    if (entity === 'Payment') {
      if (typeof r.TotalAmt !== 'number' || r.TotalAmt < 0) return fault('ValidationFault', '2020', 'Required param missing, need to supply the required value for the API', 'Required parameter TotalAmt is missing in the request');
      let applied = 0;
      for (const l of lines) {
        const linked = (l.LinkedTxn as { TxnId: string; TxnType: string }[] | undefined)?.[0];
        const invoice = linked?.TxnType === 'Invoice' ? c.entities.get('Invoice')?.get(linked.TxnId) : undefined;
        if (!invoice) return invalidRef('Invoice');
        const owed = cents(invoice.TotalAmt) - this.appliedTo(c, invoice.Id, selfId);
        if (cents(l.Amount) > owed) return fault('ValidationFault', '6000', 'A business validation error has occurred while processing your request', `Business Validation Error: The payment amount exceeds the balance of invoice ${invoice.Id}.`);
        applied += cents(l.Amount);
      }
      if (applied > cents(r.TotalAmt)) return fault('ValidationFault', '6000', 'A business validation error has occurred while processing your request', 'Business Validation Error: The amount applied is more than the total of the payment.');
      return null;
    }
    return null;
  }

  /** What QuickBooks computes: totals, invoice balances, the payment's unapplied amount. */
  private derive(c: Company, entity: string, r: Record<string, unknown>, existing: Entity | undefined): void {
    const lines = (r.Line ?? []) as Record<string, unknown>[];
    if (entity === 'Invoice' || entity === 'CreditMemo') {
      r.TotalAmt = lines.reduce((sum, l) => sum + cents(l.Amount), 0) / 100;
      if (entity === 'Invoice') r.Balance = (cents(r.TotalAmt) - (existing ? this.appliedTo(c, existing.Id, null) : 0)) / 100;
    }
    if (entity === 'Payment') {
      const applied = lines.reduce((sum, l) => sum + cents(l.Amount), 0);
      r.UnappliedAmt = (cents(r.TotalAmt) - applied) / 100;
      // Invoice balances follow after the payment is stored (see refreshBalances).
      queueMicrotask(() => this.refreshBalances(c));
    }
  }

  private refreshBalances(c: Company): void {
    for (const invoice of c.entities.get('Invoice')?.values() ?? []) {
      if (invoice.PrivateNote === 'Voided') continue;
      invoice.Balance = (cents(invoice.TotalAmt) - this.appliedTo(c, invoice.Id, null)) / 100;
    }
  }

  private appliedTo(c: Company, invoiceId: string, exceptPaymentId: string | null): number {
    let sum = 0;
    for (const p of c.entities.get('Payment')?.values() ?? []) {
      if (p.Id === exceptPaymentId) continue;
      for (const l of (p.Line ?? []) as Record<string, unknown>[]) {
        const linked = (l.LinkedTxn as { TxnId: string }[] | undefined)?.[0];
        if (linked?.TxnId === invoiceId) sum += cents(l.Amount);
      }
    }
    return sum;
  }

  private query(c: Company, statement: string): { status: number; body: unknown } {
    const m = /^select \* from (\w+)(?: where (\w+) = '((?:[^'\\]|\\.)*)')?(?: maxresults (\d+))?$/i.exec(statement.trim());
    if (!m) return { status: 400, body: fault('ValidationFault', '4000', 'Error parsing query', `QueryParserError: Encountered an unsupported statement: ${statement}`) };
    const [, entityName, field, value, max] = m;
    const entity = Object.values(ENTITY_NAMES).find((e) => e.toLowerCase() === entityName!.toLowerCase());
    if (!entity) return { status: 400, body: fault('ValidationFault', '4000', 'Error parsing query', `Unknown entity ${entityName}`) };
    let rows = [...(c.entities.get(entity)?.values() ?? [])];
    if (field) rows = rows.filter((r) => String(r[field]) === value!.replace(/\\'/g, "'"));
    if (max) rows = rows.slice(0, Number(max));
    const response: Record<string, unknown> = rows.length ? { [entity]: rows, startPosition: 1, maxResults: rows.length } : {};
    return { status: 200, body: { QueryResponse: response, time: new Date().toISOString() } };
  }
}

function cents(value: unknown): number {
  return Math.round(Number(value) * 100);
}

function fault(type: string, code: string, message: string, detail: string) {
  return { Fault: { Error: [{ Message: message, Detail: detail, code, element: '' }], type }, time: new Date().toISOString() };
}

/** The API gateway's own errors (401, 429) come in lower case. */
function gatewayFault(type: string, code: string, message: string, detail: string) {
  return { fault: { error: [{ message, detail, code }], type }, time: new Date().toISOString() };
}

function stale(entity: string, id: string) {
  return {
    status: 400,
    body: fault('ValidationFault', '5010', 'Stale Object Error', `Stale Object Error : You and another user were working on the same thing. Please try again. ${entity} ${id}`),
  };
}

function failure(status: number): { status: number; body: unknown } {
  if (status === 429) return { status, body: gatewayFault('SERVICE', '3001', 'message=ThrottleExceeded; errorCode=003001; statusCode=429', 'The request limit was reached.') };
  if (status === 400) {
    return { status, body: fault('ValidationFault', '6000', 'A business validation error has occurred while processing your request', 'Business Validation Error: The account period has closed.') };
  }
  if (status === 401) return { status, body: gatewayFault('AUTHENTICATION', '3200', 'message=AuthenticationFailed; errorCode=003200; statusCode=401', 'Token expired') };
  return { status, body: fault('SystemFault', '10000', 'An application error has occurred while processing your request', 'System Failure Error: Service unavailable') };
}
