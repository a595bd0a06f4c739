-- Taking a slot is one statement: it starts a window (count 1) for a new key
-- or one whose window has ended, counts on in a live window below the limit,
-- and changes nothing (no row returned) at the limit. Concurrent takes on one
-- key, from any replica, queue on the row, so no more than the limit ever
-- succeed in one window.
-- name: TakeThrottle :one
INSERT INTO throttle (key, count, reset_at) VALUES (@key, 1, @reset_at)
ON CONFLICT (key) DO UPDATE
SET count    = CASE WHEN throttle.reset_at <= @now::timestamptz THEN 1 ELSE throttle.count + 1 END,
    reset_at = CASE WHEN throttle.reset_at <= @now::timestamptz THEN excluded.reset_at ELSE throttle.reset_at END
WHERE throttle.reset_at <= @now::timestamptz OR throttle.count < @max_count::bigint
RETURNING count, reset_at;

-- name: RefundThrottle :exec
UPDATE throttle SET count = count - 1
WHERE key = @key AND count > 0 AND reset_at > @now::timestamptz;

-- name: FindThrottle :one
SELECT count, reset_at FROM throttle WHERE key = @key AND reset_at > @now::timestamptz;

-- name: ClearThrottle :exec
DELETE FROM throttle WHERE key = @key;

-- name: SweepThrottle :execrows
DELETE FROM throttle WHERE reset_at <= @now::timestamptz;

-- name: RememberLoginAddress :exec
INSERT INTO login_address (key, expires_at) VALUES (@key, @expires_at)
ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at;

-- name: CountLoginAddress :one
SELECT count(*) FROM login_address WHERE key = @key AND expires_at > @now::timestamptz;

-- name: SweepLoginAddresses :execrows
DELETE FROM login_address WHERE expires_at <= @now::timestamptz;
