-- Queries of the outbox (see schema.sql, tables outbox and deliveries).

-- name: enqueue
-- One round trip: the rendered mail and one delivery row per recipient.
WITH mail AS (
    INSERT INTO outbox (message_id, raw, automatic, created_at)
    VALUES ($1, $2, $3, $4)
    RETURNING id
), rcpt AS (
    INSERT INTO deliveries (outbox_id, recipient, next_attempt_at)
    SELECT mail.id, r, $4 FROM mail, unnest(CAST($5 AS text[])) AS r
)
SELECT id FROM mail;

-- name: claim
-- Lease due deliveries: attempts counts the try, next_attempt_at moves to the
-- end of the lease so a crashed sender's rows are retried by anyone later.
UPDATE deliveries d
SET attempts = d.attempts + 1, next_attempt_at = $2
FROM outbox o
WHERE d.id IN (
    SELECT id FROM deliveries
    WHERE status = 'queued' AND next_attempt_at <= $1
    ORDER BY next_attempt_at
    LIMIT $3
    FOR UPDATE SKIP LOCKED
) AND o.id = d.outbox_id
RETURNING d.id, d.outbox_id, d.recipient, d.attempts, o.message_id, o.raw, o.automatic, o.created_at;

-- name: mark-sent
-- One statement for every delivery of a batch that went through.
UPDATE deliveries SET status = 'sent', sent_at = $2, last_error = '' WHERE id = ANY(CAST($1 AS bigint[]));

-- name: mark-failed
UPDATE deliveries SET status = 'failed', failed_at = $2, last_error = $3 WHERE id = $1;

-- name: reschedule
UPDATE deliveries SET next_attempt_at = $2, last_error = $3 WHERE id = $1;
