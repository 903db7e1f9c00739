"""HTTP behaviour of the admin site as a whole, apart from any one view."""

from urllib.parse import unquote

from django.http import HttpResponseBadRequest


def has_nul_bytes(request) -> bool:
    """Whether the path or the (decoded) query string holds a NUL byte, which PostgreSQL text cannot."""
    return "\x00" in request.path_info or "\x00" in unquote(request.META.get("QUERY_STRING", ""))


class RefuseNulBytesInAdminMiddleware:
    """Answer 400 to a NUL byte in an admin page's path or query string (upstream's API does so for any request).

    The admin hands query values to the database (list filters, search, lookups), and PostgreSQL cannot
    hold NUL in text or jsonb: the query would fail with a 500. The registry API (api.middleware) and
    the catalog (api.catalog_views) answer NUL bytes themselves, with their own problem and error pages.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.resolver_match.app_name != "admin":
            return None
        if has_nul_bytes(request):
            return HttpResponseBadRequest("Bad request: NUL bytes are not allowed in the path or query.\n",
                                          content_type="text/plain; charset=utf-8")
        return None
