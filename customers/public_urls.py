"""Public pages of the customers app, reached from messages without a login."""

from django.urls import path

from customers import public_views

app_name = "customers_public"

urlpatterns = [
    path("u/<str:token>/", public_views.unsubscribe, name="unsubscribe"),
]
