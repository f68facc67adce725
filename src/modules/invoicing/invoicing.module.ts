import { Module } from '@nestjs/common';

/** The invoicing bounded context. Other modules use it only through ./index.ts. */
@Module({})
export class InvoicingModule {}
