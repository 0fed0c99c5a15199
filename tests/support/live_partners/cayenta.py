"""Cayenta Utilities as a live partner: XML in the form field ``XMLREQUEST``, HTTP Basic credentials.

It speaks the protocol the harness's Cayenta client speaks (``<Request><METHOD><Params>`` in,
``<Reply><METHOD><STATUS>..<Params>`` out; function status 0 OK, -3/-4 not found, -7 already
posted) but answers from its own books, in its own words: its own AR item numbers, its
customers' names, a status text of its own. Statuses beyond the harness's stub pack are this
partner's: -6 original item not found, -8 item already reversed.

With ``drift`` it answers every balance the way a new release might: ``BALANCE`` without the
trailing zeros (``182.4``, ``120``). The amount is the same, so every scenario still passes;
`sit diff` against a run before the release shows the changed field.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from lxml import etree

from tests.support.live_partners.ledger import Account, Item, Ledger
from tests.support.live_partners.server import Request, Response

ENDPOINT = "/CayentaAPI/XMLRequest"
FORM_FIELD = "XMLREQUEST"
CREDENTIALS = ("SIT_CAYENTA_API_USER", "SIT_CAYENTA_API_PASSWORD")  # environment variables, as the profile names
PAYMENT, CREDIT = "1", "6"  # TRAN_TYPE
PAY_METHODS = ("CC", "ACH")
_AMOUNT = re.compile(r"\d{1,8}\.\d{2}")  # NUMBER(10,2)
_RETURN_CODE = re.compile(r"R\d{2}")  # a NACHA return code; a C-code is a notification of change
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
_XML = "application/xml; charset=utf-8"

Fields = dict[str, str]


class Cayenta:
    server_name = "Cayenta-API/7.9.2"

    def __init__(self, ledger: Ledger, user: str, password: str, *, drift: bool = False) -> None:
        self.ledger, self._user, self._password, self.drift = ledger, user, password, drift
        self._calls: dict[str, Callable[[Fields], Fields]] = {
            "GetAccountBalance": self._balance,
            "AddARItem": self._add_ar_item,
            "AddReturnedCheck": self._returned_check,
            "VoidARItem": self._void,
            "Get_StmntPdf": self._statement,
            "_PostAutopayChangeXML": self._change("_PostAutopayChangeXML", "AUTOP", "autopay"),
            "_PostPaperLessChangeXML": self._change("_PostPaperLessChangeXML", "EBILL", "paperless"),
        }

    # -- HTTP -------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        if request.path != ENDPOINT:
            return Response(404, b"Not Found")
        if request.method != "POST":
            return Response(405, b"Method Not Allowed", headers={"Allow": "POST"})
        if not self._authorised(request.headers.get("authorization", "")):
            return Response(401, b"Unauthorized", headers={"WWW-Authenticate": 'Basic realm="Cayenta API"'})
        method, params = _parse(request.body)
        if not method:
            return _error(400, f"NO {FORM_FIELD} FORM FIELD WITH A <Request> DOCUMENT")
        call = self._calls.get(method)
        if call is None:
            return _error(200, f"UNKNOWN METHOD {method}")
        with self.ledger.lock:
            fields = call(params)
        return Response(200, _reply(method, fields), _XML)

    def _authorised(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return hmac.compare_digest(user, self._user) & hmac.compare_digest(password, self._password)

    # -- the calls ---------------------------------------------------------------------------
    def _balance(self, p: Fields) -> Fields:
        account = self.ledger.account(p.get("ACCOUNT_NO", ""))
        if account is None:
            return _status("-3", f"ACCOUNT {p.get('ACCOUNT_NO', '')} NOT FOUND")
        balance = _plain(account.balance) if self.drift else f"{account.balance:.2f}"
        fields = {**_status("0", "OK"), "ACCOUNT_NO": account.number, "CUSTOMER_NAME": account.customer_name,
                  "BALANCE": balance, "PASTDUE_AMT": f"{account.past_due:.2f}",
                  "BLOCK_EFT_IND": account.block_indicator}
        if account.budget_amount is not None:
            fields["BUDGET_AMT"] = f"{account.budget_amount:.2f}"
        return fields

    def _add_ar_item(self, p: Fields) -> Fields:
        refused, account = self._posting(p)
        if refused or account is None:
            return refused
        amount = _amount(p.get("AMOUNT", ""))
        if amount is None:
            return _status("-2", f"AMOUNT '{p.get('AMOUNT', '')}' IS NOT A POSITIVE AMOUNT WITH TWO DECIMALS")
        kind = {PAYMENT: "payment", CREDIT: "credit"}.get(p.get("TRAN_TYPE", ""))
        if kind is None:
            return _status("-2", f"TRAN_TYPE '{p.get('TRAN_TYPE', '')}' IS NOT {PAYMENT} OR {CREDIT}")
        if kind == "payment" and p.get("PAY_METHOD") not in PAY_METHODS:
            return _status("-2", f"PAY_METHOD '{p.get('PAY_METHOD', '')}' IS NOT ONE OF {', '.join(PAY_METHODS)}")
        item = self.ledger.take(p["REFERENCE_NO"], account, kind, amount)
        return {**_status("0", f"AR ITEM {item.number} CREATED"), "AR_ITEM_NO": item.number}

    def _returned_check(self, p: Fields) -> Fields:
        refused, account = self._posting(p)
        if refused or account is None:
            return refused
        code = p.get("RETURN_CODE", "")
        if not _RETURN_CODE.fullmatch(code):
            return _status("-5", f"RETURN_CODE {code or '(none)'} IS NOT A NACHA RETURN CODE")
        return self._reverse(p, account, "return", ("payment",))

    def _void(self, p: Fields) -> Fields:
        refused, account = self._posting(p)
        if refused or account is None:
            return refused
        return self._reverse(p, account, "void", ("payment", "credit"))

    def _reverse(self, p: Fields, account: Account, kind: str, reversible: tuple[str, ...]) -> Fields:
        original = self.ledger.taken(p.get("ORIG_REFERENCE_NO", ""))
        if original is None or original.account != account.number or original.kind not in reversible:
            return _status("-6", f"ORIG_REFERENCE_NO {p.get('ORIG_REFERENCE_NO', '')} NOT FOUND ON ACCOUNT "
                                 f"{account.number}")
        if original.reversed_by:
            return _status("-8", f"AR ITEM {original.number} ALREADY REVERSED")
        amount = p.get("AMOUNT")
        if amount is not None and _amount(amount) != original.amount:
            return _status("-2", f"AMOUNT {amount} DOES NOT MATCH AR ITEM {original.number} ({original.amount})")
        item = self.ledger.take(p["REFERENCE_NO"], account, kind, original.amount, original)
        return {**_status("0", f"AR ITEM {original.number} REVERSED BY {item.number}"), "AR_ITEM_NO": item.number}

    def _change(self, call: str, alert_code: str, program: str) -> Callable[[Fields], Fields]:
        def change(p: Fields) -> Fields:
            if p.get("ALERT_CODE") != alert_code:
                return _status("-9", f"ALERT_CODE {p.get('ALERT_CODE') or '(none)'} IS NOT VALID FOR {call}")
            if p.get("VALUE") not in ("Y", "N"):
                return _status("-2", f"VALUE '{p.get('VALUE', '')}' IS NOT Y OR N")
            refused, account = self._posting(p)
            if refused or account is None:
                return refused
            item = self.ledger.take(p["REFERENCE_NO"], account, "change")
            setattr(account, program, p["VALUE"] == "Y")
            return {**_status("0", f"ALERT {alert_code} SET TO {p['VALUE']}"), "CHANGE_NO": item.number}
        return change

    def _statement(self, p: Fields) -> Fields:
        account = self.ledger.account(p.get("ACCOUNT_NO", ""))
        if account is None:
            return _status("-4", f"ACCOUNT {p.get('ACCOUNT_NO', '')} NOT ON FILE")
        invoice = p.get("INVOICE_NO", "").strip()
        if not invoice:
            return _status("-2", "INVOICE_NO IS REQUIRED")
        pdf = statement_pdf([self.ledger.name, f"Statement {invoice}", f"Account {account.number}"])
        return {**_status("0", "OK"), "CONTENT_TYPE": "application/pdf", "PDF": base64.b64encode(pdf).decode()}

    def _posting(self, p: Fields) -> tuple[Fields, Account | None]:
        """(a refusal, or {} and the account) for what every posting needs: a new reference, a known account."""
        reference = p.get("REFERENCE_NO", "").strip()
        if not reference:
            return _status("-2", "REFERENCE_NO IS REQUIRED"), None
        if (done := self.ledger.taken(reference)) is not None:
            return _already(done), None
        account = self.ledger.account(p.get("ACCOUNT_NO", ""))
        if account is None:
            return _status("-4", f"ACCOUNT {p.get('ACCOUNT_NO', '')} NOT ON FILE"), None
        return {}, account


def _already(item: Item) -> Fields:
    name = "CHANGE_NO" if item.kind == "change" else "AR_ITEM_NO"
    return {**_status("-7", f"REFERENCE_NO {item.reference} ALREADY POSTED AS {item.number}"), name: item.number}


def _status(status: str, description: str) -> Fields:
    return {"STATUS": status, "STATUS_DESC": description}


def _amount(text: str) -> Decimal | None:
    return Decimal(text) if _AMOUNT.fullmatch(text) and Decimal(text) > 0 else None


def _plain(amount: Decimal) -> str:
    """An amount without trailing zeros (``182.4``, ``120``): how the drifted release writes BALANCE."""
    return format(amount.normalize(), "f")


def _parse(body: bytes) -> tuple[str, Fields]:
    xml = parse_qs(body.decode("utf-8", "replace")).get(FORM_FIELD, [""])[0]
    try:
        root = etree.fromstring(xml.encode(), _PARSER) if xml else None
    except etree.XMLSyntaxError:
        return "", {}
    if root is None or root.tag != "Request" or len(root) == 0 or not isinstance(root[0].tag, str):
        return "", {}
    params = root[0].find("Params")
    return root[0].tag, {str(p.tag): (p.text or "").strip() for p in (params if params is not None else [])}


def _reply(method: str, fields: Mapping[str, str]) -> bytes:
    inner = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in fields.items())
    return (f"<Reply><{method}><STATUS>0</STATUS><STATUS_DESC>OK</STATUS_DESC><Params>{inner}</Params>"
            f"</{method}></Reply>").encode()


def _error(status: int, description: str) -> Response:
    body = f"<Reply><Error><STATUS>-1</STATUS><STATUS_DESC>{escape(description)}</STATUS_DESC></Error></Reply>"
    return Response(status, body.encode(), _XML)


def statement_pdf(lines: list[str]) -> bytes:
    """A one-page PDF showing ``lines``: a document any PDF reader opens (offsets in the xref are exact)."""
    text = " ".join(f"({_pdf_text(line)}) Tj 0 -18 Td" for line in lines)
    stream = f"BT /F1 14 Tf 72 720 Td {text} ET".encode("latin-1", "replace")
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _pdf_text(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
