import { Module } from '@nestjs/common';

/** The payments bounded context. Other modules use it only through ./index.ts. */
@Module({})
export class PaymentsModule {}
