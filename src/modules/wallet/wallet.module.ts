import { Module } from '@nestjs/common';

/** The wallet bounded context. Other modules use it only through ./index.ts. */
@Module({})
export class WalletModule {}
