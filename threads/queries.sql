-- Queries of cases, participants, messages and events (see schema.sql).

-- name: find-duplicate
-- Exactly once: the same Message-ID with the same body was filed before.
SELECT case_id, id FROM messages
WHERE direction = 'inbound' AND message_id = $1 AND body_sha256 = $2;

-- name: case-by-message-ids
-- Threading by In-Reply-To/References: the newest case that holds any of
-- the ids, whether we received or sent that message.
SELECT case_id FROM messages
WHERE message_id = ANY(CAST($1 AS text[]))
ORDER BY id DESC
LIMIT 1;

-- name: case-exists
SELECT id FROM cases WHERE id = $1;

-- name: is-participant
SELECT EXISTS (SELECT 1 FROM participants WHERE case_id = $1 AND address = $2);

-- name: open-case
-- A new case with its customer as first participant, in one round trip.
WITH c AS (
    INSERT INTO cases (subject, customer, opened_at, updated_at)
    VALUES ($1, $2, $4, $4)
    RETURNING id
), p AS (
    INSERT INTO participants (case_id, address, name, role, added_at)
    SELECT c.id, $2, $3, 'customer', $4 FROM c
)
SELECT id FROM c;

-- name: lock-case
SELECT status FROM cases WHERE id = $1 FOR UPDATE;

-- name: touch-case
-- A customer wrote: a case waiting on them or resolved is open again.
UPDATE cases
SET updated_at = $2,
    status = CASE WHEN status IN ('pending', 'resolved') THEN CAST('open' AS case_status) ELSE status END,
    resolved_at = CASE WHEN status = 'resolved' THEN NULL ELSE resolved_at END
WHERE id = $1;

-- name: insert-inbound
INSERT INTO messages (case_id, direction, message_id, body_sha256, raw, source,
    envelope_from, envelope_to, from_address, from_name, subject, text_body,
    in_reply_to, automatic, problems, received_at)
VALUES ($1, 'inbound', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
RETURNING id;

-- name: insert-outbound
INSERT INTO messages (case_id, direction, message_id, outbox_id, source,
    from_address, subject, text_body, in_reply_to, automatic, received_at)
VALUES ($1, 'outbound', $2, $3, 'casegate', $4, $5, $6, $7, $8, $9)
RETURNING id;

-- name: add-event
INSERT INTO events (case_id, at, kind, actor, message_id, detail)
VALUES ($1, $2, $3, $4, $5, $6);

-- name: set-status
-- resolved_at marks the latest resolution; reopening clears it.
UPDATE cases
SET status = CAST($2 AS case_status), updated_at = $3,
    resolved_at = CASE WHEN CAST($2 AS case_status) = 'resolved' THEN $3
                       WHEN CAST($2 AS case_status) IN ('open', 'new', 'pending') THEN NULL
                       ELSE resolved_at END
WHERE id = $1;

-- name: set-priority
UPDATE cases SET priority = CAST($2 AS case_priority), updated_at = $3 WHERE id = $1;

-- name: set-assignee
UPDATE cases SET assignee = $2, updated_at = $3 WHERE id = $1;

-- name: case-header
SELECT id, subject, status, priority, category, customer, assignee, opened_at, updated_at, resolved_at
FROM cases WHERE id = $1;

-- Escalation rules (issue 5): classification, timers, firings, digests.

-- name: set-classification
UPDATE cases SET category = CAST($2 AS case_category), risk = CAST($3 AS case_risk) WHERE id = $1;

-- name: raise-risk
-- A later mail may raise the risk, never lower it; returns the old level
-- only when it changed.
UPDATE cases c SET risk = CAST($2 AS case_risk)
FROM (SELECT id, risk FROM cases WHERE id = $1) old
WHERE c.id = old.id AND old.risk < CAST($2 AS case_risk)
RETURNING old.risk;

-- name: set-staff-responded
UPDATE cases SET staff_responded_at = $2 WHERE id = $1;

-- name: escalation-state
-- What rules look at: the case and the times (µs since the epoch) of the
-- customer mails nobody on staff has answered yet.
SELECT c.status, c.priority, c.category, c.risk, c.opened_at, c.staff_responded_at,
    COALESCE((
        SELECT array_agg(CAST(extract(epoch FROM m.received_at) * 1000000 AS bigint) ORDER BY m.id)
        FROM messages m
        WHERE m.case_id = c.id AND m.direction = 'inbound' AND NOT m.automatic
          AND m.received_at > COALESCE(c.staff_responded_at, CAST('-infinity' AS timestamptz))
          AND NOT EXISTS (SELECT 1 FROM participants p
                          WHERE p.case_id = c.id AND p.address = m.from_address AND p.role IN ('staff', 'pr'))
    ), CAST('{}' AS bigint[])) AS unanswered
FROM cases c WHERE c.id = $1;

-- name: delete-timers
DELETE FROM timers WHERE case_id = $1;

-- name: insert-timers
-- Deadlines of a case, except those whose cycle has fired already.
INSERT INTO timers (case_id, rule, since, due_at)
SELECT $1, t.rule, t.since, t.due_at
FROM unnest(CAST($2 AS text[]), CAST($3 AS timestamptz[]), CAST($4 AS timestamptz[])) AS t(rule, since, due_at)
WHERE NOT EXISTS (SELECT 1 FROM escalations e WHERE e.case_id = $1 AND e.rule = t.rule AND e.since = t.since);

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

-- name: record-escalation
-- The unique key makes a rule fire at most once per case and cycle.
INSERT INTO escalations (case_id, rule, since, due_at, fired_at, actions)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT DO NOTHING
RETURNING case_id;

-- name: add-pr-participant
INSERT INTO participants (case_id, address, name, role, added_at)
VALUES ($1, $2, $3, 'pr', $4)
ON CONFLICT (case_id, address) DO UPDATE SET role = 'pr';

-- name: pr-participants
SELECT address, name FROM participants WHERE case_id = $1 AND role = 'pr' ORDER BY added_at, address;

-- name: raise-priority
UPDATE cases SET priority = CAST($2 AS case_priority), updated_at = $3
WHERE id = $1 AND priority < CAST($2 AS case_priority)
RETURNING id;

-- name: digest-case
SELECT c.subject, c.customer, c.category, c.risk, c.priority, c.status, c.opened_at,
    COALESCE((SELECT name FROM participants p WHERE p.case_id = c.id AND p.address = c.customer), '') AS customer_name,
    EXISTS (SELECT 1 FROM messages m WHERE m.case_id = c.id AND m.direction = 'inbound'
            AND NOT m.automatic AND m.from_address = c.customer) AS customer_wrote,
    COALESCE((SELECT message_id FROM messages m WHERE m.case_id = c.id ORDER BY id DESC LIMIT 1), '') AS last_message_id
FROM cases c WHERE c.id = $1;

-- name: digest-timeline
SELECT at, kind, actor, detail FROM (
    SELECT id, at, kind, actor, detail FROM events WHERE case_id = $1 ORDER BY id DESC LIMIT 30
) e ORDER BY id;

-- name: digest-messages
SELECT received_at, direction, from_address, text_body FROM (
    SELECT id, received_at, direction, from_address, text_body FROM messages
    WHERE case_id = $1 AND NOT automatic ORDER BY id DESC LIMIT 3
) m ORDER BY id;
