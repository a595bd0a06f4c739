package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/oapi-codegen/nullable"

	"github.com/bookstore/bookstore/gen/oapi"
)

func TestBookLifecycle(t *testing.T) {
	api := newTestAPI(t)
	ctx := context.Background()
	alice := api.register("alice")

	in := oapi.BookCreate{Title: "  The Hobbit ", Author: "J. R. R. Tolkien", Publisher: "HarperCollins", PriceCents: 1299,
		Isbn: nullable.NewNullableWithValue("0-261-10236-2"), PublishedYear: nullable.NewNullableWithValue(1937)}
	created, err := api.Client.CreateBookWithResponse(ctx, &oapi.CreateBookParams{}, in, alice.Auth())
	if err != nil || created.JSON201 == nil {
		t.Fatalf("create: %v %d %s", err, created.StatusCode(), created.Body)
	}
	b := created.JSON201
	if b.Title != "The Hobbit" || b.Isbn.MustGet() != "9780261102361" || b.PublishedYear.MustGet() != 1937 || b.OwnerId.String() != alice.ID {
		t.Errorf("created %+v", b)
	}
	if loc := created.HTTPResponse.Header.Get("Location"); loc != "/books/"+b.Id.String() {
		t.Errorf("Location = %q", loc)
	}
	tag := created.HTTPResponse.Header.Get("ETag")

	got, err := api.Client.GetBookWithResponse(ctx, b.Id, alice.Auth())
	if err != nil || got.JSON200 == nil || got.JSON200.Title != "The Hobbit" || got.HTTPResponse.Header.Get("ETag") != tag {
		t.Fatalf("get: %v %s", err, got.Body)
	}

	// Merge patch: change the price, clear the year, keep the rest.
	patch := oapi.BookPatch{PriceCents: ptr[int64](999), PublishedYear: nullable.NewNullNullable[int]()}
	upd, err := api.Client.UpdateBookWithApplicationMergePatchPlusJSONBodyWithResponse(ctx, b.Id, &oapi.UpdateBookParams{IfMatch: &tag}, patch, alice.Auth())
	if err != nil || upd.JSON200 == nil {
		t.Fatalf("update: %v %d %s", err, upd.StatusCode(), upd.Body)
	}
	if u := upd.JSON200; u.PriceCents != 999 || u.PublishedYear.IsSpecified() && !u.PublishedYear.IsNull() || u.Title != "The Hobbit" || !u.UpdatedAt.After(u.CreatedAt) && u.UpdatedAt != u.CreatedAt {
		t.Errorf("updated %+v", u)
	}
	newTag := upd.HTTPResponse.Header.Get("ETag")
	if newTag == tag {
		t.Error("ETag did not change")
	}
	// The old ETag is stale now.
	stale, _ := api.Client.UpdateBookWithApplicationMergePatchPlusJSONBodyWithResponse(ctx, b.Id, &oapi.UpdateBookParams{IfMatch: &tag}, patch, alice.Auth())
	if stale.StatusCode() != 412 {
		t.Errorf("stale If-Match: %d", stale.StatusCode())
	}
	if del, _ := api.Client.DeleteBookWithResponse(ctx, b.Id, &oapi.DeleteBookParams{IfMatch: &tag}, alice.Auth()); del.StatusCode() != 412 {
		t.Errorf("delete with stale If-Match: %d", del.StatusCode())
	}
	del, err := api.Client.DeleteBookWithResponse(ctx, b.Id, &oapi.DeleteBookParams{IfMatch: &newTag}, alice.Auth())
	if err != nil || del.StatusCode() != 204 {
		t.Fatalf("delete: %v %d %s", err, del.StatusCode(), del.Body)
	}
	if got, _ := api.Client.GetBookWithResponse(ctx, b.Id, alice.Auth()); got.StatusCode() != 404 {
		t.Errorf("get after delete: %d", got.StatusCode())
	}
	if del, _ := api.Client.DeleteBookWithResponse(ctx, b.Id, &oapi.DeleteBookParams{}, alice.Auth()); del.StatusCode() != 404 {
		t.Errorf("second delete: %d", del.StatusCode())
	}
}

func ptr[T any](v T) *T { return &v }

