package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/oapi-codegen/nullable"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/bookstore"
)

func bookNotFound() *problem { return notFound("book not found") }

func etag(b bookstore.Book) string { return `"` + strconv.FormatInt(b.Version, 10) + `"` }

// ifMatch checks an If-Match header (RFC 9110: strong comparison, `*`, or a
// list) against the book's current ETag.
func ifMatch(header *string, b bookstore.Book) error {
	if header == nil {
		return nil
	}
	current := etag(b)
	for _, tag := range strings.Split(*header, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || tag == current {
			return nil
		}
	}
	return bookstore.Errorf(bookstore.ErrPreconditionFailed,
		"the book has changed: its ETag is now %s, not %s; read it again", current, strings.TrimSpace(*header))
}

func (s *Server) CreateBook(ctx context.Context, req oapi.CreateBookRequestObject) (oapi.CreateBookResponseObject, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	in := req.Body
	b := bookstore.Book{OwnerID: p.UserID, PriceCents: in.PriceCents, Version: 1}
	if err := setText(&b.Title, "title", &in.Title); err != nil {
		return nil, err
	}
	if err := setText(&b.Author, "author", &in.Author); err != nil {
		return nil, err
	}
	if err := setText(&b.Publisher, "publisher", &in.Publisher); err != nil {
		return nil, err
	}
	if err := setOptional(&b, in.Isbn, in.PublishedYear); err != nil {
		return nil, err
	}
	var key *bookstore.IdempotencyKey
	if req.Params.IdempotencyKey != nil {
		key = &bookstore.IdempotencyKey{Key: *req.Params.IdempotencyKey, Fingerprint: bookFingerprint(b)}
	}
	if b.ID, err = uuid.NewV7(); err != nil {
		return nil, err
	}
	b.CreatedAt = s.now().Truncate(time.Millisecond)
	b.UpdatedAt = b.CreatedAt
	b, err = s.store.CreateBook(ctx, b, key)
	if err != nil {
		return nil, err
	}
	return oapi.CreateBook201JSONResponse{
		Body:    bookOut(b),
		Headers: oapi.CreateBook201ResponseHeaders{Location: "/books/" + b.ID.String(), ETag: etag(b)},
	}, nil
}

// bookFingerprint identifies a create request by its normalised content,
// so a retry with the same Idempotency-Key can be told from a new request.
func bookFingerprint(b bookstore.Book) []byte {
	canon, _ := json.Marshal([]any{b.Title, b.Author, b.Publisher, b.PriceCents, b.ISBN, b.PublishedYear})
	sum := sha256.Sum256(canon)
	return sum[:]
}

// setText trims and checks a text field into dst; a nil src leaves dst.
func setText(dst *string, field string, src *string) error {
	if src == nil {
		return nil
	}
	v, err := bookstore.CleanText(field, *src)
	if err != nil {
		return err
	}
	*dst = v
	return nil
}

// setOptional applies the clearable fields: absent leaves, null clears.
func setOptional(b *bookstore.Book, isbn nullable.Nullable[string], year nullable.Nullable[int]) error {
	if isbn.IsSpecified() {
		if isbn.IsNull() {
			b.ISBN = nil
		} else {
			v, err := bookstore.NormalizeISBN(isbn.MustGet())
			if err != nil {
				return err
			}
			b.ISBN = &v
		}
	}
	if year.IsSpecified() {
		if year.IsNull() {
			b.PublishedYear = nil
		} else {
			v := year.MustGet()
			b.PublishedYear = &v
		}
	}
	return nil
}

// findVisibleBook returns the book if the caller may see it; everyone else
// is told it does not exist.
func (s *Server) findVisibleBook(ctx context.Context, p bookstore.Principal, id uuid.UUID) (bookstore.Book, error) {
	b, err := s.store.FindBookByID(ctx, id)
	if errors.Is(err, bookstore.ErrNotFound) || err == nil && !bookstore.CanSeeBook(p, b) {
		return bookstore.Book{}, bookNotFound()
	}
	return b, err
}

func (s *Server) GetBook(ctx context.Context, req oapi.GetBookRequestObject) (oapi.GetBookResponseObject, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	b, err := s.findVisibleBook(ctx, p, req.Id)
	if err != nil {
		return nil, err
	}
	return bookOK{b}, nil
}

