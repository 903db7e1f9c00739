"""What every admin of this project shares."""

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect


class RegistryModelAdmin(admin.ModelAdmin):
    """A ModelAdmin whose hand-edited list URLs and action posts get a message, never a 500."""

    class Media:
        css = {"all": ("admin/registry.css",)}  # badges and JSON blocks: classes, as the CSP refuses style attributes

    def get_changelist_instance(self, request):
        try:
            return super().get_changelist_instance(request)
        except (ValueError, OverflowError) as error:
            # A date-hierarchy drill-down past the calendar (`?recorded_at__year=9999`: its end is year
            # 10000), which Django lets through; the changelist then shows its "invalid lookup" notice.
            raise IncorrectLookupParameters(error) from error

    def response_action(self, request, queryset):
        try:
            for pk in request.POST.getlist(ACTION_CHECKBOX_NAME):
                self.model._meta.pk.to_python(pk)
        except ValidationError:
            self.message_user(request, "The selection holds something that is not a row of this list: select "
                                       "the rows again.", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
        return super().response_action(request, queryset)
