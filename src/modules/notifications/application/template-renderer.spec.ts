import { Money } from '#libs/money/index.js';
import { Channel, KIND_SPECS, MessageKind, Placeholder } from '../domain/message-kind.js';
import { NotificationError, NotificationErrorReason } from '../notification.error.js';
import { DEFAULT_TEMPLATES, sampleMessageData } from './default-templates.js';
import {
  escapeHtml,
  formatValues,
  MAX_EMAIL_BODY,
  MAX_SMS_BODY,
  placeholdersIn,
  renderMessage,
  renderText,
  toHtml,
  validateTemplate,
} from './template-renderer.js';

const KINDS = Object.values(MessageKind);
const CHANNELS = Object.values(Channel);
const US = { name: 'Acme Field Service', locale: 'en-US', timeZone: 'America/Los_Angeles' };
const NOW = new Date('2026-03-10T17:00:00Z');

/** What a refused call threw, for asserting its reason and message. */
function refusal(fn: () => unknown): NotificationError {
  try {
    fn();
  } catch (error) {
    if (error instanceof NotificationError) return error;
    throw error;
  }
  throw new Error('expected a NotificationError');
}

describe('default templates', () => {
  it('has an email (subject and body) and an SMS (body only) for every kind', () => {
    for (const kind of KINDS) {
      expect(Object.keys(DEFAULT_TEMPLATES[kind]).sort()).toEqual([...CHANNELS].sort());
      expect(DEFAULT_TEMPLATES[kind].EMAIL.subject?.trim()).toBeTruthy();
      expect(DEFAULT_TEMPLATES[kind].EMAIL.body.trim()).toBeTruthy();
      expect(DEFAULT_TEMPLATES[kind].SMS.subject).toBeNull();
      expect(DEFAULT_TEMPLATES[kind].SMS.body.trim()).toBeTruthy();
    }
  });

  it.each(KINDS.flatMap((kind) => CHANNELS.map((channel) => [kind, channel] as const)))(
    '%s %s contains its required placeholders, only available ones, and passes the rules a saved template must pass',
    (kind, channel) => {
      const t = DEFAULT_TEMPLATES[kind][channel];
      const used = placeholdersIn(`${t.subject ?? ''}\n${t.body}`);
      for (const token of KIND_SPECS[kind].required) expect(used).toContain(token);
      for (const token of used) expect(KIND_SPECS[kind].available).toContain(token);
      expect(validateTemplate(kind, channel, t)).toEqual(t);
    },
  );

  it('keeps every SMS within 320 characters once filled in with typical values', () => {
    const data = sampleMessageData(NOW, 'USD', 'https://settle.example.com');
    for (const kind of KINDS) {
      const { text, subject, html } = renderMessage(DEFAULT_TEMPLATES[kind].SMS, kind, Channel.SMS, US, data);
      expect({ kind, text, fits: text.length <= 320 }).toEqual({ kind, text, fits: true });
      expect(subject).toBeNull();
      expect(html).toBeNull();
    }
  });

  /**
   * The values a sender must supply for the default wording (besides {Organization Name}, which always has one).
   * docs/notification-templates.md lists the same: change both together.
   */
  const USED_BY_DEFAULTS: Record<MessageKind, string[]> = {
    RECEIPT: ['{Customer Name}', '{Amount}', '{Date}', '{Reference}', '{Secure Link}'],
    PAYMENT_FAILED: ['{Customer Name}', '{Amount}', '{Date}', '{Reason}'],
    PAYMENT_REQUEST: ['{Customer Name}', '{Amount}', '{Secure Link}'],
    PAYMENT_PROFILE_REQUEST: ['{Customer Name}', '{Secure Link}', '{Expires At}'],
    PAYMENT_METHOD_SAVED: ['{Customer Name}', '{Payment Method}', '{Date}'],
    AGREEMENT_SIGNUP: ['{Customer Name}', '{Agreement Name}', '{Secure Link}', '{Expires At}'],
    AGREEMENT_APPROVED: ['{Customer Name}', '{Agreement Name}', '{Date}'],
    AGREEMENT_SUSPENDED: ['{Customer Name}', '{Agreement Name}', '{Date}', '{Reason}'],
    AGREEMENT_REACTIVATED: ['{Customer Name}', '{Agreement Name}', '{Date}'],
    RENEWAL_NOTICE: ['{Customer Name}', '{Agreement Name}', '{End Date}'],
    UPCOMING_INSTALLMENT: ['{Customer Name}', '{Amount}', '{Due Date}'],
    CARD_EXPIRING: ['{Customer Name}', '{Payment Method}', '{End Date}', '{Secure Link}', '{Expires At}'],
    REFUND_ISSUED: ['{Customer Name}', '{Amount}', '{Payment Method}', '{Date}', '{Reason}'],
    PAYMENT_CANCELLED: ['{Customer Name}', '{Amount}', '{Payment Method}', '{Date}', '{Reason}'],
    STAFF_ALERT: ['{Title}', '{Body}'],
  };

  it.each(KINDS)('%s defaults use exactly the documented values', (kind) => {
    const used = CHANNELS.flatMap((channel) => {
      const t = DEFAULT_TEMPLATES[kind][channel];
      return placeholdersIn(`${t.subject ?? ''}\n${t.body}`);
    });
    const withoutOrg = [...new Set(used)].filter((token) => token !== Placeholder.ORGANIZATION_NAME);
    expect(withoutOrg.sort()).toEqual([...USED_BY_DEFAULTS[kind]].sort());
  });
});

