"""The operator UI's pages for customers."""

from django.urls import path  # noqa: F401 - pages join here as they are built

app_name = "customers"

urlpatterns: list = []
