"""Public survey pages, at the site root so that the link fits an SMS: /s/<token>/."""

from django.urls import path

from surveys import views

app_name = "surveys"

urlpatterns = [
    path("s/<str:token>/", views.answer, name="answer"),
]
