import { type MiddlewareConsumer, Module, type NestModule, Inject } from '@nestjs/common';
import { GraphQLModule } from '@nestjs/graphql';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import type { Request, Response } from 'express';
import { AppConfig } from '../config/index.js';
import { formatError } from './errors.js';
import { batchLimit, complexityLimit, depthLimit } from './limits.js';
import { Loaders, type GraphQLContext } from './loaders.js';
import { MinorUnitsScalar, MoneyInput, MoneyType } from './scalars.js';

/** Maximum tokens in one document: a parse-level guard against huge queries before any other check runs. */
const MAX_TOKENS = 5_000;

@Module({
  imports: [
    GraphQLModule.forRootAsync<ApolloDriverConfig>({
      driver: ApolloDriver,
      inject: [AppConfig],
      useFactory: (config: AppConfig): ApolloDriverConfig => ({
        path: '/graphql',
        autoSchemaFile: true,
        sortSchema: true,
        playground: false,
        introspection: config.graphql.introspection,
        includeStacktraceInErrorResponses: false,
        allowBatchedHttpRequests: true,
        csrfPrevention: true,
        parseOptions: { maxTokens: MAX_TOKENS },
        validationRules: [depthLimit(config.graphql.maxDepth)],
        plugins: [complexityLimit(config.graphql.maxComplexity)],
        formatError: formatError(config.isProduction),
        context: ({ req, res }: { req: Request; res: Response }): GraphQLContext => ({ req, res, loaders: new Loaders() }),
        // Money is part of the public contract before the first module returns one.
        buildSchemaOptions: { dateScalarMode: 'isoDate', numberScalarMode: 'integer', orphanedTypes: [MoneyType, MoneyInput] },
      }),
    }),
  ],
  providers: [MinorUnitsScalar],
})
export class SettleGraphQLModule implements NestModule {
  constructor(@Inject(AppConfig) private readonly config: AppConfig) {}

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(batchLimit(this.config.graphql.maxBatch)).forRoutes('graphql');
  }
}
