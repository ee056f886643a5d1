"""The operator UI's pages for customers."""

from django.urls import path

from customers import merge_views, views

app_name = "customers"

urlpatterns = [
    path("", views.search, name="search"),
    path("new/", views.customer_new, name="new"),
    path("<int:customer_id>/", views.card, name="card"),
    path("<int:customer_id>/timeline/", views.timeline, name="timeline"),
    path("<int:customer_id>/purchases/", views.purchases, name="purchases"),
    path("<int:customer_id>/contact/", views.log_contact, name="log_contact"),
    path("<int:customer_id>/notes/new/", views.add_note, name="add_note"),
    path("<int:customer_id>/offers/new/", views.record_offer, name="record_offer"),
    path("<int:customer_id>/offers/answer/", views.offer_response, name="offer_response"),
    path("<int:customer_id>/contacts/new/", views.add_contact, name="add_contact"),
    path("<int:customer_id>/merge/", merge_views.merge_duplicate, name="merge_duplicate"),
    path("<int:customer_id>/contacts/<int:contact_id>/", views.edit_contact, name="edit_contact"),
]