func TestBooksOfOthersAreNotFound(t *testing.T) {
	api := newTestAPI(t)
	ctx := context.Background()
	alice, bob := api.register("alice"), api.register("bob")
	root := api.admin("root")
	created, _ := api.Client.CreateBookWithResponse(ctx, &oapi.CreateBookParams{}, newBook("Alice's"), alice.Auth())
	id := created.JSON201.Id

	if r, _ := api.Client.GetBookWithResponse(ctx, id, bob.Auth()); r.StatusCode() != 404 {
		t.Errorf("bob reads alice's book: %d", r.StatusCode())
	}
	patch := oapi.BookPatch{Title: ptr("Bob's now")}
	if r, _ := api.Client.UpdateBookWithApplicationMergePatchPlusJSONBodyWithResponse(ctx, id, &oapi.UpdateBookParams{}, patch, bob.Auth()); r.StatusCode() != 404 {
		t.Errorf("bob updates alice's book: %d", r.StatusCode())
	}
	if r, _ := api.Client.DeleteBookWithResponse(ctx, id, &oapi.DeleteBookParams{}, bob.Auth()); r.StatusCode() != 404 {
		t.Errorf("bob deletes alice's book: %d", r.StatusCode())
	}
	if r, _ := api.Client.ListBooksWithResponse(ctx, &oapi.ListBooksParams{}, bob.Auth()); len(r.JSON200.Items) != 0 {
		t.Errorf("bob lists %d books", len(r.JSON200.Items))
	}
	// Only admins choose the owner.
	if r, _ := api.Client.ListBooksWithResponse(ctx, &oapi.ListBooksParams{Owner: ptr(alice.ID)}, bob.Auth()); r.StatusCode() != 403 {
		t.Errorf("bob lists with owner=: %d", r.StatusCode())
	}
	if r, _ := api.Client.ListBooksWithResponse(ctx, &oapi.ListBooksParams{Owner: ptr("all")}, bob.Auth()); r.StatusCode() != 403 {
		t.Errorf("bob lists with owner=all: %d", r.StatusCode())
	}
	// Admins see and change everyone's.
	if r, _ := api.Client.ListBooksWithResponse(ctx, &oapi.ListBooksParams{Owner: ptr(alice.ID)}, root.Auth()); r.JSON200 == nil || len(r.JSON200.Items) != 1 {
		t.Errorf("admin lists alice's: %d %s", r.StatusCode(), r.Body)
	}
	if r, _ := api.Client.ListBooksWithResponse(ctx, &oapi.ListBooksParams{Owner: ptr("all")}, root.Auth()); r.JSON200 == nil || len(r.JSON200.Items) != 1 {
		t.Errorf("admin lists all: %d %s", r.StatusCode(), r.Body)
	}
	if r, _ := api.Client.GetBookWithResponse(ctx, id, root.Auth()); r.StatusCode() != 200 {
		t.Errorf("admin reads alice's book: %d", r.StatusCode())
	}
	if r, _ := api.Client.DeleteBookWithResponse(ctx, id, &oapi.DeleteBookParams{}, root.Auth()); r.StatusCode() != 204 {
		t.Errorf("admin deletes alice's book: %d", r.StatusCode())
	}
}

