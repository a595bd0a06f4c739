package httpapi_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/gen/oapi"
)

func TestChangePassword(t *testing.T) {
	api := newTestAPI(t)
	ctx := context.Background()
	alice := api.register("alice")
	other := api.login("alice", strongPassword)
	newPassword := "a brand new and quite long passphrase"

	wrong, _ := api.Client.ChangePasswordWithResponse(ctx, oapi.PasswordChange{CurrentPassword: "not my password at all", NewPassword: newPassword}, alice.Auth())
	if wrong.StatusCode() != 403 || wrong.ApplicationproblemJSON403.Type != "/problems/wrong-password" {
		t.Fatalf("wrong current password: %d %s", wrong.StatusCode(), wrong.Body)
	}
	weak, _ := api.Client.ChangePasswordWithResponse(ctx, oapi.PasswordChange{CurrentPassword: strongPassword, NewPassword: "passwordpassword"}, alice.Auth())
	if weak.StatusCode() != 400 || (*weak.ApplicationproblemJSON400.Errors)[0].Field != "new_password" {
		t.Fatalf("weak new password: %d %s", weak.StatusCode(), weak.Body)
	}
	res, err := api.Client.ChangePasswordWithResponse(ctx, oapi.PasswordChange{CurrentPassword: strongPassword, NewPassword: newPassword}, alice.Auth())
	if err != nil || res.StatusCode() != 204 {
		t.Fatalf("change: %v %d %s", err, res.StatusCode(), res.Body)
	}
	if me, _ := api.Client.GetCurrentUserWithResponse(ctx, alice.Auth()); me.StatusCode() != 200 {
		t.Errorf("this session ended: %d", me.StatusCode())
	}
	if me, _ := api.Client.GetCurrentUserWithResponse(ctx, other.Auth()); me.StatusCode() != 401 {
		t.Errorf("the other session survived: %d", me.StatusCode())
	}
	if r, _ := api.Client.RefreshTokenWithResponse(ctx, oapi.RefreshRequest{RefreshToken: other.Refresh}); r.StatusCode() != 401 {
		t.Errorf("the other session's refresh token survived: %d", r.StatusCode())
	}
	if r, _ := api.Client.LoginWithResponse(ctx, oapi.LoginRequest{Username: "alice", Password: strongPassword}); r.StatusCode() != 401 {
		t.Errorf("old password still logs in: %d", r.StatusCode())
	}
	api.login("alice", newPassword)
}

func TestSessions(t *testing.T) {
	api := newTestAPI(t)
	ctx := context.Background()
	alice := api.register("alice")
	second := api.login("alice", strongPassword)
	bob := api.register("bob")

	res, err := api.Client.ListMySessionsWithResponse(ctx, alice.Auth())
	if err != nil || res.JSON200 == nil || len(res.JSON200.Items) != 2 {
		t.Fatalf("list: %v %s", err, res.Body)
	}
	var current, otherID uuid.UUID
	for _, s := range res.JSON200.Items {
		if s.Current {
			current = s.Id
		} else {
			otherID = s.Id
		}
		if s.Ip == "" || s.UserAgent == "" {
			t.Errorf("session %+v lacks ip or user agent", s)
		}
	}
	if current == uuid.Nil || otherID == uuid.Nil {
		t.Fatalf("current/other not told apart: %s", res.Body)
	}
	// Bob cannot end alice's session.
	if r, _ := api.Client.RevokeMySessionWithResponse(ctx, otherID, bob.Auth()); r.StatusCode() != 404 {
		t.Errorf("bob revokes alice's session: %d", r.StatusCode())
	}
	if r, _ := api.Client.RevokeMySessionWithResponse(ctx, otherID, alice.Auth()); r.StatusCode() != 204 {
		t.Fatalf("revoke: %d %s", r.StatusCode(), r.Body)
	}
	if me, _ := api.Client.GetCurrentUserWithResponse(ctx, second.Auth()); me.StatusCode() != 401 {
		t.Errorf("revoked session still works: %d", me.StatusCode())
	}
	if r, _ := api.Client.RevokeMySessionWithResponse(ctx, otherID, alice.Auth()); r.StatusCode() != 404 {
		t.Errorf("revoking twice: %d", r.StatusCode())
	}
	if r, _ := api.Client.ListMySessionsWithResponse(ctx, alice.Auth()); len(r.JSON200.Items) != 1 {
		t.Errorf("%d sessions left, want 1", len(r.JSON200.Items))
	}
}

