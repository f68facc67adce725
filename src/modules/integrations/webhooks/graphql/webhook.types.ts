import { ArgsType, Field, ID, InputType, Int, ObjectType } from '@nestjs/graphql';
import { ArrayMaxSize, IsArray, IsEnum, IsOptional, IsString, MaxLength } from 'class-validator';
import { ConnectionType, PageArgs } from '../../../../graphql/pagination.js';
import { WebhookDeliveryStatus, type WebhookDelivery, type WebhookDeliveryAttempt, type WebhookEndpoint } from '../domain/webhook.entities.js';

@ObjectType('WebhookEndpoint', { description: 'An HTTPS endpoint that receives signed event deliveries' })
export class WebhookEndpointView {
  @Field(() => ID)
  id!: string;

  @Field()
  url!: string;

  @Field(() => String, { nullable: true })
  description!: string | null;

  @Field(() => [String], { description: 'Exact event names (invoice.issued) and group patterns (invoice.*)' })
  eventTypes!: string[];

  @Field({ description: 'A disabled endpoint receives nothing' })
  enabled!: boolean;

  @Field({ description: 'whsec_… and the last 4 characters of the signing secret (the secret is shown only once)' })
  secretHint!: string;

  @Field()
  secretRotatedAt!: Date;

  @Field(() => Date, { nullable: true })
  disabledAt!: Date | null;

  @Field()
  createdAt!: Date;

  static from(e: WebhookEndpoint): WebhookEndpointView {
    return Object.assign(new WebhookEndpointView(), {
      id: e.id,
      url: e.url,
      description: e.description,
      eventTypes: e.eventTypes,
      enabled: e.enabled,
      secretHint: e.secretHint,
      secretRotatedAt: e.secretRotatedAt,
      disabledAt: e.disabledAt,
      createdAt: e.createdAt,
    });
  }
}

@ObjectType('WebhookEndpointSecretPayload')
export class WebhookEndpointSecretPayload {
  @Field(() => WebhookEndpointView)
  endpoint!: WebhookEndpointView;

  @Field({ description: 'The signing secret (whsec_…). Shown only now: store it; afterwards only its hint is shown.' })
  secret!: string;
}

@ObjectType('WebhookDeliveryAttempt', { description: 'One HTTP attempt of a delivery and what the endpoint answered' })
export class WebhookDeliveryAttemptView {
  @Field(() => Int)
  number!: number;

  @Field()
  startedAt!: Date;

  @Field(() => Int)
  durationMs!: number;

  @Field(() => Int, { nullable: true, description: 'Null when no HTTP answer came (timeout, connection refused)' })
  statusCode!: number | null;

  @Field(() => String, { nullable: true, description: 'The first 2 KB of the answer' })
  responseBody!: string | null;

  @Field(() => String, { nullable: true })
  error!: string | null;

  @Field({ description: 'Sent by replayWebhookDelivery' })
  replay!: boolean;

  static from(a: WebhookDeliveryAttempt): WebhookDeliveryAttemptView {
    return Object.assign(new WebhookDeliveryAttemptView(), {
      number: a.number,
      startedAt: a.startedAt,
      durationMs: a.durationMs,
      statusCode: a.statusCode,
      responseBody: a.responseBody,
      error: a.error,
      replay: a.replay,
    });
  }
}

@ObjectType('WebhookDelivery', { description: 'One event for one endpoint, with its attempts' })
export class WebhookDeliveryView {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  endpointId!: string;

  @Field(() => ID, { description: 'The event id (body `id`, header Settle-Event-Id): the same in every attempt and replay' })
  eventId!: string;

  @Field({ description: 'invoice.issued, payment.succeeded, …' })
  eventType!: string;

  @Field(() => WebhookDeliveryStatus)
  status!: WebhookDeliveryStatus;

  @Field(() => Int)
  attemptCount!: number;

  @Field(() => Date, { nullable: true })
  nextAttemptAt!: Date | null;

  @Field(() => Date, { nullable: true })
  deliveredAt!: Date | null;

  @Field(() => Int, { nullable: true })
  lastStatusCode!: number | null;

  @Field(() => String, { nullable: true })
  lastError!: string | null;

  @Field({ description: 'The JSON body sent' })
  body!: string;

  @Field()
  createdAt!: Date;

  static from(d: WebhookDelivery): WebhookDeliveryView {
    return Object.assign(new WebhookDeliveryView(), {
      id: d.id,
      endpointId: d.endpointId,
      eventId: d.eventId,
      eventType: d.eventType,
      status: d.status,
      attemptCount: d.attempts,
      nextAttemptAt: d.nextAttemptAt,
      deliveredAt: d.deliveredAt,
      lastStatusCode: d.lastStatusCode,
      lastError: d.lastError,
      body: d.body,
      createdAt: d.createdAt,
    });
  }
}

export const WebhookDeliveryConnection = ConnectionType(WebhookDeliveryView, 'WebhookDelivery');

@InputType()
export class CreateWebhookEndpointInput {
  @Field({ description: 'https://… (http only for localhost outside production)' })
  @IsString()
  @MaxLength(2048)
  url!: string;

  @Field(() => [String], { description: 'invoice.*, payment.*, credit.*, agreement.*, payment_request.* or exact names' })
  @IsArray()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @MaxLength(100, { each: true })
  eventTypes!: string[];

  @Field(() => String, { nullable: true })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  description?: string | null;
}

@InputType()
export class UpdateWebhookEndpointInput {
  @Field(() => String, { nullable: true })
  @IsOptional()
  @IsString()
  @MaxLength(2048)
  url?: string;

  @Field(() => [String], { nullable: true })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @MaxLength(100, { each: true })
  eventTypes?: string[];

  @Field(() => String, { nullable: true })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  description?: string | null;
}

@ArgsType()
export class WebhookDeliveriesArgs extends PageArgs {
  @Field(() => ID, { description: 'Another organization\'s endpoint, or not an id: NOT_FOUND' })
  @IsString()
  endpointId!: string;

  @Field(() => WebhookDeliveryStatus, { nullable: true })
  @IsOptional()
  @IsEnum(WebhookDeliveryStatus)
  status?: WebhookDeliveryStatus;
}