describe('placeholdersIn and renderText', () => {
  it('finds each placeholder once, in order, including look-alikes that are not real placeholders', () => {
    expect(placeholdersIn('Hi {Customer Name}, {Amount} is due. {Amount} again. {customer name} {Amount }')).toEqual([
      '{Customer Name}',
      '{Amount}',
      '{customer name}',
      '{Amount }',
    ]);
    expect(placeholdersIn('No placeholders, {} or { spaced } or {{ }}')).toEqual([]);
  });

  it('substitutes every placeholder, in one pass (a value that looks like a placeholder stays as it is)', () => {
    const text = renderText('Hi {Customer Name}, you owe {Amount}. {Amount}!', {
      '{Customer Name}': 'Sam {Amount}',
      '{Amount}': '$5.00',
      '{Reference}': 'unused values are ignored',
    });
    expect(text).toBe('Hi Sam {Amount}, you owe $5.00. $5.00!');
  });

  it('keeps $ patterns of a value literally', () => {
    expect(renderText('Pay {Amount}', { '{Amount}': "$& $1 $$ $'" })).toBe("Pay $& $1 $$ $'");
  });

  it('throws, naming the placeholder, when the template uses one without a value', () => {
    expect(() => renderText('Pay here: {Secure Link}', { '{Amount}': '$5.00' })).toThrow('{Secure Link}');
  });

  it('does not need values for optional placeholders the template does not use', () => {
    const data = { secureLink: 'https://pay.example.com/s/abc', customerName: 'Sam' };
    const out = renderMessage({ subject: null, body: 'Update your card: {Secure Link}' }, MessageKind.PAYMENT_PROFILE_REQUEST, Channel.SMS, US, data);
    expect(out.text).toBe('Update your card: https://pay.example.com/s/abc');
  });

  it('throws from renderMessage, naming the kind and the required placeholder whose value the sender forgot', () => {
    const t = DEFAULT_TEMPLATES.PAYMENT_PROFILE_REQUEST.EMAIL;
    const render = () => renderMessage(t, MessageKind.PAYMENT_PROFILE_REQUEST, Channel.EMAIL, US, { customerName: 'Sam' });
    expect(render).toThrow(/PAYMENT_PROFILE_REQUEST EMAIL.*\{Secure Link\}/);
  });

  it('renders an available but optional placeholder the sender has no value for as empty text', () => {
    const t = DEFAULT_TEMPLATES.PAYMENT_PROFILE_REQUEST.EMAIL;
    const out = renderMessage(t, MessageKind.PAYMENT_PROFILE_REQUEST, Channel.EMAIL, US, {
      customerName: 'Sam',
      secureLink: 'https://x.example/s',
    });
    expect(out.text).toContain('https://x.example/s');
    expect(out.text).not.toContain('{Expires At}');
  });
});

