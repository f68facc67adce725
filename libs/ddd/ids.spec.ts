import { isUuid, newId, newOrderedId } from './ids.js';

describe('newOrderedId', () => {
  it('makes RFC 9562 version 7 UUIDs that carry the time they were made', () => {
    const before = Date.now();
    const id = newOrderedId();
    const after = Date.now();
    expect(isUuid(id)).toBe(true);
    expect(id[14]).toBe('7'); // version
    expect('89ab').toContain(id[19]); // variant 10xx
    const ms = parseInt(id.replace(/-/g, '').slice(0, 12), 16);
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(after + 1);
  });

  it('answers strictly increasing, distinct ids, also many within one millisecond', () => {
    const ids = Array.from({ length: 20_000 }, () => newOrderedId());
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('leaves newId random (version 4)', () => {
    const id = newId();
    expect(isUuid(id)).toBe(true);
    expect(id[14]).toBe('4');
  });
});
