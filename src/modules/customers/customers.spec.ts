import { addDays, customerWhere, localDate, searchPatterns } from './application/customer-search.js';
import { cleanAddress, cleanDateOfBirth, cleanTags, fold, Problems } from './domain/customer-details.js';
import { Customer, CustomerStatus } from './domain/customer.entity.js';

describe('customer details', () => {
  it('folds text for search and sort: case, accents and spaces', () => {
    expect(fold('  Éric   CÔTÉ-Gagné ')).toBe('eric cote-gagne');
    expect(fold('Zoë Müller')).toBe('zoe muller');
  });

  it('normalizes tags: trimmed, lower case, inner spaces collapsed, duplicates dropped in order', () => {
    const problems = new Problems();
    expect(cleanTags([' VIP ', 'Pool   Service', 'vip', 'pool service', 'North-Zone'], 'tags', problems)).toEqual([
      'vip',
      'pool service',
      'north-zone',
    ]);
    expect(problems.list).toEqual([]);
  });

  it('names each bad tag by its index, and the list when more than 20 remain', () => {
    const problems = new Problems();
    cleanTags(['ok', ' ', 'a,b', 'x'.repeat(41), ...Array.from({ length: 20 }, (_, i) => `t${i}`)], 'tags', problems);
    expect(problems.list.map((p) => p.field)).toEqual(['tags.1', 'tags.2', 'tags.3', 'tags']);
    expect(problems.list.at(-1)!.message).toBe('must have at most 20 different tags (got 21)');
  });

  it('checks an address part by part and normalizes a good one', () => {
    const problems = new Problems();
    cleanAddress({ line1: ' ', city: 'Laval', postalCode: '', country: 'CAN' }, 'billingAddress', problems);
    expect(problems.list.map((p) => p.field)).toEqual(['billingAddress.line1', 'billingAddress.postalCode', 'billingAddress.country']);
    const ok = new Problems();
    expect(cleanAddress({ line1: ' 1 Rue ', line2: ' ', city: 'Laval', postalCode: 'h7n 1a1', country: 'ca' }, 'a', ok)).toEqual({
      line1: '1 Rue',
      line2: null,
      city: 'Laval',
      region: null,
      postalCode: 'H7N 1A1',
      country: 'CA',
    });
  });

  it('accepts a date of birth that exists and is not in the future', () => {
    const check = (value: string) => {
      const problems = new Problems();
      cleanDateOfBirth(value, 'dateOfBirth', '2026-03-15', problems);
      return problems.list.map((p) => p.message);
    };
    expect(check('2015-02-28')).toEqual([]);
    expect(check('2015-02-29')).toEqual(['must be a date written YYYY-MM-DD']);
    expect(check('2026-03-16')).toEqual(['must not be in the future']);
    expect(check('1899-12-31')).toEqual(['must be after 1900-01-01']);
  });

  it('builds the search text from the account and its members, phones as digits', () => {
    const c = Object.assign(new Customer(), { name: 'Chloé Dubois', email: 'chloe@x.test', phone: '+15145550123', externalReference: 'QB-7' });
    c.refreshDerived([{ name: 'Léo Dubois', email: null, phone: '+15145550199' }]);
    expect(c.sortName).toBe('chloe dubois');
    expect(c.searchText).toBe('chloe dubois chloe@x.test 15145550123 qb-7 leo dubois 15145550199');
  });
});

describe('customer search', () => {
  it('splits a text into words that must each appear, with LIKE wildcards escaped', () => {
    expect(searchPatterns('  Éric   tremblay ')).toEqual([['%eric%'], ['%tremblay%']]);
    expect(searchPatterns('50%_off\\')).toEqual([['%50\\%\\_off\\\\%']]);
    expect(searchPatterns('   ')).toEqual([]);
  });

  it('reads a phone-like text by its digits (a leading trunk 0 dropped), or literally', () => {
    expect(searchPatterns('(514) 555-0123')).toEqual([['%5145550123%', '%(514) 555-0123%']]);
    expect(searchPatterns('020 7946 0018')).toEqual([['%2079460018%', '%020 7946 0018%']]);
    expect(searchPatterns('4242')).toEqual([['%4242%']]);
    expect(searchPatterns('12')).toEqual([['%12%']]);
  });

  it('knows today in a time zone and counts days across months', () => {
    const now = new Date('2026-01-03T05:00:00Z');
    expect(localDate(now, 'UTC')).toBe('2026-01-03');
    expect(localDate(now, 'America/Los_Angeles')).toBe('2026-01-02');
    expect(addDays('2026-01-31', 29)).toBe('2026-03-01');
  });

  it('hides archived customers unless a status is asked for', () => {
    expect(customerWhere({}, null)).toEqual({ status: { $in: [CustomerStatus.ACTIVE, CustomerStatus.INACTIVE] } });
    expect(customerWhere({ status: [CustomerStatus.ARCHIVED], hasCard: false }, '2026-02-01')).toEqual({
      $and: [{ status: CustomerStatus.ARCHIVED }, { hasCard: false }, { cardExpiresOn: { $lte: '2026-02-01' } }],
    });
  });
});
