import { createHmac } from 'node:crypto';

export const SIGNATURE_HEADER = 'Settle-Signature';
export const EVENT_ID_HEADER = 'Settle-Event-Id';

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, keyed by the endpoint's secret (the whole `whsec_…` string). */
export function signatureHeader(secret: string, body: string, at: Date): string {
  const t = Math.floor(at.getTime() / 1000);
  const v1 = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  return `t=${t},v1=${v1}`;
}
