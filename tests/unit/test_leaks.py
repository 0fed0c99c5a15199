"""The leak finder: named values in events and files, in every form, named by their names only."""

from __future__ import annotations

import base64
import os
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from harness.events import Event
from harness.reports import Leak, find_leaks
from harness.reports.leaks import FileSearch

SECRET = "s3cr#t pass/word+42"
VALUES = {"SIT_API_PASSWORD": SECRET}


def event(seq: int, kind: str, **data: Any) -> Event:
    return Event("run", seq, kind, "2026-11-30T00:00:00+00:00", data, "0" * 64, "0" * 64)


def leaks_in(text: str, values: dict[str, str] = VALUES) -> list[Leak]:
    return find_leaks(values, [event(5, "partner.exchange", request_body=text)])


def test_a_raw_value_in_an_event_is_named_by_its_name_and_event() -> None:
    (leak,) = find_leaks(VALUES, [event(4, "step.started", text="nothing"),
                                  event(5, "partner.exchange", request_headers={"X-Key": f"k {SECRET}"})])
    assert (leak.name, leak.form, leak.seq, leak.kind, leak.path) == ("SIT_API_PASSWORD", "as is", 5,
                                                                       "partner.exchange", None)
    assert str(leak) == "SIT_API_PASSWORD (as is) in event 5 (partner.exchange)"
    assert SECRET not in str(leak)


def test_keys_are_searched_too() -> None:
    assert find_leaks(VALUES, [event(2, "stub.added", mapping={SECRET: "x"})])


@pytest.mark.parametrize("encoded", [quote(SECRET, safe=""), quote(SECRET), quote_plus(SECRET)])
def test_url_encoded(encoded: str) -> None:
    (leak,) = leaks_in(f"password={encoded}&x=1")
    assert leak.form == "URL-encoded"


@pytest.mark.parametrize("before", [b"", b"a", b"ab", b"abc", b"abcd"])
def test_base64_inside_longer_text_at_every_alignment(before: bytes) -> None:
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        text = encode(before + SECRET.encode() + b" and more bytes after it").decode()
        assert SECRET not in text
        (leak,) = leaks_in(f"blob: {text}")
        assert (leak.name, leak.form) == ("SIT_API_PASSWORD", "base64")


def test_inside_a_basic_credential() -> None:
    for user in ("u", "us", "user", "CANARY-user-7f3a"):
        credential = base64.b64encode(f"{user}:{SECRET}".encode()).decode()
        assert [leak.name for leak in leaks_in(f"Authorization: Basic {credential}")] == ["SIT_API_PASSWORD"]


def test_a_short_value_gives_no_false_positive() -> None:
    """A value too short to look for is not looked for; a short one's base64 pieces are too short to count."""
    noise = base64.b64encode(b"abc" + os.urandom(3000)).decode() + " abc abc abc"
    assert "YWJj" in noise  # base64("abc"): what "abcd" encodes to inside other bytes at one alignment
    assert leaks_in(noise, {"SHORT": "abc", "FOUR": "abcd"}) == []
    assert [leak.name for leak in leaks_in("key abcd", {"FOUR": "abcd"})] == ["FOUR"]


def test_nothing_found_in_clean_text_or_for_no_values() -> None:
    assert leaks_in("Authorization: ***, password=***") == []
    assert find_leaks({}, [event(1, "x", a=SECRET)]) == []


def test_files_are_searched_by_relative_path_in_every_form(tmp_path: Path) -> None:
    (tmp_path / "allure-results").mkdir()
    (tmp_path / "allure-results" / "a-attachment.txt").write_text(f"PASSWORD={quote_plus(SECRET)}\n")
    (tmp_path / "signoff.html").write_text("<td>***</td>")
    embedded = base64.b64encode(b"{'x': 'Basic " + base64.b64encode(f"u:{SECRET}".encode()) + b"'}")
    (tmp_path / "allure-report.html").write_bytes(b"<script>data='" + base64.b64encode(f"<p>{SECRET}</p>".encode())
                                                  + b"'</script>" + embedded)
    found = find_leaks(VALUES, root=tmp_path)
    assert sorted((leak.path, leak.form) for leak in found) == [
        ("allure-report.html", "base64"), ("allure-results/a-attachment.txt", "URL-encoded")]


