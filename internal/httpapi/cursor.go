package httpapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"

	"github.com/bookstore/bookstore/gen/oapi"
)

// cursorMACSize is how much of the HMAC-SHA256 a cursor carries.
const cursorMACSize = 16

// cursorCodec makes page cursors opaque and tamper-evident: a JSON position
// followed by an HMAC over it and the query it belongs to, base64url encoded.
// A cursor is only valid for the query (filters and sort) that produced it.
type cursorCodec struct {
	key []byte
}

// pagePosition is where the next page starts: the last item's sort key and id.
type pagePosition struct {
	Key string `json:"k,omitempty"` // title or username
	Num int64  `json:"n,omitempty"` // created_at (unix ms) or price_cents
	ID  string `json:"i"`
}

func (c cursorCodec) mac(query string, payload []byte) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(query))
	m.Write([]byte{0})
	m.Write(payload)
	return m.Sum(nil)[:cursorMACSize]
}

// encode returns the cursor for pos within query (a canonical string of the
// filters and sort).
func (c cursorCodec) encode(query string, pos pagePosition) string {
	payload, _ := json.Marshal(pos) // a struct of strings and ints cannot fail
	return base64.RawURLEncoding.EncodeToString(append(payload, c.mac(query, payload)...))
}

// decode checks and opens a cursor made by encode for the same query.
func (c cursorCodec) decode(query, cursor string) (pagePosition, error) {
	bad := badRequest("the cursor is not valid for this query; start again without one",
		oapi.FieldError{Field: "query.cursor", Message: "is not a cursor this server issued for these filters and sort"})
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(raw) <= cursorMACSize {
		return pagePosition{}, bad
	}
	payload, sum := raw[:len(raw)-cursorMACSize], raw[len(raw)-cursorMACSize:]
	if !hmac.Equal(sum, c.mac(query, payload)) {
		return pagePosition{}, bad
	}
	var pos pagePosition
	if err := json.Unmarshal(payload, &pos); err != nil {
		return pagePosition{}, bad
	}
	return pos, nil
}
