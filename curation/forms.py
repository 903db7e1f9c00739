import json

from django import forms
from django.core.exceptions import ValidationError

from curation.choices import CurationState, VersionPolicy
from curation.models import Policy
from curation.meta import META_MAX_BYTES, meta_validate

REGISTRY_TYPES = ("npm", "pypi", "oci", "nuget", "mcpb")
# The editor shows metadata indented, larger than the compact JSON that META_MAX_BYTES counts; this
# cap on the text only keeps absurd input from being parsed, and meta_validate enforces the real limit.
META_TEXT_MAX_BYTES = 4 * META_MAX_BYTES

# In the order the buttons appear.
DECISION_LABELS = {
    CurationState.APPROVED: "Approve",
    CurationState.BLOCKED: "Block",
    CurationState.PENDING: "Reset to pending",
}


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=2000,
        help_text="Required. Recorded in the audit trail: say why, and cite a review ticket if there is one.",
    )


class DecisionForm(ReasonForm):
    """Approve, block or reset one server or one version."""

    state = forms.ChoiceField(
        label="Decision",
        choices=[(state.value, label) for state, label in DECISION_LABELS.items()],
        widget=forms.RadioSelect,
    )


class VersionPolicyForm(ReasonForm):
    policy = forms.ChoiceField(
        label="Version policy",
        choices=VersionPolicy.choices,
        help_text="“All versions”: new upstream versions of an approved server are served at once. "
                  "“Reviewed versions only”: each new version arrives pending and needs its own approval.",
    )


class MetaForm(forms.Form):
    """The org `_meta` object as JSON text; every rule lives in `meta_validate`."""

    meta = forms.CharField(
        label="Organisation metadata (JSON object)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 12, "cols": 80, "spellcheck": "false", "class": "vLargeTextField"}),
        help_text="A JSON object served to MCP clients under the registry's own _meta namespace. "
                  "At most 16 KB; keys under io.modelcontextprotocol.registry/ are upstream's and refused. "
                  "Leave empty to clear.",
    )

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
            return meta_validate(json.loads(text))
        except json.JSONDecodeError as error:
            raise ValidationError(
                "Not valid JSON: %(error)s (line %(line)s, column %(column)s).",
                code="invalid_json",
                params={"error": error.msg, "line": error.lineno, "column": error.colno},
            ) from None
        except RecursionError:
            raise ValidationError("Metadata is nested too deeply to process: flatten it.", code="too_deep") from None
        except ValidationError as error:
            # Flatten: a field error cannot carry a per-field dict.
            raise ValidationError(error.messages) from None

    @classmethod
    def initial_text(cls, meta: dict) -> dict:
        return {"meta": json.dumps(meta, indent=2, ensure_ascii=False) if meta else ""}


class PolicyForm(forms.ModelForm):
    registry_type = forms.ChoiceField(
        required=False,
        choices=[("", "any")] + [(kind, kind) for kind in REGISTRY_TYPES],
        help_text="Match servers shipping a package of this type; an approve rule needs every package to be of it.",
    )

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
