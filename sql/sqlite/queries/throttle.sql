-- A hit is ExpireThrottle then HitThrottle in one transaction: a window
-- that has ended is dropped, so the count restarts at 1.

-- name: ExpireThrottle :exec
DELETE FROM throttle WHERE key = @key AND reset_at <= CAST(@now AS INTEGER);

-- name: HitThrottle :one
INSERT INTO throttle (key, count, reset_at) VALUES (@key, 1, @reset_at)
ON CONFLICT (key) DO UPDATE SET count = throttle.count + 1
RETURNING count, reset_at;

-- name: FindThrottle :one
SELECT count, reset_at FROM throttle WHERE key = @key AND reset_at > CAST(@now AS INTEGER);

-- name: ClearThrottle :exec
DELETE FROM throttle WHERE key = @key;

-- name: SweepThrottle :execrows
DELETE FROM throttle WHERE reset_at <= CAST(@now AS INTEGER);
