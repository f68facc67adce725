import { BlockList, isIP } from 'node:net';

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Addresses an endpoint may not point at in production: loopback, private, link-local (cloud metadata), CGNAT, … */
const PRIVATE = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) PRIVATE.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8]] as const) PRIVATE.addSubnet(net, bits, 'ipv6');

export function isPrivateAddress(ip: string): boolean {
  const bare = ip.replace(/^\[|\]$/g, '');
  const family = isIP(bare);
  if (family === 0) return false;
  // IPv4-mapped IPv6 (::ffff:10.0.0.1) is the IPv4 address.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped) return PRIVATE.check(mapped[1]!, 'ipv4');
  return PRIVATE.check(bare, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Why `raw` cannot be a webhook endpoint, or null when it can. HTTPS only; plain HTTP only to localhost/127.0.0.1
 * outside production (a local receiver while developing and in tests). In production no loopback, private or
 * link-local address literal and no `localhost` (names are resolved again at send time: see WebhookSender).
 */
export function endpointUrlProblem(raw: string, production: boolean): string | null {
  if (raw.length > 2048) return 'must be at most 2048 characters';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'is not a URL';
  }
  if (url.username || url.password) return 'must not contain a user name or password';
  if (url.hash) return 'must not contain a #fragment';
  const host = url.hostname.toLowerCase();
  const local = LOCAL_HOSTS.has(host);
  if (url.protocol === 'http:') {
    if (local && !production) return null;
    return 'must use https (http is allowed only for localhost outside production)';
  }
  if (url.protocol !== 'https:') return 'must use https';
  if (production && (local || host.endsWith('.localhost') || isPrivateAddress(host))) {
    return 'must not point at a private, loopback or link-local address';
  }
  return null;
}
