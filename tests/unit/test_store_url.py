"""The store's address: SQLite URLs and paths, PostgreSQL URLs with their password masked, and the
one-line errors for what is neither. A SQLite store is opened for real; no PostgreSQL server is needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.events import EventLogError, Redactor, SQLiteStore, open_store, parse_store, store_url
from harness.secrets import STORE_PASSWORD, Secrets, add_store_password


@pytest.mark.parametrize(("given", "path"), [
    ("sqlite:///reports/events.sqlite", Path("reports/events.sqlite")),  # three slashes: relative
    ("sqlite:////srv/sit/events.sqlite", Path("/srv/sit/events.sqlite")),  # four: absolute
    ("reports/events.sqlite", Path("reports/events.sqlite")),  # a plain path, as before
    ("/srv/sit/events.sqlite", Path("/srv/sit/events.sqlite")),
    (Path("/srv/sit/events.sqlite"), Path("/srv/sit/events.sqlite")),
    ("SQLite:///x.sqlite", Path("x.sqlite")),  # a scheme is case-insensitive
])
def test_sqlite_urls_and_paths_name_a_file(given: str | Path, path: Path) -> None:
    url = parse_store(given)
    assert (url.kind, url.path, url.password) == ("sqlite", path, None)
    assert url.shown == str(path) == str(url)  # messages name the file, as they always did


@pytest.mark.parametrize(("given", "shown", "password"), [
    ("postgresql://sit:s3cret-pw@db.example:5432/sit", "postgresql://sit:***@db.example:5432/sit", "s3cret-pw"),
    ("postgres://sit:s3cret-pw@db.example/sit", "postgres://sit:***@db.example/sit", "s3cret-pw"),
    ("postgresql://sit:p%40ss%3Aword@db/sit", "postgresql://sit:***@db/sit", "p@ss:word"),  # decoded, as libpq does
    ("postgresql://sit@db/sit?sslmode=require&password=in-the-query",
     "postgresql://sit@db/sit?sslmode=require&password=***", "in-the-query"),
    ("postgresql://sit@db/sit", "postgresql://sit@db/sit", None),  # a password from ~/.pgpass or $PGPASSWORD
    ("postgresql:///sit", "postgresql:///sit", None),  # the local socket
])
def test_postgresql_urls_are_parsed_and_masked(given: str, shown: str, password: str | None) -> None:
    url = parse_store(given)
    assert (url.kind, url.path, url.password, url.shown, str(url)) == ("postgresql", None, password, shown, shown)
    assert url.url == given  # handed to the driver as given
    assert not url.missing
    if password:
        assert password not in repr(url), repr(url)


@pytest.mark.parametrize(("given", "needles"), [
    ("mysql://sit:s3cret-pw@db/sit", ["--store mysql://sit:***@db/sit", "unknown kind of store 'mysql://'",
                                      "sqlite:///", "postgresql://"]),
    ("postgresql+psycopg://sit:s3cret-pw@db/sit", ["unknown kind of store 'postgresql+psycopg://'"]),
    ("sqlite://host/events.sqlite", ["--store sqlite://host/events.sqlite: a SQLite URL has no host"]),
    ("sqlite:///", ["a SQLite store is a file", "sqlite:////ABSOLUTE/PATH"]),
    ("sqlite:///:memory:", ["not :memory:"]),
    ("postgresql://sit:s3cret-pw@db:port/sit", ["--store postgresql://sit:***@db:port/sit: not a PostgreSQL URL"]),
    ("", ["--store is empty"]),
])
def test_what_is_not_a_store_is_one_line_naming_the_option(given: str, needles: list[str]) -> None:
    with pytest.raises(EventLogError) as caught:
        parse_store(given)
    message = str(caught.value)
    assert "\n" not in message and "s3cret-pw" not in message, message
    for needle in needles:
        assert needle in message, message
    assert caught.value.exit_code == 2


def test_the_store_is_the_option_then_the_environment_then_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    default = Path("/project/reports/events.sqlite")
    monkeypatch.delenv("SIT_STORE", raising=False)
    assert store_url(None, default).path == default
    monkeypatch.setenv("SIT_STORE", "sqlite:///team/events.sqlite")
    assert store_url(None, default).path == Path("team/events.sqlite")
    assert store_url("mine.sqlite", default).path == Path("mine.sqlite")
    monkeypatch.setenv("SIT_STORE", "")  # set but empty: as if unset
    assert store_url(None, default).path == default
    monkeypatch.setenv("SIT_STORE", "redis://cache")
    with pytest.raises(EventLogError, match=r"^\$SIT_STORE redis://cache: unknown kind of store"):
        store_url(None, default)


def test_a_sqlite_url_and_a_path_open_the_same_store(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "events.sqlite"
    with open_store(f"sqlite:///{path}") as store:  # an absolute path after three slashes: four in all
        assert isinstance(store, SQLiteStore)
        store.append("run-1", "run.started", {"biller": "b"})
    with open_store(path) as again, open_store(str(path)) as plain:
        assert [e.kind for e in again.events("run-1")] == [e.kind for e in plain.events("run-1")] == ["run.started"]
    assert not parse_store(path).missing
    assert parse_store(tmp_path / "none.sqlite").missing


def test_a_postgresql_store_without_its_module_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where PostgreSQL support is not installed, the URL is refused in one line, its password not shown."""
    import sys

    monkeypatch.setitem(sys.modules, "harness.events.postgres", None)  # an import of it raises ImportError
    with pytest.raises(EventLogError) as caught:
        open_store("postgresql://sit:s3cret-pw@127.0.0.1:1/sit")
    message = str(caught.value)
    assert message.startswith("postgresql://sit:***@127.0.0.1:1/sit: this sit-harness cannot open a PostgreSQL store")
    assert "s3cret-pw" not in message and "\n" not in message


def test_the_store_password_is_a_secret_of_the_run() -> None:
    secrets, redactor = Secrets(), Redactor()
    add_store_password(secrets, parse_store("postgresql://sit:s3cret-pw@db/sit"), redactor)
    assert secrets.values == {STORE_PASSWORD: "s3cret-pw"}  # the leak check looks for it by this name
    assert redactor.redact({"note": "connected with s3cret-pw"}) == {"note": "connected with ***"}
    add_store_password(none := Secrets(), parse_store("reports/events.sqlite"), redactor)
    assert none.values == {}
