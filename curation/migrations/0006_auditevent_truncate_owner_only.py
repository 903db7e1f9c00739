"""Only the audit table's owner may use the TRUNCATE escape hatch of migration 0003.

0003 let any session that set `registry.audit_truncate = 'on'` TRUNCATE a non-empty audit trail,
so every role granted TRUNCATE could empty it. Now the setting counts only for a role that owns
the table or is a member of its owner role (superusers are members of every role): those can
drop the trigger anyway, so the hatch gives them nothing new, while the test runner (connecting
as the owner) still empties the test database between transactional tests. UPDATE and DELETE
are unchanged.
"""

from django.db import migrations

# 0003's function with the escape hatch's condition left open: the owner-only one forwards, 0003's backwards.
FUNCTION = r"""
CREATE OR REPLACE FUNCTION curation_auditevent_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.actor_id IS NOT NULL AND NEW.actor_id IS NULL
       AND (to_jsonb(NEW) - 'actor_id') = (to_jsonb(OLD) - 'actor_id') THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'TRUNCATE' AND ({escape_hatch} OR NOT EXISTS (SELECT 1 FROM curation_auditevent)) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'curation_auditevent is append-only: % refused', TG_OP
        USING HINT = 'The audit trail can only grow; record a new event instead.';
END;
$$;
"""
OPTED_IN = "coalesce(current_setting('registry.audit_truncate', true), '') = 'on'"
OWNER_OPTED_IN = (f"({OPTED_IN} AND pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), "
                  "'MEMBER'))")


class Migration(migrations.Migration):

    dependencies = [
        ("curation", "0005_policy_match_help_text"),
    ]

    operations = [migrations.RunSQL(FUNCTION.format(escape_hatch=OWNER_OPTED_IN),
                                    FUNCTION.format(escape_hatch=OPTED_IN))]
