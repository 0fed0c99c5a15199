"""Which event store a run or a command uses: one factory, chosen by URL.

What ``--store`` (and ``$SIT_STORE``) take:

- ``sqlite:///reports/events.sqlite``: a SQLite file, relative to the working directory (SQLAlchemy's
  convention: three slashes then a relative path; four, ``sqlite:////srv/sit/events.sqlite``, for an
  absolute one);
- a plain file path, ``reports/events.sqlite`` or ``/srv/sit/events.sqlite``: the same SQLite store;
- ``postgresql://USER:PASSWORD@HOST:PORT/DB`` (or ``postgres://``): a team's PostgreSQL store, as
  libpq reads the URL. Its password is a secret: ``StoreUrl.shown`` masks it, and what records a run
  registers it with the run's ``Redactor`` (``StoreUrl.password``).

PostgreSQL support is imported only for a PostgreSQL URL: a SQLite run never loads a driver.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from harness.events.model import EventLogError
from harness.events.redact import MASK
from harness.events.sqlite import Check, SQLiteStore
from harness.events.store import EventStore

STORE_ENV = "SIT_STORE"  # the store when --store is not given
StoreKind = Literal["sqlite", "postgresql"]
_POSTGRES_SCHEMES = ("postgresql", "postgres")
_WHAT_TO_WRITE = ("write sqlite:///RELATIVE/PATH, sqlite:////ABSOLUTE/PATH, a file path, "
                  "or postgresql://USER:PASSWORD@HOST:PORT/DATABASE")


@dataclass(frozen=True)
class StoreUrl:
    """An event store's address, parsed: a SQLite file, or a PostgreSQL URL.

    ``url`` is what was given and may hold a password: print ``shown`` (or ``str()``), never ``url``.
    """

    kind: StoreKind
    url: str = field(repr=False)
    path: Path | None = None  # the SQLite file
    password: str | None = field(default=None, repr=False)  # the PostgreSQL password, decoded, if the URL has one
    shown: str = ""  # for messages: a SQLite store's file path, a PostgreSQL URL with its password masked

    def __str__(self) -> str:
        return self.shown

    @property
    def missing(self) -> bool:
        """Whether the store is a SQLite file that does not exist yet (a reader has nothing to read)."""
        return self.path is not None and not self.path.exists()

    def beside(self, fallback: Path) -> Path:
        """The local folder for what belongs beside the store (reports, logs): the SQLite file's folder; a
        PostgreSQL store has none, so ``fallback`` (the project's reports folder)."""
        return self.path.parent if self.path is not None else fallback


def parse_store(where: str | Path, option: str = "--store") -> StoreUrl:
    """``where`` as a store address; anything else is a one-line ``EventLogError`` naming ``option``."""
    if isinstance(where, Path) or "://" not in where:
        if not str(where):
            raise EventLogError(f"{option} is empty: {_WHAT_TO_WRITE}")
        path = Path(where)
        return StoreUrl("sqlite", str(where), path, shown=str(path))
    scheme = where.split("://", 1)[0].lower()
    if scheme == "sqlite":
        return _sqlite(where, option)
    if scheme in _POSTGRES_SCHEMES:
        return _postgres(where, option)
    raise EventLogError(f"{option} {masked_url(where)}: unknown kind of store '{scheme}://'; {_WHAT_TO_WRITE}")


def _sqlite(url: str, option: str) -> StoreUrl:
    rest = url.split("://", 1)[1]
    if not rest.startswith("/"):
        raise EventLogError(f"{option} {url}: a SQLite URL has no host; write sqlite:///RELATIVE/PATH "
                            "or sqlite:////ABSOLUTE/PATH")
    path = rest[1:]
    if not path or "?" in path or path == ":memory:":
        raise EventLogError(f"{option} {url}: a SQLite store is a file; write sqlite:///RELATIVE/PATH "
                            "or sqlite:////ABSOLUTE/PATH (no options, not :memory:)")
    return StoreUrl("sqlite", url, Path(path), shown=path)


def _postgres(url: str, option: str) -> StoreUrl:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a port that is not a number raises here, not in the driver
    except ValueError as exc:
        raise EventLogError(f"{option} {masked_url(url)}: not a PostgreSQL URL ({exc}); "
                            "write postgresql://USER:PASSWORD@HOST:PORT/DATABASE") from None
    passwords = [value for name, value in parse_qsl(parts.query) if "pass" in name.lower()]
    if parts.password is not None:
        passwords.insert(0, unquote(parts.password))
    return StoreUrl("postgresql", url, password=next((p for p in passwords if p), None), shown=masked_url(url))


def masked_url(url: str) -> str:
    """``url`` with the password of its user part, and of any password parameter, replaced by ``MASK``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.split("://", 1)[0] + "://" + MASK  # cannot tell its parts apart: show none of them
    shown = url
    if parts.password is not None:
        user = parts.netloc.rsplit("@", 1)[0]
        shown = shown.replace(f"//{user}@", f"//{user.split(':', 1)[0]}:{MASK}@", 1)
    if parts.query:
        query = "&".join(f"{pair.split('=', 1)[0]}={MASK}" if "pass" in unquote(pair.split("=", 1)[0]).lower()
                         else pair for pair in parts.query.split("&"))
        shown = shown.replace(f"?{parts.query}", f"?{query}", 1)
    return shown


def store_url(given: str | Path | StoreUrl | None, default: Path) -> StoreUrl:
    """The store a command uses: ``given`` (``--store``), else ``$SIT_STORE``, else ``default`` (a path)."""
    if isinstance(given, StoreUrl):
        return given
    if given is not None and str(given) != "":
        return parse_store(given)
    if env := os.environ.get(STORE_ENV):
        return parse_store(env, f"${STORE_ENV}")
    return parse_store(default)


def open_store(where: str | Path | StoreUrl, check: Check | None = None) -> EventStore:
    """Open (or create) the store at ``where``; ``check`` asks a SQLite store to check its whole file first."""
    url = where if isinstance(where, StoreUrl) else parse_store(where)
    if url.path is not None:
        return SQLiteStore(url.path, check=check)
    try:  # by name: the module (and its driver) may be absent where only SQLite is used
        postgres = importlib.import_module("harness.events.postgres")
    except ImportError as exc:
        missing = exc.name or str(exc)
        raise EventLogError(f"{url.shown}: this sit-harness cannot open a PostgreSQL store ({missing} cannot be "
                            "imported); use a SQLite store, or install its PostgreSQL support") from None
    try:
        store: EventStore = postgres.PostgresStore(url.url, check)
        return store
    except EventLogError as exc:  # a driver's message may quote the URL: the password never reaches the console
        raise type(exc)(_scrub(str(exc), url)) from None


def _scrub(text: str, url: StoreUrl) -> str:
    text = text.replace(url.url, url.shown)
    return text.replace(url.password, MASK) if url.password else text
