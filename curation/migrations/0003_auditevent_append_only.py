"""Make the audit trail append-only in the database itself, whoever connects.

UPDATE and DELETE of `curation_auditevent` rows always raise. The one UPDATE let through is the
one `ON DELETE SET NULL` issues when an acting user is deleted: only `actor_id` becomes NULL,
every other column (including the copied `actor_name`) stays as it was.

TRUNCATE raises too, unless the table is empty or the session has set
`registry.audit_truncate = 'on'`: a test database is emptied between transactional tests with
TRUNCATE. (Anyone able to set that can also drop the trigger; it guards against the application
and accidents, not against the database owner.)
"""

from django.db import migrations

INSTALL = r"""
CREATE FUNCTION curation_auditevent_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.actor_id IS NOT NULL AND NEW.actor_id IS NULL
       AND (to_jsonb(NEW) - 'actor_id') = (to_jsonb(OLD) - 'actor_id') THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'TRUNCATE' AND (coalesce(current_setting('registry.audit_truncate', true), '') = 'on'
                               OR NOT EXISTS (SELECT 1 FROM curation_auditevent)) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'curation_auditevent is append-only: % refused', TG_OP
        USING HINT = 'The audit trail can only grow; record a new event instead.';
END;
$$;

CREATE TRIGGER curation_auditevent_no_update_delete
    BEFORE UPDATE OR DELETE ON curation_auditevent
    FOR EACH ROW EXECUTE FUNCTION curation_auditevent_append_only();

CREATE TRIGGER curation_auditevent_no_truncate
    BEFORE TRUNCATE ON curation_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION curation_auditevent_append_only();
"""

UNINSTALL = """
DROP TRIGGER IF EXISTS curation_auditevent_no_truncate ON curation_auditevent;
DROP TRIGGER IF EXISTS curation_auditevent_no_update_delete ON curation_auditevent;
DROP FUNCTION IF EXISTS curation_auditevent_append_only();
"""


class Migration(migrations.Migration):

    dependencies = [
        ("curation", "0002_policy_host_glob_and_matched_action"),
    ]

    operations = [migrations.RunSQL(INSTALL, UNINSTALL)]
