import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { type MiddlewareConsumer, Module, type NestModule, Inject } from '@nestjs/common';
import { GraphQLModule } from '@nestjs/graphql';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import type { Request, Response } from 'express';
import { type ExecutionResult, getOperationAST, GraphQLError, parse } from 'graphql';
import type { Context as WsContext } from 'graphql-ws';
import type { Extra as WsExtra } from 'graphql-ws/use/ws';
import { AppConfig } from '../config/index.js';
import { formatError } from './errors.js';
import { batchLimit, complexityLimit, depthLimit } from './limits.js';
import { Loaders, type GraphQLContext } from './loaders.js';
import { MinorUnitsScalar, MoneyInput, MoneyType } from './scalars.js';
import { GraphQLReadCache, readCacheMiddleware, readCachePlugin } from './read-cache.js';

/** Maximum tokens in one document: a parse-level guard against huge queries before any other check runs. */
const MAX_TOKENS = 5_000;

type WsConnection = WsContext<Record<string, unknown> | undefined>;

/** `connectionParams.authorization` of a graphql-ws connection, when it is a bearer token. */
function bearerOf(params: Record<string, unknown> | undefined): string | undefined {
  const value = params?.authorization ?? params?.Authorization;
  return typeof value === 'string' && /^Bearer \S+$/i.test(value.trim()) ? value.trim() : undefined;
}

/**
 * Subscriptions over graphql-ws on /graphql. The client authenticates with
 * `connectionParams: { authorization: 'Bearer <access token>' }`; each subscription then goes through AccessGuard.
 */
function graphqlWs(format: ReturnType<typeof formatError>) {
  return {
    path: '/graphql',
    // No token at all: closed at once with 4401, which graphql-ws clients take as final (no reconnect loop). A token
    // that is invalid, expired or a disabled user's is refused per subscription by AccessGuard (UNAUTHENTICATED).
    onConnect: (ctx: WsConnection): boolean => {
      if (bearerOf(ctx.connectionParams)) return true;
      (ctx.extra as WsExtra).socket.close(4401, 'UNAUTHENTICATED: send connectionParams { authorization: "Bearer <token>" }');
      return false;
    },
    // Subscriptions only: queries and mutations go over HTTP, where the request context and the limits apply.
    onSubscribe: (_ctx: WsConnection, _id: string, payload: { query: string; operationName?: string | null }) => {
      try {
        const operation = getOperationAST(parse(payload.query, { maxTokens: MAX_TOKENS }), payload.operationName);
        if (operation?.operation === 'subscription') return undefined;
      } catch (error) {
        return [error instanceof GraphQLError ? error : new GraphQLError('The query could not be parsed')];
      }
      return [
        new GraphQLError('Only subscriptions are served over WebSocket; send queries and mutations over HTTP', {
          extensions: { code: 'BAD_USER_INPUT' },
        }),
      ];
    },
    // Errors in the same format as over HTTP: stable codes, no stack traces.
    onNext: (_ctx: WsConnection, _id: string, _payload: unknown, _args: unknown, result: ExecutionResult) =>
      result.errors?.length ? { ...result, errors: result.errors.map((e) => format(e.toJSON(), e)) } : undefined,
  };
}

/**
 * A subscription sent over HTTP would run its resolver once with no event (a 500): refused as the client's error,
 * the mirror of graphql-ws refusing queries and mutations.
 */
const subscriptionsOverWsOnly: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async didResolveOperation({ operation }) {
        if (operation?.operation !== 'subscription') return;
        throw new GraphQLError('Subscriptions are served over WebSocket (graphql-ws on /graphql), not over HTTP', {
          extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } },
        });
      },
    };
  },
};

/**
 * Every answer is private (per user and tenant): `cache-control: no-store`, as Apollo's cache-control plugin said
 * before it was disabled — here once per response instead of a hook on every field.
 */
const noStore: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async willSendResponse({ response }) {
        response.http.headers.set('cache-control', 'no-store');
      },
    };
  },
};

/** The read cache (src/graphql/read-cache.ts), in a module of its own so GraphQLModule's factory can inject it. */
@Module({ providers: [GraphQLReadCache], exports: [GraphQLReadCache] })
export class GraphQLReadCacheModule {}

@Module({
  imports: [
    GraphQLReadCacheModule,
    GraphQLModule.forRootAsync<ApolloDriverConfig>({
      driver: ApolloDriver,
      imports: [GraphQLReadCacheModule],
      inject: [AppConfig, GraphQLReadCache],
      useFactory: (config: AppConfig, readCache: GraphQLReadCache): ApolloDriverConfig => ({
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
        // No cache hints are used (every answer is per user and tenant): without Apollo's default cache-control plugin no
        // plugin listens to willResolveField, so Apollo does not wrap every field resolver (bench/README.md, GraphQL reads).
        // The read cache after the cost limit: a cached answer is still refused when the query is too complex.
        plugins: [complexityLimit(config.graphql.maxComplexity), subscriptionsOverWsOnly, noStore, readCachePlugin(readCache), ApolloServerPluginCacheControlDisabled()],
        formatError: formatError(config.isProduction),
        context: (ctx: { req: Request; res: Response } | WsConnection): GraphQLContext =>
          'req' in ctx
            ? { req: ctx.req, res: ctx.res, loaders: new Loaders() }
            : // A graphql-ws operation: the connection's token stands in for the Authorization header, so AccessGuard
              // and passport-jwt read it exactly as over HTTP.
              ({ req: { headers: { authorization: bearerOf(ctx.connectionParams) } }, loaders: new Loaders() } as unknown as GraphQLContext),
        subscriptions: { 'graphql-ws': graphqlWs(formatError(config.isProduction)) },
        // Money is part of the public contract before the first module returns one.
        buildSchemaOptions: { dateScalarMode: 'isoDate', numberScalarMode: 'integer', orphanedTypes: [MoneyType, MoneyInput] },
      }),
    }),
  ],
  providers: [MinorUnitsScalar],
})
export class SettleGraphQLModule implements NestModule {
  constructor(
    @Inject(AppConfig) private readonly config: AppConfig,
    @Inject(GraphQLReadCache) private readonly readCache: GraphQLReadCache,
  ) {}

  configure(consumer: MiddlewareConsumer): void {
    // The read cache's fast path answers a cached query before Apollo sees it (src/graphql/read-cache.ts).
    consumer.apply(batchLimit(this.config.graphql.maxBatch), readCacheMiddleware(this.readCache)).forRoutes('graphql');
  }
}
