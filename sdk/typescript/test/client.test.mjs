// The packed client, installed in a scratch project, against the real
// server at BOOKSTORE_URL (.ci/clients ts runs it with node --test).
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { BookstoreClient, ProblemError, SessionEndedError } from "@bookstore/client";

const base = process.env.BOOKSTORE_URL;
const password = "tangerine walrus under glass";
assert.ok(base, "set BOOKSTORE_URL to the server's base URL");

// counting wraps fetch to count the requests per path.
function counting() {
  const counts = {};
  const fetchFn = (input, init) => {
    const request = input instanceof Request ? input : new Request(input, init);
    const path = new URL(request.url).pathname;
    counts[path] = (counts[path] ?? 0) + 1;
    return fetch(request);
  };
  return { counts, fetch: fetchFn };
}

async function loggedIn(options = {}) {
  const client = new BookstoreClient(base, options);
  const username = `ts-${randomUUID().slice(0, 8)}`;
  await client.register(username, password);
  await client.login(username, password);
  return { client, username };
}

test("concurrent calls across an expiry share one refresh and keep the rotated refresh token", async () => {
  const { counts, fetch } = counting();
  const { client } = await loggedIn({ fetch });
  await client.createBook({ title: "Dune", author: "Frank Herbert", publisher: "Chilton", price_cents: 999 });
  for (let round = 1; round <= 2; round++) {
    const before = client.session();
    client.resume({ ...before, expiresAt: Date.now() }); // expired, by this client's clock
    const pages = await Promise.all(Array.from({ length: 16 }, () => client.listBooks()));
    assert.ok(pages.every((p) => p.items.length === 1));
    assert.equal(counts["/auth/refresh"], round, "one refresh per expiry");
    const after = client.session();
    assert.notEqual(after.refreshToken, before.refreshToken);
    assert.notEqual(after.accessToken, before.accessToken);
  }
});

test("a token the server refuses is refreshed and the call sent again", async () => {
  const { counts, fetch } = counting();
  const { client, username } = await loggedIn({ fetch });
  client.resume({ ...client.session(), accessToken: "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl" });
  const me = await client.me();
  assert.equal(me.username, username);
  assert.equal(counts["/auth/refresh"], 1);
  assert.equal(counts["/users/me"], 2);
});

test("a reused refresh token ends the session with a clear error", async () => {
  const { client: victim } = await loggedIn();
  const thief = new BookstoreClient(base);
  thief.resume({ ...victim.session(), expiresAt: Date.now() });
  await thief.me(); // the thief refreshes first
  victim.resume({ ...victim.session(), expiresAt: Date.now() });
  await assert.rejects(victim.me(), (e) => {
    assert.ok(e instanceof SessionEndedError && e instanceof ProblemError);
    assert.equal(e.type, "/problems/refresh-token-reused");
    assert.equal(e.status, 401);
    assert.match(e.message, /log in again/);
    return true;
  });
  assert.equal(victim.session(), undefined);
  await assert.rejects(victim.listBooks(), SessionEndedError);
  await assert.rejects(thief.me(), (e) => e instanceof SessionEndedError || (e instanceof ProblemError && e.status === 401));
});

test("error answers are ProblemErrors with type, status, detail and field errors", async () => {
  const { client, username } = await loggedIn();
  await assert.rejects(client.getBook(randomUUID()), (e) => e instanceof ProblemError && e.type === "/problems/not-found" && e.status === 404 && e.detail !== "");
  await assert.rejects(
    client.createBook({ title: "Dune", author: "Frank Herbert", publisher: "Chilton", price_cents: -1 }),
    (e) => e instanceof ProblemError && e.type === "/problems/validation" && e.errors.some((f) => f.field === "price_cents"),
  );
  await assert.rejects(new BookstoreClient(base).login(username, "not the password at all"),
    (e) => e instanceof ProblemError && e.type === "/problems/invalid-credentials" && e.status === 401);
  await assert.rejects(new BookstoreClient(base).register(username, password),
    (e) => e instanceof ProblemError && e.type === "/problems/username-taken" && e.status === 409);
  await assert.rejects(new BookstoreClient(base).listBooks(),
    (e) => e instanceof ProblemError && e.type === "/problems/unauthorized" && e.status === 401);
  const { book, etag } = await client.getBook((await client.createBook({ title: "Emma", author: "Jane Austen", publisher: "John Murray", price_cents: 500 })).id);
  await assert.rejects(client.updateBook(book.id, { price_cents: 600 }, '"99"'),
    (e) => e instanceof ProblemError && e.type === "/problems/precondition-failed" && e.status === 412);
  const updated = await client.updateBook(book.id, { price_cents: 600 }, etag);
  assert.equal(updated.book.price_cents, 600);
  await client.deleteBook(book.id, updated.etag);
});

test("Basic login and logout", async () => {
  const { client, username } = await loggedIn();
  const other = new BookstoreClient(base);
  await other.loginBasic(username, password);
  assert.equal((await other.me()).username, username);
  const tokens = other.session();
  await other.logout();
  assert.equal(other.session(), undefined);
  other.resume({ ...tokens, expiresAt: Date.now() });
  await assert.rejects(other.me(), SessionEndedError); // the session ended on the server
  assert.equal((await client.me()).username, username); // the first session lives on
});
