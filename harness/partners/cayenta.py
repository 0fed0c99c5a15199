"""Cayenta Utilities: XML in one form field ``XMLREQUEST``, ``<Request>``/``<Reply>`` envelopes.

The shape follows an older public client of a "Cayenta API server" (see DOMAIN.md); that the
calls named in the partner profile use it too is the stub pack's assumption, stated in
``stubs/cayenta/README.md``. Reply statuses: system ``STATUS`` under the method element,
function ``STATUS`` under ``Params`` (0 OK, -3/-4 not found, -7 reference already posted).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import httpx
from lxml import etree

from harness.partners.base import (
    AccountNotFound,
    Adapter,
    Echo,
    Outcome,
    PartnerClient,
    PartnerRejected,
    PartnerStubs,
    PartnerUnavailable,
    Posting,
    PostingKind,
    PostResult,
)

FORM_FIELD = "XMLREQUEST"
NOT_FOUND = {"-3", "-4"}
ALREADY_POSTED = "-7"
# Cayenta field -> the platform's word for it, for evidence and step assertions.
FIELD_NAMES = {
    "ACCOUNT_NO": "account", "AMOUNT": "amount", "REFERENCE_NO": "reference", "ORIG_REFERENCE_NO": "original",
    "TRAN_TYPE": "type_code", "PAY_METHOD": "method", "RETURN_CODE": "return_code",
    "ALERT_CODE": "alert_code", "VALUE": "value", "INVOICE_NO": "invoice", "TRAN_DATE": "date",
    "PAY_CHANNEL": "channel",
}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def request_xml(method: str, params: Mapping[str, str]) -> str:
    inner = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in params.items())
    return f"<Request><{method}><Params>{inner}</Params></{method}></Request>"


def parse_request(body: str) -> tuple[str, dict[str, str]]:
    """(method, params) of a form body carrying XMLREQUEST; ('', {}) if it is not one."""
    xml = parse_qs(body).get(FORM_FIELD, [""])[0]
    try:
        root = etree.fromstring(xml.encode(), _PARSER) if xml else None
    except etree.XMLSyntaxError:
        return "", {}
    if root is None or root.tag != "Request" or len(root) == 0:
        return "", {}
    method = root[0]
    params = method.find("Params")
    return str(method.tag), {str(p.tag): (p.text or "") for p in (params if params is not None else [])}


def _reply(method: str, body: bytes) -> dict[str, str]:
    """Function-level fields of a reply; raises PartnerRejected on a system-level failure."""
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise PartnerRejected(f"{method}: reply is not XML ({exc})") from None
    node = root.find(method)
    if root.tag != "Reply" or node is None:
        raise PartnerRejected(f"{method}: reply has no <Reply><{method}> element")
    if (node.findtext("STATUS") or "0") != "0":
        raise PartnerRejected(f"{method}: system status {node.findtext('STATUS')} {node.findtext('STATUS_DESC') or ''}",
                              code=node.findtext("STATUS"))
    params = node.find("Params")
    return {str(p.tag): (p.text or "") for p in (params if params is not None else [])}


class CayentaClient(PartnerClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._http = self._http_client(auth=(self._user, self._secret))

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, params: Mapping[str, str]) -> dict[str, str]:
        try:
            response = self._http.post(self.partner.endpoint_path, data={FORM_FIELD: request_xml(method, params)})
        except httpx.TimeoutException:
            raise PartnerUnavailable(f"{method}: no answer within {self.timeout:g} s (timeout)") from None
        except httpx.TransportError as exc:
            raise PartnerUnavailable(f"{method}: connection failed ({type(exc).__name__})") from None
        if response.status_code >= 500:
            raise PartnerUnavailable(f"{method}: HTTP {response.status_code} server error")
        if response.status_code in (401, 403):
            raise PartnerRejected(f"{method}: credentials refused (HTTP {response.status_code})",
                                  code=str(response.status_code))
        if response.status_code >= 400:
            raise PartnerRejected(f"{method}: HTTP {response.status_code}", code=str(response.status_code))
        fields = _reply(method, response.content)
        status = fields.get("STATUS", "0")
        if status in NOT_FOUND:
            raise AccountNotFound(f"{method}: account {params.get('ACCOUNT_NO')} not found", code=status)
        if status not in ("0", ALREADY_POSTED):
            raise PartnerRejected(f"{method}: status {status} {fields.get('STATUS_DESC', '')}".strip(), code=status)
        return fields

    def balance(self, account: str) -> dict[str, str]:
        return self._call(self.partner.calls["balance"], {"ACCOUNT_NO": account})

    def post(self, posting: Posting) -> PostResult:
        method, params = self._posting(posting)
        fields = self._call(method, params)
        outcome = Outcome.ALREADY_POSTED if fields.get("STATUS") == ALREADY_POSTED else Outcome.POSTED
        return PostResult(outcome, fields.get("AR_ITEM_NO") or None, fields.get("STATUS_DESC", ""))

    def _posting(self, p: Posting) -> tuple[str, dict[str, str]]:
        calls, codes = self.partner.calls, self.partner.codes
        params = {"ACCOUNT_NO": p.account, "REFERENCE_NO": p.key}
        amount = {"AMOUNT": f"{p.amount:.2f}"} if p.amount is not None else {}
        date = {"TRAN_DATE": p.posted_on} if p.posted_on else {}
        match p.kind:
            case PostingKind.PAYMENT:
                # Where the payer paid: what shows a payment the platform must never pump (POSConnect).
                channel = {"PAY_CHANNEL": p.channel} if p.channel else {}
                return calls["payment"], {**params, **amount, "TRAN_TYPE": codes["payment_transaction_type"],
                                          "PAY_METHOD": p.method or "", **channel, **date}
            case PostingKind.CREDIT:
                return calls["credit"], {**params, **amount, "TRAN_TYPE": codes["credit_transaction_type"], **date}
            case PostingKind.ACH_RETURN:
                return calls["ach_return"], {**params, **amount, "ORIG_REFERENCE_NO": p.original_key or "",
                                             "RETURN_CODE": p.return_code or ""}
            case PostingKind.VOID:
                return calls["void"], {**params, **amount, "ORIG_REFERENCE_NO": p.original_key or ""}
            case PostingKind.CHANGE:
                change = self._change_call(p.program)
                alert = {"ALERT_CODE": change.alert_code} if change.alert_code else {}
                return change.call, {**params, **alert, "VALUE": p.value or ""}
        raise AssertionError(p.kind)

    def statement_pdf(self, account: str, invoice_number: str) -> bytes:
        fields = self._call(self.partner.calls["statement_pdf"], {"ACCOUNT_NO": account, "INVOICE_NO": invoice_number})
        try:
            return base64.b64decode(fields.get("PDF", ""), validate=True)
        except ValueError:
            raise PartnerRejected(f"{self.partner.calls['statement_pdf']}: PDF field is not base64") from None


class CayentaStubs(PartnerStubs):
    def _roles(self, method: str, params: Mapping[str, str]) -> str:
        is_credit = params.get("TRAN_TYPE") == self.partner.codes.get("credit_transaction_type")
        if method == self.partner.calls.get("payment") and is_credit:
            return "credit"
        for role, call in self.partner.calls.items():
            if call == method:
                return role
        return next((f"{program}_change" for program, c in self.partner.change_log.items() if c.call == method), "")

    def decode(self, method: str, url: str, headers: Mapping[str, str], body: str) -> tuple[str, dict[str, str]]:
        call, params = parse_request(body)
        fields = {FIELD_NAMES.get(k, k.lower()): v for k, v in params.items()}
        return call, {**fields, "role": self._roles(call, params)} if call else fields

    def _request(self, method: str, condition: str = "") -> dict[str, Any]:
        xpath = f"/Request/{method}/Params{f'[{condition}]' if condition else ''}"
        return {"method": "POST", "urlPath": self.partner.endpoint_path,
                "formParameters": {FORM_FIELD: {"matchesXPath": xpath}}}

    def _role_request(self, role: str) -> dict[str, Any]:
        if role.endswith("_change"):
            return self._request(self.partner.change_log[role.removesuffix("_change")].call)
        codes = self.partner.codes
        if role in ("payment", "credit"):
            return self._request(self.partner.calls[role], f"TRAN_TYPE='{codes[role + '_transaction_type']}'")
        return self._request(self.partner.calls[role])

    def account(self, account: str, fields: Mapping[str, str]) -> dict[str, Any]:
        method = self.partner.calls["balance"]
        inner = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in {"STATUS": "0", "ACCOUNT_NO": account, **fields}.items())
        return {
            "name": f"{method} {account} (arranged)",
            "priority": 1,
            "request": self._request(method, f"ACCOUNT_NO='{account}'"),
            "response": {"status": 200, "headers": {"Content-Type": "application/xml"},
                         "body": f"<Reply><{method}><STATUS>0</STATUS><Params>{inner}</Params></{method}></Reply>"},
        }

    def replay_request(self, method: str, url: str, body: str, identity: Sequence[str]) -> dict[str, Any]:
        call, params = parse_request(body)
        if not call:
            return super().replay_request(method, url, body, identity)
        return self._request(call, " and ".join(f"{name}={_literal(params[name])}" for name in identity
                                                if name in params))

    def echoes(self, url: str, body: str, names: Sequence[str]) -> Echo:
        call, params = parse_request(body)
        return Echo(FORM_PRELUDE, {params[name]: _form_value(call, name) for name in names if params.get(name)})

    def fault_request(self, role: str) -> tuple[str, dict[str, Any]]:
        request = self._role_request(role)
        return request["formParameters"][FORM_FIELD]["matchesXPath"].split("/")[2], request

    def posted_answer(self, call: str, again: bool) -> dict[str, Any]:
        return _templated_ok(call, ALREADY_POSTED if again else "0")

# Response templating: parse the form once, then read XMLREQUEST's parameters by XPath.
FORM_PRELUDE = "{{#formData request.body 'form' urlDecode=true}}{{/formData}}"


def _form_value(method: str, name: str) -> str:
    """The template expression giving parameter ``name`` of the request being answered."""
    return f"{{{{xPath form.{FORM_FIELD} '/Request/{method}/Params/{name}/text()'}}}}"


def _literal(value: str) -> str:
    """``value`` as an XPath 1.0 string literal (which has no escapes: quotes are concatenated)."""
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    return "concat(" + ", \"'\", ".join(f"'{part}'" for part in value.split("'")) + ")"


def _templated_ok(method: str, status: str = "0") -> dict[str, Any]:
    ref = _form_value(method, "REFERENCE_NO")
    desc = "REFERENCE_NO ALREADY POSTED" if status == ALREADY_POSTED else "OK"
    return {
        "status": 200, "headers": {"Content-Type": "application/xml"}, "transformers": ["response-template"],
        "body": FORM_PRELUDE +
        f"<Reply><{method}><STATUS>0</STATUS><Params><STATUS>{status}</STATUS><STATUS_DESC>{desc}</STATUS_DESC>"
        f"<AR_ITEM_NO>AR-{ref}</AR_ITEM_NO></Params></{method}></Reply>",
    }


ADAPTER = Adapter(client=CayentaClient, stubs=CayentaStubs)
