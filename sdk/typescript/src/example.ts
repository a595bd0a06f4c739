// Usage, type-checked by `make sdk` (it is not run): register, log in,
// create and list books.
import { BookstoreClient, ProblemError } from "./client.js";

export async function example(baseUrl = "http://127.0.0.1:8080"): Promise<void> {
  const client = new BookstoreClient(baseUrl);
  await client.register("alice", "tangerine walrus under glass");
  await client.login("alice", "tangerine walrus under glass");
  const book = await client.createBook({
    title: "The Hobbit",
    author: "J. R. R. Tolkien",
    publisher: "George Allen & Unwin",
    price_cents: 1299,
    isbn: "978-0-261-10221-7",
    published_year: 1937,
  });
  console.log(`created ${book.id}: ${book.title}, ${book.price_cents / 100}`);
  try {
    const page = await client.listBooks({ q: "hobbit", sort: "-price_cents" });
    for (const b of page.items) console.log(b.title, b.isbn ?? "no ISBN");
  } catch (e) {
    if (e instanceof ProblemError) console.error(e.status, e.problem?.type, e.problem?.detail);
    else throw e;
  }
}
