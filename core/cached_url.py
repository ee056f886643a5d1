"""`{% cached_url %}` and `{% cached_static %}`: Django's `{% url %}` and `{% static %}`, with
each answer kept per process.

Django's `reverse()` walks the resolver's candidates, formats and re-matches the path on every
call: about a hundred Python calls (70-80 µs on the machines the benchmarks ran on). The
customer card reverses 25-40 URLs per render (the top bar, the action bar, each section's "all
N" link, a link per ticket row), a tenth of its server time (issue 18). The answer depends only
on the resolver (a new one after `clear_url_caches()`), the thread's URLconf and script prefix,
the active language, the current app and the arguments, so those are the key; a name that does
not reverse is remembered too (`{% cached_url ... as var %}` then sets ""). Bounded: an LRU of
`CACHED_URLS` entries (card links carry a customer id).

`{% static %}` asks the storage every time (the manifest's hashed name, quoting, joining the
prefix: 35-40 µs, six times in every page's head). Its answer depends only on the storage
(a new one when STORAGES changes) and the path.

Load them in a template with `{% load cached_url %}` (registered in settings.TEMPLATES'
`libraries`); the syntax is `{% url %}`'s and `{% static %}`'s.
"""

from __future__ import annotations

import functools
from typing import Any

from django import template
from django.conf import STATICFILES_STORAGE_ALIAS
from django.core.files.storage import storages
from django.template.base import Parser, Token
from django.template.context import Context
from django.template.defaulttags import URLNode
from django.template.defaulttags import url as url_tag
from django.templatetags.static import StaticNode
from django.urls import NoReverseMatch, get_resolver, get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape
from django.utils.translation import get_language

register = template.Library()

# Distinct URLs kept per process; a card page uses a few dozen, most shared by every card.
CACHED_URLS = 4096


@functools.lru_cache(maxsize=CACHED_URLS)
def _reversed(key: tuple[Any, ...]) -> str | None:
    _resolver, _prefix, _language, view_name, args, kwargs, current_app = key
    try:
        return reverse(view_name, args=args, kwargs=dict(kwargs), current_app=current_app)
    except NoReverseMatch:
        return None


def cached_reverse(
    view_name: str,
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
    current_app: str | None = None,
) -> str:
    """`reverse()`, answered from the process's cache when asked the same before; raises
    NoReverseMatch as `reverse()` does."""
    key = (
        get_resolver(get_urlconf()),  # one per URLconf, a new one after clear_url_caches()
        get_script_prefix(),
        get_language(),
        view_name,
        tuple(args),
        tuple(sorted((kwargs or {}).items())),
        current_app,
    )
    try:
        found = _reversed(key)
    except TypeError:  # an argument that cannot be hashed: reverse it every time
        return reverse(view_name, args=args, kwargs=kwargs, current_app=current_app)
    if found is None:  # reverse again for Django's own message
        return reverse(view_name, args=args, kwargs=kwargs, current_app=current_app)
    return found


class CachedURLNode(URLNode):
    def render(self, context: Context) -> str:
        args = tuple(arg.resolve(context) for arg in self.args)
        kwargs = {k: v.resolve(context) for k, v in self.kwargs.items()}
        view_name = self.view_name.resolve(context)
        request: Any = getattr(context, "request", None)
        try:  # as URLNode does
            current_app = request.current_app
        except AttributeError:
            try:
                current_app = request.resolver_match.namespace
            except AttributeError:
                current_app = None
        url = ""
        try:
            url = cached_reverse(view_name, args, kwargs, current_app)
        except NoReverseMatch:
            if self.asvar is None:
                raise
        if self.asvar:
            context[self.asvar] = url
            return ""
        return conditional_escape(url) if context.autoescape else url


@register.tag
def cached_url(parser: Parser, token: Token) -> CachedURLNode:
    """`{% cached_url "name" arg ... [as var] %}`: as `{% url %}`, from the process's cache."""
    node = url_tag(parser, token)
    return CachedURLNode(node.view_name, node.args, node.kwargs, node.asvar)


@functools.lru_cache(maxsize=CACHED_URLS)
def _static(storage: Any, path: str) -> str:
    return StaticNode.handle_simple(path)


class CachedStaticNode(StaticNode):
    @classmethod
    def handle_simple(cls, path: str) -> str:
        # The storage `{% static %}` asks (a new one after STORAGES changes) is part of the key.
        return _static(storages[STATICFILES_STORAGE_ALIAS], path)


@register.tag
def cached_static(parser: Parser, token: Token) -> StaticNode:
    """`{% cached_static "path" [as var] %}`: as `{% static %}`, from the process's cache."""
    return CachedStaticNode.handle_token(parser, token)
