"""The REST API under /api/: version 1 resources, the OpenAPI schema and its docs.

The metrics endpoints (/api/v1/metrics/) and the customer card (/api/v1/customers/{id}/card/,
route name `customer-card`) are wired by their own modules.
"""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from crm.api import card_views, customer_views
from customers.api import views as customer_api
from customers.api.merge import CustomerMergeView
from surveys import api as survey_api
from telephony import api as telephony_api
from tickets import api as ticket_api

READ_METHODS = ["get", "head"]

router = DefaultRouter()
router.register("customers", customer_api.CustomerViewSet, basename="customer")
router.register("contact-points", customer_api.ContactPointViewSet, basename="contactpoint")
router.register("product-categories", customer_api.ProductCategoryViewSet, basename="category")
router.register("products", customer_api.ProductViewSet, basename="product")
router.register("purchases", customer_api.PurchaseViewSet, basename="purchase")
router.register("interests", customer_api.InterestViewSet, basename="interest")
router.register("interactions", customer_api.InteractionViewSet, basename="interaction")
router.register("offers", customer_api.OfferViewSet, basename="offer")
router.register("reminders", customer_api.ReminderViewSet, basename="reminder")
router.register("tickets", ticket_api.TicketViewSet, basename="ticket")
router.register("surveys", survey_api.SurveyViewSet, basename="survey")
router.register("invitations", survey_api.SurveyInvitationViewSet, basename="invitation")
router.register("responses", survey_api.SurveyResponseViewSet, basename="response")

urlpatterns = [
    # Before the router, whose customers/{pk}/ would otherwise take "lookup" for an id.
    path(
        "v1/customers/lookup/",
        customer_views.CustomerLookupView.as_view(),
        name="customer-lookup",
    ),
    path(
        "v1/customers/<int:pk>/export/",
        customer_views.CustomerExportView.as_view(),
        name="customer-export",
    ),
    path(
        "v1/customers/<int:pk>/erase/",
        customer_views.CustomerEraseView.as_view(),
        name="customer-erase",
    ),
    path(
        "v1/customers/<int:pk>/merge/",
        CustomerMergeView.as_view(),
        name="customer-merge",
    ),
    path(
        "v1/customers/<int:pk>/card/",
        card_views.CustomerCardView.as_view(),
        name="customer-card",
    ),
    path(
        "v1/telephony/events/",
        telephony_api.CallEventView.as_view(),
        name="telephony-events",
    ),
    path("v1/", include(router.urls)),
    # Both only read: any other method is a 405 (Swagger UI's OPTIONS used to be a 500).
    path(
        "schema/",
        SpectacularAPIView.as_view(http_method_names=READ_METHODS),
        name="api-schema",
    ),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(url_name="api-schema", http_method_names=READ_METHODS),
        name="api-docs",
    ),
]
