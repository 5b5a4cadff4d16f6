-- casegate's server-side functions: what a filing reads (casegate_snapshot)
-- and writes (casegate_write) in one statement each, and their helpers.
--
-- Unlike schema.sql, this file is not a list of migrations: it is code,
-- and it is applied whole whenever it changes. `casegate migrate` (and the
-- service at start) runs the migrations of schema.sql, then this file when
-- its SHA-256 differs from the one recorded in schema_functions, in the
-- same transaction and under the same lock. A function whose arguments
-- change is dropped by name first (below), since CREATE OR REPLACE keeps
-- the old signature beside the new one.

-- Functions of earlier versions.
DROP FUNCTION IF EXISTS casegate_auto_reply_check(text, timestamptz, timestamptz); -- the reply cap is decided in Go now
DROP FUNCTION IF EXISTS casegate_write(jsonb, bytea); -- raw bytes and texts travel apart now
DROP FUNCTION IF EXISTS casegate_write(jsonb, bytea, bytea); -- (plans, raws, texts) became (plans, texts, raws)

-- casegate_array(j): j when it is a JSON array, else an empty one (a Go
-- nil slice arrives as null).
CREATE OR REPLACE FUNCTION casegate_array(j jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN jsonb_typeof(j) = 'array' THEN j ELSE '[]' END $$;

-- casegate_case_state(id): one case as a decision sees it (threads/state.go).
CREATE OR REPLACE FUNCTION casegate_case_state(want bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
SELECT jsonb_build_object(
    'id', c.id, 'version', c.version, 'subject', c.subject, 'status', c.status, 'priority', c.priority,
    'category', c.category, 'risk', c.risk, 'customer', c.customer, 'assignee', c.assignee,
    'language', c.language, 'timezone', c.timezone, 'opened_at', c.opened_at, 'updated_at', c.updated_at,
    'resolved_at', c.resolved_at, 'closed_at', c.closed_at, 'staff_responded_at', c.staff_responded_at,
    'merged_into', COALESCE(c.merged_into, 0), 'state', c.state,
    'participants', COALESCE((SELECT jsonb_agg(jsonb_build_object('address', p.address, 'name', p.name,
            'role', p.role, 'no_followup', p.no_followup) ORDER BY p.added_at, p.address)
        FROM participants p WHERE p.case_id = c.id), '[]'),
    'timers', COALESCE((SELECT jsonb_agg(jsonb_build_object('rule', t.rule, 'since', t.since, 'due', t.due_at)
            ORDER BY t.due_at, t.rule)
        FROM timers t WHERE t.case_id = c.id), '[]'),
    'fired', COALESCE((SELECT jsonb_agg(jsonb_build_object('rule', e.rule, 'since', e.since))
        FROM escalations e WHERE e.case_id = c.id), '[]'))
FROM cases c WHERE c.id = want
$$;

-- The plpgsql functions below keep one generic plan of each query
-- (plan_cache_mode): left to choose, PostgreSQL planned the threading
-- lookup's queries anew on every call, as each array of ids looked
-- cheaper planned alone, and the planning cost five times the query
-- (0.33 ms a lookup, 0.07 ms with the generic plan). Their generic plans
-- are checked to read no table whole (threads' TestFilingReadsNoTableWhole).

-- casegate_thread(refs, tags, mentions, sender, staff): the case a message
-- threads to, and how. In-Reply-To/References first (in the order given:
-- In-Reply-To, then the newest reference): a mail casegate sent (an intent,
-- or an outbound message of older versions) threads for anyone, a received
-- one only for a participant of its case (or a proven staff sender); then a
-- subject tag, then a case number the sender names, each only for a
-- participant. The lookups go from the few ids named to the index on
-- message_id, whatever plan a prepared statement settles on.
CREATE OR REPLACE FUNCTION casegate_thread(refs jsonb, tags jsonb, mentions jsonb, sender text, staff boolean,
    OUT thread bigint, OUT how text)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    -- As arrays, not as sets from jsonb_array_elements: PL/pgSQL keeps a
    -- generic plan of each query, which guesses a set function at 100
    -- rows and then hashes the whole intents table; for "= ANY" of an
    -- array it guesses a handful and looks each id up in the index.
    ref_ids text[] := ARRAY(SELECT jsonb_array_elements_text(refs));
    tag_ids bigint[] := ARRAY(SELECT CAST(jsonb_array_elements_text(tags) AS bigint));
    mention_ids bigint[] := ARRAY(SELECT CAST(jsonb_array_elements_text(mentions) AS bigint));
BEGIN
    -- The earliest reference wins (array_position: its first place).
    SELECT x.case_id INTO thread FROM (
        SELECT i.case_id, array_position(ref_ids, i.message_id) AS n FROM intents i
        WHERE i.message_id = ANY (ref_ids) AND i.case_id IS NOT NULL
        UNION ALL
        SELECT m.case_id, array_position(ref_ids, m.message_id) FROM messages m
        WHERE m.message_id = ANY (ref_ids)
          AND (m.direction = 'outbound' OR staff
               OR EXISTS (SELECT 1 FROM participants p WHERE p.case_id = m.case_id AND p.address = sender))
    ) x ORDER BY x.n LIMIT 1;
    IF thread IS NOT NULL THEN
        how := 'references';
        RETURN;
    END IF;
    SELECT c.id INTO thread FROM cases c
    WHERE c.id = ANY (tag_ids)
      AND (staff OR EXISTS (SELECT 1 FROM participants p WHERE p.case_id = c.id AND p.address = sender))
    ORDER BY array_position(tag_ids, c.id) LIMIT 1;
    IF thread IS NOT NULL THEN
        how := 'subject tag';
        RETURN;
    END IF;
    SELECT c.id INTO thread FROM cases c
    WHERE c.id = ANY (mention_ids)
      AND (staff OR EXISTS (SELECT 1 FROM participants p WHERE p.case_id = c.id AND p.address = sender AND p.role IN ('customer', 'cc')))
    ORDER BY array_position(mention_ids, c.id) LIMIT 1;
    IF thread IS NOT NULL THEN
        how := 'case number';
    END IF;
END
$$;

-- casegate_snapshot(requests, now, cap): what the decisions of a batch of
-- messages read, in one statement (threads/snapshot.go). For each request:
-- an earlier copy (duplicate), the case its token names, the case it
-- threads to, the cases it names without threading, the delivery a bounce
-- reports on, and the cases a #merge names; once for the batch: what is
-- known of the addresses casegate may write to (automatic answers in 24
-- hours, up to cap; a hard bounce in force; staff told today of the cap).
CREATE OR REPLACE FUNCTION casegate_snapshot(requests jsonb, now timestamptz, cap integer) RETURNS jsonb
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    r jsonb;
    res jsonb;
    answers jsonb[] := '{}'; -- an array, appended in place (a jsonb array would be copied whole on each append)
    addrs text[] := '{}';
    dup record;
    t record;
    delivery record;
    did bigint;
    tok bigint;
    target bigint;
    a text;
    address_state jsonb := '{}';
BEGIN
    FOR r IN SELECT value FROM jsonb_array_elements(casegate_array(requests)) LOOP
        addrs := addrs || ARRAY(SELECT jsonb_array_elements_text(casegate_array(r->'addresses')));
        SELECT m.case_id, m.id INTO dup FROM messages m
        WHERE m.direction = 'inbound' AND m.message_id = r->>'message_id' AND m.body_sha256 = decode(r->>'hash', 'hex');
        IF FOUND THEN
            answers := array_append(answers, jsonb_build_object(
                'duplicate', jsonb_build_object('Case', dup.case_id, 'Message', dup.id, 'Duplicate', true)));
            CONTINUE;
        END IF;
        res := '{}';
        target := NULL;
        IF COALESCE((r->>'bounce_check')::boolean, false) THEN
            -- The delivery the bounce names by its VERP address, else the
            -- one of the returned Message-ID to a recipient it reports.
            did := COALESCE(CAST(r->>'delivery' AS bigint), 0);
            IF did = 0 THEN
                SELECT d.id INTO did FROM deliveries d
                WHERE d.outbox_id = (SELECT o.id FROM outbox o WHERE o.message_id = r->>'dsn_message')
                  AND lower(d.recipient) = ANY (ARRAY(SELECT jsonb_array_elements_text(casegate_array(r->'dsn_rcpts'))))
                ORDER BY d.id LIMIT 1;
            END IF;
            SELECT d.id, d.recipient, o.message_id,
                   COALESCE((SELECT i.case_id FROM intents i WHERE i.outbox_id = d.outbox_id LIMIT 1),
                            (SELECT m.case_id FROM messages m WHERE m.outbox_id = d.outbox_id LIMIT 1), 0) AS case_id
            INTO delivery
            FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
            WHERE d.id = did;
            IF FOUND THEN
                res := res || jsonb_build_object('delivery', jsonb_build_object('id', delivery.id,
                    'recipient', delivery.recipient, 'message_id', delivery.message_id, 'case', delivery.case_id));
                IF delivery.case_id <> 0 THEN
                    target := delivery.case_id;
                    res := res || jsonb_build_object('thread', casegate_case_state(target), 'thread_how', 'bounce');
                END IF;
                answers := array_append(answers, res);
                CONTINUE;
            END IF;
        END IF;
        tok := CAST(COALESCE(r->>'token_case', '0') AS bigint);
        IF tok > 0 THEN
            res := res || jsonb_build_object('token_case', casegate_case_state(tok));
            addrs := addrs || ARRAY(SELECT customer FROM cases WHERE id = tok);
        END IF;
        -- Only a mail that names something can thread (the first mail of
        -- a case, a sweep's request: not); the lookup costs more than its
        -- queries.
        IF jsonb_array_length(casegate_array(r->'refs')) + jsonb_array_length(casegate_array(r->'tags'))
           + jsonb_array_length(casegate_array(r->'mentions')) > 0 THEN
            SELECT * INTO t FROM casegate_thread(casegate_array(r->'refs'), casegate_array(r->'tags'),
                casegate_array(r->'mentions'), r->>'from', COALESCE((r->>'staff')::boolean, false));
        ELSE
            SELECT CAST(NULL AS bigint) AS thread, CAST(NULL AS text) AS how INTO t;
        END IF;
        IF t.thread IS NOT NULL THEN
            target := t.thread;
            res := res || jsonb_build_object('thread', casegate_case_state(t.thread), 'thread_how', t.how);
            addrs := addrs || ARRAY(SELECT customer FROM cases WHERE id = t.thread);
        ELSE
            res := res || jsonb_build_object('named', COALESCE((
                SELECT jsonb_agg(DISTINCT c.id) FROM cases c
                WHERE c.id = ANY (ARRAY(SELECT CAST(jsonb_array_elements_text(casegate_array(r->'tags')) AS bigint)
                                        UNION SELECT CAST(jsonb_array_elements_text(casegate_array(r->'mentions')) AS bigint)))
                  AND c.id IS DISTINCT FROM tok), '[]'));
        END IF;
        -- Cases a #merge names, and the cases the named ones were merged into.
        res := res || jsonb_build_object('extra', COALESCE((
            SELECT jsonb_agg(casegate_case_state(c.id)) FROM cases c
            WHERE c.id = ANY (ARRAY(
                SELECT CAST(e AS bigint) FROM jsonb_array_elements_text(casegate_array(r->'extra')) e
                UNION SELECT merged_into FROM cases WHERE id IN (tok, target) AND merged_into IS NOT NULL))), '[]'));
        answers := array_append(answers, res);
    END LOOP;
    FOREACH a IN ARRAY ARRAY(SELECT DISTINCT lower(x) FROM unnest(addrs) x WHERE x <> '') LOOP
        address_state := address_state || jsonb_build_object(a, jsonb_build_object(
            'auto_answers', (SELECT count(*) FROM (SELECT 1 FROM auto_answers q
                             WHERE q.address = a AND q.at > now - interval '24 hours' LIMIT cap) x),
            'suppressed', COALESCE((SELECT b.status FROM bounced_addresses b WHERE b.address = a AND b.suppressed_until > now), ''),
            'capped_today', EXISTS (SELECT 1 FROM auto_reply_capped k WHERE k.address = a AND k.day = CAST(now AT TIME ZONE 'UTC' AS date))));
    END LOOP;
    RETURN jsonb_build_object('messages', to_jsonb(answers), 'addresses', address_state);
END
$$;

-- casegate_write(plans, texts, raws): writes a batch of plans (threads/write.go),
-- each as a whole or not at all, and returns for each what became of it:
-- filed (with its case and message), duplicate (an earlier copy of the
-- message was filed meanwhile: nothing written), conflict (its case
-- changed since the decision read it: nothing written, decide again) or
-- quarantined. Raw messages travel in raws and their texts in texts, each
-- plan naming its slices, so that no byte of a mail is escaped into text
-- (and a batch of one passes its raw message as it was received, not a
-- copy of it: threads/write.go). raws comes last: the driver appends each
-- parameter to one buffer, and a text appended after a 25 MB message grew
-- it once more, by a quarter, and copied it. Nothing is
-- written before a plan's checks pass, so no plan needs a savepoint.
CREATE OR REPLACE FUNCTION casegate_write(plans jsonb, texts bytea, raws bytea) RETURNS jsonb
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    p jsonb;
    c jsonb;
    m jsonb;
    results jsonb[] := '{}'; -- appended in place, as answers in casegate_snapshot
    cid bigint;
    msg bigint;
    held bigint;
    is_new boolean;
    merge_from bigint;
    wake boolean := false;
    stamp timestamptz;
    addr text;
BEGIN
    -- The per-address cap on automatic answers, checked again under a lock
    -- of each address the batch answers (taken in one order, so writers
    -- never wait on each other in a circle): decisions taken at once by
    -- another committer or instance cannot both take the last answer.
    PERFORM pg_advisory_xact_lock(hashtext('casegate-answers:' || x.address))
    FROM (SELECT y.address FROM jsonb_array_elements(casegate_array(plans)) AS q(plan),
              jsonb_to_recordset(casegate_array(q.plan->'auto_answers')) AS y(address text)
          UNION SELECT z FROM jsonb_array_elements(casegate_array(plans)) AS q(plan),
              jsonb_array_elements_text(casegate_array(q.plan->'capped')) AS z
          ORDER BY 1) x;
    FOR p IN SELECT value FROM jsonb_array_elements(casegate_array(plans)) LOOP
        c := p->'case';
        m := p->'message';
        msg := NULL;
        cid := NULL;
        stamp := CAST(p->>'now' AS timestamptz);
        is_new := COALESCE((p->>'new_case')::boolean, false);
        merge_from := CAST(p->'merge'->>'from' AS bigint);

        -- A hard bounce suppresses its address whatever becomes of the report.
        IF p ? 'suppress' THEN
            INSERT INTO bounced_addresses (address, status, diagnostic, delivery_id, bounced_at, suppressed_until)
            SELECT s.address, s.status, s.diagnostic, s.delivery, s.at, s.until
            FROM jsonb_to_record(p->'suppress') AS s(address text, status text, diagnostic text, delivery bigint, at timestamptz, until timestamptz)
            ON CONFLICT (address) DO UPDATE
            SET status = EXCLUDED.status, diagnostic = EXCLUDED.diagnostic, delivery_id = EXCLUDED.delivery_id,
                bounced_at = EXCLUDED.bounced_at,
                suppressed_until = GREATEST(bounced_addresses.suppressed_until, EXCLUDED.suppressed_until);
        END IF;

        IF p->>'outcome' = 'quarantine' THEN
            INSERT INTO quarantine (source, reason, raw, envelope_from, envelope_to, message_id, received_at, body_sha256)
            VALUES (m->>'source', p->'quarantine'->>'reason',
                    substring(raws FROM CAST(m->'raw'->>0 AS integer) + 1 FOR CAST(m->'raw'->>1 AS integer)),
                    m->>'envelope_from', ARRAY(SELECT jsonb_array_elements_text(casegate_array(m->'envelope_to'))),
                    m->>'message_id', CAST(m->>'received_at' AS timestamptz), decode(m->>'hash', 'hex'))
            ON CONFLICT (message_id, body_sha256) WHERE body_sha256 IS NOT NULL DO NOTHING;
            results := array_append(results, jsonb_build_object('outcome', 'quarantined'));
            CONTINUE;
        END IF;

        -- The case the plan was decided on must be as it was read.
        IF NOT is_new AND c IS NOT NULL THEN
            cid := CAST(c->>'id' AS bigint);
            SELECT x.version INTO held FROM cases x WHERE x.id = cid FOR UPDATE;
            IF held IS DISTINCT FROM CAST(p->>'version' AS bigint) THEN
                results := array_append(results, jsonb_build_object('outcome', 'conflict'));
                CONTINUE;
            END IF;
            IF merge_from IS NOT NULL THEN
                SELECT x.version INTO held FROM cases x WHERE x.id = merge_from FOR UPDATE;
                IF held IS DISTINCT FROM CAST(p->'merge'->>'version' AS bigint) THEN
                    results := array_append(results, jsonb_build_object('outcome', 'conflict'));
                    CONTINUE;
                END IF;
            END IF;
        ELSIF is_new THEN
            cid := nextval(pg_get_serial_sequence('cases', 'id'));
        END IF;

        -- Its automatic answers must still fit the cap (the batch holds the
        -- addresses' locks): else it is decided again, now seeing them.
        addr := (SELECT y.address FROM jsonb_to_recordset(casegate_array(p->'auto_answers')) AS y(address text)
                 GROUP BY y.address
                 HAVING count(*) + (SELECT count(*) FROM auto_answers q
                                    WHERE q.address = y.address AND q.at > stamp - interval '24 hours')
                        > CAST(p->>'answer_cap' AS integer)
                 LIMIT 1);
        -- Staff hear once a day of an address that reached the cap.
        IF addr IS NULL THEN
            addr := (SELECT z FROM jsonb_array_elements_text(casegate_array(p->'capped')) AS z
                     WHERE EXISTS (SELECT 1 FROM auto_reply_capped k WHERE k.address = z
                                   AND k.day = CAST(stamp AT TIME ZONE 'UTC' AS date)) LIMIT 1);
        END IF;
        IF addr IS NOT NULL THEN
            results := array_append(results, jsonb_build_object('outcome', 'conflict'));
            CONTINUE;
        END IF;

        -- The message: its insert is what recognises a copy filed meanwhile.
        IF m IS NOT NULL THEN
            INSERT INTO messages (case_id, direction, message_id, body_sha256, raw, source,
                envelope_from, envelope_to, from_address, from_name, subject, text_body,
                in_reply_to, automatic, problems, received_at, auth_summary)
            VALUES (cid, 'inbound', m->>'message_id', decode(m->>'hash', 'hex'),
                substring(raws FROM CAST(m->'raw'->>0 AS integer) + 1 FOR CAST(m->'raw'->>1 AS integer)),
                m->>'source', m->>'envelope_from', ARRAY(SELECT jsonb_array_elements_text(casegate_array(m->'envelope_to'))),
                m->>'from_address', m->>'from_name', m->>'subject',
                convert_from(substring(texts FROM CAST(m->'text'->>0 AS integer) + 1 FOR CAST(m->'text'->>1 AS integer)), 'UTF8'),
                ARRAY(SELECT jsonb_array_elements_text(casegate_array(m->'in_reply_to'))), CAST(m->>'automatic' AS boolean),
                ARRAY(SELECT jsonb_array_elements_text(casegate_array(m->'problems'))), CAST(m->>'received_at' AS timestamptz),
                m->>'auth_summary')
            ON CONFLICT (message_id, body_sha256) WHERE direction = 'inbound' DO NOTHING
            RETURNING id INTO msg;
            IF msg IS NOT NULL THEN
                INSERT INTO search_queue (message_id) VALUES (msg);
            END IF;
            IF msg IS NULL THEN
                results := array_append(results, COALESCE((
                    SELECT jsonb_build_object('outcome', 'duplicate', 'case', x.case_id, 'message', x.id)
                    FROM messages x WHERE x.direction = 'inbound' AND x.message_id = m->>'message_id'
                      AND x.body_sha256 = decode(m->>'hash', 'hex')), jsonb_build_object('outcome', 'duplicate')));
                CONTINUE;
            END IF;
        END IF;

        IF c IS NOT NULL THEN
            IF is_new THEN
                INSERT INTO cases (id, subject, status, priority, category, risk, customer, assignee, language, timezone,
                    opened_at, updated_at, resolved_at, closed_at, staff_responded_at, state, version)
                VALUES (cid, c->>'subject', CAST(c->>'status' AS case_status), CAST(c->>'priority' AS case_priority),
                    CAST(c->>'category' AS case_category), CAST(c->>'risk' AS case_risk), c->>'customer', c->>'assignee',
                    c->>'language', COALESCE(c->>'timezone', ''), CAST(c->>'opened_at' AS timestamptz), CAST(c->>'updated_at' AS timestamptz),
                    CAST(NULLIF(c->>'resolved_at', '0001-01-01T00:00:00Z') AS timestamptz),
                    CAST(NULLIF(c->>'closed_at', '0001-01-01T00:00:00Z') AS timestamptz),
                    CAST(NULLIF(c->>'staff_responded_at', '0001-01-01T00:00:00Z') AS timestamptz), c->'state', 1);
            ELSE
                UPDATE cases x SET subject = c->>'subject', status = CAST(c->>'status' AS case_status),
                    priority = CAST(c->>'priority' AS case_priority), category = CAST(c->>'category' AS case_category),
                    risk = CAST(c->>'risk' AS case_risk), assignee = c->>'assignee', language = c->>'language',
                    updated_at = CAST(c->>'updated_at' AS timestamptz),
                    resolved_at = CAST(NULLIF(c->>'resolved_at', '0001-01-01T00:00:00Z') AS timestamptz),
                    closed_at = CAST(NULLIF(c->>'closed_at', '0001-01-01T00:00:00Z') AS timestamptz),
                    staff_responded_at = CAST(NULLIF(c->>'staff_responded_at', '0001-01-01T00:00:00Z') AS timestamptz),
                    state = c->'state', version = x.version + 1
                WHERE x.id = cid;
            END IF;

            IF p ? 'participants' THEN
                INSERT INTO participants (case_id, address, name, role, added_at, no_followup)
                SELECT cid, x.address, x.name, CAST(x.role AS participant_role), stamp, COALESCE(x.no_followup, false)
                FROM ROWS FROM (jsonb_to_recordset(casegate_array(p->'participants')) AS (address text, name text, role text, no_followup boolean))
                     WITH ORDINALITY AS x(address, name, role, no_followup, n)
                ORDER BY x.n
                ON CONFLICT ON CONSTRAINT participants_pkey DO UPDATE
                SET role = EXCLUDED.role, no_followup = EXCLUDED.no_followup,
                    name = CASE WHEN participants.name = '' THEN EXCLUDED.name ELSE participants.name END;
            END IF;

            IF merge_from IS NOT NULL THEN
                UPDATE messages SET case_id = cid WHERE messages.case_id = merge_from;
                UPDATE events SET case_id = cid WHERE events.case_id = merge_from;
                UPDATE intents SET case_id = cid WHERE intents.case_id = merge_from;
                DELETE FROM timers WHERE timers.case_id = merge_from;
                UPDATE cases x SET status = 'closed', closed_at = stamp, updated_at = stamp, merged_into = cid,
                    version = x.version + 1
                WHERE x.id = merge_from;
            END IF;

            IF COALESCE((p->>'timers_changed')::boolean, false) THEN
                DELETE FROM timers t WHERE t.case_id = cid
                  AND t.rule NOT IN (SELECT x.rule FROM jsonb_to_recordset(casegate_array(c->'timers')) AS x(rule text));
                INSERT INTO timers (case_id, rule, since, due_at)
                SELECT cid, x.rule, x.since, x.due
                FROM jsonb_to_recordset(casegate_array(c->'timers')) AS x(rule text, since timestamptz, due timestamptz)
                ON CONFLICT ON CONSTRAINT timers_pkey DO UPDATE SET since = EXCLUDED.since, due_at = EXCLUDED.due_at
                WHERE timers.since <> EXCLUDED.since OR timers.due_at <> EXCLUDED.due_at;
            END IF;

            IF p ? 'escalations' THEN
                INSERT INTO escalations (case_id, rule, since, due_at, fired_at, actions)
                SELECT cid, x.rule, x.since, x.due, x.at, ARRAY(SELECT jsonb_array_elements_text(casegate_array(x.actions)))
                FROM jsonb_to_recordset(casegate_array(p->'escalations')) AS x(rule text, since timestamptz, due timestamptz, at timestamptz, actions jsonb)
                ON CONFLICT DO NOTHING;
            END IF;

            IF p ? 'followups' THEN
                INSERT INTO followups (case_id, step, since, fired_at, outcome)
                SELECT cid, CAST(x.step AS followup_step), x.since, x.at, x.outcome
                FROM jsonb_to_recordset(casegate_array(p->'followups')) AS x(step text, since timestamptz, at timestamptz, outcome text)
                ON CONFLICT DO NOTHING;
            END IF;

            IF p ? 'rating' AND msg IS NOT NULL THEN
                INSERT INTO ratings (case_id, message_id, score, comment, reopened, rated_at)
                SELECT cid, msg, x.score, x.comment, x.reopened, x.at
                FROM jsonb_to_record(p->'rating') AS x(score smallint, comment text, reopened boolean, at timestamptz)
                ON CONFLICT (message_id) DO NOTHING;
            END IF;

            IF p ? 'intents' THEN
                INSERT INTO intents (case_id, kind, message_id, created_at, spec, source_message)
                SELECT cid, x.kind, x.message_id, stamp, x.spec,
                       CASE WHEN x.source = -1 THEN msg WHEN x.source > 0 THEN x.source END
                FROM ROWS FROM (jsonb_to_recordset(casegate_array(p->'intents')) AS (kind text, message_id text, spec jsonb, source bigint, answer_to text))
                     WITH ORDINALITY AS x(kind, message_id, spec, source, answer_to, n)
                ORDER BY x.n;
                wake := wake OR COALESCE((p->>'wake')::boolean, false);
            END IF;
        END IF;

        IF p ? 'events' THEN
            INSERT INTO events (case_id, at, kind, actor, message_id, detail)
            SELECT COALESCE(x.on_case, cid), x.at, x.kind, x.actor, CASE WHEN x.message THEN msg END,
                   replace(x.detail, '#{new}', '#' || cid)
            FROM ROWS FROM (jsonb_to_recordset(casegate_array(p->'events'))
                 AS (on_case bigint, at timestamptz, kind text, actor text, message boolean, detail text))
                 WITH ORDINALITY AS x(on_case, at, kind, actor, message, detail, n)
            WHERE x.on_case IS NULL OR x.on_case = ANY (ARRAY(
                SELECT y.id FROM cases y WHERE y.id = ANY (ARRAY(
                    SELECT CAST(e->>'on_case' AS bigint) FROM jsonb_array_elements(p->'events') e))))
            ORDER BY x.n;
        END IF;

        IF p ? 'auto_answers' THEN
            INSERT INTO auto_answers (address, at, case_id)
            SELECT x.address, x.at, cid FROM jsonb_to_recordset(casegate_array(p->'auto_answers')) AS x(address text, at timestamptz);

        END IF;
        IF p ? 'capped' THEN
            INSERT INTO auto_reply_capped (address, day, case_id, at)
            SELECT a, CAST(stamp AT TIME ZONE 'UTC' AS date), cid, stamp FROM jsonb_array_elements_text(casegate_array(p->'capped')) a
            ON CONFLICT DO NOTHING;
        END IF;

        results := array_append(results, jsonb_build_object('outcome', 'filed', 'case', cid, 'message', msg));
    END LOOP;
    IF wake THEN
        PERFORM pg_notify('casegate_intents', '');
    END IF;
    RETURN to_jsonb(results);
END
$$;
