-- A hit is one statement: it starts a window (count 1) for a new key or one
-- whose window has ended, and counts on in a live window. Concurrent hits on
-- one key, from any replica, queue on the row and all count.
-- name: HitThrottle :one
INSERT INTO throttle (key, count, reset_at) VALUES (@key, 1, @reset_at)
ON CONFLICT (key) DO UPDATE
SET count    = CASE WHEN throttle.reset_at <= @now::timestamptz THEN 1 ELSE throttle.count + 1 END,
    reset_at = CASE WHEN throttle.reset_at <= @now::timestamptz THEN excluded.reset_at ELSE throttle.reset_at END
RETURNING count, reset_at;

-- name: FindThrottle :one
SELECT count, reset_at FROM throttle WHERE key = @key AND reset_at > @now::timestamptz;

-- name: ClearThrottle :exec
DELETE FROM throttle WHERE key = @key;

-- name: SweepThrottle :execrows
DELETE FROM throttle WHERE reset_at <= @now::timestamptz;