func TestListBooksPagingSortingFiltering(t *testing.T) {
	api := newTestAPI(t)
	ctx := context.Background()
	alice := api.register("alice")
	titles := []string{"banana", "Apple", "cherry", "apple pie", "100% Pure", "under_score", "Date", "elder", "Fig", "grape", "Honeydew"}
	for i, title := range titles {
		b := newBook(title)
		b.PriceCents = int64(i % 4 * 100) // ties on price
		if title == "Date" {
			b.Author = "Octavia E. Butler"
		}
		if r, _ := api.Client.CreateBookWithResponse(ctx, &oapi.CreateBookParams{}, b, alice.Auth()); r.StatusCode() != 201 {
			t.Fatalf("create %q: %d %s", title, r.StatusCode(), r.Body)
		}
	}
	api.register("bob") // and books of someone else that must not show
	walk := func(params oapi.ListBooksParams) []oapi.Book {
		t.Helper()
		var all []oapi.Book
		params.Limit = ptr(3)
		for pages := 0; ; pages++ {
			r, err := api.Client.ListBooksWithResponse(ctx, &params, alice.Auth())
			if err != nil || r.JSON200 == nil {
				t.Fatalf("list: %v %s", err, r.Body)
			}
			if len(r.JSON200.Items) > 3 || pages > 20 {
				t.Fatal("page too long or endless paging")
			}
			all = append(all, r.JSON200.Items...)
			if !r.JSON200.NextCursor.IsSpecified() || r.JSON200.NextCursor.IsNull() {
				return all
			}
			params.Cursor = ptr(r.JSON200.NextCursor.MustGet())
		}
	}
	for _, sortBy := range []oapi.BookSort{"", "title", "-title", "created_at", "-created_at", "price_cents", "-price_cents"} {
		t.Run("sort "+string(sortBy), func(t *testing.T) {
			params := oapi.ListBooksParams{}
			if sortBy != "" {
				params.Sort = &sortBy
			}
			books := walk(params)
			if len(books) != len(titles) {
				t.Fatalf("%d books, want %d", len(books), len(titles))
			}
			seen := map[string]bool{}
			for _, b := range books {
				if seen[b.Id.String()] {
					t.Fatalf("book %s twice", b.Title)
				}
				seen[b.Id.String()] = true
			}
			less := func(a, b oapi.Book) bool {
				switch strings.TrimPrefix(string(sortBy), "-") {
				case "title":
					if !strings.EqualFold(a.Title, b.Title) {
						return strings.ToLower(a.Title) < strings.ToLower(b.Title)
					}
				case "price_cents":
					if a.PriceCents != b.PriceCents {
						return a.PriceCents < b.PriceCents
					}
				default:
					if !a.CreatedAt.Equal(b.CreatedAt) {
						return a.CreatedAt.Before(b.CreatedAt)
					}
				}
				return a.Id.String() < b.Id.String()
			}
			ordered := sort.SliceIsSorted(books, func(i, j int) bool {
				if strings.HasPrefix(string(sortBy), "-") {
					return less(books[j], books[i])
				}
				return less(books[i], books[j])
			})
			if !ordered {
				for _, b := range books {
					t.Logf("%s %d %s", b.Title, b.PriceCents, b.Id)
				}
				t.Fatal("not in order")
			}
		})
	}
	t.Run("q matches title or author, case-insensitively, wildcards literal", func(t *testing.T) {
		cases := map[string]int{"APPLE": 2, "%": 1, "_": 1, "butler": 1, "le guin": len(titles) - 1, "zzz": 0}
		for q, want := range cases {
			if got := len(walk(oapi.ListBooksParams{Q: ptr(q)})); got != want {
				t.Errorf("q=%q: %d books, want %d", q, got, want)
			}
		}
	})
	t.Run("author is exact and case-insensitive", func(t *testing.T) {
		if got := len(walk(oapi.ListBooksParams{Author: ptr("octavia e. BUTLER")})); got != 1 {
			t.Errorf("%d books", got)
		}
		if got := len(walk(oapi.ListBooksParams{Author: ptr("Octavia")})); got != 0 {
			t.Errorf("partial author matched %d books", got)
		}
	})
	t.Run("a cursor is bound to its query and tamper-evident", func(t *testing.T) {
		r, _ := api.Client.ListBooksWithResponse(ctx, &oapi.ListBooksParams{Limit: ptr(2)}, alice.Auth())
		cursor := r.JSON200.NextCursor.MustGet()
		other := oapi.BookSort("-title")
		if r, _ := api.Client.ListBooksWithResponse(ctx, &oapi.ListBooksParams{Cursor: &cursor, Sort: &other}, alice.Auth()); r.StatusCode() != 400 {
			t.Errorf("cursor with another sort: %d", r.StatusCode())
		}
		flipped := []byte(cursor)
		flipped[3] ^= 1
		if flipped[3] == '-' || flipped[3] == '_' {
			flipped[3] = 'A'
		}
		if r, _ := api.Client.ListBooksWithResponse(ctx, &oapi.ListBooksParams{Cursor: ptr(string(flipped))}, alice.Auth()); r.StatusCode() != 400 {
			t.Errorf("tampered cursor: %d", r.StatusCode())
		}
	})
}

