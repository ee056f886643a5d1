from django.urls import path

from live import views

app_name = "live"

urlpatterns = [
    path("events/", views.events, name="events"),
    path("presence/", views.heartbeat, name="presence"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/unread/", views.unread_count, name="unread"),
]
