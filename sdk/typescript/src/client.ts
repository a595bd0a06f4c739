// A small client for the Bookstore API over openapi-fetch, typed by
// src/schema.d.ts, which `make sdk` generates from api/openapi.yaml with
// openapi-typescript. A change to the spec that breaks this file (or the
// example) fails CI's type check.
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema.js";

export type Book = components["schemas"]["Book"];
export type BookCreate = components["schemas"]["BookCreate"];
export type BookPage = components["schemas"]["BookPage"];
export type Problem = components["schemas"]["Problem"];
export type TokenPair = components["schemas"]["TokenPair"];
export type User = components["schemas"]["User"];

/** A failed request: its status and, as the API answers, an RFC 9457 problem document. */
export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly problem?: Problem,
  ) {
    super(problem ? `${problem.status} ${problem.title}: ${problem.detail}` : `HTTP ${status}`);
  }
}

function fail(error: Problem | undefined, response: Response): never {
  throw new ProblemError(response.status, error);
}

/** Refresh a little before the access token expires. */
const refreshMarginMs = 30_000;

/**
 * BookstoreClient logs in, keeps the token pair, and sends the access token
 * with every request through `api`, refreshing it first when it has expired
 * or is about to (each refresh token works once, so the new pair is kept).
 */
export class BookstoreClient {
  /** Requests that need no token: register, login, refresh. */
  readonly anon: Client<paths>;
  /** Requests authenticated with the current access token. */
  readonly api: Client<paths>;
  private pair: TokenPair | undefined;
  private expiresAt = 0;

  constructor(baseUrl: string) {
    this.anon = createClient<paths>({ baseUrl });
    this.api = createClient<paths>({ baseUrl });
    const auth: Middleware = {
      onRequest: async ({ request }) => {
        const token = await this.accessToken();
        request.headers.set("Authorization", `Bearer ${token}`);
        return request;
      },
    };
    this.api.use(auth);
  }

  async register(username: string, password: string): Promise<User> {
    const { data, error, response } = await this.anon.POST("/auth/register", { body: { username, password } });
    if (!data) fail(error, response);
    return data;
  }

  async login(username: string, password: string): Promise<void> {
    const { data, error, response } = await this.anon.POST("/auth/login", { body: { username, password } });
    if (!data) fail(error, response);
    this.keep(data);
  }

  private keep(pair: TokenPair): void {
    this.pair = pair;
    this.expiresAt = Date.now() + pair.expires_in * 1000;
  }

  private async accessToken(): Promise<string> {
    if (!this.pair) throw new Error("log in first");
    if (Date.now() > this.expiresAt - refreshMarginMs) {
      const { data, error, response } = await this.anon.POST("/auth/refresh", {
        body: { refresh_token: this.pair.refresh_token },
      });
      if (!data) fail(error, response); // the session ended: log in again
      this.keep(data);
    }
    return this.pair.access_token;
  }

  async createBook(book: BookCreate): Promise<Book> {
    const { data, error, response } = await this.api.POST("/books", { body: book });
    if (!data) fail(error, response);
    return data;
  }

  async listBooks(query: { q?: string; sort?: components["schemas"]["BookSort"]; cursor?: string } = {}): Promise<BookPage> {
    const { data, error, response } = await this.api.GET("/books", { params: { query } });
    if (!data) fail(error, response);
    return data;
  }
}
