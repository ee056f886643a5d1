"""What merging two customers needs from surveys (registered from SurveysConfig.ready)."""

from __future__ import annotations

from django.db.models import Value
from django.db.models.functions import Concat, Left

from customers.merge import register_merge_step
from customers.models import Customer
from surveys.models import SurveyInvitation

CAUSE_MAX_LENGTH = SurveyInvitation._meta.get_field("cause").max_length or 100


def keep_both_invitations(*, survivor: Customer, other: Customer) -> None:
    """Both customers invited for one survey and cause: the moved invitation's cause is marked,
    so the once-per-cause constraint holds and both answers still count."""
    held = SurveyInvitation.objects.filter(customer=survivor).exclude(cause="")
    clashing = SurveyInvitation.objects.filter(
        customer=other,
        cause__in=held.values("cause"),
        survey__in=held.values("survey"),
    )
    for invitation in clashing:
        if not held.filter(survey=invitation.survey_id, cause=invitation.cause).exists():
            continue
        suffix = f"|merged:{other.pk}"
        SurveyInvitation.objects.filter(pk=invitation.pk).update(
            cause=Concat(Left("cause", CAUSE_MAX_LENGTH - len(suffix)), Value(suffix))
        )


def register() -> None:
    register_merge_step(SurveyInvitation, keep_both_invitations)
