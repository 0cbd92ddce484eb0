-- The audit log is append-only: no row can be deleted, and a row can change only once, from
-- unsealed to sealed (prev_hash and hash set, nothing else touched). Someone with direct database
-- access can drop these triggers; the hash chain then still shows what they changed.
CREATE TRIGGER `audit_log_no_delete` BEFORE DELETE ON `audit_log`
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only: rows cannot be deleted');
END;
--> statement-breakpoint
CREATE TRIGGER `audit_log_seal_once` BEFORE UPDATE ON `audit_log`
WHEN OLD.`hash` IS NOT NULL
  OR NEW.`id` IS NOT OLD.`id` OR NEW.`at` IS NOT OLD.`at` OR NEW.`source` IS NOT OLD.`source`
  OR NEW.`actor` IS NOT OLD.`actor` OR NEW.`action` IS NOT OLD.`action` OR NEW.`target` IS NOT OLD.`target`
  OR NEW.`status` IS NOT OLD.`status` OR NEW.`detail` IS NOT OLD.`detail`
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only: a row is sealed once and never changed');
END;
