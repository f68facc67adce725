import { z } from 'zod';

const int = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `must be a whole number between ${min} and ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ['true', 'false', '1', '0', 'yes', 'no'].includes(v), 'must be true or false')
  .transform((v) => ['true', '1', 'yes'].includes(v));

const url = (protocols: string[]) =>
  z
    .string()
    .trim()
    .refine((v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    }, `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`);

/** Every environment variable Settle reads. Anything not listed here is ignored. */
export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  SETTLE_ROLE: z.enum(['api', 'worker', 'all']).default('all'),
  HOST: z.string().trim().min(1).default('0.0.0.0'),
  PORT: int(1, 65535).default(3000),
  PUBLIC_URL: url(['http:', 'https:']).optional(),
  DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  REDIS_URL: url(['redis:', 'rediss:']).optional(),
  DATA_DIR: z.string().trim().min(1).default('.data'),
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters (use `openssl rand -base64 48`)').optional(),
  JWT_ACCESS_TTL_SECONDS: int(60, 86_400).default(900),
  JWT_REFRESH_TTL_SECONDS: int(3_600, 31_536_000).default(2_592_000),
  INVITATION_TTL_HOURS: int(1, 720).default(72),
  PROFILE_REQUEST_TTL_HOURS: int(1, 720).default(72),
  AGREEMENT_SIGNUP_TTL_HOURS: int(1, 720).default(168),
  LOGIN_MAX_ATTEMPTS: int(1, 1000).default(5),
  LOGIN_WINDOW_SECONDS: int(1, 86_400).default(900),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  GRAPHQL_MAX_DEPTH: int(2, 50).default(10),
  GRAPHQL_MAX_COMPLEXITY: int(10, 100_000).default(1_000),
  GRAPHQL_MAX_BATCH: int(1, 100).default(10),
  GRAPHQL_INTROSPECTION: bool.optional(),
  // The GraphQL read cache (README, Read cache): on by default, off by default under NODE_ENV=test.
  GRAPHQL_READ_CACHE: z.enum(['on', 'off']).optional(),
  GRAPHQL_READ_CACHE_MAX_ENTRIES: int(1, 10_000_000).default(10_000),
  GRAPHQL_READ_CACHE_MAX_MB: int(1, 65_536).default(64),
  GRAPHQL_READ_CACHE_TTL_SECONDS: int(1, 86_400).default(300),
  OUTBOX_POLL_MS: int(10, 60_000).default(500),
  OUTBOX_MAX_ATTEMPTS: int(1, 50).default(8),
  OUTBOX_BACKOFF_MS: int(1, 3_600_000).default(1_000),
  OUTBOX_CONCURRENCY: int(1, 50).default(4),
  QUEUE_PREFIX: z.string().trim().regex(/^[a-z0-9_-]+$/i, 'must be letters, digits, _ or -').default('settle'),
  SHUTDOWN_TIMEOUT_MS: int(0, 600_000).default(10_000),
  SMTP_URL: url(['smtp:', 'smtps:']).optional(),
  MAIL_FROM: z.string().trim().email('must be an email address, e.g. billing@example.com').default('no-reply@settle.local'),
  SMS_PROVIDER: z.enum(['local', 'twilio']).default('local'),
  TWILIO_ACCOUNT_SID: z.string().trim().regex(/^AC[0-9a-fA-F]{32}$/, 'must look like AC followed by 32 hex digits').optional(),
  TWILIO_AUTH_TOKEN: z.string().trim().min(16, 'must be at least 16 characters').optional(),
  TWILIO_FROM_NUMBER: z.string().trim().regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 number such as +15145550123').optional(),
  TWILIO_API_URL: url(['http:', 'https:']).default('https://api.twilio.com'),
  DEFAULT_PHONE_COUNTRY: z.string().trim().regex(/^[A-Z]{2}$/, 'must be an ISO 3166 country code such as US').default('US'),
  NOTIFY_POLL_MS: int(10, 60_000).default(1_000),
  NOTIFY_MAX_ATTEMPTS: int(1, 50).default(8),
  NOTIFY_BACKOFF_MS: int(1, 3_600_000).default(30_000),
  NOTIFY_LEASE_MS: int(1_000, 3_600_000).default(120_000),
  PAYMENT_GATEWAY: z.enum(['stripe', 'sandbox']).optional(),
  STRIPE_SECRET_KEY: z
    .string()
    .trim()
    .regex(/^(sk|rk)_\S{8,}$/, 'must be a Stripe secret or restricted key, starting with sk_ or rk_ (e.g. sk_test_...)')
    .optional(),
  STRIPE_API_URL: url(['http:', 'https:']).default('https://api.stripe.com'),
  /** The signing secret of the Stripe webhook endpoint (/webhooks/payments), from Stripe's dashboard or `stripe listen`. */
  STRIPE_WEBHOOK_SECRET: z.string().trim().regex(/^whsec_\S{8,}$/, "must be a Stripe webhook signing secret, starting with whsec_").optional(),
  /** Sandbox only: how long a bank debit stays `processing` before the test bank's answer (3 days by default). */
  SANDBOX_DEBIT_SETTLE_SECONDS: int(0, 2_592_000).default(259_200),
  /**
   * Charges per second the charging jobs (mass charges, billing runs) send to the gateway, shared by every worker.
   * Default 20 (Stripe test mode allows about 25/s, and the sandbox), 80 with a live Stripe key (about 100/s live).
   */
  GATEWAY_CHARGES_PER_SECOND: int(1, 10_000).optional(),
  /** Sandbox only: the secret its simulated webhooks are signed with (derived from JWT_SECRET when unset). */
  SANDBOX_WEBHOOK_SECRET: z.string().min(32, 'must be at least 32 characters (use `openssl rand -base64 48`)').optional(),
  // QuickBooks Online (accounting sync): the Intuit app's credentials, and its endpoints (tests point them at a local server).
  QBO_CLIENT_ID: z.string().trim().min(1).optional(),
  QBO_CLIENT_SECRET: z.string().trim().min(1).optional(),
  QBO_AUTH_URL: url(['http:', 'https:']).optional(),
  QBO_TOKEN_URL: url(['http:', 'https:']).optional(),
  QBO_REVOKE_URL: url(['http:', 'https:']).optional(),
  QBO_API_URL: url(['http:', 'https:']).optional(),
  QBO_REDIRECT_URI: url(['http:', 'https:']).optional(),
  QBO_MINOR_VERSION: z.string().trim().regex(/^\d{1,3}$/, 'must be a QuickBooks minor version number such as 75').optional(),
  QBO_TIMEOUT_MS: int(1000, 120_000).optional(),
});

export type Env = z.infer<typeof envSchema>;
