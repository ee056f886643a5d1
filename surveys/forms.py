"""Forms for surveys: the question is edited once per language, not as raw JSON; the answer;
the card's "send survey" action."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils import translation
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from customers.models import DELIVERY_CHANNELS, Customer
from surveys.models import DEFAULT_QUESTIONS, Survey


def question_field_name(language_code: str) -> str:
    """The form field holding the question in one language: `question_en`, `question_pt_br`."""
    return "question_" + language_code.replace("-", "_").lower()


def _add_question_fields(form_class: type[SurveyForm]) -> type[SurveyForm]:
    """Declare one optional question field per language in settings.LANGUAGES.

    The languages are configuration, so the fields are made from it; declared on the class,
    they take part in the admin's fieldsets like any other field.
    """
    for code, name in settings.LANGUAGES:
        field = forms.CharField(
            label=format_lazy(_("Question ({language})"), language=name),
            required=False,
            widget=forms.Textarea(attrs={"rows": 2, "cols": 80}),
            help_text=_("Empty: the built-in question in this language."),
        )
        form_class.base_fields[question_field_name(code)] = field
        form_class.declared_fields[question_field_name(code)] = field
    return form_class


class SurveyForm(forms.ModelForm):
    """A survey with its `questions` mapping shown as one text field per language.

    A blank question means the built-in one; a blank scale or threshold is filled from the
    survey's kind when it is saved (`Survey.apply_defaults`).
    """

    class Meta:
        model = Survey
        fields = (
            "name",
            "kind",
            "is_active",
            "scale_min",
            "scale_max",
            "satisfied_threshold",
            "easy_end",
            "trigger",
            "delay_days",
            "repeat_after_days",
            "invitation_ttl_days",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        stored = self.instance.questions or {}
        for code, _name in settings.LANGUAGES:
            name = question_field_name(code)
            if name not in self.fields:
                continue
            self.initial.setdefault(name, stored.get(code, ""))
            if self.instance.kind:
                # Show what the customer reads when the field is left empty.
                with translation.override(code):
                    default = str(DEFAULT_QUESTIONS[self.instance.kind])
                self.fields[name].widget.attrs["placeholder"] = default

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        questions = {}
        for code, _name in settings.LANGUAGES:
            text = (cleaned.get(question_field_name(code)) or "").strip()
            if text:
                questions[code] = text
        # Set before the model validates itself, so that Survey.clean sees the mapping.
        self.instance.questions = questions
        return cleaned


_add_question_fields(SurveyForm)


# A comment longer than this is not feedback but a paste; the field says so instead of storing it.
MAX_COMMENT_LENGTH = 2000


class AnswerForm(forms.Form):
    """The customer's answer: one score on the survey's scale and an optional comment."""

    score = forms.TypedChoiceField(
        label=_("Your score"),
        coerce=int,
        error_messages={
            "required": _("Choose a score."),
            "invalid_choice": _("Choose one of the scores shown."),
        },
    )
    comment = forms.CharField(
        label=_("Anything you would like to add? (optional)"),
        required=False,
        max_length=MAX_COMMENT_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, survey: Survey, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.survey = survey
        score = self.fields["score"]
        assert isinstance(score, forms.TypedChoiceField)
        score.choices = [
            (value, str(value)) for value in range(survey.scale_min, survey.scale_max + 1)
        ]


class SendSurveyForm(forms.Form):
    """The card's "send survey": an active survey and the channel the invitation goes through."""

    survey = forms.ModelChoiceField(label=_("Survey"), queryset=Survey.objects.none())
    delivery_channel = forms.ChoiceField(
        label=_("Send through"), choices=[(c.value, c.label) for c in DELIVERY_CHANNELS]
    )

    def __init__(self, *args: Any, customer: Customer, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"delivery_channel": customer.preferred_channel})
        super().__init__(*args, **kwargs)
        self.customer = customer
        survey_field: Any = self.fields["survey"]
        survey_field.queryset = Survey.objects.filter(is_active=True)
