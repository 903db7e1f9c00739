import json
import re
import sys
from urllib.parse import urlsplit

from django import forms
from django.core.exceptions import ValidationError

from curation.choices import REGISTRY_TYPES, CurationState, VersionPolicy
from curation.models import Policy, timestamp_text
from curation.meta import META_MAX_BYTES, meta_validate
from mirror.validation import SERVER_NAME_PATTERN

# The editor shows metadata indented, larger than the compact JSON that META_MAX_BYTES counts; this
# cap on the text only keeps absurd input from being parsed, and meta_validate enforces the real limit.
META_TEXT_MAX_BYTES = 4 * META_MAX_BYTES

# In the order the buttons appear.
DECISION_LABELS = {
    CurationState.APPROVED: "Approve",
    CurationState.BLOCKED: "Block",
    CurationState.PENDING: "Reset to pending",
}


def reason_field() -> forms.CharField:
    return forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=2000,
        help_text="Required. Recorded in the audit trail: say why, and cite a review ticket if there is one.",
    )


class ReasonForm(forms.Form):
    reason = reason_field()


class BulkDecisionForm(ReasonForm):
    """The reason for a bulk decision, and when its page was shown: servers decided since make the service refuse."""

    shown_at = forms.DateTimeField(required=False, widget=forms.HiddenInput)


class DecisionForm(ReasonForm):
    """Approve, block or reset one server or one version.

    `expected_state` is the state the curator saw when the page was rendered: the service refuses the
    decision if someone else decided in between, instead of silently overriding them.
    """

    state = forms.ChoiceField(
        label="Decision",
        choices=[(state.value, label) for state, label in DECISION_LABELS.items()],
        widget=forms.RadioSelect,
    )
    expected_state = forms.ChoiceField(choices=CurationState.choices, required=False, widget=forms.HiddenInput)


class VersionPolicyForm(ReasonForm):
    policy = forms.ChoiceField(
        label="Version policy",
        choices=VersionPolicy.choices,
        help_text="“All versions”: new upstream versions of an approved server are served at once. "
                  "“Reviewed versions only”: each new version arrives pending and needs its own approval.",
    )


class MetaForm(ReasonForm):
    """The org `_meta` object as JSON text; every rule lives in `meta_validate`."""

    field_order = ["meta", "reason"]

    meta = forms.CharField(
        label="Organisation metadata (JSON object)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 12, "cols": 80, "spellcheck": "false", "class": "vLargeTextField"}),
        help_text="A JSON object served to MCP clients under the registry's own _meta namespace. "
                  "At most 16 KB; keys under io.modelcontextprotocol.registry/ are upstream's and refused. "
                  "Leave empty to clear.",
    )
    # The object as it was when the editor was rendered: the service refuses the edit if someone saved in between.
    expected_meta = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_meta(self):
        text = self.cleaned_data["meta"].strip()
        if not text:
            return {}
        size = len(text.encode())
        if size > META_TEXT_MAX_BYTES:
            raise ValidationError(
                "The text is %(size)d bytes; metadata is limited to %(limit)d bytes as compact JSON, so text "
                "over %(text_limit)d bytes is not read.",
                code="text_too_large",
                params={"size": size, "limit": META_MAX_BYTES, "text_limit": META_TEXT_MAX_BYTES},
            )
        try:
            meta = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValidationError(
                "Not valid JSON: %(error)s (line %(line)s, column %(column)s).",
                code="invalid_json",
                params={"error": error.msg, "line": error.lineno, "column": error.colno},
            ) from None
        except ValueError:
            # Valid JSON, but Python refuses to read an integer of more than sys.get_int_max_str_digits() digits.
            raise ValidationError(
                "A number has more than %(limit)d digits, too many to read: write it as a string.",
                code="number_too_long", params={"limit": sys.get_int_max_str_digits()},
            ) from None
        except RecursionError:
            raise ValidationError("Metadata is nested too deeply to process: flatten it.", code="too_deep") from None
        try:
            return meta_validate(meta)
        except ValidationError as error:
            # Flatten: a field error cannot carry a per-field dict.
            raise ValidationError(error.messages) from None

    def clean_expected_meta(self) -> dict | None:
        text = self.cleaned_data["expected_meta"]
        if not text:
            return None
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            raise ValidationError("The editor page was incomplete: open it again.", code="invalid_expected_meta") \
                from None

    @classmethod
    def initial_text(cls, meta: dict) -> dict:
        return {"meta": json.dumps(meta, indent=2, ensure_ascii=False) if meta else "",
                "expected_meta": json.dumps(meta, ensure_ascii=False)}


