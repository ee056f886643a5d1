"""Survey pages: the public answer page at the site root, so that the link fits an SMS
(/s/<token>/), and the card's "send survey" action under /customers/<id>/ (`card_urlpatterns`,
namespace `survey_card`, included by crm/urls.py)."""

from django.urls import path

from surveys import views

app_name = "surveys"

urlpatterns = [
    path("s/<str:token>/", views.answer, name="answer"),
]

card_urlpatterns = [
    path("<int:customer_id>/surveys/new/", views.send_survey, name="send"),
]
