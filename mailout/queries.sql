-- Queries of the outbox (see schema.sql, tables outbox and deliveries).

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
-- Deliveries went through: each recorded right after its handoff, so a
-- crash afterwards does not send it again. $1 the deliveries handed off
-- while the previous record was being written (often one), $2 now.
UPDATE deliveries SET status = 'sent', sent_at = $2, last_error = '' WHERE id = ANY ($1);

-- name: mark-failed
UPDATE deliveries SET status = 'failed', failed_at = $2, last_error = $3 WHERE id = $1;

-- name: reschedule
UPDATE deliveries SET next_attempt_at = $2, last_error = $3 WHERE id = $1;

-- Admin and metrics (casegate outbox, /metrics).

-- name: list-deliveries
-- $1: only failed deliveries; $2: at most this many, newest first.
SELECT d.id, d.outbox_id, o.message_id, d.recipient, d.status, d.attempts,
       d.next_attempt_at, d.last_error, d.sent_at, d.failed_at, o.created_at
FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
WHERE NOT $1 OR d.status = 'failed'
ORDER BY d.id DESC
LIMIT $2;

-- name: retry-delivery
-- A failed delivery goes back into the queue, due now; a queued one is
-- brought forward. A sent one is left alone (status tells the caller).
WITH d AS (SELECT id, status FROM deliveries WHERE id = $1 FOR UPDATE),
upd AS (
    UPDATE deliveries SET status = 'queued', next_attempt_at = $2, failed_at = NULL
    FROM d WHERE deliveries.id = d.id AND d.status IN ('queued', 'failed')
    RETURNING deliveries.id
)
SELECT d.status, EXISTS (SELECT 1 FROM upd) FROM d;

-- name: outbox-stats
-- Queued deliveries and the age of the oldest, failed deliveries.
SELECT count(*) FILTER (WHERE status = 'queued'),
       COALESCE(min(o.created_at) FILTER (WHERE status = 'queued'), $1),
       count(*) FILTER (WHERE status = 'failed')
FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
WHERE d.status IN ('queued', 'failed');

-- name: enqueue-all
-- Many mails in one round trip. Their bytes travel in one bytea ($2), each
-- mail a slice of it ($3 offsets, $4 lengths), so none is hex-escaped into
-- text. $1, $3–$5 hold one element per mail; $7 and $8 one per delivery,
-- naming its mail by Message-ID.
WITH mail AS (
    INSERT INTO outbox (message_id, raw, automatic, created_at)
    SELECT m.message_id, substring(CAST($2 AS bytea) FROM m.off + 1 FOR m.len), m.automatic, $6
    FROM unnest(CAST($1 AS text[]), CAST($3 AS integer[]), CAST($4 AS integer[]), CAST($5 AS boolean[]))
         WITH ORDINALITY AS m(message_id, off, len, automatic, n)
    ORDER BY m.n
    RETURNING id, message_id
), rcpt AS (
    INSERT INTO deliveries (outbox_id, recipient, next_attempt_at)
    SELECT mail.id, r.recipient, $6
    FROM unnest(CAST($7 AS text[]), CAST($8 AS text[])) WITH ORDINALITY AS r(message_id, recipient, n)
    JOIN mail ON mail.message_id = r.message_id
    ORDER BY r.n
)
SELECT id, message_id FROM mail;

-- name: mark-bounced
-- A failure report makes the delivery failed; a delay report only records
-- what it said.
UPDATE deliveries
SET bounce_status = $2, bounced_at = $3,
    status = CASE WHEN $4 THEN CAST('failed' AS delivery_status) ELSE status END,
    failed_at = CASE WHEN $4 THEN $3 ELSE failed_at END,
    last_error = CASE WHEN $4 THEN $5 ELSE last_error END
WHERE id = $1;
