-- +goose Up
-- Fixed-window counters of failed attempts (logins, refresh tokens, current
-- passwords) and of registrations, shared by restarts and replicas.
CREATE TABLE throttle (
    key      TEXT        NOT NULL PRIMARY KEY,
    count    BIGINT      NOT NULL,
    reset_at TIMESTAMPTZ NOT NULL -- the window ends and the count restarts
);

CREATE INDEX throttle_reset_at ON throttle (reset_at);

-- +goose Down
DROP TABLE throttle;
