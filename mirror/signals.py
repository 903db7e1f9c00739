from django.dispatch import Signal

# Sent by the sync inside the transaction that commits a page (and once more for the
# servers a full sync found missing), so whatever a receiver writes (curation's audit
# events, policy decisions, the served projection) commits or rolls back with it.
# The mirror never imports curation; curation listens here.
#
# Arguments:
#   sync_run    the mirror.SyncRun in progress
#   events      list[mirror.UpstreamEvent] just written (discoveries, status and content
#               changes, missing / reappeared servers), with server_id and version_id set; they are
#               written with COPY, so the instances carry no primary key
#   server_ids  set[int] of every mirror.Server whose versions were created or changed,
#               or whose isLatest flags moved, in this batch
mirror_changed = Signal()
