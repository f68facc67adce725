import { Controller, Injectable } from '@nestjs/common';
import { HostedLinkController } from '../../../platform/hosted-link-controller.js';
import { ScopedLinkRateLimiter } from '../../../platform/link-rate-limiter.js';
import { AgreementSignupPages, type SignupPage } from '../application/signup.hosted-page.js';
import {
  renderSignupClosed,
  renderSignupDone,
  renderSignupForm,
  renderSignupLeft,
  renderSignupRefused,
  renderSignupTooMany,
  renderSignupUnavailable,
  renderSignupUnknown,
} from './agreement-signup.pages.js';

/** Unknown sign-up links (/a/…) per client address: see LinkRateLimiter. */
@Injectable()
export class SignupLinkRateLimiter extends ScopedLinkRateLimiter('agreement-link') {}

/**
 * The hosted sign-up page behind an agreement's link. Public: the link's token is the only key. Routes
 * (HostedLinkController): `GET|POST /a/:token`, `GET /a/session/complete?session=…` (back from the gateway, method
 * saved, agreement signed), `GET /a/session/left?link=…` (back without saving).
 */
@Controller('a')
export class AgreementSignupController extends HostedLinkController<SignupPage>('link') {
  constructor(pages: AgreementSignupPages, limiter: SignupLinkRateLimiter) {
    super(pages, limiter, {
      render: {
        form: renderSignupForm,
        closed: renderSignupClosed,
        unknown: renderSignupUnknown,
        left: renderSignupLeft,
        done: renderSignupDone,
        refused: renderSignupRefused,
        unavailable: renderSignupUnavailable,
      },
      tooMany: renderSignupTooMany,
      unavailable: renderSignupUnavailable,
    });
  }
}
