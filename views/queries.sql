-- casegate's read side (views): case listings and views, quarantine,
-- reports. Read-only; the tables belong to threads and mailout.

-- name: list-cases
-- $1 status or '' for every open status (new, open, pending); 'all' for all.
-- $2 category or ''. $3 at most this many, most recently updated first.
-- $4 only cases with an escalation deadline due by $6 (overdue);
-- $5 only cases an escalation rule has fired on.
-- $7 full-text search in the subject and text of received mail, '' for
-- none, through the search index the indexer builds after each filing
-- (indexer.go).
-- $8 customer address, '@domain' for a domain, or ''. $9 assignee, '-' for
-- unassigned, or ''.
SELECT id, subject, status, priority, category, customer, assignee, opened_at, updated_at, resolved_at
FROM cases c
WHERE (CASE WHEN $1 = '' THEN status IN ('new', 'open', 'pending')
            WHEN $1 = 'all' THEN true
            ELSE CAST(status AS text) = $1 END)
  AND ($2 = '' OR CAST(category AS text) = $2)
  AND (NOT $4 OR EXISTS (SELECT 1 FROM timers t WHERE t.case_id = c.id AND t.due_at <= $6 AND t.rule NOT LIKE 'followup:%'))
  AND (NOT $5 OR EXISTS (SELECT 1 FROM escalations e WHERE e.case_id = c.id))
  AND ($7 = '' OR c.id IN (
        SELECT m.case_id FROM message_search x JOIN messages m ON m.id = x.message_id
        WHERE x.doc @@ websearch_to_tsquery('simple'::regconfig, $7)))
  AND ($8 = '' OR c.customer = $8 OR (left($8, 1) = '@' AND c.customer LIKE '%' || $8))
  AND ($9 = '' OR c.assignee = (CASE WHEN $9 = '-' THEN '' ELSE $9 END))
ORDER BY updated_at DESC, id DESC
LIMIT $3;

-- name: case-header
SELECT id, subject, status, priority, category, customer, assignee, opened_at, updated_at, resolved_at
FROM cases WHERE id = $1;

-- name: case-participants
SELECT address, name, role, added_at FROM participants WHERE case_id = $1 ORDER BY added_at, address;