func (s *Server) UpdateBook(ctx context.Context, req oapi.UpdateBookRequestObject) (oapi.UpdateBookResponseObject, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	patch := req.Body
	b, err := s.store.UpdateBook(ctx, req.Id, func(b *bookstore.Book) error {
		if !bookstore.CanSeeBook(p, *b) {
			return bookNotFound()
		}
		if err := ifMatch(req.Params.IfMatch, *b); err != nil {
			return err
		}
		if err := errors.Join(
			setText(&b.Title, "title", patch.Title),
			setText(&b.Author, "author", patch.Author),
			setText(&b.Publisher, "publisher", patch.Publisher),
			setOptional(b, patch.Isbn, patch.PublishedYear),
		); err != nil {
			return joinInvalid(err)
		}
		if patch.PriceCents != nil {
			b.PriceCents = *patch.PriceCents
		}
		b.UpdatedAt = s.now().Truncate(time.Millisecond)
		return nil
	})
	if errors.Is(err, bookstore.ErrNotFound) {
		return nil, bookNotFound()
	}
	if err != nil {
		return nil, err
	}
	return oapi.UpdateBook200JSONResponse{Body: bookOut(b), Headers: oapi.UpdateBook200ResponseHeaders{ETag: etag(b)}}, nil
}

// joinInvalid merges several field errors into one.
func joinInvalid(err error) error {
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		return err
	}
	out := &bookstore.Error{Kind: bookstore.ErrInvalid}
	var msgs []string
	for _, e := range joined.Unwrap() {
		var de *bookstore.Error
		if !errors.As(e, &de) {
			return e
		}
		msgs = append(msgs, de.Message)
		out.Fields = append(out.Fields, de.Fields...)
	}
	out.Message = strings.Join(msgs, "; ")
	return out
}

func (s *Server) DeleteBook(ctx context.Context, req oapi.DeleteBookRequestObject) (oapi.DeleteBookResponseObject, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	err = s.store.DeleteBook(ctx, req.Id, func(b bookstore.Book) error {
		if !bookstore.CanSeeBook(p, b) {
			return bookNotFound()
		}
		return ifMatch(req.Params.IfMatch, b)
	})
	if errors.Is(err, bookstore.ErrNotFound) {
		return nil, bookNotFound()
	}
	if err != nil {
		return nil, err
	}
	return oapi.DeleteBook204Response{}, nil
}

func pageLimit(limit *int) int {
	if limit == nil {
		return 20
	}
	return *limit
}

func (s *Server) ListBooks(ctx context.Context, req oapi.ListBooksRequestObject) (oapi.ListBooksResponseObject, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	params := req.Params
	f := bookstore.BookFilter{Limit: pageLimit(params.Limit), Sort: bookstore.SortCreatedAt, OwnerID: &p.UserID}
	if params.Sort != nil {
		f.Sort = bookstore.BookSort(*params.Sort)
	}
	if params.Q != nil {
		f.Query = strings.TrimSpace(*params.Q)
	}
	if params.Author != nil {
		f.Author = strings.TrimSpace(*params.Author)
	}
	owner := p.UserID.String()
	if params.Owner != nil {
		if !p.Admin {
			return nil, forbidden("only admins may list other users' books (owner=)")
		}
		owner = strings.ToLower(*params.Owner)
		if owner == "all" {
			f.OwnerID = nil
		} else {
			id, err := uuid.Parse(owner)
			if err != nil {
				return nil, badRequest("owner must be a user id or all", oapi.FieldError{Field: "query.owner", Message: "must be a user id or all"})
			}
			f.OwnerID = &id
		}
	}
	// The cursor is bound to everything that shapes the result.
	query := strings.Join([]string{"books", owner, string(f.Sort), f.Query, f.Author}, "\x00")
	if params.Cursor != nil {
		pos, err := s.cursors.decode(query, *params.Cursor)
		if err != nil {
			return nil, err
		}
		id, err := uuid.Parse(pos.ID)
		if err != nil {
			return nil, badRequest("the cursor is not valid", oapi.FieldError{Field: "query.cursor", Message: "is not valid"})
		}
		f.After = &bookstore.Book{ID: id, Title: pos.Key, PriceCents: pos.Num, CreatedAt: time.UnixMilli(pos.Num).UTC()}
	}
	want := f.Limit
	f.Limit++ // one more tells whether there is a next page
	books, err := s.store.ListBooks(ctx, f)
	if err != nil {
		return nil, err
	}
	page := bookPageOK{books: books}
	if len(books) > want {
		page.books = books[:want]
		page.next = s.cursors.encode(query, bookPosition(f.Sort, books[want-1]))
	}
	return page, nil
}

// bookPosition is the keyset position after b in the given order.
func bookPosition(sort bookstore.BookSort, b bookstore.Book) pagePosition {
	pos := pagePosition{ID: b.ID.String()}
	switch strings.TrimPrefix(string(sort), "-") {
	case "title":
		pos.Key = b.Title
	case "price_cents":
		pos.Num = b.PriceCents
	default:
		pos.Num = b.CreatedAt.UnixMilli()
	}
	return pos
}
