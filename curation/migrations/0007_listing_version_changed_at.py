from django.db import migrations, models


class Migration(migrations.Migration):
    """Listings remember the version `changed_at` they reflect; existing ones reflect the current one
    (the API reads a version's content and status from the version row itself)."""

    dependencies = [
        ("curation", "0006_auditevent_truncate_owner_only"),
        ("mirror", "0001_initial"),
    ]

    operations = [
        migrations.AddField(model_name="listing", name="version_changed_at", field=models.DateTimeField(null=True)),
        migrations.RunSQL(
            "UPDATE curation_listing AS listing SET version_changed_at = version.changed_at "
            "FROM mirror_serverversion AS version WHERE version.id = listing.version_id",
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.AlterField(model_name="listing", name="version_changed_at", field=models.DateTimeField()),
    ]
