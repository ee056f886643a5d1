"""The operator UI's pages for tickets."""

from django.urls import path  # noqa: F401 - pages join here as they are built

app_name = "tickets"

urlpatterns: list = []
