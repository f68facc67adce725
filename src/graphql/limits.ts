import type { ApolloServerPlugin, GraphQLRequestContext } from '@apollo/server';
import type { NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import {
  type ASTVisitor,
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  Kind,
  type SelectionSetNode,
  type ValidationContext,
} from 'graphql';
import { fieldExtensionsEstimator, getComplexity, simpleEstimator } from 'graphql-query-complexity';

export const LimitCode = {
  TOO_DEEP: 'QUERY_TOO_DEEP',
  TOO_COMPLEX: 'QUERY_TOO_COMPLEX',
  BATCH_TOO_LARGE: 'BATCH_TOO_LARGE',
} as const;

/**
 * Validation rule: refuses an operation nested deeper than `max` fields. Fragments are followed (a fragment cycle is
 * already a validation error of its own); introspection fields (`__schema`, `__type`) are not counted.
 */
export function depthLimit(max: number) {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const def of context.getDocument().definitions) {
      if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
    }
    const depthOf = (set: SelectionSetNode | undefined, seen: Set<string>): number => {
      if (!set) return 0;
      let deepest = 0;
      for (const sel of set.selections) {
        if (sel.kind === Kind.FIELD) {
          if ((sel as FieldNode).name.value.startsWith('__')) continue;
          deepest = Math.max(deepest, sel.selectionSet ? 1 + depthOf(sel.selectionSet, seen) : 1);
        } else if (sel.kind === Kind.INLINE_FRAGMENT) {
          deepest = Math.max(deepest, depthOf(sel.selectionSet, seen));
        } else {
          const name = sel.name.value;
          const frag = fragments.get(name);
          if (frag && !seen.has(name)) deepest = Math.max(deepest, depthOf(frag.selectionSet, new Set([...seen, name])));
        }
      }
      return deepest;
    };
    return {
      OperationDefinition(node) {
        const depth = depthOf(node.selectionSet, new Set());
        if (depth > max) {
          context.reportError(
            new GraphQLError(`Query depth ${depth} exceeds the limit of ${max}`, {
              nodes: [node],
              extensions: { code: LimitCode.TOO_DEEP, depth, limit: max },
            }),
          );
        }
      },
    };
  };
}

type WithReq = { req?: Request & { graphqlCost?: number } };

/**
 * Refuses an operation whose estimated cost (every field 1, list fields times their page size, aliases counted
 * each) is above `max`. The cost of the operations of one HTTP request adds up, so a batch cannot split a costly
 * query into many cheap ones.
 */
export function complexityLimit(max: number): ApolloServerPlugin<WithReq> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document, schema, contextValue }: GraphQLRequestContext<WithReq>) {
          if (!document) return;
          let cost: number;
          try {
            cost = getComplexity({
              schema,
              query: document,
              operationName: request.operationName ?? undefined,
              variables: request.variables ?? {},
              estimators: [fieldExtensionsEstimator(), simpleEstimator({ defaultComplexity: 1 })],
            });
          } catch (error) {
            // The estimate coerces the variables first: a bad variable is the client's error, said as Apollo would.
            throw new GraphQLError(error instanceof Error ? error.message : String(error), {
              extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } },
            });
          }
          const req = contextValue.req;
          const total = (req?.graphqlCost ?? 0) + cost;
          if (req) req.graphqlCost = total;
          if (total > max) {
            const batched = total !== cost;
            throw new GraphQLError(
              batched
                ? `This request's operations together cost ${total}, above the limit of ${max}`
                : `Query cost ${cost} exceeds the limit of ${max}: ask for fewer fields or smaller pages`,
              // A refused query is the client's to fix: 400 (Apollo answers 500 for errors thrown here otherwise).
              { extensions: { code: LimitCode.TOO_COMPLEX, cost: total, limit: max, http: { status: 400 } } },
            );
          }
        },
      };
    },
  };
}

/** Express middleware on /graphql: a batch (JSON array body) may hold at most `max` operations. */
export function batchLimit(max: number): NestMiddleware['use'] {
  return (req: Request, res: Response, next: NextFunction) => {
    if (Array.isArray(req.body) && req.body.length > max) {
      res.status(400).json({
        errors: [
          {
            message: `A batch may hold at most ${max} operations; this one has ${req.body.length}`,
            extensions: { code: LimitCode.BATCH_TOO_LARGE, limit: max },
          },
        ],
      });
      return;
    }
    next();
  };
}
