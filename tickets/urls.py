"""The operator UI's pages for tickets under /tickets/, and on the customer card under
/customers/<id>/ (`card_urlpatterns`, namespace `ticket_card`, included by crm/urls.py)."""

from django.urls import path

from tickets import views

app_name = "tickets"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/reply/", views.reply, name="reply"),
    path("<int:pk>/status/", views.change_status, name="status"),
    path("<int:pk>/assign/", views.assign, name="assign"),
    path("<int:pk>/priority/", views.change_priority, name="priority"),
]

card_urlpatterns = [
    path("<int:customer_id>/tickets/", views.customer_tickets, name="list"),
    path("<int:customer_id>/tickets/new/", views.open_ticket_view, name="open"),
]
