import { ArgsType, Field } from '@nestjs/graphql';
import { IsBoolean, IsOptional } from 'class-validator';
import { ConnectionType, PageArgs } from '../../../graphql/pagination.js';
import { InAppNotification } from '../domain/in-app-notification.entity.js';

export const NotificationConnection = ConnectionType(InAppNotification, 'Notification');

@ArgsType()
export class MyNotificationsArgs extends PageArgs {
  @Field(() => Boolean, { defaultValue: false, description: 'Only the notifications not read yet' })
  @IsOptional()
  @IsBoolean()
  unreadOnly: boolean = false;
}
