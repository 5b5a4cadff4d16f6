-- SQL of package mailin. Each query starts with a "-- name:" line.

-- IMAP poller ---------------------------------------------------------------

-- name: imap-state
-- The UIDVALIDITY and last acted-on UID of a polled mailbox.
SELECT uidvalidity, last_uid FROM imap_mailboxes WHERE account = $1 AND mailbox = $2;

-- name: imap-save-state
-- Records progress; a new UIDVALIDITY replaces the old state entirely.
INSERT INTO imap_mailboxes (account, mailbox, uidvalidity, last_uid, updated_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (account, mailbox) DO UPDATE
SET uidvalidity = EXCLUDED.uidvalidity, last_uid = EXCLUDED.last_uid, updated_at = EXCLUDED.updated_at;

-- name: imap-quarantine
-- Keeps a message that could not be filed for the operator. The same
-- message quarantined again (a crash between this insert and the move to
-- the quarantine folder) adds no second row.
INSERT INTO quarantine (source, reason, raw, envelope_from, envelope_to, message_id, received_at)
SELECT $1, $2, $3, $4, $5, $6, $7
WHERE NOT EXISTS (
    SELECT 1 FROM quarantine
    WHERE source = $1 AND message_id = $6 AND refiled_at IS NULL AND sha256(raw) = sha256($3)
);

-- name: imap-try-lock
-- Session-level advisory lock held on a dedicated connection for as long as
-- an instance polls the mailbox; PostgreSQL releases it when that
-- connection ends, so another instance takes over when the holder dies.
SELECT pg_try_advisory_lock($1, hashtext($2));
