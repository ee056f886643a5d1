from django.urls import path

from telephony import views

app_name = "telephony"

urlpatterns = [
    path("", views.log, name="log"),
    path("<int:pk>/link/", views.link, name="link"),
    path("<int:pk>/call-back/", views.call_back, name="call_back"),
]
