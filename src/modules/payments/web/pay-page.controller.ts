import { Controller, Injectable } from '@nestjs/common';
import { HostedLinkController } from '../../../platform/hosted-link-controller.js';
import { ScopedLinkRateLimiter } from '../../../platform/link-rate-limiter.js';
import { type PayPage, PayPages } from '../application/payment-request-page.js';
import {
  renderPayClosed,
  renderPayForm,
  renderPayLeft,
  renderPayPaid,
  renderPayProcessing,
  renderPayRefused,
  renderPayTooMany,
  renderPayUnavailable,
  renderPayUnknown,
} from './pay-page.pages.js';

/** Unknown pay links (/pay/…) per client address: see LinkRateLimiter. */
@Injectable()
export class PayLinkRateLimiter extends ScopedLinkRateLimiter('pay-link') {}

/**
 * The hosted pay page behind a payment request's link. Public: the link's token is the only key. Routes
 * (HostedLinkController): `GET|POST /pay/:token` (the form posts `method` — CARD, BANK_ACCOUNT, INSTALLMENTS — and
 * `accept=yes`, the authorization for the last two), `GET /pay/session/complete?session=…` (back from the gateway:
 * the card is charged, then a redirect to the link shows the outcome), `GET /pay/session/left?request=…` (back
 * without a card).
 */
@Controller('pay')
export class PayPageController extends HostedLinkController<PayPage>('request') {
  constructor(pages: PayPages, limiter: PayLinkRateLimiter) {
    super(pages, limiter, {
      render: {
        form: renderPayForm,
        paid: renderPayPaid,
        processing: renderPayProcessing,
        closed: renderPayClosed,
        unknown: renderPayUnknown,
        left: renderPayLeft,
        refused: renderPayRefused,
        unavailable: renderPayUnavailable,
      },
      tooMany: renderPayTooMany,
      unavailable: renderPayUnavailable,
    });
  }
}