# After lowercasing: what `policies._remote_host` can return, plus the glob characters `*` and `?`.
HOST_GLOB = re.compile(r"[a-z0-9.*?-]+")
# Upstream's server names, and the characters a name glob may add.
SERVER_NAME = re.compile(SERVER_NAME_PATTERN)
NAME_GLOB_CHARACTERS = re.compile(r"[a-zA-Z0-9._/*?-]+")
GLOB_BRACKET = re.compile(r"\[!?\]?[^\]]*\]")


class PolicyForm(forms.ModelForm):
    """A policy rule plus the reason recorded with its audit event.

    Matchers that can never match are refused here: the rule would be saved and silently never apply.
    """

    registry_type = forms.ChoiceField(
        required=False,
        choices=[("", "any")] + [(kind, kind) for kind in REGISTRY_TYPES],
        help_text="Match servers shipping a package of this type; an approve rule needs every package to be of it.",
    )
    reason = reason_field()
    # When the rule shown was last saved: an edit from an older page is refused rather than undoing a newer one.
    expected_updated_at = forms.CharField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = Policy
        fields = ["name", "priority", "enabled", "effect", "name_glob", "registry_type", "identifier_glob",
                  "remote_host"]
        help_texts = {
            "priority": "Lower runs first; the first matching rule wins, and a block beats an approve at the same "
                        "priority.",
            "effect": "What happens to a newly discovered server or version this rule matches.",
            "name_glob": "Server name glob, e.g. io.github.acme-corp/*. Leave every matcher blank to match "
                         "everything.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["expected_updated_at"].initial = self.instance.updated_at.isoformat()

    def clean(self):
        cleaned_data = super().clean()
        seen = cleaned_data.get("expected_updated_at")
        if self.instance.pk and seen:
            # Locked until the admin's change view (one transaction) commits: curators saving at once take turns.
            stored = Policy.objects.select_for_update().filter(pk=self.instance.pk).values_list("updated_at",
                                                                                               flat=True).first()
            if stored is not None and stored.isoformat() != seen:
                # Saved again from this page, the curator's version then replaces the newer one on purpose.
                self.data = self.data.copy()
                self.data["expected_updated_at"] = stored.isoformat()
                raise ValidationError(
                    "Nothing was saved: this rule was changed at %(at)s, after you opened it (the audit trail says "
                    "who changed it and why). Compare, then save again.",
                    code="policy_changed", params={"at": timestamp_text(stored)},
                )
        return cleaned_data

    def clean_name_glob(self):
        glob = self.cleaned_data["name_glob"]
        if not glob:
            return glob
        literal = GLOB_BRACKET.sub("", glob)
        if not NAME_GLOB_CHARACTERS.fullmatch(literal):
            raise ValidationError(
                "Server names only hold letters, digits, “.”, “-”, “_” and one “/”; a glob adds “*”, “?” and "
                "closed “[…]” sets. This pattern (spaces, other characters or an unclosed “[”) would never match.",
                code="invalid_name_glob",
            )
        if literal == glob and "*" not in glob and "?" not in glob and not SERVER_NAME.fullmatch(glob):
            raise ValidationError(
                "Without “*” or “?” this must be a whole server name such as io.github.acme/tool; "
                "for every server of a namespace write io.github.acme/*.",
                code="invalid_name_glob",
            )
        return glob

    def clean_identifier_glob(self):
        glob = self.cleaned_data["identifier_glob"]
        if any(character.isspace() or not character.isprintable() for character in glob):
            raise ValidationError("Package identifiers never contain spaces or control characters; remove them.",
                                  code="invalid_identifier_glob")
        return glob

    def clean_remote_host(self):
        host = self.cleaned_data["remote_host"].lower()
        if not host or HOST_GLOB.fullmatch(host):
            return host
        suggestion = _bare_host(host)
        if suggestion:
            raise ValidationError(
                "Enter only the host name, without scheme, port or path: “%(suggestion)s”.",
                code="invalid_remote_host", params={"suggestion": suggestion},
            )
        raise ValidationError(
            "Enter a host name or host glob such as mcp.acme.com or *.acme.com: letters, digits, “.”, “-”, "
            "“*” and “?” only, without scheme, port, path or spaces.",
            code="invalid_remote_host",
        )


def _bare_host(text: str) -> str:
    """The host of a pasted URL (or host:port, or host/path), if it is a valid host glob; else ''."""
    if any(character.isspace() for character in text):  # urlsplit drops some, so it would suggest a new name
        return ""
    try:
        host = urlsplit(text if "//" in text else "//" + text).hostname or ""
    except ValueError:
        return ""
    return host if HOST_GLOB.fullmatch(host) else ""