-- name: case-messages
-- The mails of a case in both directions: what was received, and each
-- mail casegate sent — an intent (numbered negative, so its number never
-- meets a received one's), rendered into the outbox after its commit — or
-- an outbound message row of older versions.
SELECT * FROM (
    SELECT id, CAST(direction AS text) AS direction, message_id, source, from_address, from_name, subject, text_body,
           envelope_to, automatic, problems, received_at
    FROM messages WHERE case_id = $1
    UNION ALL
    SELECT -i.id, 'outbound', i.message_id, 'casegate:' || i.kind, '', '', COALESCE(i.spec->'data'->>'Subject', ''),
           COALESCE(i.spec->'data'->>'Text', ''),
           ARRAY(SELECT x->>'Address' FROM jsonb_array_elements(COALESCE(i.spec->'to', '[]') || COALESCE(i.spec->'cc', '[]')) x),
           COALESCE(i.spec->>'auto', '') <> '', CAST('{}' AS text[]), i.created_at
    FROM intents i WHERE i.case_id = $1
) x ORDER BY received_at, id;

-- name: case-events
SELECT id, at, kind, actor, COALESCE(message_id, 0) AS message_id, detail
FROM events WHERE case_id = $1 ORDER BY id;

-- name: message-raw
-- A received mail's bytes as they arrived; a sent one's from the outbox
-- (an intent is numbered negative in case-messages).
SELECT raw FROM (
    SELECT COALESCE(m.raw, o.raw) AS raw FROM messages m LEFT JOIN outbox o ON o.id = m.outbox_id
    WHERE m.case_id = $1 AND m.id = $2
    UNION ALL
    SELECT o.raw FROM intents i JOIN outbox o ON o.id = i.outbox_id
    WHERE i.case_id = $1 AND i.id = -$2
) x LIMIT 1;

-- name: list-quarantine
-- $1: include messages refiled already.
SELECT id, source, reason, envelope_from, envelope_to, message_id, received_at,
       refiled_at, COALESCE(refiled_case, 0) AS refiled_case, length(raw) AS size
FROM quarantine
WHERE $1 OR refiled_at IS NULL
ORDER BY id;

-- Reports (report.go, page.go).

-- name: report-cases
-- The cases opened in the window, with what the figures need: the first
-- staff reply relayed to the customer, the first resolution, how often it
-- was resolved, whether it was reopened. One pass over their events (a
-- subquery per figure took 2.4 times as long on 113,600 cases).
SELECT c.id, c.category, c.status, c.opened_at,
    min(e.at) FILTER (WHERE e.kind = 'relayed') AS first_response_at,
    min(e.at) FILTER (WHERE e.kind = 'status' AND e.detail LIKE '% → resolved%') AS resolved_at,
    count(e.id) FILTER (WHERE e.kind = 'status' AND e.detail LIKE '% → resolved%') AS resolutions,
    coalesce(bool_or(e.kind = 'reopened' OR e.kind = 'status' AND e.detail LIKE 'resolved → open%'), false) AS reopened_event
FROM cases c LEFT JOIN events e ON e.case_id = c.id
WHERE c.opened_at >= $1 AND c.opened_at < $2
GROUP BY c.id;

-- name: report-escalations
-- Escalations to PR in the window, by the rule that fired and category.
SELECT c.category, x.rule, count(*) AS n
FROM escalations x JOIN cases c ON c.id = x.case_id
WHERE x.fired_at >= $1 AND x.fired_at < $2 AND 'cc_pr' = ANY (x.actions)
GROUP BY c.category, x.rule;

-- name: report-ratings
-- Each rating given in the window, for the figures and the CSAT trend.
SELECT c.category, r.score, r.rated_at
FROM ratings r JOIN cases c ON c.id = r.case_id
WHERE r.rated_at >= $1 AND r.rated_at < $2;

-- name: report-open-ages
-- The cases open at $1 (new, open, pending), by how long ago they opened.
SELECT CASE WHEN c.opened_at > n.at - interval '1 day' THEN 0
            WHEN c.opened_at > n.at - interval '3 days' THEN 1
            WHEN c.opened_at > n.at - interval '7 days' THEN 2
            WHEN c.opened_at > n.at - interval '14 days' THEN 3
            WHEN c.opened_at > n.at - interval '30 days' THEN 4
            ELSE 5 END AS bucket,
       count(*) AS n
FROM cases c, (SELECT CAST($1 AS timestamptz) AS at) n
WHERE c.status IN ('new', 'open', 'pending')
GROUP BY 1;

-- name: report-staff
-- What each person did in the window: replies relayed to customers,
-- resolutions, other changes, and on how many cases. Actors are the staff
-- addresses and cli:<user>; casegate's own decisions are not anyone's work.
SELECT e.actor,
    count(*) FILTER (WHERE e.kind = 'relayed') AS replies,
    count(*) FILTER (WHERE e.kind = 'status' AND e.detail LIKE '% → resolved%') AS resolved,
    count(*) FILTER (WHERE e.kind IN ('status', 'priority', 'assigned', 'note', 'escalated')) AS changes,
    count(DISTINCT e.case_id) AS cases
FROM events e
WHERE e.at >= $1 AND e.at < $2 AND e.actor <> 'casegate' AND e.actor <> ''
  AND e.kind IN ('relayed', 'status', 'priority', 'assigned', 'note', 'escalated')
GROUP BY e.actor;

-- name: report-assigned
-- Open cases by assignee.
SELECT assignee, count(*) AS n FROM cases
WHERE status IN ('new', 'open', 'pending') AND assignee <> ''
GROUP BY assignee;

-- name: search-index
-- Index up to $1 messages waiting in search_queue: their subject and the
-- first 4,000 characters of their text, words as they are ('simple': no
-- stemming, no stop words, so every language is found alike). Locked, so
-- any number of indexers (one per instance) share the work.
WITH next AS (
    DELETE FROM search_queue WHERE message_id IN (
        SELECT message_id FROM search_queue ORDER BY message_id LIMIT $1 FOR UPDATE SKIP LOCKED)
    RETURNING message_id
)
INSERT INTO message_search (message_id, doc)
SELECT m.id, to_tsvector('simple'::regconfig, left(m.subject || ' ' || m.text_body, 4000))
FROM next JOIN messages m ON m.id = next.message_id
ON CONFLICT (message_id) DO NOTHING;