func TestCreateBookIdempotency(t *testing.T) {
	api := newTestAPI(t)
	ctx := context.Background()
	alice := api.register("alice")
	key := "order-7f3a"
	first, _ := api.Client.CreateBookWithResponse(ctx, &oapi.CreateBookParams{IdempotencyKey: &key}, newBook("Dune"), alice.Auth())
	again, _ := api.Client.CreateBookWithResponse(ctx, &oapi.CreateBookParams{IdempotencyKey: &key}, newBook("Dune"), alice.Auth())
	if first.JSON201 == nil || again.JSON201 == nil || first.JSON201.Id != again.JSON201.Id {
		t.Fatalf("retry created another book: %s / %s", first.Body, again.Body)
	}
	other, _ := api.Client.CreateBookWithResponse(ctx, &oapi.CreateBookParams{IdempotencyKey: &key}, newBook("Emma"), alice.Auth())
	if other.StatusCode() != 409 {
		t.Errorf("same key, other body: %d", other.StatusCode())
	}
	// Keys belong to their user.
	bob := api.register("bob")
	if r, _ := api.Client.CreateBookWithResponse(ctx, &oapi.CreateBookParams{IdempotencyKey: &key}, newBook("Dune"), bob.Auth()); r.StatusCode() != 201 || r.JSON201.Id == first.JSON201.Id {
		t.Errorf("bob's key collided with alice's: %d", r.StatusCode())
	}
	list, _ := api.Client.ListBooksWithResponse(ctx, &oapi.ListBooksParams{}, alice.Auth())
	if len(list.JSON200.Items) != 1 {
		t.Errorf("alice has %d books, want 1", len(list.JSON200.Items))
	}
}

func TestDuplicateISBN(t *testing.T) {
	api := newTestAPI(t)
	ctx := context.Background()
	alice, bob := api.register("alice"), api.register("bob")
	b := newBook("Dune")
	b.Isbn = nullable.NewNullableWithValue("978-0-441-17271-9")
	if r, _ := api.Client.CreateBookWithResponse(ctx, &oapi.CreateBookParams{}, b, alice.Auth()); r.StatusCode() != 201 {
		t.Fatalf("first: %d %s", r.StatusCode(), r.Body)
	}
	b.Isbn = nullable.NewNullableWithValue("0441172717") // the same book as ISBN-10
	if r, _ := api.Client.CreateBookWithResponse(ctx, &oapi.CreateBookParams{}, b, alice.Auth()); r.StatusCode() != 409 {
		t.Fatalf("same ISBN again: %d %s", r.StatusCode(), r.Body)
	}
	if r, _ := api.Client.CreateBookWithResponse(ctx, &oapi.CreateBookParams{}, b, bob.Auth()); r.StatusCode() != 201 {
		t.Fatalf("another owner: %d %s", r.StatusCode(), r.Body)
	}
	// A patch onto a taken ISBN conflicts too.
	c, _ := api.Client.CreateBookWithResponse(ctx, &oapi.CreateBookParams{}, newBook("Other"), alice.Auth())
	patch := oapi.BookPatch{Isbn: nullable.NewNullableWithValue("9780441172719")}
	if r, _ := api.Client.UpdateBookWithApplicationMergePatchPlusJSONBodyWithResponse(ctx, c.JSON201.Id, &oapi.UpdateBookParams{}, patch, alice.Auth()); r.StatusCode() != 409 {
		t.Fatalf("patch onto a taken ISBN: %d %s", r.StatusCode(), r.Body)
	}
}

func TestConcurrentCreatesAllLand(t *testing.T) {
	api := newTestAPI(t)
	ctx := context.Background()
	alice := api.register("alice")
	var wg sync.WaitGroup
	statuses := make([]int, 50)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := api.Client.CreateBookWithResponse(ctx, &oapi.CreateBookParams{}, newBook(fmt.Sprintf("Book %02d", i)), alice.Auth())
			if err == nil {
				statuses[i] = r.StatusCode()
			}
		}()
	}
	wg.Wait()
	for i, s := range statuses {
		if s != 201 {
			t.Errorf("create %d: status %d", i, s)
		}
	}
	r, _ := api.Client.ListBooksWithResponse(ctx, &oapi.ListBooksParams{Limit: ptr(100)}, alice.Auth())
	seen := map[string]int{}
	for _, b := range r.JSON200.Items {
		seen[b.Title]++
	}
	if len(r.JSON200.Items) != 50 || len(seen) != 50 {
		t.Fatalf("%d books stored, %d distinct; want 50", len(r.JSON200.Items), len(seen))
	}
}