describe('formatValues', () => {
  it('formats amounts in the organization locale, in the currency of the amount', () => {
    const amount = Money.fromDecimalString('1234.50', 'USD');
    expect(formatValues({ amount }, US)['{Amount}']).toBe('$1,234.50');
    const cad = Money.fromDecimalString('1234.50', 'CAD');
    // Node 24 (ICU 77): no-break spaces as the group separator and before the symbol.
    expect(formatValues({ amount: cad }, { name: 'Québec Co', locale: 'fr-CA', timeZone: 'America/Toronto' })['{Amount}']).toBe(
      '1\u00a0234,50\u00a0$',
    );
    expect(formatValues({ amount: Money.of(1500, 'JPY') }, US)['{Amount}']).toBe('¥1,500');
  });

  it("formats dates in the organization's time zone: just after midnight UTC is still the previous day in Los Angeles", () => {
    const lateEvening = new Date('2026-03-01T03:30:00Z');
    const la = formatValues({ date: lateEvening, dueDate: lateEvening, endDate: lateEvening, expiresAt: lateEvening }, US);
    expect(la['{Date}']).toBe('February 28, 2026');
    expect(la['{Due Date}']).toBe('February 28, 2026');
    expect(la['{End Date}']).toBe('February 28, 2026');
    expect(la['{Expires At}']).toBe('February 28, 2026 at 7:30 PM');

    const utc = formatValues({ date: lateEvening, expiresAt: lateEvening }, { ...US, timeZone: 'UTC' });
    expect(utc['{Date}']).toBe('March 1, 2026');
    expect(utc['{Expires At}']).toBe('March 1, 2026 at 3:30 AM');

    const fr = formatValues({ date: lateEvening, expiresAt: lateEvening }, { name: 'X', locale: 'fr-CA', timeZone: 'America/Toronto' });
    expect(fr['{Date}']).toBe('28 février 2026');
    expect(fr['{Expires At}']).toBe('28 février 2026 à 22 h 30');
  });

  it('always has {Organization Name}; other placeholders only when supplied', () => {
    const values = formatValues({ customerName: 'Sam', reference: 'INV-7' }, US);
    expect(values).toEqual({ '{Organization Name}': 'Acme Field Service', '{Customer Name}': 'Sam', '{Reference}': 'INV-7' });
  });

  it('fills every placeholder from the sample data used by previews', () => {
    const values = formatValues(sampleMessageData(NOW, 'EUR'), { ...US, locale: 'de-DE' });
    for (const token of Object.values(Placeholder)) expect(values[token]).toEqual(expect.any(String));
    expect(values['{Amount}']).toBe('125,00\u00a0€');
  });
});

