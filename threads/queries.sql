-- Queries of cases, participants, messages and events (see schema.sql).

-- name: find-duplicate
-- Exactly once: the same Message-ID with the same body was filed before.
SELECT case_id, id FROM messages
WHERE direction = 'inbound' AND message_id = $1 AND body_sha256 = $2;

-- name: case-exists
SELECT id FROM cases WHERE id = $1;

-- name: is-participant
SELECT EXISTS (SELECT 1 FROM participants WHERE case_id = $1 AND address = $2);

-- name: open-case
-- A new case with its classification, language, its customer as first
-- participant and the message that opened it, in one round trip.
-- $1 case subject, $2 customer (lower case), $3 their name, $4 now,
-- $5 category, $6 risk, $7 language; then the message as insert-inbound
-- has it: $8 Message-ID, $9 body hash, $10 raw, $11 source, $12 envelope
-- from, $13 envelope to, $14 subject, $15 text, $16 threading ids,
-- $17 automatic, $18 problems, $19 authentication summary.
WITH c AS (
    INSERT INTO cases (subject, customer, opened_at, updated_at, category, risk, language)
    VALUES ($1, $2, $4, $4, CAST($5 AS case_category), CAST($6 AS case_risk), $7)
    RETURNING id
), p AS (
    INSERT INTO participants (case_id, address, name, role, added_at)
    SELECT c.id, $2, $3, 'customer', $4 FROM c
), m AS (
    INSERT INTO messages (case_id, direction, message_id, body_sha256, raw, source,
        envelope_from, envelope_to, from_address, from_name, subject, text_body,
        in_reply_to, automatic, problems, received_at, auth_summary)
    SELECT c.id, 'inbound', $8, $9, $10, $11, $12, $13, $2, $3, $14, $15, $16, $17, $18, $4, $19 FROM c
    RETURNING case_id, id
)
SELECT case_id, id FROM m;

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
    in_reply_to, automatic, problems, received_at, auth_summary)
