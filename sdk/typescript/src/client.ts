// The Bookstore API's TypeScript client over openapi-fetch, typed by
// src/schema.ts, which `npm run generate` (make sdk) writes from
// api/openapi.yaml with openapi-typescript.
//
// Log in once; every call then carries the access token. The client
// replaces it shortly before it expires and when the server answers
// 401 invalid_token, keeping the rotated refresh token each time (one
// refresh at a time: concurrent calls wait for it). Error answers are
// thrown as ProblemError (the RFC 9457 problem document); a session that
// can no longer be refreshed throws SessionEndedError: log in again.
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema.js";

export type { components, paths } from "./schema.js";
export type Book = components["schemas"]["Book"];
export type BookCreate = components["schemas"]["BookCreate"];
export type BookPatch = components["schemas"]["BookPatch"];
export type BookPage = components["schemas"]["BookPage"];
export type BookSort = components["schemas"]["BookSort"];
export type FieldError = components["schemas"]["FieldError"];
export type Problem = components["schemas"]["Problem"];
export type ProblemType = Problem["type"];
export type TokenPair = components["schemas"]["TokenPair"];
export type User = components["schemas"]["User"];

/** An error answer of the API: its RFC 9457 problem document. */
export class ProblemError extends Error {
  /** The problem type, or "about:blank" for an answer that was not a problem document. */
  readonly type: ProblemType | "about:blank";
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  /** The request id, as in the server's log. */
  readonly instance?: string;
  /** Each bad field of the request (validation problems). */
  readonly errors: FieldError[];
  /** Seconds the server asked to wait (429 and 503), if it said. */
  readonly retryAfter?: number;

  constructor(status: number, problem?: Problem, retryAfter?: number, message?: string) {
    const type = problem?.type ?? "about:blank";
    const detail = problem?.detail ?? "";
    super(message ?? `bookstore: ${problem?.status ?? status} ${type}${detail ? `: ${detail}` : ""}`);
    this.name = "ProblemError";
    this.type = type;
    this.status = problem?.status ?? status;
    this.title = problem?.title ?? "";
    this.detail = detail;
    this.instance = problem?.instance;
    this.errors = problem?.errors ?? [];
    this.retryAfter = retryAfter;
  }
}

/**
 * The session ended on the server (logout elsewhere, password change,
 * revoked, refresh token reused or expired): the refresh was refused.
 * Log in again. It is a ProblemError with the refusal's type.
 */
export class SessionEndedError extends ProblemError {
  constructor(cause: ProblemError) {
    super(cause.status, {
      type: cause.type === "about:blank" ? "/problems/unauthorized" : cause.type,
      title: cause.title, status: cause.status, detail: cause.detail, instance: cause.instance, errors: cause.errors,
    }, cause.retryAfter, `bookstore: the session has ended (${cause.type}: ${cause.detail}); log in again`);
    this.name = "SessionEndedError";
  }
}

/** The state of a logged-in client: save it to resume elsewhere with resume(). */
export interface Tokens {
  accessToken: string;
  refreshToken: string;
  /** When the access token runs out, in milliseconds since the epoch, by this machine's clock. */
  expiresAt: number;
  /** The access token's lifetime in milliseconds. */
  lifetimeMs: number;
}

export interface ClientOptions {
  /** The fetch to use (default: the global one). */
  fetch?: typeof globalThis.fetch;
  /** Replace the access token this long before it expires (default 30 s; at most a quarter of its lifetime). */
  refreshMarginMs?: number;
}

/** The data of a success, or the error answer thrown as a ProblemError. */
async function ok<T>(result: { data?: T; error?: unknown; response: Response }): Promise<T> {
  if (result.response.ok) return result.data as T;
  const raw: unknown = result.error;
  const error = raw as Problem | undefined;
  if (error && typeof error === "object" && "type" in error) {
    const retry = Number.parseInt(result.response.headers.get("Retry-After") ?? "", 10);
    throw new ProblemError(result.response.status, error, Number.isNaN(retry) ? undefined : retry);
  }
  throw new ProblemError(result.response.status, {
    type: "about:blank" as ProblemType, title: result.response.statusText, status: result.response.status,
    detail: typeof raw === "string" ? raw.slice(0, 200) : "",
  });
}

