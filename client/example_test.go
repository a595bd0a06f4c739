package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/client"
	"github.com/bookstore/bookstore/internal/demo"
)

// A user registers, logs in, adds a book and lists their books; an error
// answer is a *client.Problem. The client keeps the access token fresh by
// itself for as long as the session lasts.
func Example() {
	// A throwaway server for this example; point the client at yours,
	// e.g. http://127.0.0.1:8080.
	srv, err := demo.Start(demo.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()

	c, err := client.New(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.Register(ctx, "alice", "tangerine walrus under glass"); err != nil {
		log.Fatal(err)
	}
	if err := c.Login(ctx, "alice", "tangerine walrus under glass"); err != nil {
		log.Fatal(err)
	}
	book, err := c.CreateBook(ctx, client.BookCreate{
		Title: "The Hobbit", Author: "J. R. R. Tolkien", Publisher: "George Allen & Unwin", PriceCents: 1299,
	}, "")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("created %q\n", book.Title)

	page, err := c.ListBooks(ctx, &client.ListBooksParams{})
	if err != nil {
		log.Fatal(err)
	}
	for _, b := range page.Items {
		fmt.Printf("%s by %s, %d.%02d\n", b.Title, b.Author, b.PriceCents/100, b.PriceCents%100)
	}

	// Errors are the API's problem documents.
	_, _, err = c.Book(ctx, uuid.New())
	var p *client.Problem
	if errors.As(err, &p) {
		fmt.Println(p.Status, p.Type)
	}

	if err := c.Logout(ctx); err != nil {
		log.Fatal(err)
	}
	// Output:
	// created "The Hobbit"
	// The Hobbit by J. R. R. Tolkien, 12.99
	// 404 /problems/not-found
}