def test_html_escaped_in_a_file(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text("<td>O&#39;Neil &amp; Sons</td>")
    (leak,) = find_leaks({"CUSTOMER_NAME in event 3": "O'Neil & Sons"}, root=tmp_path)
    assert (leak.path, leak.form, leak.name) == ("page.html", "HTML/XML-escaped", "CUSTOMER_NAME in event 3")


def test_zip_members_are_unpacked(tmp_path: Path) -> None:
    """An xlsx compresses its cells: the raw bytes hold nothing a search could find."""
    book = tmp_path / "workbook.xlsx"
    with zipfile.ZipFile(book, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/sharedStrings.xml", f"<si><t>{SECRET * 3}</t></si>")
    assert SECRET.encode() not in book.read_bytes()
    (leak,) = find_leaks(VALUES, root=tmp_path)
    assert leak.path == "workbook.xlsx!xl/sharedStrings.xml"


@pytest.mark.parametrize("offset", [-len(SECRET), -len(SECRET) // 2, -1, 0])
def test_a_value_across_two_pieces_of_a_large_member_is_found_once(tmp_path: Path, offset: int) -> None:
    """Members are searched a piece (1 MiB) at a time: a value straddling two pieces is still found, and once."""
    piece = 1024 * 1024
    text = "x" * (piece + offset) + SECRET + "y" * piece + SECRET  # the second one is the same value again
    with zipfile.ZipFile(tmp_path / "workbook.xlsx", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", text)
    (leak,) = find_leaks(VALUES, root=tmp_path)
    assert (leak.path, leak.form) == ("workbook.xlsx!xl/worksheets/sheet1.xml", "as is")


def test_files_are_searched_in_the_order_of_their_paths(tmp_path: Path) -> None:
    """The first finding (the one a withheld report names) is the first in path order, folders included."""
    for name in ("b.txt", "a/z.txt", "a/b/c.txt", "a-b.txt", "A.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(SECRET)
    (tmp_path / "link.txt").symlink_to(tmp_path / "b.txt")
    found = [leak.path for leak in find_leaks(VALUES, root=tmp_path)]
    assert found == sorted(["b.txt", "a/z.txt", "a/b/c.txt", "a-b.txt", "A.txt"], key=lambda p: Path(p).parts)


def test_files_searched_as_written_are_not_read_again(tmp_path: Path) -> None:
    """A report's Allure files are searched as they are written: the search of the folder takes those findings
    and reads only the other files (the xlsx too: its members are searched from the file)."""
    search = FileSearch(VALUES)
    results = tmp_path / "allure-results"
    results.mkdir()
    for name, data in (("a-result.json", f'{{"name": "{SECRET}"}}'.encode()), ("b-result.json", b"{}")):
        search(results / name, data)
        (results / name).write_bytes(b"not what was searched")  # what the folder's search would find if it read
    (tmp_path / "signoff.html").write_text(f"<p>{SECRET}</p>")
    with zipfile.ZipFile(tmp_path / "workbook.xlsx", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", f"<t>{SECRET}</t>")
    search(tmp_path / "workbook.xlsx", (tmp_path / "workbook.xlsx").read_bytes())  # a zip: left to be read
    found = find_leaks(VALUES, root=tmp_path, written=search)
    assert [(leak.path, leak.form) for leak in found] == [
        ("allure-results/a-result.json", "as is"), ("signoff.html", "as is"),
        ("workbook.xlsx!xl/worksheets/sheet1.xml", "as is")]
    with pytest.raises(ValueError, match="other values"):
        find_leaks({"OTHER": "another value"}, root=tmp_path, written=search)
