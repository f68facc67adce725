import { Module } from '@nestjs/common';

/** The agreements bounded context. Other modules use it only through ./index.ts. */
@Module({})
export class AgreementsModule {}
