import { Module } from '@nestjs/common';

/** The customers bounded context. Other modules use it only through ./index.ts. */
@Module({})
export class CustomersModule {}
