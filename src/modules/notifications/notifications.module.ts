import { Module } from '@nestjs/common';

/** The notifications bounded context. Other modules use it only through ./index.ts. */
@Module({})
export class NotificationsModule {}
