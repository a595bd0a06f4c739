package httpapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/bookstore"
)

// TestLoginWithHashOverCostCapsFailsClosed: an account whose stored hash
// would cost seconds per attempt (scrypt N=2^17 r=16 p=16, 8.7 s before the
// caps) answers every login as a wrong password, never computes it, and the
// server logs an error naming the user.
func TestLoginWithHashOverCostCapsFailsClosed(t *testing.T) {
	api := newTestAPI(t)
	ctx := context.Background()
	id := uuid.Must(uuid.NewV7())
	heavy := "scrypt:131072:16:16$salt$" + strings.Repeat("ab", 64)
	if err := api.Store.CreateUser(ctx, bookstore.User{ID: id, Username: "heavy", PasswordHash: heavy, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	res, err := api.Client.LoginWithResponse(ctx, oapi.LoginJSONRequestBody{Username: "heavy", Password: strongPassword})
	if err != nil || res.StatusCode() != 401 {
		t.Fatalf("login: %v %d %s", err, res.StatusCode(), res.Body)
	}
	logs := api.Logs.String()
	if !strings.Contains(logs, `"event":"password_hash_unusable"`) || !strings.Contains(logs, id.String()) || !strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("no error log naming the user: %s", logs)
	}
	if strings.Contains(logs, heavy) {
		t.Error("the stored hash was logged")
	}
}
