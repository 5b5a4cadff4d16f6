-- Queries of cases (threads). The heavy lifting is in schema.sql's
-- functions: casegate_snapshot reads what a batch of decisions needs,
-- casegate_write writes their plans.

-- name: snapshot
-- $1 the batch's requests (JSON), $2 now, $3 the per-address cap.
SELECT casegate_snapshot(CAST($1 AS jsonb), $2, $3);

-- name: case-state
-- One case as a decision sees it (admin commands, the sweeper, merges).
SELECT casegate_case_state($1);

-- name: write
-- $1 the plans (JSON), $2 their messages' texts, $3 their raw bytes
-- (last: see casegate_write).
SELECT casegate_write(CAST($1 AS jsonb), $2, $3);

-- Rendering intents after the commit (compose.go).

-- name: claim-intents
-- Pending intents, oldest first, with the text and raw bytes of the message
-- they carry when they need them; locked so that concurrent composers (of
-- any instance) render each once.
SELECT i.id, i.case_id, i.kind, i.message_id, i.created_at, i.spec, i.source_message,
       CASE WHEN (i.spec->>'source_text')::boolean THEN m.text_body END AS source_text,
       CASE WHEN (i.spec->>'attach')::boolean THEN m.raw END AS source_raw
FROM intents i LEFT JOIN messages m ON m.id = i.source_message
WHERE i.rendered_at IS NULL
ORDER BY i.id
LIMIT $1
FOR UPDATE OF i SKIP LOCKED;

-- name: mark-rendered
-- $1 intents, $2 their outbox rows (0: could not be rendered), $3 now.
UPDATE intents i SET rendered_at = $3, outbox_id = NULLIF(x.outbox_id, 0)
FROM unnest(CAST($1 AS bigint[]), CAST($2 AS bigint[])) AS x(id, outbox_id)
WHERE i.id = x.id;

-- name: digest-timelines
-- The last 30 events of each case $1, oldest first.
SELECT c.id AS case_id, e.at, e.kind, e.actor, e.detail
FROM unnest(CAST($1 AS bigint[])) AS c(id)
CROSS JOIN LATERAL (SELECT id, at, kind, actor, detail FROM events
                    WHERE case_id = c.id ORDER BY id DESC LIMIT 30) e
ORDER BY c.id, e.id;

-- name: digest-messages
-- The last 3 messages of each case $1 a person wrote or staff sent, oldest
-- first; a digest quotes 4,000 bytes of each.
SELECT c.id AS case_id, x.at, x.direction, x.from_address, x.text
FROM unnest(CAST($1 AS bigint[])) AS c(id)
CROSS JOIN LATERAL (
    SELECT * FROM (
        SELECT m.id AS n, m.received_at AS at, CAST(m.direction AS text) AS direction, m.from_address, left(m.text_body, 4001) AS text
        FROM messages m WHERE m.case_id = c.id AND NOT m.automatic
        UNION ALL
        SELECT i.id, i.created_at, 'outbound', '', left(i.spec->'data'->>'Text', 4001)
        FROM intents i WHERE i.case_id = c.id AND i.kind = 'relayed'
    ) y ORDER BY y.at DESC, y.n DESC LIMIT 3) x
ORDER BY c.id, x.at;

-- name: last-customer-message
-- The latest words of the customer side of each case $1.
SELECT DISTINCT ON (m.case_id) m.case_id, m.text_body FROM messages m
JOIN participants p ON p.case_id = m.case_id AND p.address = m.from_address AND p.role IN ('customer', 'cc')
WHERE m.case_id = ANY(CAST($1 AS bigint[])) AND m.direction = 'inbound' AND NOT m.automatic
ORDER BY m.case_id, m.id DESC;

-- The sweeper (sweeper.go).

-- name: claim-due-timers
-- A sweep: the cases of due timers, oldest deadline first, that no other
-- instance and no filing holds. It locks the case rows, not the timers:
-- every writer of a case's timers holds the case lock first, so sweepers
-- and filings never wait on each other in a circle. Served by the
-- timers_due index, so its cost follows the due rows, not the open cases.
SELECT t.case_id FROM timers t
JOIN cases c ON c.id = t.case_id
WHERE t.due_at <= $1
ORDER BY t.due_at
LIMIT $2
FOR UPDATE OF c SKIP LOCKED;

-- name: postpone-timers
UPDATE timers SET due_at = $3 WHERE case_id = $1 AND due_at <= $2;

-- name: prune-auto-answers
-- Automatic answers older than the cap's 24 hours count for nothing.
DELETE FROM auto_answers WHERE at < $1;

-- Delivery failures, refiling (admin.go).

-- name: case-of-outbox
-- The case a mail of the outbox belongs to (an intent's, or an outbound
-- message row of older versions).
SELECT c.id AS case_id FROM cases c
WHERE c.id = COALESCE((SELECT i.case_id FROM intents i WHERE i.outbox_id = $1 LIMIT 1),
                      (SELECT m.case_id FROM messages m WHERE m.outbox_id = $1 LIMIT 1));

-- name: record-failure-notice
INSERT INTO delivery_failure_notices (delivery_id, notified_at) VALUES ($1, $2)
ON CONFLICT DO NOTHING
RETURNING delivery_id;

-- name: mark-refiled
-- Only the first refiling counts; a second one finds the row marked.
UPDATE quarantine SET refiled_at = $2, refiled_case = $3 WHERE id = $1 AND refiled_at IS NULL;

-- Refiling and the header of a case (the read side is views/).

-- name: case-header
SELECT id, subject, status, priority, category, customer, assignee, opened_at, updated_at, resolved_at
FROM cases WHERE id = $1;

-- name: get-quarantined
SELECT id, source, reason, raw, envelope_from, envelope_to, message_id, received_at,
       refiled_at, COALESCE(refiled_case, 0) AS refiled_case
FROM quarantine WHERE id = $1;

