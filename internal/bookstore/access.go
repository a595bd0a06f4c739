package bookstore

import "github.com/google/uuid"

// CanSeeBook reports whether p may read, change or delete b. Everyone else is
// told the book does not exist.
func CanSeeBook(p Principal, b Book) bool {
	return p.Admin || p.UserID == b.OwnerID
}

// CanSeeUser reports whether p may read or delete the account id.
func CanSeeUser(p Principal, id uuid.UUID) bool {
	return p.Admin || p.UserID == id
}

// RemovesLastAdmin reports whether demoting or deleting user id would leave
// no admin, given the ids of every admin.
func RemovesLastAdmin(adminIDs []uuid.UUID, id uuid.UUID) bool {
	return len(adminIDs) == 1 && adminIDs[0] == id
}
