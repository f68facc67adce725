import { ArgsType, Field, InputType, ObjectType } from '@nestjs/graphql';
import { IsEnum, IsOptional, IsString, MaxLength } from 'class-validator';
import { Channel, MessageKind } from '../domain/message-kind.js';
import type { EffectiveTemplate } from '../application/template.service.js';
import type { RenderedMessage } from '../application/message-data.js';

/**
 * Input limits at the GraphQL edge: generous upper bounds that only stop absurd payloads. The template rules
 * (validateTemplate: 5,000 characters for an email body, 1,000 for an SMS, placeholders) answer with their own reasons.
 */
const MAX_INPUT_BODY = 20_000;
const MAX_INPUT_SUBJECT = 1_000;

@ObjectType('NotificationTemplate', {
  description: "The wording of one message on one channel: the organization's own, or Settle's default",
})
export class NotificationTemplateView {
  @Field(() => MessageKind)
  kind!: MessageKind;

  @Field(() => Channel)
  channel!: Channel;

  @Field(() => String, { nullable: true, description: 'Email only' })
  subject!: string | null;

  @Field()
  body!: string;

  @Field({ description: "True when the organization has no wording of its own and Settle's default is used" })
  isDefault!: boolean;

  @Field(() => Date, { nullable: true, description: 'When the organization last saved its own wording; null for a default' })
  updatedAt!: Date | null;

  @Field(() => [String], { description: 'Placeholders the message must contain, e.g. {Secure Link}' })
  requiredPlaceholders!: string[];

  @Field(() => [String], { description: 'Placeholders the message may contain' })
  availablePlaceholders!: string[];

  @Field({ description: 'A marketing notice: customers who opted out of marketing do not receive it' })
  marketing!: boolean;

  static from(t: EffectiveTemplate): NotificationTemplateView {
    return Object.assign(new NotificationTemplateView(), t);
  }
}

@ObjectType('RenderedMessage', { description: 'A message as a recipient receives it' })
export class RenderedMessageView {
  @Field(() => String, { nullable: true, description: 'Email only' })
  subject!: string | null;

  @Field({ description: 'The text (the SMS, or the plain-text part of the email)' })
  text!: string;

  @Field(() => String, { nullable: true, description: 'Email only: the HTML part' })
  html!: string | null;

  static from(m: RenderedMessage): RenderedMessageView {
    return Object.assign(new RenderedMessageView(), m);
  }
}

@InputType({ description: "The organization's own wording of a message; placeholders are written like {Customer Name}" })
export class SaveNotificationTemplateInput {
  @Field(() => MessageKind)
  @IsEnum(MessageKind)
  kind!: MessageKind;

  @Field(() => Channel)
  @IsEnum(Channel)
  channel!: Channel;

  @Field(() => String, { nullable: true, description: 'Required for EMAIL; leave it out for SMS' })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_INPUT_SUBJECT)
  subject?: string | null;

  @Field({ description: 'At most 5,000 characters for an email, 1,000 for an SMS' })
  @IsString()
  @MaxLength(MAX_INPUT_BODY)
  body!: string;
}

@ArgsType()
export class NotificationTemplateArgs {
  @Field(() => MessageKind)
  @IsEnum(MessageKind)
  kind!: MessageKind;

  @Field(() => Channel)
  @IsEnum(Channel)
  channel!: Channel;
}

@ArgsType()
export class PreviewNotificationTemplateArgs extends NotificationTemplateArgs {
  @Field(() => String, { nullable: true, description: 'Preview this subject instead of the saved one (unsaved edits)' })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_INPUT_SUBJECT)
  subject?: string | null;

  @Field(() => String, { nullable: true, description: 'Preview this body instead of the saved one (unsaved edits)' })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_INPUT_BODY)
  body?: string | null;
}
