"""The payer on the hosted pages, as a browser without scripts is: it reads the page, fills the form
it finds there and submits it, follows redirects, and reads what the page shows by its element ids.

The real-browser tests (``tests/e2e/test_cloudpay_browser.py``) drive the same pages in Chromium;
a run's scenarios use this payer so that a run needs no browser.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin

import httpx
from lxml import html


@dataclass(frozen=True)
class Page:
    """A page the payer saw: where, its status, and the text of each element that has an id."""

    url: str
    status: int
    shown: dict[str, str]
    links: dict[str, str]  # element id -> href

    @property
    def title(self) -> str:
        return self.shown.get("outcome") or self.shown.get("error") or ""


@dataclass
class Payer:
    client: httpx.Client

    def open(self, url: str) -> Page:
        return _page(self.client.get(url, follow_redirects=True))

    def pay(self, page_url: str, card: str, name: str, expiry: str = "12/30", cvv: str = "123") -> Page:
        """Open the hosted page, fill its form with the card and press Pay: the page that follows."""
        answer = self.client.get(page_url, follow_redirects=True)
        tree = html.fromstring(answer.text)
        forms = tree.forms
        if not forms:
            return _page(answer)
        form = forms[0]
        fields = {**dict(form.form_values()), "CardNumber": card, "Expiry": expiry, "CVV": cvv, "NameOnCard": name}
        target = urljoin(str(answer.url), form.action or "")
        return _page(self.client.post(target, data=fields, follow_redirects=True))

    def submit_again(self, page: Page, card: str, name: str) -> Page:
        """The form sent a second time (a double click, the back button): straight to the payment's URL."""
        pay_url = page.url.replace("/cloudpay/receipt/", "/cloudpay/pay/")
        fields = {"CardNumber": card, "Expiry": "12/30", "CVV": "123", "NameOnCard": name}
        return _page(self.client.post(pay_url, data=fields, follow_redirects=True))

    def follow(self, page: Page, link: str) -> httpx.Response:
        """Follow the link with id ``link`` (the receipt's "Return to ..."), as a click would."""
        return self.client.get(page.links[link], follow_redirects=False)


def _page(answer: httpx.Response) -> Page:
    tree = html.fromstring(answer.text or "<html/>")
    shown = {str(el.get("id")): " ".join(el.text_content().split()) for el in tree.iter() if el.get("id")}
    links = {str(el.get("id")): urljoin(str(answer.url), str(el.get("href"))) for el in tree.iter("a") if el.get("id")}
    return Page(str(answer.url), answer.status_code, shown, links)
