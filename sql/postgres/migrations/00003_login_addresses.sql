-- +goose Up
-- Addresses (hashed with the username, keyed by network prefix) that logged
-- into an account recently. While an account's failed-login limit across all
-- addresses is tripped, these still get their own per-address allowance, so
-- a guesser elsewhere cannot lock the owner out.
CREATE TABLE login_address (
    key        TEXT        NOT NULL PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL -- forgotten after this
);

CREATE INDEX login_address_expires_at ON login_address (expires_at);

-- +goose Down
DROP TABLE login_address;
