import { Controller } from '@nestjs/common';
import { HostedLinkController } from '../../../platform/hosted-link-controller.js';
import { type HostedPage, ProfileRequestPages } from '../application/profile-requests.hosted-page.js';
import { ProfileLinkRateLimiter } from '../application/profile-requests.rate-limiter.js';
import {
  renderClosed,
  renderDone,
  renderForm,
  renderLeft,
  renderRefused,
  renderTooMany,
  renderUnavailable,
  renderUnknown,
} from './profile-request.pages.js';

/**
 * The hosted page behind a payment profile request's secure link. Public: the link's token is the only key. Routes
 * (HostedLinkController): `GET|POST /p/:token` (the form), `GET /p/session/complete?session=…` (back from the
 * gateway's page, method saved), `GET /p/session/left?request=…` (back from the gateway's page without saving).
 */
@Controller('p')
export class ProfileRequestController extends HostedLinkController<HostedPage>('request') {
  constructor(pages: ProfileRequestPages, limiter: ProfileLinkRateLimiter) {
    super(pages, limiter, {
      render: {
        form: renderForm,
        closed: renderClosed,
        unknown: renderUnknown,
        left: renderLeft,
        done: renderDone,
        refused: renderRefused,
        unavailable: renderUnavailable,
      },
      tooMany: renderTooMany,
      unavailable: renderUnavailable,
    });
  }
}
