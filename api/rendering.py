"""Response bodies built as bytes: each stored `server.json` is spliced in verbatim, never re-serialised."""

import json
from datetime import datetime, timezone

from django.conf import settings

OFFICIAL_NAMESPACE = "io.modelcontextprotocol.registry/official"
STATUS_MESSAGE_MAX = 500


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def rfc3339(moment: datetime) -> str:
    """As upstream (Go `time.Time` from timestamptz): UTC `Z`, up to 6 fraction digits, zeros trimmed."""
    moment = moment.astimezone(timezone.utc)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return f"{text}Z"


def _official_block(row: tuple) -> dict:
    (_, _, is_served, is_latest, updated_at, withdrawn_at, _, _,
     status_changed_at, published_at, status_message) = row
    if is_served:
        return {
            "status": "active",
            "statusChangedAt": rfc3339(status_changed_at),
            "publishedAt": rfc3339(published_at),
            "updatedAt": rfc3339(updated_at),
            "isLatest": is_latest,
        }
    # A tombstone: withdrawn from this registry (blocked, un-approved or no longer active upstream).
    block = {
        "status": "deleted",
        "statusChangedAt": rfc3339(withdrawn_at),
        "publishedAt": rfc3339(published_at),
        "updatedAt": rfc3339(updated_at),
        "isLatest": False,
    }
    if status_message:
        block["statusMessage"] = status_message[:STATUS_MESSAGE_MAX]
    return block


def entry_json(row: tuple, *, namespace_key: str | None = None) -> str:
    """One `ServerResponse`: `{"server": <stored text>, "_meta": {official, org}}`."""
    org_meta_text, server_json = row[6], row[7]
    namespace_key = namespace_key or _dumps(settings.REGISTRY_META_NAMESPACE)
    return (
        f'{{"server":{server_json},"_meta":{{"{OFFICIAL_NAMESPACE}":{_dumps(_official_block(row))},'
        f'{namespace_key}:{org_meta_text}}}}}'
    )


def server_list_body(rows: list[tuple], *, next_cursor: str | None = None) -> bytes:
    namespace_key = _dumps(settings.REGISTRY_META_NAMESPACE)
    entries = ",".join(entry_json(row, namespace_key=namespace_key) for row in rows)
    metadata = {"nextCursor": next_cursor, "count": len(rows)} if next_cursor else {"count": len(rows)}
    return f'{{"servers":[{entries}],"metadata":{_dumps(metadata)}}}'.encode()


def server_response_body(row: tuple) -> bytes:
    return entry_json(row).encode()