VALUES ($1, 'inbound', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
RETURNING id;

-- name: queue-on-case
-- A mail casegate sends on a case, in one round trip: the outbox row with
-- one delivery per recipient (the rows mailout.Enqueue writes, which
-- mailout's Sender delivers) and the case's outbound message row.
-- $1 case, $2 Message-ID, $3 raw, $4 outbox automatic, $5 now,
-- $6 recipients, $7 from, $8 subject, $9 text, $10 parents, $11 automatic.
WITH mail AS (
    INSERT INTO outbox (message_id, raw, automatic, created_at)
    VALUES ($2, $3, $4, $5)
    RETURNING id
), rcpt AS (
    INSERT INTO deliveries (outbox_id, recipient, next_attempt_at)
    SELECT mail.id, r, $5 FROM mail, unnest(CAST($6 AS text[])) AS r
)
INSERT INTO messages (case_id, direction, message_id, outbox_id, source,
    from_address, subject, text_body, in_reply_to, automatic, received_at)
SELECT $1, 'outbound', $2, mail.id, 'casegate', $7, $8, $9, $10, $11, $5 FROM mail
RETURNING id;

-- name: add-event
INSERT INTO events (case_id, at, kind, actor, message_id, detail)
VALUES ($1, $2, $3, $4, $5, $6);

-- name: add-events
-- The events a filing transaction buffered (deferred.go), in their order;
-- message_id 0 stands for none.
INSERT INTO events (case_id, at, kind, actor, message_id, detail)
SELECT e.case_id, e.at, e.kind, e.actor, NULLIF(e.message_id, 0), e.detail
FROM unnest(CAST($1 AS bigint[]), CAST($2 AS timestamptz[]), CAST($3 AS text[]),
            CAST($4 AS text[]), CAST($5 AS bigint[]), CAST($6 AS text[]))
     WITH ORDINALITY AS e(case_id, at, kind, actor, message_id, detail, n)
ORDER BY e.n;

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

-- Staff work by mail (issue 4: staff.go, commands.go, notify.go, status.go).

-- name: touch-case-quiet
-- Staff wrote, or someone asked for the status: the case changed, its
-- status did not.
UPDATE cases SET updated_at = $2 WHERE id = $1;

-- name: add-participant
-- Returns a row only when the address was not on the case yet.
INSERT INTO participants (case_id, address, name, role, added_at)
VALUES ($1, $2, $3, CAST($4 AS participant_role), $5)
ON CONFLICT (case_id, address) DO NOTHING
RETURNING address;

-- name: participant-role
SELECT role FROM participants WHERE case_id = $1 AND address = $2;

-- name: relay-recipients
-- Who a staff reply goes to: the customer side and PR, oldest first.
SELECT address, name, role FROM participants
WHERE case_id = $1 AND role IN ('customer', 'cc', 'pr')
ORDER BY added_at, address;

-- name: last-customer-message
-- The latest message the customer side wrote: staff replies thread under it.
SELECT m.message_id, m.raw, m.text_body FROM messages m
JOIN participants p ON p.case_id = m.case_id AND p.address = m.from_address
WHERE m.case_id = $1 AND m.direction = 'inbound' AND p.role IN ('customer', 'cc')
ORDER BY m.id DESC
LIMIT 1;

-- name: last-staff-action
-- What a status reply may tell: staff's visible actions, not their notes.
SELECT kind, at FROM events
WHERE case_id = $1 AND actor = ANY(CAST($2 AS text[])) AND kind IN ('relayed', 'status', 'assigned')
ORDER BY id DESC
LIMIT 1;

-- Refiling a quarantined message (casegate quarantine refile); the
-- listings are the read side's (views/queries.sql).

-- name: get-quarantined
SELECT id, source, reason, raw, envelope_from, envelope_to, message_id, received_at,
       refiled_at, COALESCE(refiled_case, 0) AS refiled_case
FROM quarantine WHERE id = $1;

-- name: mark-refiled
-- Only the first refiling counts; a second one finds the row marked.
UPDATE quarantine SET refiled_at = $2, refiled_case = $3 WHERE id = $1 AND refiled_at IS NULL;

-- Mail safety (issue 8): bounces, suppression, the automatic-reply cap,
-- quarantine, authentication verdicts.

-- name: case-by-message-ids-safe
-- Threading by In-Reply-To/References without letting a guessed or reused
-- Message-ID merge one customer's mail into another's case: a message we
-- sent has an unguessable id, so naming it is enough; a message we received
-- counts only when the sender ($2) is a participant of its case.
SELECT m.case_id FROM messages m
WHERE m.message_id = ANY(CAST($1 AS text[]))
  AND (m.direction = 'outbound'
       OR EXISTS (SELECT 1 FROM participants p WHERE p.case_id = m.case_id AND p.address = $2))
ORDER BY m.id DESC
LIMIT 1;

-- name: bounced-delivery
-- The delivery a bounce reports on and the case whose mail it carried (0
-- when the mail belongs to no case).
SELECT d.id, d.recipient, d.outbox_id, o.message_id,
       COALESCE((SELECT m.case_id FROM messages m WHERE m.outbox_id = d.outbox_id LIMIT 1), 0) AS case_id
FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
WHERE d.id = $1;

-- name: deliveries-by-message-id
-- A DSN that reached us without our VERP address: the deliveries of the
-- outbox mail it names.
SELECT d.id FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
WHERE o.message_id = $1 AND lower(d.recipient) = lower($2);

-- name: mark-bounced
-- A failure report makes the delivery failed; a delay report only records
-- what it said.
UPDATE deliveries
SET bounce_status = $2, bounced_at = $3,
    status = CASE WHEN $4 THEN CAST('failed' AS delivery_status) ELSE status END,
    failed_at = CASE WHEN $4 THEN $3 ELSE failed_at END,
    last_error = CASE WHEN $4 THEN $5 ELSE last_error END
WHERE id = $1;

-- name: suppress-address
INSERT INTO bounced_addresses (address, status, diagnostic, delivery_id, bounced_at, suppressed_until)
VALUES (lower($1), $2, $3, $4, $5, $6)
ON CONFLICT (address) DO UPDATE
SET status = EXCLUDED.status, diagnostic = EXCLUDED.diagnostic, delivery_id = EXCLUDED.delivery_id,
    bounced_at = EXCLUDED.bounced_at,
    suppressed_until = GREATEST(bounced_addresses.suppressed_until, EXCLUDED.suppressed_until);

-- name: address-suppressed
SELECT status FROM bounced_addresses WHERE address = lower($1) AND suppressed_until > $2;

-- name: auto-reply-check
-- The address's lock, its bounce suppression and its automatic mails since
-- $3 in one round trip (schema.sql, migration 10): $1 address, $2 now, $3 since.
SELECT coalesce(suppressed, ''), sent FROM casegate_auto_reply_check($1, $2, $3);

-- name: record-capped
-- One row per address and day: staff are told only when it is inserted.
INSERT INTO auto_reply_capped (address, day, case_id, at)
VALUES (lower($1), CAST($2 AS date), $3, $4)
ON CONFLICT DO NOTHING
RETURNING address;

-- name: quarantine
INSERT INTO quarantine (source, reason, raw, envelope_from, envelope_to, message_id, received_at, body_sha256)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (message_id, body_sha256) WHERE body_sha256 IS NOT NULL DO NOTHING;

-- Escalation rules (issue 5): classification, timers, firings, digests.

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
-- Follow-up timers (followup.go) are not the rules' to clear.
DELETE FROM timers WHERE case_id = $1 AND rule NOT LIKE 'followup:%';

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

-- Resolution follow-ups and ratings (issue 6: followup.go).

-- name: followup-state
-- What the follow-up of a case depends on: its resolution, whether the
-- customer opted out, and which steps of this resolution happened.
SELECT c.status, c.resolved_at,
    EXISTS (SELECT 1 FROM participants p WHERE p.case_id = c.id AND p.address = c.customer AND p.no_followup) AS opted_out,
    (SELECT f.fired_at FROM followups f WHERE f.case_id = c.id AND f.step = 'ask' AND f.since = c.resolved_at) AS asked_at
FROM cases c WHERE c.id = $1;

-- name: replan-followup
-- followup-state and clearing the follow-up timers in one round trip: the state,
-- and the follow-up timers it cleared to plan them again.
WITH cleared AS (
    DELETE FROM timers WHERE case_id = $1 AND rule LIKE 'followup:%' RETURNING rule
)
SELECT c.status, c.resolved_at,
    EXISTS (SELECT 1 FROM participants p WHERE p.case_id = c.id AND p.address = c.customer AND p.no_followup) AS opted_out,
    (SELECT f.fired_at FROM followups f WHERE f.case_id = c.id AND f.step = 'ask' AND f.since = c.resolved_at) AS asked_at,
    ARRAY(SELECT rule FROM cleared ORDER BY rule) AS cleared
FROM cases c WHERE c.id = $1;

-- name: insert-followup-timer
INSERT INTO timers (case_id, rule, since, due_at) VALUES ($1, $2, $3, $4);

-- name: record-followup
-- The key makes each step fire at most once per case and resolution.
INSERT INTO followups (case_id, step, since, fired_at, outcome)
VALUES ($1, CAST($2 AS followup_step), $3, $4, $5)
ON CONFLICT DO NOTHING
RETURNING case_id;

-- name: close-resolved
UPDATE cases SET status = 'closed', updated_at = $2 WHERE id = $1 AND status = 'resolved';

-- name: opt-out-followup
UPDATE participants SET no_followup = true WHERE case_id = $1 AND address = $2;

-- name: case-language
SELECT language FROM cases WHERE id = $1;

-- name: insert-rating
INSERT INTO ratings (case_id, message_id, score, comment, reopened, rated_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (message_id) DO NOTHING;

-- name: record-failure-notice
INSERT INTO delivery_failure_notices (delivery_id, notified_at) VALUES ($1, $2)
ON CONFLICT DO NOTHING
RETURNING delivery_id;

-- name: case-of-outbox
SELECT m.case_id, c.subject FROM messages m JOIN cases c ON c.id = m.case_id
WHERE m.outbox_id = $1 LIMIT 1;

-- name: case-deadlines
-- The escalation deadlines a case is running against, soonest first, for
-- staff notifications and status replies (follow-up steps are not deadlines).
SELECT rule, due_at FROM timers
WHERE case_id = $1 AND rule NOT LIKE 'followup:%'
ORDER BY due_at, rule;

-- The escalation sweep, set-based (issue 10: sweepbatch.go): each query
-- serves every case of a claimed batch in one round trip. $1 is the batch's
-- case ids unless said otherwise.

-- name: sweep-state
-- What escalation-state and digest-case read, plus the cycles that fired
-- before, the PR participants, and whether the follow-up has work (then
-- the case takes the per-case path).
SELECT c.id, c.status, c.priority, c.category, c.risk, c.opened_at, c.staff_responded_at,
    COALESCE((
        SELECT array_agg(CAST(extract(epoch FROM m.received_at) * 1000000 AS bigint) ORDER BY m.id)
        FROM messages m
        WHERE m.case_id = c.id AND m.direction = 'inbound' AND NOT m.automatic
          AND m.received_at > COALESCE(c.staff_responded_at, CAST('-infinity' AS timestamptz))
          AND NOT EXISTS (SELECT 1 FROM participants p
                          WHERE p.case_id = c.id AND p.address = m.from_address AND p.role IN ('staff', 'pr'))
    ), CAST('{}' AS bigint[])) AS unanswered,
    -- LIMIT 1, not EXISTS: under the OR the planner hashes an EXISTS,
    -- which reads every timer.
    (c.status = 'resolved' AND c.resolved_at IS NOT NULL
     OR COALESCE((SELECT true FROM timers t WHERE t.case_id = c.id AND t.rule LIKE 'followup:%' LIMIT 1), false)) AS followup,
    c.subject, c.customer,
    COALESCE((SELECT name FROM participants p WHERE p.case_id = c.id AND p.address = c.customer), '') AS customer_name,
    EXISTS (SELECT 1 FROM messages m WHERE m.case_id = c.id AND m.direction = 'inbound'
            AND NOT m.automatic AND m.from_address = c.customer) AS customer_wrote,
    COALESCE((SELECT message_id FROM messages m WHERE m.case_id = c.id ORDER BY id DESC LIMIT 1), '') AS last_message_id,
    COALESCE((SELECT array_agg(e.rule ORDER BY e.rule, e.since) FROM escalations e WHERE e.case_id = c.id),
             CAST('{}' AS text[])) AS fired_rules,
    COALESCE((SELECT array_agg(CAST(extract(epoch FROM e.since) * 1000000 AS bigint) ORDER BY e.rule, e.since)
              FROM escalations e WHERE e.case_id = c.id), CAST('{}' AS bigint[])) AS fired_since,
    COALESCE((SELECT array_agg(p.address ORDER BY p.added_at, p.address) FROM participants p
              WHERE p.case_id = c.id AND p.role = 'pr'), CAST('{}' AS text[])) AS pr_addresses,
    COALESCE((SELECT array_agg(p.name ORDER BY p.added_at, p.address) FROM participants p
              WHERE p.case_id = c.id AND p.role = 'pr'), CAST('{}' AS text[])) AS pr_names
FROM cases c WHERE c.id = ANY(CAST($1 AS bigint[]));

-- name: sweep-timelines
-- The last 30 events of each case, as digest-timeline.
SELECT c.id, e.at, e.kind, e.actor, e.detail
FROM unnest(CAST($1 AS bigint[])) AS c(id)
CROSS JOIN LATERAL (SELECT id, at, kind, actor, detail FROM events
                    WHERE case_id = c.id ORDER BY id DESC LIMIT 30) e
ORDER BY c.id, e.id;

-- name: sweep-messages
-- The last 3 messages of each case, as digest-messages; a digest quotes
-- 4,000 bytes of each, which never take more than 4,001 characters.
SELECT c.id, m.received_at, m.direction, m.from_address, left(m.text_body, 4001)
FROM unnest(CAST($1 AS bigint[])) AS c(id)
CROSS JOIN LATERAL (SELECT id, received_at, direction, from_address, text_body FROM messages
                    WHERE case_id = c.id AND NOT automatic ORDER BY id DESC LIMIT 3) m
ORDER BY c.id, m.id;

-- name: sweep-record-escalations
-- As record-escalation for many firings ($1–$5, one element each; actions
-- joined by newlines). It returns a row for each firing it recorded: fewer
-- than sent means a cycle fired before, and the batch is redone case by case.
INSERT INTO escalations (case_id, rule, since, due_at, fired_at, actions)
SELECT e.case_id, e.rule, e.since, e.due_at, $6, string_to_array(e.actions, E'\n')
FROM unnest(CAST($1 AS bigint[]), CAST($2 AS text[]), CAST($3 AS timestamptz[]),
            CAST($4 AS timestamptz[]), CAST($5 AS text[])) AS e(case_id, rule, since, due_at, actions)
ON CONFLICT DO NOTHING
RETURNING case_id;

-- name: sweep-add-pr
-- As add-pr-participant for the cases $1 (each once).
INSERT INTO participants (case_id, address, name, role, added_at)
SELECT p.case_id, $2, $3, 'pr', $4 FROM unnest(CAST($1 AS bigint[])) AS p(case_id)
ON CONFLICT (case_id, address) DO UPDATE SET role = 'pr';

-- name: sweep-raise-priority
-- As raise-priority for the cases $1 (each once) to $2.
UPDATE cases c SET priority = n.priority, updated_at = $3
FROM unnest(CAST($1 AS bigint[]), CAST($2 AS case_priority[])) AS n(id, priority)
WHERE c.id = n.id AND c.priority < n.priority;

-- name: sweep-insert-outbound
-- As queue-on-case's message row, for many mails ($1–$6, one element each; '' for no
-- In-Reply-To).
INSERT INTO messages (case_id, direction, message_id, outbox_id, source,
    from_address, subject, text_body, in_reply_to, automatic, received_at)
SELECT m.case_id, 'outbound', m.message_id, m.outbox_id, 'casegate', $7, m.subject, m.text_body,
    CASE WHEN m.in_reply_to = '' THEN CAST('{}' AS text[]) ELSE ARRAY[m.in_reply_to] END, true, $8
FROM unnest(CAST($1 AS bigint[]), CAST($2 AS text[]), CAST($3 AS bigint[]), CAST($4 AS text[]),
            CAST($5 AS text[]), CAST($6 AS text[])) WITH ORDINALITY
     AS m(case_id, message_id, outbox_id, subject, text_body, in_reply_to, n)
ORDER BY m.n
RETURNING id, outbox_id;

-- name: sweep-add-events
-- As add-event for many events of casegate at $1 ($2–$5, one element each;
-- message 0 for none), numbered in the order given.
INSERT INTO events (case_id, at, kind, actor, message_id, detail)
SELECT e.case_id, $1, e.kind, 'casegate', NULLIF(e.message_id, 0), e.detail
FROM unnest(CAST($2 AS bigint[]), CAST($3 AS text[]), CAST($4 AS bigint[]), CAST($5 AS text[])) WITH ORDINALITY
     AS e(case_id, kind, message_id, detail, n)
ORDER BY e.n;

-- name: sweep-delete-timers
-- As delete-timers for the cases $1, but keeping the deadlines their new
-- plans hold ($2, $3: case and rule of each), which sweep-upsert-timers
-- updates in place: most are unchanged, and rewriting them would churn
-- the timers_due index every claim scans.
DELETE FROM timers t
WHERE t.case_id = ANY(CAST($1 AS bigint[])) AND t.rule NOT LIKE 'followup:%'
  AND NOT EXISTS (SELECT 1 FROM unnest(CAST($2 AS bigint[]), CAST($3 AS text[])) AS k(case_id, rule)
                  WHERE k.case_id = t.case_id AND k.rule = t.rule);

-- name: sweep-upsert-timers
-- As insert-timers for many cases ($1–$4, one element per deadline, the
-- cycles fired already left out by the caller, who read them under the
-- case locks).
INSERT INTO timers (case_id, rule, since, due_at)
SELECT t.case_id, t.rule, t.since, t.due_at
FROM unnest(CAST($1 AS bigint[]), CAST($2 AS text[]), CAST($3 AS timestamptz[]), CAST($4 AS timestamptz[]))
     AS t(case_id, rule, since, due_at)
ON CONFLICT (case_id, rule) DO UPDATE SET since = EXCLUDED.since, due_at = EXCLUDED.due_at
WHERE timers.since <> EXCLUDED.since OR timers.due_at <> EXCLUDED.due_at;
