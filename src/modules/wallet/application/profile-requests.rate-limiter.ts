import { Injectable } from '@nestjs/common';
import { ScopedLinkRateLimiter } from '../../../platform/link-rate-limiter.js';

export { MAX_UNKNOWN_LINKS, UNKNOWN_LINKS_WINDOW_SECONDS } from '../../../platform/link-rate-limiter.js';

/** Unknown payment profile request links (/p/…) per client address: see LinkRateLimiter. */
@Injectable()
export class ProfileLinkRateLimiter extends ScopedLinkRateLimiter('profile-link') {}
