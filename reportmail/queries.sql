-- The weekly report mail's own table (reportmail.go).

-- name: report-mail-sent
SELECT EXISTS (SELECT 1 FROM report_mails WHERE scheduled_at = $1);

-- name: record-report-mail
-- The key of one sending: a second instance's insert waits for the first
-- to commit, then inserts nothing.
INSERT INTO report_mails (scheduled_at, sent_at, message_id) VALUES ($1, $2, $3)
ON CONFLICT (scheduled_at) DO NOTHING;