func TestUserAdministration(t *testing.T) {
	api := newTestAPI(t)
	ctx := context.Background()
	root := api.admin("root")
	alice, bob := api.register("alice"), api.register("bob")
	aliceID, bobID := uuid.MustParse(alice.ID), uuid.MustParse(bob.ID)

	t.Run("self and others", func(t *testing.T) {
		if r, _ := api.Client.GetUserWithResponse(ctx, aliceID, alice.Auth()); r.StatusCode() != 200 {
			t.Errorf("alice reads herself: %d", r.StatusCode())
		}
		if r, _ := api.Client.GetUserWithResponse(ctx, bobID, alice.Auth()); r.StatusCode() != 404 {
			t.Errorf("alice reads bob: %d", r.StatusCode())
		}
		if r, _ := api.Client.GetUserWithResponse(ctx, bobID, root.Auth()); r.StatusCode() != 200 {
			t.Errorf("admin reads bob: %d", r.StatusCode())
		}
		if r, _ := api.Client.GetUserWithResponse(ctx, uuid.Must(uuid.NewV7()), root.Auth()); r.StatusCode() != 404 {
			t.Errorf("admin reads nobody: %d", r.StatusCode())
		}
		if r, _ := api.Client.DeleteUserWithResponse(ctx, bobID, alice.Auth()); r.StatusCode() != 404 {
			t.Errorf("alice deletes bob: %d", r.StatusCode())
		}
	})
	t.Run("list users, admin only, paged, no hashes", func(t *testing.T) {
		if r, _ := api.Client.ListUsersWithResponse(ctx, &oapi.ListUsersParams{}, alice.Auth()); r.StatusCode() != 403 {
			t.Errorf("non-admin lists users: %d", r.StatusCode())
		}
		for i := range 5 {
			api.register(fmt.Sprintf("user%d", i))
		}
		var names []string
		params := oapi.ListUsersParams{Limit: ptr(3)}
		for {
			r, err := api.Client.ListUsersWithResponse(ctx, &params, root.Auth())
			if err != nil || r.JSON200 == nil {
				t.Fatalf("%v %s", err, r.Body)
			}
			for _, u := range r.JSON200.Items {
				names = append(names, u.Username)
			}
			if r.JSON200.NextCursor.IsNull() {
				break
			}
			params.Cursor = ptr(r.JSON200.NextCursor.MustGet())
		}
		want := []string{"alice", "bob", "root", "user0", "user1", "user2", "user3", "user4"}
		if fmt.Sprint(names) != fmt.Sprint(want) {
			t.Errorf("users %v, want %v", names, want)
		}
		r, _ := api.Client.ListUsersWithResponse(ctx, &oapi.ListUsersParams{Q: ptr("USER")}, root.Auth())
		if len(r.JSON200.Items) != 5 {
			t.Errorf("q=USER: %d users", len(r.JSON200.Items))
		}
	})
	t.Run("grant and remove admin, read fresh on the next request", func(t *testing.T) {
		if r, _ := api.Client.UpdateUserWithApplicationMergePatchPlusJSONBodyWithResponse(ctx, aliceID, oapi.UserPatch{Admin: true}, alice.Auth()); r.StatusCode() != 403 {
			t.Errorf("alice makes herself admin: %d", r.StatusCode())
		}
		r, _ := api.Client.UpdateUserWithApplicationMergePatchPlusJSONBodyWithResponse(ctx, aliceID, oapi.UserPatch{Admin: true}, root.Auth())
		if r.JSON200 == nil || !r.JSON200.Admin {
			t.Fatalf("grant: %d %s", r.StatusCode(), r.Body)
		}
		// The same access token now carries admin rights.
		if r, _ := api.Client.ListUsersWithResponse(ctx, &oapi.ListUsersParams{}, alice.Auth()); r.StatusCode() != 200 {
			t.Errorf("new admin lists users: %d", r.StatusCode())
		}
		api.Client.UpdateUserWithApplicationMergePatchPlusJSONBodyWithResponse(ctx, aliceID, oapi.UserPatch{Admin: false}, root.Auth())
		if r, _ := api.Client.ListUsersWithResponse(ctx, &oapi.ListUsersParams{}, alice.Auth()); r.StatusCode() != 403 {
			t.Errorf("former admin lists users: %d", r.StatusCode())
		}
		if r, _ := api.Client.UpdateUserWithApplicationMergePatchPlusJSONBodyWithResponse(ctx, uuid.Must(uuid.NewV7()), oapi.UserPatch{Admin: true}, root.Auth()); r.StatusCode() != 404 {
			t.Errorf("grant to nobody: %d", r.StatusCode())
		}
	})
	t.Run("revoke every session of a user", func(t *testing.T) {
		if r, _ := api.Client.RevokeUserSessionsWithResponse(ctx, bobID, alice.Auth()); r.StatusCode() != 403 {
			t.Errorf("non-admin: %d", r.StatusCode())
		}
		if r, _ := api.Client.RevokeUserSessionsWithResponse(ctx, uuid.Must(uuid.NewV7()), root.Auth()); r.StatusCode() != 404 {
			t.Errorf("nobody: %d", r.StatusCode())
		}
		if r, _ := api.Client.RevokeUserSessionsWithResponse(ctx, bobID, root.Auth()); r.StatusCode() != 204 {
			t.Fatalf("revoke: %d", r.StatusCode())
		}
		if me, _ := api.Client.GetCurrentUserWithResponse(ctx, bob.Auth()); me.StatusCode() != 401 {
			t.Errorf("bob's token survived: %d", me.StatusCode())
		}
	})
	t.Run("delete a user: books and sessions go at once", func(t *testing.T) {
		carol := api.register("carol")
		carolID := uuid.MustParse(carol.ID)
		b, _ := api.Client.CreateBookWithResponse(ctx, &oapi.CreateBookParams{}, newBook("Carol's"), carol.Auth())
		if r, _ := api.Client.DeleteUserWithResponse(ctx, carolID, root.Auth()); r.StatusCode() != 204 {
			t.Fatalf("delete: %d %s", r.StatusCode(), r.Body)
		}
		if me, _ := api.Client.GetCurrentUserWithResponse(ctx, carol.Auth()); me.StatusCode() != 401 {
			t.Errorf("deleted user's token works: %d", me.StatusCode())
		}
		if r, _ := api.Client.GetBookWithResponse(ctx, b.JSON201.Id, root.Auth()); r.StatusCode() != 404 {
			t.Errorf("deleted user's book is still there: %d", r.StatusCode())
		}
		if r, _ := api.Client.DeleteUserWithResponse(ctx, carolID, root.Auth()); r.StatusCode() != 404 {
			t.Errorf("delete twice: %d", r.StatusCode())
		}
		// Users may delete themselves.
		dave := api.register("dave")
		if r, _ := api.Client.DeleteUserWithResponse(ctx, uuid.MustParse(dave.ID), dave.Auth()); r.StatusCode() != 204 {
			t.Errorf("self delete: %d", r.StatusCode())
		}
		if r, _ := api.Client.LoginWithResponse(ctx, oapi.LoginRequest{Username: "dave", Password: strongPassword}); r.StatusCode() != 401 {
			t.Errorf("deleted user logs in: %d", r.StatusCode())
		}
	})
}
