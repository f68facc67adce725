import { ArgsType, Field, ID } from '@nestjs/graphql';
import { IsEnum, IsOptional, IsUUID } from 'class-validator';
import { ConnectionType, PageArgs } from '../../../graphql/pagination.js';
import { Message, MessageStatus } from '../domain/message.entity.js';

export const MessageConnection = ConnectionType(Message);

@ArgsType()
export class MessagesArgs extends PageArgs {
  @Field(() => ID, { nullable: true, description: 'Only the messages sent to this customer' })
  @IsOptional()
  @IsUUID('all', { message: 'customerId must be a customer id' })
  customerId?: string;

  @Field(() => MessageStatus, { nullable: true, description: 'Only the messages in this status' })
  @IsOptional()
  @IsEnum(MessageStatus)
  status?: MessageStatus;
}
