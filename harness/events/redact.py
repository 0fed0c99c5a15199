"""Masking secrets before anything reaches the event log.

An event log is kept and shared, so credentials must never enter it: values under
sensitive keys, known secret values (also URL-encoded), sensitive query/form
parameters, sensitive XML elements and ``Authorization:`` credentials become ``MASK``.

It runs on every string of every event, so: patterns are compiled once, each text
rule runs only if its anchor is present, and a string naming nothing sensitive
costs one lower() and a few substring searches.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"

# Shortest secret worth registering: masking "ab" everywhere would wreck the log.
MIN_SECRET_LEN = 4
# Scrub results of short strings are cached: header values, call names, keys and step
# texts recur in every event. The cache is emptied whenever a secret is added.
CACHED_LEN, CACHE_SIZE = 256, 8192

SENSITIVE_NAMES = (
    "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key",
    "apikey", "bk", "password", "passwd", "pwd", "secret", "client_secret", "clientsecret",
    "client_id", "clientid", "token", "access_token", "refresh_token", "oauth_token",
    "webservicekey",
)  # fmt: skip

# Every sensitive name contains one of these (a test checks it), so text without any
# of them cannot need a rule: the common case is settled by substring searches in C.
TRIGGERS = ("auth", "cookie", "key", "bk", "pass", "pwd", "secret", "client", "token")


def _normalise(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


_SENSITIVE_KEYS = frozenset(_normalise(name) for name in SENSITIVE_NAMES)


@lru_cache(maxsize=4096)  # the same few keys, parameters and tags recur in every event
def is_sensitive_key(name: str) -> bool:
    """Whether a dict key names a secret: case-insensitive, ``-``/``_`` ignored."""
    return _normalise(name) in _SENSITIVE_KEYS


# A sensitive name in text: any case, with or without "-"/"_" between its words.
_NAME = "(?:{})".format(
    "|".join(sorted({re.sub("[-_]", "[-_]?", name) for name in SENSITIVE_NAMES}, key=len, reverse=True))
)
_KEEP_AND_MASK = rf"\g<keep>{MASK}"

# Each rule keeps group "keep" and masks the value that follows it. They use replacement
# templates, not Python callbacks, and only sensitive names match: both for speed.
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    # (a substring of the lowered text without which the rule cannot match, the rule)
    (  # Authorization: <known scheme> <credential>, or a bare credential
        "authorization",
        re.compile(
            r"(?P<keep>(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?"
            r"(?:(?:basic|bearer|digest|token|negotiate|ntlm)\s+)?)[^\s\"'<,;&]+",
            re.IGNORECASE,
        ),
    ),
    (  # <ns:Password a="1">x</ns:Password>, text or CDATA
        "<",
        re.compile(
            rf"(?P<keep><(?P<tag>(?:[\w.-]+:)?{_NAME})(?:\s[^>]*)?>)"
            r"(?:<!\[CDATA\[.*?\]\]>|[^<])+(?=</(?P=tag)\s*>)",
            re.IGNORECASE | re.DOTALL,
        ),
    ),
    (  # "password": "x" in a JSON body kept as text
        '"',
        re.compile(rf"(?P<keep>\"{_NAME}\"\s*:\s*\")(?:[^\"\\]|\\.)+(?=\")", re.IGNORECASE),
    ),
    (  # BK=x, api_key=x in a query string or form body; client_secret="x"
        "=",
        re.compile(rf"(?P<keep>(?<![\w.-]){_NAME}\s*=\s*[\"']?)[^&#\s\"'<]+", re.IGNORECASE),
    ),
)


class Redactor:
    """Masks secrets in event data; learns the run's secret values as they are added."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._secret_re: re.Pattern[str] | None = None
        self._cache: dict[str, str] = {}
        for secret in secrets:
            self.add_secret(secret)

    def add_secret(self, value: str) -> None:
        """Mask ``value`` and its URL-encoded forms from now on; shorter than 4 chars is ignored."""
        if len(value) < MIN_SECRET_LEN:
            return
        forms = {value, quote(value, safe=""), quote_plus(value)}
        if forms <= self._secrets:
            return
        self._secrets |= forms
        # Longest first, so a secret is masked whole rather than a secret inside it.
        alternatives = sorted(self._secrets, key=len, reverse=True)
        self._secret_re = re.compile("|".join(map(re.escape, alternatives)))
        self._cache.clear()

    def scrub(self, text: str) -> str:
        """``text`` with known secrets and credential-shaped substrings masked."""
        if len(text) > CACHED_LEN:
            return self._scrub(text)
        cached = self._cache.get(text)
        if cached is None:
            cached = self._scrub(text)
            if len(self._cache) < CACHE_SIZE:
                self._cache[text] = cached
        return cached

    def _scrub(self, text: str) -> str:
        if self._secret_re is not None:
            text = self._secret_re.sub(MASK, text)
        lowered = text.lower()
        for trigger in TRIGGERS:  # a plain loop: cheaper than any() over a generator
            if trigger in lowered:
                break
        else:
            return text
        for anchor, rule in _RULES:
            if anchor in lowered:  # masking never adds an anchor, so the unmasked text decides
                text = rule.sub(_KEEP_AND_MASK, text)
        return text

    def redact(self, obj: Any) -> Any:
        """A masked copy of ``obj``: containers are rebuilt, never changed in place."""
        if isinstance(obj, str):
            return self.scrub(obj)
        if isinstance(obj, dict):
            return {
                (self.scrub(key) if isinstance(key, str) else key): (
                    MASK if isinstance(key, str) and is_sensitive_key(key) and _non_empty(value)
                    else self.redact(value)
                )
                for key, value in obj.items()
            }  # fmt: skip
        if isinstance(obj, list):
            return [self.redact(item) for item in obj]
        if isinstance(obj, tuple):
            return tuple(self.redact(item) for item in obj)
        return obj


def _non_empty(value: Any) -> bool:
    # An empty value reveals nothing, and keeping it shows that none was sent.
    return value is not None and value != "" and value != [] and value != {}
