export interface GraphQLResponse<T = Record<string, any>> {
  status: number;
  data?: T;
  errors?: { message: string; path?: string[]; extensions?: Record<string, any> }[];
}

/** A minimal GraphQL-over-HTTP client for end-to-end tests: real HTTP, real JSON, no shortcuts into the app. */
export class GraphQLClient {
  constructor(
    readonly baseUrl: string,
    private token?: string,
  ) {}

  as(token: string | undefined): GraphQLClient {
    return new GraphQLClient(this.baseUrl, token);
  }

  async request<T = Record<string, any>>(query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>> {
    return this.post({ query, variables }) as Promise<GraphQLResponse<T>>;
  }

  /** Sends a raw body (e.g. a batch array) and returns the parsed JSON with the HTTP status. */
  async post(body: unknown, headers: Record<string, string> = {}): Promise<any> {
    const res = await fetch(`${this.baseUrl}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...headers,
      },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown> | unknown[];
    return Array.isArray(json) ? Object.assign(json, { status: res.status }) : { status: res.status, ...json };
  }

  /** The data of a request that must succeed; throws with the errors otherwise. */
  async ok<T = Record<string, any>>(query: string, variables?: Record<string, unknown>): Promise<T> {
    const res = await this.request<T>(query, variables);
    if (res.errors?.length || !res.data) throw new Error(`GraphQL errors: ${JSON.stringify(res.errors)}`);
    return res.data;
  }
}
