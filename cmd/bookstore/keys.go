package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/bookstore/bookstore/internal/auth"
)

const keysUsage = `Usage: bookstore keys rotate [flags]

Make a new signing key of the configured algorithm (--jwt-alg) and retire
the others. Running servers pick the new key up within a minute (at once
when they meet a token it signed); retired keys keep verifying until the
tokens they signed have expired (--access-ttl), then leave the JWKS.
Not available with --jwt-secret: change the secret instead.
`

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || args[0] != "rotate" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			io.WriteString(stdout, keysUsage)
			return nil
		}
		return usagef("keys: want the subcommand rotate")
	}
	f := newFlagSet("keys rotate", getenv, databaseSettings("jwt-alg", "jwt-secret", "access-ttl", "log-level")...)
	if err := parseFlags(f, args[1:], stdout, keysUsage); err != nil {
		return err
	}
	database, err := f.database()
	if err != nil {
		return err
	}
	alg, secret, err := f.jwt()
	if err != nil {
		return err
	}
	if secret != nil {
		return usagef("keys rotate: the signing key is BOOKSTORE_JWT_SECRET; rotate it by changing the secret")
	}
	ttl, err := f.duration("access-ttl", time.Second, 24*time.Hour)
	if err != nil {
		return err
	}
	db, err := openDatabase(ctx, database)
	if err != nil {
		return err
	}
	defer db.Close()
	cfg := auth.KeyConfig{Store: db, Alg: alg, AccessTTL: ttl}
	now := time.Now()
	if err := auth.RotateKey(ctx, cfg, now); err != nil {
		return err
	}
	kr, err := auth.LoadKeyring(ctx, cfg, now)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "new %s signing key %s\n", alg, kr.SigningKID())
	return nil
}
