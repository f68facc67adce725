import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { PATH_METADATA } from '@nestjs/common/constants.js';
import { ACCESS_RULE } from '#libs/auth/index.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Every GraphQL operation and every HTTP route must state who may call it (@Public, @Roles or @Authenticated).
 * The guard already refuses a handler without a rule at run time; this test names it before anyone ships it.
 */
describe('access rules', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  function handlers(): { name: string; hasRule: boolean }[] {
    const discovery = t.app.get(DiscoveryService);
    const scanner = t.app.get(MetadataScanner);
    const reflector = t.app.get(Reflector);
    const found: { name: string; hasRule: boolean }[] = [];
    for (const wrapper of [...discovery.getProviders(), ...discovery.getControllers()]) {
      const type = wrapper.metatype as (new (...args: never[]) => unknown) | undefined;
      if (!type?.prototype) continue;
      const isController = Reflect.getMetadata(PATH_METADATA, type) !== undefined;
      for (const method of scanner.getAllMethodNames(type.prototype)) {
        const fn = (type.prototype as Record<string, (...args: never[]) => unknown>)[method]!;
        const resolverType = Reflect.getMetadata('graphql:resolver_type', fn) as string | undefined;
        const isOperation = resolverType === 'Query' || resolverType === 'Mutation' || resolverType === 'Subscription';
        const isRoute = isController && Reflect.getMetadata(PATH_METADATA, fn) !== undefined;
        if (!isOperation && !isRoute) continue;
        found.push({
          name: `${type.name}.${method}`,
          hasRule: reflector.getAllAndOverride(ACCESS_RULE, [fn, type]) !== undefined,
        });
      }
    }
    return found;
  }

  it('finds the operations and routes it checks (so it cannot pass by finding none)', () => {
    const names = handlers().map((h) => h.name);
    expect(names).toEqual(expect.arrayContaining(['UsersResolver.me', 'AuthResolver.logIn', 'HealthController.ready']));
  });

  it('gives every GraphQL operation and HTTP route an explicit access rule', () => {
    expect(handlers().filter((h) => !h.hasRule).map((h) => h.name)).toEqual([]);
  });
});