func TestConcurrentPatchesSameETag(t *testing.T) {
	api := newTestAPI(t)
	ctx := context.Background()
	alice := api.register("alice")
	c, _ := api.Client.CreateBookWithResponse(ctx, &oapi.CreateBookParams{}, newBook("Dune"), alice.Auth())
	tag := c.HTTPResponse.Header.Get("ETag")
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			patch := oapi.BookPatch{PriceCents: ptr(int64(100 + i))}
			r, err := api.Client.UpdateBookWithApplicationMergePatchPlusJSONBodyWithResponse(ctx, c.JSON201.Id, &oapi.UpdateBookParams{IfMatch: &tag}, patch, alice.Auth())
			if err == nil {
				statuses[i] = r.StatusCode()
			}
		}()
	}
	wg.Wait()
	sort.Ints(statuses)
	if statuses[0] != 200 || statuses[1] != 412 {
		t.Fatalf("statuses %v, want one 200 and one 412", statuses)
	}
}

func TestMergePatchRules(t *testing.T) {
	api := newTestAPI(t)
	ctx := context.Background()
	alice := api.register("alice")
	c, _ := api.Client.CreateBookWithResponse(ctx, &oapi.CreateBookParams{}, newBook("Dune"), alice.Auth())
	path := "/books/" + c.JSON201.Id.String()
	h := http.Header{"Content-Type": {"application/merge-patch+json"}, "Authorization": {"Bearer " + alice.Access}}
	cases := []struct {
		body   string
		status int
	}{
		{`{}`, 400},               // nothing to change
		{`{"title": null}`, 400},  // required fields cannot be cleared
		{`{"title": "   "}`, 400}, // trimmed to nothing
		{`{"id": "01936f4e-8c1a-7d2b-9f3e-5a6b7c8d9e0f"}`, 400}, // server-owned
		{`{"owner_id": "01936f4e-8c1a-7d2b-9f3e-5a6b7c8d9e0f"}`, 400},
		{`{"updated_at": "2020-01-01T00:00:00Z"}`, 400},
		{`{"price_cents": -1}`, 400},
		{`{"isbn": "978-0-441-17271-0"}`, 400}, // bad check digit
		{`{"isbn": "978-0-441-17271-9", "published_year": 1965}`, 200},
		{`{"isbn": null}`, 200},
	}
	for _, c := range cases {
		res, body := api.do("PATCH", path, h, c.body)
		if res.StatusCode != c.status {
			t.Errorf("PATCH %s: %d, want %d: %s", c.body, res.StatusCode, c.status, body)
		}
	}
	res, body := api.do("PATCH", path, jsonHeader(alice.Access), `{"title":"x"}`)
	if res.StatusCode != 415 {
		t.Errorf("PATCH as application/json: %d, want 415: %s", res.StatusCode, body)
	}
}

// The hand-encoded answers (bookjson.go) say their length: a page of 20
// books is larger than net/http's buffer, and without Content-Length it
// would go out chunked, in more writes.
func TestBookJSONHasContentLength(t *testing.T) {
	api := newTestAPI(t)
	ctx := context.Background()
	alice := api.register("alice")
	var last *oapi.CreateBookResponse
	for i := range 20 {
		r, _ := api.Client.CreateBookWithResponse(ctx, &oapi.CreateBookParams{}, newBook(fmt.Sprintf("A rather long title to make the page large, number %d", i)), alice.Auth())
		if r.StatusCode() != 201 {
			t.Fatalf("create: %d %s", r.StatusCode(), r.Body)
		}
		last = r
	}
	list, err := api.Client.ListBooksWithResponse(ctx, &oapi.ListBooksParams{}, alice.Auth())
	if err != nil || list.JSON200 == nil || len(list.JSON200.Items) != 20 {
		t.Fatalf("list: %v %s", err, list.Body)
	}
	get, err := api.Client.GetBookWithResponse(ctx, last.JSON201.Id, alice.Auth())
	if err != nil || get.JSON200 == nil {
		t.Fatalf("get: %v %s", err, get.Body)
	}
	for name, res := range map[string]struct {
		r    *http.Response
		body []byte
	}{"list": {list.HTTPResponse, list.Body}, "get": {get.HTTPResponse, get.Body}} {
		if len(res.r.TransferEncoding) != 0 || res.r.ContentLength != int64(len(res.body)) {
			t.Errorf("%s: Transfer-Encoding %v, Content-Length %d for a body of %d bytes", name, res.r.TransferEncoding, res.r.ContentLength, len(res.body))
		}
	}
	if len(list.Body) <= 4096 {
		t.Errorf("the page is only %d bytes: make it larger than net/http's buffer", len(list.Body))
	}
}
