import { ErrorCode } from '#libs/ddd/index.js';
import { isDatabaseUnavailable, toApplicationError } from './errors.js';

describe('GraphQL error mapping', () => {
  it('answers SERVICE_UNAVAILABLE (retryable) while PostgreSQL restarts or is unreachable', () => {
    const cases = [
      Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
      Object.assign(new Error('the database system is starting up'), { code: '57P03' }),
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      new Error('Connection terminated unexpectedly'),
      Object.assign(new Error('query failed'), { cause: Object.assign(new Error('x'), { code: '08006' }) }),
    ];
    for (const error of cases) {
      expect(isDatabaseUnavailable(error)).toBe(true);
      expect(toApplicationError(error)).toMatchObject({ code: ErrorCode.SERVICE_UNAVAILABLE, reason: 'DATABASE_UNAVAILABLE' });
    }
  });

  it('leaves other database errors and bugs alone (they stay internal errors)', () => {
    expect(isDatabaseUnavailable(Object.assign(new Error('duplicate key value'), { code: '23505' }))).toBe(false);
    expect(isDatabaseUnavailable(new TypeError("Cannot read properties of undefined (reading 'id')"))).toBe(false);
    expect(toApplicationError(new TypeError('boom'))).toBeUndefined();
  });
});
