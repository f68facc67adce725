import type { Type } from '@nestjs/common';
import { ArgsType, Field, Int, ObjectType } from '@nestjs/graphql';
import type { EntityManager, FilterQuery, QueryOrderMap } from '@mikro-orm/postgresql';
import { Cursor, CursorError } from '@mikro-orm/core';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import type { ComplexityEstimatorArgs } from '@nestjs/graphql';
import { type FieldNode, Kind } from 'graphql';
import { ApplicationError } from '#libs/ddd/index.js';

/** The largest page any connection serves. */
export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;

@ObjectType()
export class PageInfo {
  @Field()
  hasNextPage!: boolean;

  @Field()
  hasPreviousPage!: boolean;

  @Field(() => String, { nullable: true })
  startCursor!: string | null;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

/** Relay forward pagination arguments. */
@ArgsType()
export class PageArgs {
  @Field(() => Int, { defaultValue: DEFAULT_PAGE_SIZE, description: `Page size, 1 to ${MAX_PAGE_SIZE}` })
  @IsInt()
  @Min(1, { message: 'first must be at least 1' })
  @Max(MAX_PAGE_SIZE, { message: `first must be at most ${MAX_PAGE_SIZE}` })
  first: number = DEFAULT_PAGE_SIZE;

  @Field(() => String, { nullable: true, description: 'endCursor of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  after?: string;
}

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  nodes: T[];
  pageInfo: PageInfo;
  totalCount: number;
}

/** Builds `<Name>Connection` and `<Name>Edge` object types for a node type. */
export function ConnectionType<T>(node: Type<T>, name = node.name): Type<Connection<T>> {
  @ObjectType(`${name}Edge`)
  class Edge {
    @Field()
    cursor!: string;

    @Field(() => node)
    node!: T;
  }

  @ObjectType(`${name}Connection`)
  class ConnectionClass implements Connection<T> {
    @Field(() => [Edge])
    edges!: Edge[];

    @Field(() => [node])
    nodes!: T[];

    @Field(() => PageInfo)
    pageInfo!: PageInfo;

    @Field(() => Int)
    totalCount!: number;
  }
  return ConnectionClass;
}

/**
 * Complexity of a connection field: what is selected per node (edges, nodes) times the page size, plus `totalCount`
 * and `pageInfo` once — they are answered once per page, not once per node. (Counted from the field's own selection;
 * a fragment spread at this level is counted per node, which only overestimates.)
 */
export const connectionComplexity = (estimate: ComplexityEstimatorArgs): number => {
  const { args, childComplexity } = estimate;
  const node = (estimate as ComplexityEstimatorArgs & { node?: FieldNode }).node;
  const first = Math.min(Number(args.first ?? DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE);
  const once = node ? oncePerPageCost(node) : 0;
  return 1 + once + Math.max(0, childComplexity - once) * first;
};

/** The cost of `totalCount` (1) and `pageInfo` (1 + its fields) selected directly on a connection. */
function oncePerPageCost(connection: FieldNode): number {
  let cost = 0;
  for (const selection of connection.selectionSet?.selections ?? []) {
    if (selection.kind !== Kind.FIELD) continue;
    if (selection.name.value === 'totalCount') cost += 1;
    if (selection.name.value === 'pageInfo') cost += 1 + (selection.selectionSet?.selections.filter((s) => s.kind === Kind.FIELD).length ?? 0);
  }
  return cost;
}

/**
 * Keyset pagination through MikroORM's cursors (stable under inserts, no OFFSET scans). The order must end in a
 * unique column so that the cursor is unambiguous.
 */
export async function paginate<T extends object>(
  em: EntityManager,
  entity: Type<T>,
  where: FilterQuery<T>,
  args: PageArgs,
  orderBy: QueryOrderMap<T>,
): Promise<Connection<T>> {
  const invalidCursor = () => ApplicationError.badInput('after', 'is not a cursor of this connection', 'INVALID_CURSOR');
  // MikroORM reads a cursor of the wrong shape (not one value per order key) without complaint, or fails inside.
  if (args.after !== undefined && args.after !== null) {
    let values: unknown;
    try {
      values = Cursor.decode(args.after);
    } catch {
      throw invalidCursor();
    }
    const keys = [orderBy].flat().flatMap((o) => Object.keys(o as object));
    if (!Array.isArray(values) || values.length !== keys.length) throw invalidCursor();
  }
  const cursor = await em
    .findByCursor(entity, {
      where,
      first: args.first,
      after: args.after,
      orderBy,
      includeCount: true,
    } as never)
    .catch((error: unknown) => {
      // MikroORM reports a client-supplied cursor it cannot read as a CursorError.
      if (args.after && error instanceof CursorError) throw invalidCursor();
      throw error;
    });
  const items = cursor.items as T[];
  return {
    edges: items.map((node) => ({ node, cursor: cursor.from(node) })),
    nodes: items,
    pageInfo: {
      hasNextPage: cursor.hasNextPage ?? false,
      hasPreviousPage: cursor.hasPrevPage ?? false,
      startCursor: cursor.startCursor,
      endCursor: cursor.endCursor,
    },
    totalCount: cursor.totalCount ?? items.length,
  };
}