describe('toHtml', () => {
  const layout = { organizationName: 'Acme <Field> & Sons', title: 'Receipt' };

  it('escapes everything: a <script> in a customer name stays text', () => {
    const html = toHtml(renderText('Hi {Customer Name},', { '{Customer Name}': '<script>alert("x")</script> O\'Neil' }), layout);
    expect(html).not.toContain('<script>');
    expect(html).toContain('Hi &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; O&#39;Neil,');
    expect(html).toContain('Acme &lt;Field&gt; &amp; Sons');
    expect(html).not.toContain('Acme <Field>');
  });

  it('makes paragraphs of blank-line-separated blocks and <br> of single newlines', () => {
    const html = toHtml('Hi Sam,\n\nLine one\nLine two\r\n\r\n\n  \nBye', layout);
    const paragraphs = [...html.matchAll(/<p[^>]*>([\s\S]*?)<\/p>/g)].map((m) => m[1]);
    expect(paragraphs).toEqual(['Hi Sam,', 'Line one<br>\nLine two', 'Bye']);
  });

  it('links http(s) URLs with the escaped URL, leaving out sentence punctuation', () => {
    const html = toHtml('Pay here: https://pay.example.com/s/abc?x=1&y=<2>. Or http://example.com/a, thanks', layout);
    expect(html).toContain(
      '<a href="https://pay.example.com/s/abc?x=1&amp;y=" style="color:#1d4ed8;text-decoration:underline;word-break:break-all;">https://pay.example.com/s/abc?x=1&amp;y=</a>&lt;2&gt;.',
    );
    expect(html).toContain('>http://example.com/a</a>, thanks');
  });

  it('does not link other schemes', () => {
    const html = toHtml('javascript:alert(1) and data:text/html,<b>x</b>', layout);
    expect(html).not.toContain('<a ');
    expect(html).toContain('javascript:alert(1) and data:text/html,&lt;b&gt;x&lt;/b&gt;');
  });

  it('cannot be broken out of an attribute by a URL with quotes', () => {
    const html = toHtml('https://evil.example/"onmouseover="alert(1)', layout);
    expect(html).toContain('<a href="https://evil.example/"');
    expect(html).not.toContain('onmouseover="alert');
  });

  it('escapes the title and language too', () => {
    const html = toHtml('x', { organizationName: 'A', title: '</title><script>', lang: 'en"><script>' });
    expect(html).not.toContain('<script>');
    expect(escapeHtml(`<>&"'`)).toBe('&lt;&gt;&amp;&quot;&#39;');
  });
});

