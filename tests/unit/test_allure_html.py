"""What the harness changes in the pages Allure 3 writes, each change exact; and how a
generation that goes wrong is reported.

Allure's app names the statuses in fixed English words, and its pages load Google Analytics;
no option reaches either (harness/reports/html.py). The changes are checked here on pages
shaped as Allure 3.18 writes them, and the phrases against the app the project installs.
"""

from __future__ import annotations

import base64
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harness.errors import InputError
from harness.reports import html
from tests.conftest import PROJECT

CREATED = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
STATUSES = '"statuses":{"passed":"passed","failed":"failed","broken":"broken","skipped":"skipped","unknown":"unknown"}'
EXCLUDED = "Calculated from passed, failed, and broken tests. Skipped and unknown tests are excluded."
APP = f"var en=JSON.parse('{{{STATUSES}}}');var a='{EXCLUDED}',b='{EXCLUDED}',c='{EXCLUDED}',d='{EXCLUDED}';"
ANALYTICS = """
    <script async src="https://www.googletagmanager.com/gtag/js?id=G-LNDJ3J7WT0"></script>
    <script>
        window.dataLayer = window.dataLayer || [];
        function gtag(){dataLayer.push(arguments);}
        gtag('js', new Date());
        gtag('config', 'G-LNDJ3J7WT0', {
          "report": "awesome",
          "allureVersion": "3.18.0",
          "reportUuid": "3dee4db6-914e-5642-9b21-8e14d30051d3",
          "single_file": "false"
        });
    </script>"""


def page(script: str) -> str:
    """An Allure index.html as 3.18 writes it, cut down: the app's script tag, then the analytics."""
    return (f'<html><head><title> SIT </title></head><body>\n    <div id="app"></div>\n    {script}{ANALYTICS}\n'
            "      <script async>\n        window.allureReportDataReady = true;\n      </script>\n</body></html>\n")


WORDED = APP.replace('"skipped":"skipped"', '"skipped":"not applicable"').replace(
    "Skipped and unknown", "Not applicable and unknown")


def test_multi_file_report_words_skipped_as_not_applicable_and_loads_no_analytics(tmp_path: Path) -> None:
    index = page('<script   src="app-0123abcd.js"></script>')
    (tmp_path / "index.html").write_text(index, encoding="utf-8")
    (tmp_path / "app-0123abcd.js").write_text(APP, encoding="utf-8")
    html._finish_multi_file(tmp_path)
    assert (tmp_path / "index.html").read_text(encoding="utf-8") == index.replace(ANALYTICS, "")
    assert (tmp_path / "app-0123abcd.js").read_text(encoding="utf-8") == WORDED


def test_single_file_report_words_its_inline_app_and_loads_no_analytics(tmp_path: Path) -> None:
    def inline(app: str) -> str:
        return page(f'<script   src="data:text/javascript;base64,{base64.b64encode(app.encode()).decode()}"></script>')

    index = tmp_path / "index.html"
    index.write_text(inline(APP), encoding="utf-8")
    html._finish_single_file(index)
    assert index.read_text(encoding="utf-8") == inline(WORDED).replace(ANALYTICS, "")


@pytest.mark.parametrize(("app", "found"), [
    (APP.replace(STATUSES, STATUSES.replace('"skipped":"skipped"', '"skipped":"omitted"')), "0 times, not 1"),
    (APP + f"var e='{EXCLUDED}';", "5 times, not 4"),
])
def test_an_app_worded_otherwise_is_refused_naming_the_file(tmp_path: Path, app: str, found: str) -> None:
    (tmp_path / "index.html").write_text(page('<script src="app-0123abcd.js"></script>'), encoding="utf-8")
    (tmp_path / "app-0123abcd.js").write_text(app, encoding="utf-8")
    with pytest.raises(InputError, match=rf"app-0123abcd\.js: Allure's app has .* {found}; .*Allure 3\.18"):
        html._finish_multi_file(tmp_path)


def test_a_page_without_the_analytics_block_is_refused(tmp_path: Path) -> None:
    index = tmp_path / "index.html"
    index.write_text(page('<script src="app-0123abcd.js"></script>').replace(ANALYTICS, ""), encoding="utf-8")
    with pytest.raises(InputError, match=r"index\.html: 0 Google Analytics blocks, expected 1"):
        html._finish_multi_file(index.parent)


def test_the_installed_allure_app_has_each_phrase_as_often_as_the_wording_expects() -> None:
    """The phrases are Allure 3.18's own: read from the app its awesome plugin ships."""
    archive = PROJECT / "node_modules/@allurereport/plugin-awesome/dist/static/report.tar"
    with tarfile.open(archive) as tar:
        (member,) = [m for m in tar.getmembers() if m.name.rsplit("/", 1)[-1].startswith("app-")
                     and m.name.endswith(".js")]
        extracted = tar.extractfile(member)
        assert extracted is not None
        app = extracted.read().decode("utf-8")
    for old, _, count in html._WORDING:
        assert app.count(old) == count, old


def test_allure_not_installed_is_one_line_naming_the_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"node_modules/allure: Allure 3 is not installed; run `make setup`"):
        html.generate(tmp_path, tmp_path / "allure-results", tmp_path / "allure-report", tmp_path / "report.html",
                      "SIT", report_id="head", created=CREATED)


def test_what_allure_complains_of_fails_the_report_in_one_line(tmp_path: Path) -> None:
    """Allure logs an unreadable results folder and goes on; the harness refuses the report."""
    with pytest.raises(InputError) as caught:
        html.generate(PROJECT, tmp_path / "missing", tmp_path / "allure-report", tmp_path / "report.html",
                      "SIT", report_id="head", created=CREATED)
    message = str(caught.value)
    assert message.startswith("allure (multi) failed (exit 1): can't read directory") and "missing" in message
    assert "\n" not in message and not (tmp_path / "report.html").exists()
