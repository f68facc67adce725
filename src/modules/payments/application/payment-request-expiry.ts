import { Injectable, Logger } from '@nestjs/common';
import { MikroORM } from '@mikro-orm/postgresql';
import { Clock } from '#libs/ddd/index.js';
import { Outbox } from '#libs/outbox/index.js';
import { PaymentRequest } from '../domain/payment-request.entity.js';
import { expiredEvent } from './payment-request-events.js';

/**
 * Marks OPEN payment requests past their expiry EXPIRED, across organizations (the scheduled job). Only bookkeeping
 * for the lists: the pay page and every staff action derive EXPIRED from `expires_at` themselves (statusAt), so a
 * link past its expiry never takes money even when this job has not run. A request with a charge in flight (claimed
 * before the expiry) is left alone until its outcome is known. Each request it marks is announced
 * (PaymentRequestExpired) in the same transaction.
 */
@Injectable()
export class PaymentRequestExpiry {
  private readonly logger = new Logger(PaymentRequestExpiry.name);

  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    private readonly outbox: Outbox,
  ) {}

  async runDue(now: Date = this.clock.now()): Promise<number> {
    const rows = await this.orm.em.fork().transactional(async (tx) => {
      const expired = await tx.execute<{ id: string }[]>(
        `update "payment_request" r set "status" = 'EXPIRED', "expired_at" = ?, "updated_at" = ?
          where r."status" = 'OPEN' and r."expires_at" <= ? and r."bank_debit_pending_since" is null
            and not exists (select 1 from "payment_request_attempt" a where a."request_id" = r."id" and a."status" in ('PENDING', 'PROCESSING'))
          returning r."id"`,
        [now, now, now],
      );
      if (expired.length === 0) return expired;
      // A system job across organizations: each event carries its request's organization.
      const requests = await tx.find(PaymentRequest, { id: { $in: expired.map((r) => r.id) } }, { filters: { tenant: false }, refresh: true });
      for (const request of requests) this.outbox.record(tx, expiredEvent(request, now));
      await tx.flush();
      return expired;
    });
    if (rows.length) this.logger.log(`${rows.length} payment request(s) expired`);
    return rows.length;
  }
}
