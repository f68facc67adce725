import { lookup } from 'node:dns/promises';
import { performance } from 'node:perf_hooks';
import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../../../config/index.js';
import { isPrivateAddress } from '../domain/endpoint-url.js';

/** How long an endpoint has to answer. */
export const SEND_TIMEOUT_MS = 10_000;
/** How much of an answer's body is kept. */
export const RESPONSE_BODY_LIMIT = 2048;

export interface SendResult {
  /** Null when no HTTP answer came. */
  statusCode: number | null;
  responseBody: string | null;
  error: string | null;
  durationMs: number;
}

/**
 * POSTs one webhook. Never follows redirects (a 3xx is a failed attempt), gives up after 10 s, reads at most 2 KB of
 * the answer. In production the host name is resolved first and a private, loopback or link-local address is
 * refused, so an endpoint cannot be pointed at Settle's own network through DNS.
 */
@Injectable()
export class WebhookSender {
  constructor(private readonly config: AppConfig) {}

  async send(url: string, headers: Record<string, string>, body: string): Promise<SendResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    try {
      if (this.config.isProduction) await this.refusePrivate(url);
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'Settle-Webhooks/1.0', ...headers },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
      });
      const responseBody = await readLimited(response);
      return { statusCode: response.status, responseBody, error: null, durationMs: elapsed() };
    } catch (error) {
      return { statusCode: null, responseBody: null, error: describe(error), durationMs: elapsed() };
    }
  }

  private async refusePrivate(url: string): Promise<void> {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
    const addresses = await lookup(host, { all: true });
    if (addresses.some((a) => isPrivateAddress(a.address))) throw new Error(`${host} resolves to a private address`);
  }
}

async function readLimited(response: Response): Promise<string | null> {
  if (!response.body) return null;
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < RESPONSE_BODY_LIMIT) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  const bytes = Buffer.concat(chunks).subarray(0, RESPONSE_BODY_LIMIT);
  return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError') return `No answer within ${SEND_TIMEOUT_MS / 1000} s`;
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const detail = cause?.code ?? cause?.message;
    return (detail ? `${error.message}: ${detail}` : error.message).slice(0, 500);
  }
  return String(error).slice(0, 500);
}
