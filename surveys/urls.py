"""The operator UI's pages for surveys."""

from django.urls import path  # noqa: F401 - pages join here as they are built

app_name = "surveys"

urlpatterns: list = []
