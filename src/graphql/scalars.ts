import { Field, InputType, ObjectType, Scalar, type CustomScalar } from '@nestjs/graphql';
import { Allow, IsString, Matches } from 'class-validator';
import { Kind, type ValueNode, GraphQLError } from 'graphql';
import { Money } from '#libs/money/index.js';

/**
 * An amount in integer minor units (cents), sent as a string: GraphQL's Int is 32-bit and would overflow at about
 * 21 million dollars. Accepts a string of digits (or a safe integer) and never a fraction.
 */
@Scalar('MinorUnits', () => BigInt)
export class MinorUnitsScalar implements CustomScalar<string, bigint> {
  description = 'Integer amount in minor units of its currency (e.g. cents), serialized as a string';

  parseValue(value: unknown): bigint {
    return toBigInt(value);
  }

  serialize(value: unknown): string {
    if (typeof value === 'bigint') return value.toString();
    return toBigInt(value).toString();
  }

  parseLiteral(ast: ValueNode): bigint {
    if (ast.kind === Kind.STRING || ast.kind === Kind.INT) return toBigInt(ast.value);
    throw new GraphQLError('MinorUnits must be a string of digits, e.g. "1250" for 12.50');
  }
}

function toBigInt(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  if (typeof value === 'string' && /^-?\d{1,30}$/.test(value)) return BigInt(value);
  throw new GraphQLError(`MinorUnits must be an integer number of minor units, got ${JSON.stringify(value)}`);
}

@ObjectType('Money', { description: 'An amount of money: integer minor units and an ISO 4217 currency' })
export class MoneyType {
  @Field(() => BigInt, { description: 'Minor units, e.g. "1250" for USD 12.50' })
  amount!: bigint;

  @Field({ description: 'ISO 4217 currency code' })
  currency!: string;

  @Field({ description: 'For display only, e.g. "$12.50"; never parse it back' })
  formatted!: string;

  static from(money: Money, locale = 'en-US'): MoneyType {
    return Object.assign(new MoneyType(), {
      amount: money.amount,
      currency: money.currency,
      formatted: money.format(locale),
    });
  }
}

@InputType('MoneyInput')
export class MoneyInput {
  // The MinorUnits scalar has checked it; @Allow() lets the whitelisting validation pipe keep it.
  @Field(() => BigInt)
  @Allow()
  amount!: bigint;

  @Field()
  @IsString()
  @Matches(/^[A-Z]{3}$/, { message: 'currency must be an ISO 4217 code such as USD' })
  currency!: string;

  toMoney(): Money {
    return Money.of(this.amount, this.currency);
  }
}
