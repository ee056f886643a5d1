"""Top-level URL configuration: each app's pages and API join here."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from crm import views
from customers import views as customer_views
from surveys.urls import card_urlpatterns as survey_card_urlpatterns
from tickets.urls import card_urlpatterns as ticket_card_urlpatterns

admin.site.site_header = _("CRM administration")
admin.site.site_title = _("CRM admin")

urlpatterns = [
    # The REST API first: Django tries the patterns in order, and integrations and the PBX
    # call it most (the caller-ID lookup on every ring). No other pattern starts with api/;
    # /api/v1/metrics/ (metrics.api_urls) must come before the rest of the API.
    path("api/v1/metrics/", include("metrics.api_urls")),
    path("api/", include("crm.api_urls")),
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("customers/", include("customers.urls")),
    # The screen-pop telephony opens when a call rings: /call/?phone=... or ?email=...
    path("call/", customer_views.call_pop, name="call"),
    # Card actions and lists that belong to tickets and surveys (their apps' urls.py).
    path("customers/", include((ticket_card_urlpatterns, "ticket_card"))),
    path("customers/", include((survey_card_urlpatterns, "survey_card"))),
    # The privacy role's card actions: export (download) and erasure.
    path("customers/", include("crm.privacy_card")),
    path("tickets/", include("tickets.urls")),
    # The caller log: today's calls, missed and abandoned first (telephony events feed it).
    path("calls/", include("telephony.urls")),
    # Mail providers' inbound webhooks (django-anymail), authenticated by ANYMAIL_WEBHOOK_SECRET.
    path("email/inbound/", include("email_channel.urls")),
    # Server-sent events to the operators' open pages, and ticket presence heartbeats.
    path("live/", include("live.urls")),
    # The public survey pages live at /s/<token>/ (short enough for an SMS).
    path("", include("surveys.urls")),
    # The unsubscribe link of every email: /u/<signed token>/, no login.
    path("", include("customers.public_urls")),
    path("metrics/", include("metrics.urls")),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
]

# Errors raised outside a view's own handling: JSON under /api/, the templates elsewhere.
handler400 = "core.api.error_views.bad_request"
handler403 = "core.api.error_views.permission_denied"
handler404 = "core.api.error_views.page_not_found"
handler500 = "core.api.error_views.server_error"