export class BookstoreClient {
  /**
   * Every operation of the spec, typed, with the access token and the
   * refresh handled: use it for what the methods below do not cover.
   * Its results hold { data, error, response } as openapi-fetch gives them.
   */
  readonly api: Client<paths>;
  private readonly anon: Client<paths>;
  private readonly fetchFn: typeof globalThis.fetch;
  private readonly marginMs: number;
  private tokens: Tokens | undefined;
  private version = 0; // counts token pairs, so a stale 401 does not refresh twice
  private ended: SessionEndedError | undefined;
  private refreshing: Promise<void> | undefined;

  constructor(baseUrl: string, options: ClientOptions = {}) {
    this.fetchFn = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.marginMs = options.refreshMarginMs ?? 30_000;
    this.anon = createClient<paths>({ baseUrl, fetch: this.fetchFn });
    this.api = createClient<paths>({ baseUrl, fetch: this.fetchFn });
    const retries = new Map<string, { request: Request; version: number }>();
    const auth: Middleware = {
      onRequest: async ({ request, id }) => {
        const { token, version } = await this.accessToken();
        if (token) request.headers.set("Authorization", `Bearer ${token}`);
        // A copy to send again after a refresh, should the token be refused.
        if (token) retries.set(id, { request: request.clone(), version });
        return request;
      },
      onResponse: async ({ response, id }) => {
        const retry = retries.get(id);
        retries.delete(id);
        if (!retry || response.status !== 401 || !(response.headers.get("WWW-Authenticate") ?? "").includes('error="invalid_token"')) {
          return response;
        }
        // The server refused the token (expired early, key rotated): a
        // refused token means the operation did not run, so sending it
        // again is safe.
        await this.invalidate(retry.version);
        const { token } = await this.accessToken();
        retry.request.headers.set("Authorization", `Bearer ${token}`);
        return this.fetchFn(retry.request);
      },
      onError: ({ id }) => {
        retries.delete(id);
      },
    };
    this.api.use(auth);
  }

  /** Creates an account; it does not log in. */
  async register(username: string, password: string): Promise<User> {
    return ok(await this.api.POST("/auth/register", { body: { username, password } }));
  }

  /** Logs in with a JSON body and keeps the session's tokens. */
  async login(username: string, password: string): Promise<void> {
    const sent = Date.now();
    this.keep(await ok(await this.anon.POST("/auth/login", { body: { username, password } })), sent);
  }

  /** Logs in with HTTP Basic credentials and no body. */
  async loginBasic(username: string, password: string): Promise<void> {
    const sent = Date.now();
    const basic = btoa(String.fromCodePoint(...new TextEncoder().encode(`${username}:${password}`)));
    this.keep(await ok(await this.anon.POST("/auth/login", { headers: { Authorization: `Basic ${basic}` } })), sent);
  }

  /** Ends the session on the server and forgets its tokens (forgotten even when the server cannot be told). */
  async logout(): Promise<void> {
    while (this.refreshing) await this.refreshing.catch(() => undefined);
    const tokens = this.tokens;
    this.tokens = undefined;
    this.ended = undefined;
    this.version++;
    if (!tokens) return;
    // The refresh token names the session even once the access token has expired.
    await ok(await this.anon.POST("/auth/logout", { body: { refresh_token: tokens.refreshToken } }));
  }

  /** The session's tokens, or undefined when not logged in. */
  session(): Tokens | undefined {
    return this.tokens ? { ...this.tokens } : undefined;
  }

  /** Continues a session saved with session(), instead of logging in. Only one client may use a session. */
  resume(tokens: Tokens): void {
    this.tokens = { ...tokens };
    this.ended = undefined;
    this.version++;
  }

