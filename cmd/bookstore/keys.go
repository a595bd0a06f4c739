package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/bookstore/bookstore/internal/auth"
)

const keysUsage = `Usage: bookstore keys rotate [flags]
       bookstore keys revoke --kid KID [flags]
       bookstore keys list [flags]

rotate makes a new signing key of the configured algorithm (--jwt-alg) and
retires the others. Running servers pick the new key up within a minute (at
once when they meet a token it signed); a retired key keeps verifying for
one access-token lifetime (--access-ttl) after its retirement, then leaves
the keyring and the JWKS. Not available with --jwt-secret: change the
secret instead.

revoke withdraws a stored key at once, for a key that may have leaked: it is
deleted, every server drops it at its next key reload (within a minute) and
refuses the tokens it signed from then on (401; clients refresh). If it was
the signing key, a new key takes its place.

list prints the stored keys: kid, algorithm, created, and retired or live.
`

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return usagef("keys: want the subcommand rotate, revoke or list")
	}
	switch args[0] {
	case "-h", "-help", "--help":
		io.WriteString(stdout, keysUsage)
		return nil
	case "rotate", "revoke", "list":
	default:
		return usagef("keys: want the subcommand rotate, revoke or list")
	}
	f := newFlagSet("keys "+args[0], getenv, databaseSettings("jwt-alg", "jwt-secret", "access-ttl", "log-level")...)
	var kid *string
	if args[0] == "revoke" {
		kid = f.fs.String("kid", "", "the `KID` of the key to withdraw (see keys list, or a token's header)")
	}
	if err := parseFlags(f, args[1:], stdout, keysUsage); err != nil {
		return err
	}
	if kid != nil && *kid == "" {
		return usagef("keys revoke: --kid is required")
	}
	database, err := f.database()
	if err != nil {
		return err
	}
	alg, secret, err := f.jwt()
	if err != nil {
		return err
	}
	if secret != nil && args[0] == "rotate" {
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
	cfg := auth.KeyConfig{Store: db, Alg: alg, Secret: secret, AccessTTL: ttl}
	now := time.Now()
	switch args[0] {
	case "rotate":
		if err := auth.RotateKey(ctx, cfg, now); err != nil {
			return err
		}
		kr, err := auth.LoadKeyring(ctx, cfg, now)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "new %s signing key %s\n", alg, kr.SigningKID())
	case "revoke":
		replaced, err := auth.RevokeKey(ctx, cfg, *kid, now)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s\n", *kid)
		if replaced {
			kr, err := auth.LoadKeyring(ctx, cfg, now)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "new %s signing key %s\n", alg, kr.SigningKID())
		}
	case "list":
		keys, err := db.SigningKeys(ctx)
		if err != nil {
			return err
		}
		for _, k := range keys {
			state := "live"
			if k.RetiredAt != nil {
				state = "retired " + k.RetiredAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(stdout, "%s %s created %s %s\n", k.KID, k.Alg, k.CreatedAt.UTC().Format(time.RFC3339), state)
		}
	}
	return nil
}
