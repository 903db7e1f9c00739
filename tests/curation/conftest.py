from django.db.backends.signals import connection_created
from django.dispatch import receiver


# The audit table refuses TRUNCATE while it holds rows (migration 0003) unless the session opts in;
# Django empties the test database with TRUNCATE after each transactional test.
@receiver(connection_created, dispatch_uid="tests.curation.allow_audit_truncate")
def _allow_audit_truncate(sender, connection, **kwargs):
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET registry.audit_truncate = 'on'")
