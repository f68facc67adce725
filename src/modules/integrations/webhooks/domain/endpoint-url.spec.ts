import { endpointUrlProblem, isPrivateAddress } from './endpoint-url.js';
import { isValidSubscription, subscribes } from './event-catalog.js';

describe('webhook endpoint URLs', () => {
  it('accepts public https URLs everywhere', () => {
    expect(endpointUrlProblem('https://erp.example.com/hooks/settle?x=1', true)).toBeNull();
    expect(endpointUrlProblem('https://203.0.113.7:8443/h', true)).toBeNull();
  });

  it('allows plain http only to localhost outside production', () => {
    expect(endpointUrlProblem('http://127.0.0.1:4000/h', false)).toBeNull();
    expect(endpointUrlProblem('http://localhost:4000/h', false)).toBeNull();
    expect(endpointUrlProblem('http://127.0.0.1:4000/h', true)).toMatch(/https/);
    expect(endpointUrlProblem('http://erp.example.com/h', false)).toMatch(/https/);
  });

  it('refuses private, loopback and link-local targets in production', () => {
    for (const url of [
      'https://localhost/h', 'https://127.0.0.1/h', 'https://10.1.2.3/h', 'https://172.20.0.1/h', 'https://192.168.1.1/h',
      'https://169.254.169.254/latest/meta-data', 'https://[::1]/h', 'https://[fd00::1]/h', 'https://[::ffff:10.0.0.1]/h',
      'https://0.0.0.0/h', 'https://app.localhost/h',
    ]) {
      expect([url, endpointUrlProblem(url, true)]).toEqual([url, expect.stringMatching(/private/)]);
    }
    expect(endpointUrlProblem('https://10.1.2.3/h', false)).toBeNull();
  });

  it('refuses what is not a plain URL', () => {
    expect(endpointUrlProblem('not a url', false)).toMatch(/not a URL/);
    expect(endpointUrlProblem('https://u:p@example.com/', false)).toMatch(/user name/);
    expect(endpointUrlProblem('ftp://example.com/', false)).toMatch(/https/);
    expect(endpointUrlProblem(`https://example.com/${'a'.repeat(2050)}`, false)).toMatch(/2048/);
  });

  it('knows private addresses', () => {
    expect(isPrivateAddress('100.64.1.1')).toBe(true);
    expect(isPrivateAddress('8.8.8.8')).toBe(false);
    expect(isPrivateAddress('2606:4700::1111')).toBe(false);
  });
});

describe('webhook subscriptions', () => {
  it('accepts group patterns and exact names, and matches them', () => {
    expect(isValidSubscription('invoice.*')).toBe(true);
    expect(isValidSubscription('payment_request.*')).toBe(true);
    expect(isValidSubscription('invoice.issued')).toBe(true);
    expect(isValidSubscription('*')).toBe(false);
    expect(isValidSubscription('invoice.exploded')).toBe(false);
    expect(subscribes(['invoice.*'], 'invoice.voided')).toBe(true);
    expect(subscribes(['invoice.issued'], 'invoice.voided')).toBe(false);
    expect(subscribes(['payment.*'], 'payment_request.sent')).toBe(false);
  });
});
