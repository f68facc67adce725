import { envSchema } from './config.schema.js';

export type ProcessRole = 'api' | 'worker' | 'all';

/** The typed, validated configuration. Injected by class token; read nothing from process.env elsewhere. */
export class AppConfig {
  readonly env!: 'development' | 'test' | 'production';
  readonly role!: ProcessRole;
  readonly http!: { host: string; port: number; publicUrl: string };
  /** Explicit service URLs; when absent the bootstrap discovers local ones (see service-discovery.ts). */
  readonly databaseUrl?: string;
  readonly redisUrl?: string;
  readonly dataDir!: string;
  readonly auth!: {
    jwtSecret?: string;
    accessTtlSeconds: number;
    refreshTtlSeconds: number;
    invitationTtlHours: number;
    loginMaxAttempts: number;
    loginWindowSeconds: number;
  };
  readonly logLevel!: string;
  readonly graphql!: {
    maxDepth: number;
    maxComplexity: number;
    maxBatch: number;
    introspection: boolean;
    /** Cached answers of read-only queries, dropped on any write to the organization (src/graphql/read-cache.ts). */
    readCache: { enabled: boolean; maxEntries: number; maxBytes: number; ttlMs: number };
  };
  readonly outbox!: { pollMs: number; maxAttempts: number; backoffMs: number; concurrency: number };
  readonly queuePrefix!: string;
  readonly notifications!: {
    smtpUrl?: string;
    mailFrom: string;
    sms: { provider: 'local' | 'twilio'; accountSid?: string; authToken?: string; fromNumber?: string; apiUrl: string };
    defaultPhoneCountry: string;
    pollMs: number;
    maxAttempts: number;
    backoffMs: number;
    leaseMs: number;
  };
  readonly wallet!: {
    /** How long a payment profile request's link works. */
    profileRequestTtlHours: number;
  };
  readonly agreements!: {
    /** How long an agreement's sign-up link works. */
    signupTtlHours: number;
  };
  readonly shutdownTimeoutMs!: number;
  /** Which PaymentGateway adapter runs; `stripe` is set only with the stripe gateway. */
  readonly paymentGateway!: {
    name: 'stripe' | 'sandbox';
    stripe?: {
      secretKey: string;
      apiUrl: string;
      host: string;
      port: number;
      protocol: 'http' | 'https';
      /** Verifies POST /webhooks/payments; without it every delivery is refused (required in production). */
      webhookSecret?: string;
    };
  };
  /** The pace of the charging jobs: at most this many gateway charges per second, over all workers (ChargePacer). */
  readonly gatewayPacing!: { chargesPerSecond: number };
  /** The sandbox gateway: its bank debits stay `processing` this long (by the injected clock) before they settle. */
  readonly sandboxGateway!: {
    debitSettleSeconds: number;
    /** SANDBOX_WEBHOOK_SECRET; when unset the sandbox derives one from JWT_SECRET (see SandboxGateway.webhookSecret). */
    webhookSecret?: string;
  };

  /** QuickBooks Online: the raw QBO_* variables given (QuickBooksSettings applies the defaults). */
  readonly quickbooks!: Partial<Record<`QBO_${string}`, string>>;

  get isProduction(): boolean {
    return this.env === 'production';
  }

  get runsApi(): boolean {
    return this.role === 'api' || this.role === 'all';
  }

  get runsWorker(): boolean {
    return this.role === 'worker' || this.role === 'all';
  }

  static create(values: Omit<AppConfig, 'isProduction' | 'runsApi' | 'runsWorker'>): AppConfig {
    return Object.assign(Object.create(AppConfig.prototype) as AppConfig, values);
  }
}

