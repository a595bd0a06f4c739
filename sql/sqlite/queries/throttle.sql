-- Taking a slot is StartThrottle then TakeThrottle in one write transaction
-- (the writer is one connection and its transactions are IMMEDIATE, so the
-- pair is atomic; sqlc does not see parameters in an upsert's SET, hence not
-- one upsert as on PostgreSQL). TakeThrottle restarts an ended window at 1,
-- counts on in a live window below the limit, and changes nothing (no row
-- returned) at the limit: however many arrive at once, no more than the
-- limit succeed in one window.

-- name: StartThrottle :exec
INSERT INTO throttle (key, count, reset_at) VALUES (@key, 0, @reset_at)
ON CONFLICT (key) DO NOTHING;

-- name: TakeThrottle :one
UPDATE throttle
SET count    = CASE WHEN reset_at <= CAST(@now AS INTEGER) THEN 1 ELSE count + 1 END,
    reset_at = CASE WHEN reset_at <= CAST(@now AS INTEGER) THEN CAST(@reset_at AS INTEGER) ELSE reset_at END
WHERE key = @key AND (reset_at <= CAST(@now AS INTEGER) OR count < CAST(@max_count AS INTEGER))
RETURNING count, reset_at;

-- name: RefundThrottle :exec
UPDATE throttle SET count = count - 1
WHERE key = @key AND count > 0 AND reset_at > CAST(@now AS INTEGER);

-- name: FindThrottle :one
SELECT count, reset_at FROM throttle WHERE key = @key AND reset_at > CAST(@now AS INTEGER);

-- name: ClearThrottle :exec
DELETE FROM throttle WHERE key = @key;

-- name: SweepThrottle :execrows
DELETE FROM throttle WHERE reset_at <= CAST(@now AS INTEGER);

-- name: RememberLoginAddress :exec
INSERT INTO login_address (key, expires_at) VALUES (@key, @expires_at)
ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at;

-- name: CountLoginAddress :one
SELECT count(*) FROM login_address WHERE key = @key AND expires_at > CAST(@now AS INTEGER);

-- name: SweepLoginAddresses :execrows
DELETE FROM login_address WHERE expires_at <= CAST(@now AS INTEGER);