  async me(): Promise<User> {
    return ok(await this.api.GET("/users/me"));
  }

  /** Adds a book. With an idempotencyKey, sending the same create again returns the first book. */
  async createBook(book: BookCreate, idempotencyKey?: string): Promise<Book> {
    return ok(await this.api.POST("/books", {
      body: book,
      params: { header: idempotencyKey ? { "Idempotency-Key": idempotencyKey } : {} },
    }));
  }

  /** One page of your books; pass next_cursor as the next call's cursor. */
  async listBooks(query: paths["/books"]["get"]["parameters"]["query"] = {}): Promise<BookPage> {
    return ok(await this.api.GET("/books", { params: { query } }));
  }

  /** A book and its ETag (its version, for updateBook and deleteBook). */
  async getBook(id: string): Promise<{ book: Book; etag: string }> {
    const result = await this.api.GET("/books/{id}", { params: { path: { id } } });
    return { book: await ok(result), etag: result.response.headers.get("ETag") ?? "" };
  }

  /** Changes the fields patch sets (null clears); with ifMatch, only if the book is still that version. */
  async updateBook(id: string, patch: BookPatch, ifMatch?: string): Promise<{ book: Book; etag: string }> {
    const result = await this.api.PATCH("/books/{id}", {
      params: { path: { id }, header: ifMatch ? { "If-Match": ifMatch } : {} },
      body: patch,
      headers: { "Content-Type": "application/merge-patch+json" },
    });
    return { book: await ok(result), etag: result.response.headers.get("ETag") ?? "" };
  }

  /** Deletes a book; with ifMatch, only if it is still that version. */
  async deleteBook(id: string, ifMatch?: string): Promise<void> {
    await ok(await this.api.DELETE("/books/{id}", { params: { path: { id }, header: ifMatch ? { "If-Match": ifMatch } : {} } }));
  }

  private keep(pair: TokenPair, sent: number): void {
    const lifetimeMs = pair.expires_in * 1000;
    this.tokens = { accessToken: pair.access_token, refreshToken: pair.refresh_token, expiresAt: sent + lifetimeMs, lifetimeMs };
    this.ended = undefined;
    this.version++;
  }

  /** The token to send ("" when not logged in), refreshed first when it is about to expire. */
  private async accessToken(): Promise<{ token: string; version: number }> {
    for (;;) {
      if (this.ended) throw this.ended;
      if (this.refreshing) {
        await this.refreshing;
        continue;
      }
      if (!this.tokens) return { token: "", version: this.version };
      const margin = Math.min(this.marginMs, this.tokens.lifetimeMs / 4);
      if (Date.now() < this.tokens.expiresAt - margin) return { token: this.tokens.accessToken, version: this.version };
      this.startRefresh();
    }
  }

  private async invalidate(version: number): Promise<void> {
    if (this.version === version && !this.refreshing && this.tokens && !this.ended) this.startRefresh();
    if (this.refreshing) await this.refreshing;
  }

  private startRefresh(): void {
    const refreshToken = this.tokens!.refreshToken;
    const sent = Date.now();
    this.refreshing = (async () => {
      let result;
      try {
        result = await this.anon.POST("/auth/refresh", { body: { refresh_token: refreshToken } });
      } finally {
        this.refreshing = undefined;
      }
      if (result.response.ok && result.data) {
        this.keep(result.data, sent);
        return;
      }
      const problem = await ok(result).then(() => undefined, (e: ProblemError) => e);
      if (problem && problem.status === 401) {
        // The refresh token is spent, revoked or expired: the session is
        // over. 429, 503 and network errors are not: the next call tries again.
        this.ended = new SessionEndedError(problem);
        this.tokens = undefined;
        this.version++;
        throw this.ended;
      }
      throw problem ?? new Error("bookstore: the refresh failed");
    })();
  }
}
