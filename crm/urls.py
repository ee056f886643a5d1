"""Top-level URL configuration: each app's pages and API join here as they are built."""

from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from crm import views

admin.site.site_header = _("CRM administration")
admin.site.site_title = _("CRM admin")

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
]
