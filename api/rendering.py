"""Response bodies built as bytes: each stored `server.json` is spliced in verbatim, never re-serialised."""

import json

from django.conf import settings

OFFICIAL_NAMESPACE = "io.modelcontextprotocol.registry/official"
STATUS_MESSAGE_MAX = 500


def compact_json(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _official_block(row: tuple) -> str:
    (_, _, is_served, is_latest, updated_at, withdrawn_at, _, _,
     status_changed_at, published_at, status_message) = row
    latest = "true" if is_latest else "false"
    if is_served:
        return (f'{{"status":"active","statusChangedAt":"{status_changed_at}","publishedAt":"{published_at}",'
                f'"updatedAt":"{updated_at}","isLatest":{latest}}}')
    # A tombstone: withdrawn from this registry (blocked, un-approved or no longer active upstream).
    message = f',"statusMessage":{compact_json(status_message[:STATUS_MESSAGE_MAX])}' if status_message else ""
    return (f'{{"status":"deleted","statusChangedAt":"{withdrawn_at}","publishedAt":"{published_at}",'
            f'"updatedAt":"{updated_at}","isLatest":{latest}{message}}}')


def entry_json(row: tuple, *, namespace_key: str | None = None) -> str:
    """One `ServerResponse`: `{"server": <stored text>, "_meta": {official, org}}`."""
    org_meta_text, server_json = row[6], row[7]
    namespace_key = namespace_key or compact_json(settings.REGISTRY_META_NAMESPACE)
    return (
        f'{{"server":{server_json},"_meta":{{"{OFFICIAL_NAMESPACE}":{_official_block(row)},'
        f'{namespace_key}:{org_meta_text}}}}}'
    )


def server_list_body(rows: list[tuple], *, next_cursor: str | None = None) -> bytes:
    namespace_key = compact_json(settings.REGISTRY_META_NAMESPACE)
    entries = ",".join(entry_json(row, namespace_key=namespace_key) for row in rows)
    metadata = {"nextCursor": next_cursor, "count": len(rows)} if next_cursor else {"count": len(rows)}
    return f'{{"servers":[{entries}],"metadata":{compact_json(metadata)}}}'.encode()


def server_response_body(row: tuple) -> bytes:
    return entry_json(row).encode()
