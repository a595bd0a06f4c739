package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/bookstore/bookstore/internal/auth"
	"github.com/bookstore/bookstore/internal/bookstore"
)

// The first admin is configured by environment only (a password on the
// command line would show in the process list); the log names the
// variables.
const (
	EnvAdminUsername = "BOOKSTORE_ADMIN_USERNAME"
	EnvAdminPassword = "BOOKSTORE_ADMIN_PASSWORD"
)

// bootstrapAdmin creates the admin named by BOOKSTORE_ADMIN_USERNAME and
// BOOKSTORE_ADMIN_PASSWORD when both are set and the database has no admin
// at all. Once there is an admin, the variables are ignored: restarts with
// them still set never reset a password, and never bring back an admin that
// was deleted or demoted.
func bootstrapAdmin(ctx context.Context, users bookstore.UserStore, h *auth.Hasher, policy auth.PasswordPolicy, username, password string, log *slog.Logger) error {
	switch {
	case username == "" && password == "":
		return nil
	case password == "":
		// Dropping the password after the first start is good practice.
		log.Info(EnvAdminUsername + " is set without " + EnvAdminPassword + ": no admin is created")
		return nil
	case username == "":
		log.Warn(EnvAdminPassword + " is set without " + EnvAdminUsername + ": no admin is created")
		return nil
	}
	existing, err := users.FindUserByUsername(ctx, username)
	switch {
	case err == nil:
		if existing.Admin {
			log.Info("the admin from "+EnvAdminUsername+" exists; left unchanged", "username", existing.Username)
		} else {
			log.Warn("the user named by "+EnvAdminUsername+" exists but is not an admin; left unchanged", "username", existing.Username)
		}
		return nil
	case !errors.Is(err, bookstore.ErrNotFound):
		return fmt.Errorf("look up the first admin: %w", err)
	}
	u, err := auth.NewUser(ctx, h, policy, username, password, true, time.Now())
	if err != nil {
		return fmt.Errorf("%s/%s: %s", EnvAdminUsername, EnvAdminPassword, bookstore.ClientMessage(err))
	}
	created, err := users.CreateFirstAdmin(ctx, u)
	switch {
	case errors.Is(err, bookstore.ErrConflict): // another replica was quicker
		log.Info("the admin from "+EnvAdminUsername+" exists; left unchanged", "username", username)
		return nil
	case err != nil:
		return fmt.Errorf("create the first admin: %w", err)
	case !created:
		log.Info("the database has an admin: "+EnvAdminUsername+" and "+EnvAdminPassword+" are ignored", "username", username)
		return nil
	}
	log.Info("created the first admin", "username", u.Username, "user_id", u.ID.String())
	return nil
}
