export { waitForQueueIdle, purgeQueue } from './queue.js';
export { GraphQLClient, type GraphQLResponse } from './graphql-client.js';