describe('renderMessage', () => {
  const data = {
    customerName: 'Sam <b>Lee</b>',
    secureLink: 'https://pay.example.com/s/t0k3n',
    expiresAt: new Date('2026-03-01T03:30:00Z'),
  };

  it('gives an email a one-line subject, the text, and an HTML part built from that text', () => {
    const out = renderMessage(
      { subject: 'Hello\n{Customer Name}', body: 'Hi {Customer Name},\n\nAdd your card: {Secure Link}\nExpires {Expires At}.' },
      MessageKind.PAYMENT_PROFILE_REQUEST,
      Channel.EMAIL,
      US,
      data,
    );
    expect(out.subject).toBe('Hello Sam <b>Lee</b>');
    expect(out.text).toBe('Hi Sam <b>Lee</b>,\n\nAdd your card: https://pay.example.com/s/t0k3n\nExpires February 28, 2026 at 7:30 PM.');
    expect(out.html).toContain('Hi Sam &lt;b&gt;Lee&lt;/b&gt;,');
    expect(out.html).toContain('<a href="https://pay.example.com/s/t0k3n"');
    expect(out.html).toContain('<title>Hello Sam &lt;b&gt;Lee&lt;/b&gt;</title>');
    expect(out.html).toContain('<html lang="en-US">');
  });

  it('renders every default email with the sample data', () => {
    const sample = sampleMessageData(NOW, 'USD');
    for (const kind of KINDS) {
      const out = renderMessage(DEFAULT_TEMPLATES[kind].EMAIL, kind, Channel.EMAIL, US, sample);
      expect(out.subject).not.toMatch(/[{}]/);
      expect(out.text).not.toMatch(/\{[A-Z]/);
      expect(out.html).toContain('Acme Field Service');
    }
  });
});

describe('validateTemplate (the rules for an organization’s own wording)', () => {
  it('accepts a custom email that has {Secure Link} in its subject only, and normalizes it', () => {
    expect(
      validateTemplate(MessageKind.PAYMENT_PROFILE_REQUEST, Channel.EMAIL, {
        subject: '  Card update: {Secure Link} ',
        body: 'Hello {Customer Name}\r\nThanks\n',
      }),
    ).toEqual({ subject: 'Card update: {Secure Link}', body: 'Hello {Customer Name}\nThanks' });
  });

  it('refuses a template without a required placeholder, naming it and the kind', () => {
    const e = refusal(() => validateTemplate(MessageKind.PAYMENT_PROFILE_REQUEST, Channel.SMS, { body: 'Hi {Customer Name}' }));
    expect(e.reason).toBe(NotificationErrorReason.TEMPLATE_MISSING_PLACEHOLDER);
    expect(e.code).toBe('BAD_USER_INPUT');
    expect(e.message).toBe('A PAYMENT_PROFILE_REQUEST message must contain {Secure Link}');

    const both = refusal(() => validateTemplate(MessageKind.PAYMENT_FAILED, Channel.EMAIL, { subject: 'Oops', body: 'It failed' }));
    expect(both.message).toBe('A PAYMENT_FAILED message must contain {Amount} and {Reason} (in its subject or body)');
  });

  it('refuses placeholders the kind does not have, listing the allowed ones and suggesting the right spelling', () => {
    const e = refusal(() =>
      validateTemplate(MessageKind.PAYMENT_METHOD_SAVED, Channel.SMS, { body: '{Payment Method} saved. {Secure Link} {customer name}' }),
    );
    expect(e.reason).toBe(NotificationErrorReason.TEMPLATE_UNKNOWN_PLACEHOLDER);
    expect(e.message).toContain('{Secure Link} and {customer name} are not placeholders of PAYMENT_METHOD_SAVED messages');
    expect(e.message).toContain('did you mean {Customer Name} instead of {customer name}?');
    expect(e.message).toContain('Placeholders you can use: {Customer Name}, {Organization Name}, {Payment Method}, {Date}');

    const inSubject = refusal(() =>
      validateTemplate(MessageKind.RECEIPT, Channel.EMAIL, { subject: 'Receipt {Invoice}', body: 'Paid {Amount}' }),
    );
    expect(inSubject.message).toMatch(/^\{Invoice\} is not a placeholder of RECEIPT messages\. Placeholders you can use: /);
    expect(inSubject.fields).toEqual([{ field: 'subject', message: inSubject.message }]);
  });

  it.each([
    ['an empty body', MessageKind.RECEIPT, Channel.SMS, { body: '  \n ' }, 'The message body must not be empty'],
    ['an email without subject', MessageKind.RECEIPT, Channel.EMAIL, { body: '{Amount}' }, 'An email needs a subject'],
    ['an email with a blank subject', MessageKind.RECEIPT, Channel.EMAIL, { subject: '  ', body: '{Amount}' }, 'An email needs a subject'],
    ['a subject on two lines', MessageKind.RECEIPT, Channel.EMAIL, { subject: 'a\nb', body: '{Amount}' }, 'one line'],
    ['an SMS with a subject', MessageKind.RECEIPT, Channel.SMS, { subject: 'Hi', body: '{Amount}' }, 'An SMS has no subject'],
    [
      'an email body over 5000 characters',
      MessageKind.RECEIPT,
      Channel.EMAIL,
      { subject: 'Receipt', body: `{Amount} ${'x'.repeat(MAX_EMAIL_BODY)}` },
      'at most 5000 characters',
    ],
    ['an SMS over 1000 characters', MessageKind.RECEIPT, Channel.SMS, { body: `{Amount} ${'x'.repeat(MAX_SMS_BODY)}` }, 'at most 1000 characters'],
  ] as const)('refuses %s as TEMPLATE_INVALID', (_what, kind, channel, input, message) => {
    const e = refusal(() => validateTemplate(kind, channel, input));
    expect(e.reason).toBe(NotificationErrorReason.TEMPLATE_INVALID);
    expect(e.message).toContain(message);
  });

  it('accepts an email body of exactly 5000 characters and an SMS of exactly 1000', () => {
    const email = `{Amount}${'x'.repeat(MAX_EMAIL_BODY - 8)}`;
    expect(validateTemplate(MessageKind.RECEIPT, Channel.EMAIL, { subject: 'R', body: email }).body).toHaveLength(5000);
    const sms = `{Amount}${'x'.repeat(MAX_SMS_BODY - 8)}`;
    expect(validateTemplate(MessageKind.RECEIPT, Channel.SMS, { body: sms, subject: '' })).toEqual({ subject: null, body: sms });
  });
});
