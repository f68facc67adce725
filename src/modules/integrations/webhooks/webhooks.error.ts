import { ApplicationError, ErrorCode, type FieldProblem } from '#libs/ddd/index.js';

export enum WebhooksErrorReason {
  WEBHOOK_ENDPOINT_NOT_FOUND = 'WEBHOOK_ENDPOINT_NOT_FOUND',
  WEBHOOK_DELIVERY_NOT_FOUND = 'WEBHOOK_DELIVERY_NOT_FOUND',
  /** Bad input: `extensions.fields` names each field. */
  INVALID_INPUT = 'INVALID_INPUT',
  /** An organization keeps at most MAX_ENDPOINTS endpoints. */
  TOO_MANY_WEBHOOK_ENDPOINTS = 'TOO_MANY_WEBHOOK_ENDPOINTS',
  /** A replay to a disabled endpoint: enable it first. */
  WEBHOOK_ENDPOINT_DISABLED = 'WEBHOOK_ENDPOINT_DISABLED',
}

const CODES: Record<WebhooksErrorReason, ErrorCode> = {
  WEBHOOK_ENDPOINT_NOT_FOUND: ErrorCode.NOT_FOUND,
  WEBHOOK_DELIVERY_NOT_FOUND: ErrorCode.NOT_FOUND,
  INVALID_INPUT: ErrorCode.BAD_USER_INPUT,
  TOO_MANY_WEBHOOK_ENDPOINTS: ErrorCode.CONFLICT,
  WEBHOOK_ENDPOINT_DISABLED: ErrorCode.CONFLICT,
};

/** The outbound webhooks' error type: a reason from the enum, mapped to a stable GraphQL code. */
export class WebhooksError extends ApplicationError {
  constructor(reason: WebhooksErrorReason, message: string, fields: FieldProblem[] = []) {
    super(CODES[reason], message, reason, fields);
  }

  static endpointNotFound(id?: string): WebhooksError {
    return new WebhooksError(WebhooksErrorReason.WEBHOOK_ENDPOINT_NOT_FOUND, id ? `Webhook endpoint ${id} was not found` : 'Webhook endpoint was not found');
  }

  static deliveryNotFound(id?: string): WebhooksError {
    return new WebhooksError(WebhooksErrorReason.WEBHOOK_DELIVERY_NOT_FOUND, id ? `Webhook delivery ${id} was not found` : 'Webhook delivery was not found');
  }

  static invalid(problems: FieldProblem[]): WebhooksError {
    return new WebhooksError(WebhooksErrorReason.INVALID_INPUT, problems.map((p) => `${p.field}: ${p.message}`).join('; '), problems);
  }
}
