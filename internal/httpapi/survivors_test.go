package httpapi_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// These tests close the gaps a mutation review found (issue 15, item 9):
// each fails against the weaker implementation named in its comment.

// If-Match uses strong comparison (RFC 9110 §13.1.1): a weak tag never
// matches, even with the current version.
func TestIfMatchRefusesWeakETags(t *testing.T) {
	api := newTestAPI(t)
	alice := api.register("alice")
	res, body := api.do("POST", "/books", jsonHeader(alice.Access), `{"title":"Dune","author":"Frank Herbert","publisher":"Chilton","price_cents":999}`)
	if res.StatusCode != 201 {
		t.Fatalf("create: %d %s", res.StatusCode, body)
	}
	path := res.Header.Get("Location")
	current := res.Header.Get("ETag")
	for _, method := range []string{"PATCH", "DELETE"} {
		h := jsonHeader(alice.Access)
		h.Set("Content-Type", "application/merge-patch+json")
		h.Set("If-Match", "W/"+current)
		res, body := api.do(method, path, h, `{"price_cents":1099}`)
		if res.StatusCode != 412 || problemOf(t, body).Type != "/problems/precondition-failed" {
			t.Errorf("%s with If-Match W/%s: %d %s", method, current, res.StatusCode, body)
		}
	}
	if res, _ := api.do("GET", path, jsonHeader(alice.Access), ""); res.StatusCode != 200 || res.Header.Get("ETag") != current {
		t.Fatalf("the book changed after weak If-Match requests: %d %s", res.StatusCode, res.Header.Get("ETag"))
	}
}

// An Idempotency-Key replay must carry the same request: a body differing
// in any one field is a different request (409), not the earlier book.
func TestIdempotencyFingerprintCoversEveryField(t *testing.T) {
	api := newTestAPI(t)
	alice := api.register("alice")
	base := map[string]any{
		"title": "Dune", "author": "Frank Herbert", "publisher": "Chilton",
		"price_cents": 999, "isbn": "978-0-441-17271-9", "published_year": 1965,
	}
	encode := func(change map[string]any) string {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range change {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	h := jsonHeader(alice.Access)
	h.Set("Idempotency-Key", "order-1")
	if res, body := api.do("POST", "/books", h, encode(nil)); res.StatusCode != 201 {
		t.Fatalf("create: %d %s", res.StatusCode, body)
	}
	for field, other := range map[string]any{
		"title": "Dune Messiah", "author": "Brian Herbert", "publisher": "Ace",
		"price_cents": 1000, "isbn": "978-0-261-10221-7", "published_year": 1966,
	} {
		if res, body := api.do("POST", "/books", h, encode(map[string]any{field: other})); res.StatusCode != 409 {
			t.Errorf("replay with another %s: %d %s", field, res.StatusCode, body)
		}
	}
	if res, body := api.do("POST", "/books", h, encode(nil)); res.StatusCode != 201 {
		t.Errorf("the true replay: %d %s", res.StatusCode, body)
	}
}

// An admin's page cursor is bound to the owner filter it was made for.
func TestAdminCursorBoundToOwner(t *testing.T) {
	api := newTestAPI(t)
	root := api.admin("root")
	alice, bob := api.register("alice"), api.register("bob")
	for _, a := range []account{alice, bob} {
		for _, title := range []string{"One", "Two"} {
			if res, body := api.do("POST", "/books", jsonHeader(a.Access), `{"title":"`+title+`","author":"A","publisher":"P","price_cents":1}`); res.StatusCode != 201 {
				t.Fatalf("create: %d %s", res.StatusCode, body)
			}
		}
	}
	res, body := api.do("GET", "/books?limit=1&owner="+alice.ID, jsonHeader(root.Access), "")
	var page struct {
		NextCursor *string `json:"next_cursor"`
	}
	if res.StatusCode != 200 || json.Unmarshal(body, &page) != nil || page.NextCursor == nil {
		t.Fatalf("first page of alice's books: %d %s", res.StatusCode, body)
	}
	cursor := url.QueryEscape(*page.NextCursor)
	for _, owner := range []string{bob.ID, "all"} {
		res, body := api.do("GET", "/books?limit=1&owner="+owner+"&cursor="+cursor, jsonHeader(root.Access), "")
		if res.StatusCode != 400 || !strings.Contains(string(body), "cursor") {
			t.Errorf("alice's cursor with owner=%s: %d %s", owner, res.StatusCode, body)
		}
	}
	if res, body := api.do("GET", "/books?limit=1&owner="+alice.ID+"&cursor="+cursor, jsonHeader(root.Access), ""); res.StatusCode != 200 {
		t.Errorf("alice's cursor with her filter: %d %s", res.StatusCode, body)
	}
}