export class ConfigError extends Error {
  constructor(readonly problems: { variable: string; message: string }[]) {
    super(
      'Invalid configuration:\n' + problems.map((p) => `  - ${p.variable}: ${p.message}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

/** Parses the environment. Throws ConfigError naming every variable that is missing or invalid. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): AppConfig {
  // Empty strings count as unset, as in most shells' `VAR= cmd`.
  const raw = Object.fromEntries(
    Object.keys(envSchema.shape).map((k) => [k, source[k] === '' ? undefined : source[k]]),
  );
  const parsed = envSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => ({
        variable: String(i.path[0] ?? '(environment)'),
        message: i.code === 'invalid_value' || i.code === 'invalid_type' ? describeEnumOrType(i) : i.message,
      })),
    );
  }
  const e = parsed.data;
  const problems: { variable: string; message: string }[] = [];
  if (e.NODE_ENV === 'production') {
    if (!e.JWT_SECRET) problems.push({ variable: 'JWT_SECRET', message: 'is required when NODE_ENV=production' });
    if (!e.DATABASE_URL) problems.push({ variable: 'DATABASE_URL', message: 'is required when NODE_ENV=production' });
    if (!e.REDIS_URL) problems.push({ variable: 'REDIS_URL', message: 'is required when NODE_ENV=production' });
  }
  if (e.SMS_PROVIDER === 'twilio') {
    for (const v of ['TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'TWILIO_FROM_NUMBER'] as const) {
      if (!e[v]) problems.push({ variable: v, message: 'is required when SMS_PROVIDER=twilio' });
    }
  }
  const gateway = e.PAYMENT_GATEWAY ?? (e.STRIPE_SECRET_KEY ? 'stripe' : 'sandbox');
  if (gateway === 'stripe' && !e.STRIPE_SECRET_KEY) {
    problems.push({ variable: 'STRIPE_SECRET_KEY', message: 'is required when PAYMENT_GATEWAY=stripe' });
  }
  if (e.NODE_ENV === 'production' && gateway === 'stripe' && !e.STRIPE_WEBHOOK_SECRET) {
    // Without it bank debits would stay PROCESSING until the janitor asks, and Stripe's retries would pile up.
    problems.push({ variable: 'STRIPE_WEBHOOK_SECRET', message: 'is required when NODE_ENV=production and the gateway is Stripe' });
  }
  if (e.NODE_ENV === 'production' && !e.PAYMENT_GATEWAY && !e.STRIPE_SECRET_KEY) {
    // Production never falls back to the sandbox silently: real customers would be told their real card is refused.
    problems.push({
      variable: 'STRIPE_SECRET_KEY',
      message: 'is required when NODE_ENV=production (or set PAYMENT_GATEWAY=sandbox to run on test numbers on purpose)',
    });
  }
  if (problems.length) throw new ConfigError(problems);
  const stripeApi = new URL(e.STRIPE_API_URL);

  return AppConfig.create({
    env: e.NODE_ENV,
    role: e.SETTLE_ROLE,
    http: { host: e.HOST, port: e.PORT, publicUrl: (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/$/, '') },
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    dataDir: e.DATA_DIR,
    auth: {
      jwtSecret: e.JWT_SECRET,
      accessTtlSeconds: e.JWT_ACCESS_TTL_SECONDS,
      refreshTtlSeconds: e.JWT_REFRESH_TTL_SECONDS,
      invitationTtlHours: e.INVITATION_TTL_HOURS,
      loginMaxAttempts: e.LOGIN_MAX_ATTEMPTS,
      loginWindowSeconds: e.LOGIN_WINDOW_SECONDS,
    },
    logLevel: e.LOG_LEVEL ?? (e.NODE_ENV === 'test' ? 'silent' : 'info'),
    graphql: {
      maxDepth: e.GRAPHQL_MAX_DEPTH,
      maxComplexity: e.GRAPHQL_MAX_COMPLEXITY,
      maxBatch: e.GRAPHQL_MAX_BATCH,
      introspection: e.GRAPHQL_INTROSPECTION ?? e.NODE_ENV !== 'production',
      readCache: {
        // Off by default in tests: many write by raw SQL and read at once, before the notification arrives.
        enabled: (e.GRAPHQL_READ_CACHE ?? (e.NODE_ENV === 'test' ? 'off' : 'on')) === 'on',
        maxEntries: e.GRAPHQL_READ_CACHE_MAX_ENTRIES,
        maxBytes: e.GRAPHQL_READ_CACHE_MAX_MB * 1024 * 1024,
        ttlMs: e.GRAPHQL_READ_CACHE_TTL_SECONDS * 1000,
      },
    },
    outbox: { pollMs: e.OUTBOX_POLL_MS, maxAttempts: e.OUTBOX_MAX_ATTEMPTS, backoffMs: e.OUTBOX_BACKOFF_MS, concurrency: e.OUTBOX_CONCURRENCY },
    queuePrefix: e.QUEUE_PREFIX,
    notifications: {
      smtpUrl: e.SMTP_URL,
      mailFrom: e.MAIL_FROM,
      sms: {
        provider: e.SMS_PROVIDER,
        accountSid: e.TWILIO_ACCOUNT_SID,
        authToken: e.TWILIO_AUTH_TOKEN,
        fromNumber: e.TWILIO_FROM_NUMBER,
        apiUrl: e.TWILIO_API_URL.replace(/\/$/, ''),
      },
      defaultPhoneCountry: e.DEFAULT_PHONE_COUNTRY,
      pollMs: e.NOTIFY_POLL_MS,
      maxAttempts: e.NOTIFY_MAX_ATTEMPTS,
      backoffMs: e.NOTIFY_BACKOFF_MS,
      leaseMs: e.NOTIFY_LEASE_MS,
    },
    wallet: { profileRequestTtlHours: e.PROFILE_REQUEST_TTL_HOURS },
    agreements: { signupTtlHours: e.AGREEMENT_SIGNUP_TTL_HOURS },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    paymentGateway: {
      name: gateway,
      stripe:
        gateway === 'stripe'
          ? {
              secretKey: e.STRIPE_SECRET_KEY!,
              apiUrl: e.STRIPE_API_URL.replace(/\/$/, ''),
              host: stripeApi.hostname,
              port: Number(stripeApi.port) || (stripeApi.protocol === 'https:' ? 443 : 80),
              protocol: stripeApi.protocol === 'https:' ? 'https' : 'http',
              webhookSecret: e.STRIPE_WEBHOOK_SECRET,
            }
          : undefined,
    },
    gatewayPacing: {
      chargesPerSecond: e.GATEWAY_CHARGES_PER_SECOND ?? (gateway === 'stripe' && /^(sk|rk)_live_/.test(e.STRIPE_SECRET_KEY ?? '') ? 80 : 20),
    },
    sandboxGateway: { debitSettleSeconds: e.SANDBOX_DEBIT_SETTLE_SECONDS, webhookSecret: e.SANDBOX_WEBHOOK_SECRET },
    quickbooks: Object.fromEntries(
      (['QBO_CLIENT_ID', 'QBO_CLIENT_SECRET', 'QBO_AUTH_URL', 'QBO_TOKEN_URL', 'QBO_REVOKE_URL', 'QBO_API_URL', 'QBO_REDIRECT_URI', 'QBO_MINOR_VERSION'] as const)
        .filter((name) => e[name] !== undefined)
        .map((name) => [name, e[name] as string])
        .concat(e.QBO_TIMEOUT_MS !== undefined ? [['QBO_TIMEOUT_MS', String(e.QBO_TIMEOUT_MS)]] : []),
    ),
  });
}

function describeEnumOrType(issue: { code: string; message: string; values?: unknown[] }): string {
  if (issue.values?.length) return `must be one of ${issue.values.map(String).join(', ')}`;
  return issue.message;
}
