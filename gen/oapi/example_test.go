package oapi_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"sync"
	"time"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/demo"
)

// tokens is a request editor that authenticates every request with the
// current access token, and first exchanges the refresh token for a new
// pair when the access token has expired or is about to.
type tokens struct {
	auth *oapi.ClientWithResponses // a client without this editor, for /auth/refresh

	mu        sync.Mutex
	pair      oapi.TokenPair
	expiresAt time.Time
}

// refreshMargin refreshes a little early, so that a token does not expire
// on its way to the server.
const refreshMargin = 30 * time.Second

func (t *tokens) set(pair oapi.TokenPair) {
	t.pair = pair
	t.expiresAt = time.Now().Add(time.Duration(pair.ExpiresIn) * time.Second)
}

// Edit is an oapi.RequestEditorFn.
func (t *tokens) Edit(ctx context.Context, req *http.Request) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if time.Until(t.expiresAt) < refreshMargin {
		res, err := t.auth.RefreshTokenWithResponse(ctx, oapi.RefreshTokenJSONRequestBody{RefreshToken: t.pair.RefreshToken})
		if err != nil {
			return err
		}
		if res.JSON200 == nil {
			// The session ended (logout, password change, reuse): log in again.
			return fmt.Errorf("refresh: %s", res.HTTPResponse.Status)
		}
		t.set(*res.JSON200) // each refresh token works once: keep the new one
		fmt.Println("access token refreshed")
	}
	req.Header.Set("Authorization", "Bearer "+t.pair.AccessToken)
	return nil
}

func ExampleNewClientWithResponses() {
	// A throwaway server for this example; point the client at yours,
	// e.g. http://127.0.0.1:8080.
	srv, err := demo.Start(demo.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()

	// Registering and logging in need no token.
	anon, err := oapi.NewClientWithResponses(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	creds := oapi.LoginRequest{Username: "alice", Password: "tangerine walrus under glass"}
	reg, err := anon.RegisterUserWithResponse(ctx, oapi.RegisterRequest{Username: creds.Username, Password: creds.Password})
	if err != nil {
		log.Fatal(err)
	}
	if reg.JSON201 == nil {
		log.Fatalf("register: %s: %s", reg.HTTPResponse.Status, reg.Body)
	}
	fmt.Println("registered", reg.JSON201.Username)

	login, err := anon.LoginWithResponse(ctx, creds)
	if err != nil {
		log.Fatal(err)
	}
	if login.JSON200 == nil {
		log.Fatalf("login: %s: %s", login.HTTPResponse.Status, login.Body)
	}
	auth := &tokens{auth: anon}
	auth.set(*login.JSON200)
	fmt.Println("logged in, token type", login.JSON200.TokenType)

	// Every request of this client goes through the editor.
	client, err := oapi.NewClientWithResponses(srv.URL, oapi.WithRequestEditorFn(auth.Edit))
	if err != nil {
		log.Fatal(err)
	}
	created, err := client.CreateBookWithResponse(ctx, nil, oapi.BookCreate{
		Title: "The Hobbit", Author: "J. R. R. Tolkien", Publisher: "George Allen & Unwin", PriceCents: 1299,
	})
	if err != nil {
		log.Fatal(err)
	}
	if created.JSON201 == nil {
		log.Fatalf("create: %s: %s", created.HTTPResponse.Status, created.Body)
	}
	fmt.Printf("created %q\n", created.JSON201.Title)

	// Time passes; pretend the access token has run out. The editor
	// refreshes it before the next request goes out.
	auth.mu.Lock()
	auth.expiresAt = time.Now()
	auth.mu.Unlock()

	sort := oapi.BookSort("title")
	list, err := client.ListBooksWithResponse(ctx, &oapi.ListBooksParams{Sort: &sort})
	if err != nil {
		log.Fatal(err)
	}
	if list.JSON200 == nil {
		// Errors are RFC 9457 problem documents, decoded per status.
		if p := list.ApplicationproblemJSON401; p != nil {
			log.Fatal(errors.New(p.Detail))
		}
		log.Fatalf("list: %s: %s", list.HTTPResponse.Status, list.Body)
	}
	for _, b := range list.JSON200.Items {
		fmt.Printf("%s by %s, %d.%02d\n", b.Title, b.Author, b.PriceCents/100, b.PriceCents%100)
	}
	// Output:
	// registered alice
	// logged in, token type Bearer
	// created "The Hobbit"
	// access token refreshed
	// The Hobbit by J. R. R. Tolkien, 12.99
}
