package httpapi

import (
	"github.com/oapi-codegen/nullable"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/bookstore"
)

// userOut is the wire form of a user: never the password hash.
func userOut(u bookstore.User) oapi.User {
	return oapi.User{Id: u.ID, Username: u.Username, Admin: u.Admin, CreatedAt: u.CreatedAt}
}

func bookOut(b bookstore.Book) oapi.Book {
	out := oapi.Book{
		Id: b.ID, OwnerId: b.OwnerID, Title: b.Title, Author: b.Author, Publisher: b.Publisher,
		PriceCents: b.PriceCents, CreatedAt: b.CreatedAt, UpdatedAt: b.UpdatedAt,
		Isbn: nullable.NewNullNullable[string](), PublishedYear: nullable.NewNullNullable[int](),
	}
	if b.ISBN != nil {
		out.Isbn.Set(*b.ISBN)
	}
	if b.PublishedYear != nil {
		out.PublishedYear.Set(*b.PublishedYear)
	}
	return out
}
