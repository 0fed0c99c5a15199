"""Caselle Connect: GraphQL over POST on ``/tp/api/ar0`` (real time) and ``/tp/api/cr0`` (cash receipts).

Every call carries an OAuth bearer token: the token Caselle issued (from the environment) until
it is refused, then one fetched with the client credentials, once per refusal. The host is the
biller's customer subdomain. No GraphQL schema is public: the operation names, fields and error
codes are the stub pack's assumptions, listed in ``stubs/caselle/README.md``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

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

TOKEN_CALL = "OAuthToken"
POSTED, DUPLICATE = "POSTED", "DUPLICATE"
# Payments the payer makes online from a bank account are "online bank drafts" (OBD).
ONLINE_CHANNELS = ("web", "mobile")
# Caselle input field -> the platform's word for it, for evidence and step assertions.
FIELD_NAMES = {
    "accountNumber": "account", "amount": "amount", "reference": "reference", "originalReference": "original",
    "returnCode": "return_code", "paymentCode": "payment_code", "categoryCode": "category",
    "distributionCode": "distribution", "paymentDate": "date", "enabled": "value",
}  # fmt: skip
# Caselle's security licences for real-time work: licence -> (what it licenses, a call role on its endpoint).
LICENCES = {"ARW4000": ("utility management web service", "balance"),
            "CRW40000": ("cash receipting web service", "payment")}
# The generic error cr0 answers when the cash receipting workspace is not marked "use for online payments".
GENERIC_ERROR = "An unexpected error occurred while processing the request."


def operation_field(operation: str) -> str:
    """The GraphQL field an operation selects: ``PostPayment`` -> ``postPayment``."""
    return operation[:1].lower() + operation[1:]


def _document(operation: str) -> str:
    if operation == "AccountBalance":
        return ("query AccountBalance($accountNumber: String!) { account(accountNumber: $accountNumber) "
                "{ accountNumber customerName balance pastDue paymentRestriction budgetAmount } }")
    return (f"mutation {operation}($input: {operation}Input!) "
            f"{{ {operation_field(operation)}(input: $input) {{ status receiptNumber message }} }}")


class CaselleClient(PartnerClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._http = self._http_client()
        self.tokens_fetched = 0

    def close(self) -> None:
        self._http.close()

    # -- transport ------------------------------------------------------------------------
    def _post(self, what: str, path: str, **request: Any) -> httpx.Response:
        try:
            response = self._http.post(path, **request)
        except httpx.ConnectError:
            raise PartnerUnavailable(
                f"{what}: cannot connect to {self.host or self.base_url}: Caselle's COWS (Connect Online Web "
                "Service) is not running on the biller's server, or not reachable") from None
        except httpx.TimeoutException:
            raise PartnerUnavailable(f"{what}: no answer within {self.timeout:g} s (timeout)") from None
        except httpx.TransportError as exc:
            raise PartnerUnavailable(f"{what}: connection failed ({type(exc).__name__})") from None
        if response.status_code >= 500:
            raise PartnerUnavailable(f"{what}: HTTP {response.status_code} server error")
        return response

    def _fetch_token(self) -> None:
        path = self.partner.token_path or "/oauth/token"
        response = self._post(TOKEN_CALL, path, data={
            "grant_type": "client_credentials", "client_id": self._user, "client_secret": self._secret})
        if response.status_code != 200:
            raise PartnerRejected(f"{TOKEN_CALL}: client credentials refused (HTTP {response.status_code})",
                                  code=str(response.status_code))
        token = _json(TOKEN_CALL, response).get("access_token")
        if not isinstance(token, str) or not token:
            raise PartnerRejected(f"{TOKEN_CALL}: the reply carries no access_token")
        self._token, self.tokens_fetched = token, self.tokens_fetched + 1

    def _graphql(self, operation: str, variables: Mapping[str, Any], role: str) -> dict[str, Any]:
        path = self.partner.endpoints.get(role, self.partner.endpoint_path)
        body = {"operationName": operation, "query": _document(operation), "variables": dict(variables)}
        if not self._token:
            self._fetch_token()
        for attempt in (1, 2):
            response = self._post(operation, path, json=body, headers={"Authorization": f"Bearer {self._token}"})
            if response.status_code != 401:
                break
            if attempt == 2:
                raise PartnerRejected(f"{operation}: a freshly fetched OAuth token was refused too (HTTP 401)",
                                      code="401")
            self._fetch_token()  # expired or revoked: fetch one, once, and send the same request again
        if response.status_code >= 400:
            raise PartnerRejected(f"{operation}: HTTP {response.status_code}", code=str(response.status_code))
        return _data(operation, _json(operation, response))

    # -- the platform's calls -------------------------------------------------------------
    def balance(self, account: str) -> dict[str, str]:
        operation = self.partner.calls["balance"]
        found = self._graphql(operation, {"accountNumber": account}, "balance").get("account")
        if not isinstance(found, dict):
            raise AccountNotFound(f"{operation}: account {account} not found", code="NOT_FOUND")
        return {name: "" if value is None else str(value) for name, value in found.items()}

    def post(self, posting: Posting) -> PostResult:
        operation, role, fields = self._posting(posting)
        reply = self._graphql(operation, {"input": fields}, role).get(operation_field(operation)) or {}
        status = reply.get("status")
        if status not in (POSTED, DUPLICATE):
            raise PartnerRejected(f"{operation}: status {status} {reply.get('message') or ''}".strip(), code=status)
        outcome = Outcome.ALREADY_POSTED if status == DUPLICATE else Outcome.POSTED
        return PostResult(outcome, reply.get("receiptNumber") or None, reply.get("message") or "")

    def _payment_code(self, p: Posting) -> str:
        name = "payment_cc" if p.method == "CC" else (
            "payment_obd" if p.channel in ONLINE_CHANNELS else "payment_ach")
        code = self.codes.get(name)
        if not code:
            raise PartnerRejected(f"no Caselle payment code '{name}' for this biller: add it to the biller profile")
        return code

    def _posting(self, p: Posting) -> tuple[str, str, dict[str, Any]]:
        calls = self.partner.calls
        base: dict[str, Any] = {"accountNumber": p.account, "reference": p.key}
        amount = {"amount": f"{p.amount:.2f}"} if p.amount is not None else {}
        match p.kind:
            case PostingKind.PAYMENT:
                codes = {"paymentCode": self._payment_code(p), "categoryCode": self.codes.get("category", ""),
                         "distributionCode": self.codes.get("distribution", "")}
                return calls["payment"], "payment", {**base, **amount, **codes, "paymentDate": p.posted_on}
            case PostingKind.ACH_RETURN:
                return calls["ach_return"], "ach_return", {
                    **base, **amount, "originalReference": p.original_key, "returnCode": p.return_code}
            case PostingKind.VOID:
                return calls["void"], "void", {**base, **amount, "originalReference": p.original_key}
            case PostingKind.CHANGE:
                change = self._change_call(p.program)
                return change.call, f"{p.program}_change", {**base, "enabled": p.value == "Y"}
            case PostingKind.CREDIT:
                raise PartnerRejected("Caselle Connect takes no credit postings (see the partner profile)")
        raise AssertionError(p.kind)

    def statement_pdf(self, account: str, invoice_number: str) -> bytes:
        raise PartnerRejected("Caselle Connect offers no bill image service (see the partner profile)")


def _json(what: str, response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise PartnerRejected(f"{what}: reply is not JSON (HTTP {response.status_code})") from None
    if not isinstance(body, dict):
        raise PartnerRejected(f"{what}: reply is not a JSON object")
    return body


def _data(operation: str, body: dict[str, Any]) -> dict[str, Any]:
    """The ``data`` of a GraphQL reply; its first error, if any, as the refusal it is."""
    errors = body.get("errors") or []
    if errors:
        first: dict[str, Any] = errors[0] if isinstance(errors[0], dict) else {"message": str(errors[0])}
        extensions = first.get("extensions") or {}
        code = extensions.get("code")
        if code == "NOT_FOUND":
            raise AccountNotFound(f"{operation}: {first.get('message', 'not found')}", code=code)
        licence = f" (security licence {extensions['license']} missing)" if extensions.get("license") else ""
        raise PartnerRejected(f"{operation}: {first.get('message', 'error')}{licence}", code=code)
    data = body.get("data")
    if not isinstance(data, dict):
        raise PartnerRejected(f"{operation}: reply has no data")
    return data


class CaselleStubs(PartnerStubs):
    FAILURES = ("workspace_not_for_online_payments", "token_expired",
                *(f"licence_missing:{licence}" for licence in LICENCES))

    def decode(self, method: str, url: str, headers: Mapping[str, str], body: str) -> tuple[str, dict[str, str]]:
        if self.partner.token_path and url.split("?", 1)[0] == self.partner.token_path:
            return TOKEN_CALL, {"role": "token"}
        try:
            request = json.loads(body) if body else {}
        except ValueError:
            return "", {}
        if not isinstance(request, dict) or not isinstance(request.get("operationName"), str):
            return "", {}
        operation, variables = request["operationName"], request.get("variables") or {}
        given = variables.get("input", variables) if isinstance(variables, dict) else {}
        fields = {FIELD_NAMES.get(k, k): _text(v) for k, v in given.items() if not isinstance(v, dict | list)}
        if "payment_code" in fields:
            fields["method"] = self._method(fields["payment_code"])
        if "value" in fields:
            fields["value"] = "Y" if fields["value"] == "true" else "N"
        return operation, {**fields, "role": self._role(operation)}

    def _method(self, code: str) -> str:
        return "CC" if code == self.codes.get("payment_cc") else "ACH"

    def _role(self, operation: str) -> str:
        for role, call in self.partner.calls.items():
            if call == operation:
                return role
        return next((f"{program}_change" for program, c in self.partner.change_log.items() if c.call == operation), "")

    def _request(self, role: str, operation: str, condition: str = "") -> dict[str, Any]:
        return _pattern(self.partner.endpoints.get(role, self.partner.endpoint_path), operation, condition)

    def replay_request(self, method: str, url: str, body: str, identity: Sequence[str]) -> dict[str, Any]:
        operation, places = _places(body)
        if not operation:  # the token call, or no GraphQL: its path says what it is
            return super().replay_request(method, url, body, identity)
        tests = [f"@.{where}.{name} == {_literal(holder[name])}" for name in identity for where, holder in places
                 if isinstance(holder.get(name), str | int | float) and not isinstance(holder.get(name), bool)]
        return _pattern(url.split("?", 1)[0], operation, " && ".join(tests))

    def echoes(self, url: str, body: str, names: Sequence[str]) -> Echo:
        _, places = _places(body)
        return Echo(values={str(holder[name]): f"{{{{jsonPath request.body '$.{where}.{name}'}}}}"
                            for name in names for where, holder in places if holder.get(name) not in (None, "")})

    def _role_request(self, role: str) -> dict[str, Any]:
        if role.endswith("_change"):
            return self._request(role, self.partner.change_log[role.removesuffix("_change")].call)
        return self._request(role, self.partner.calls[role])

    def account(self, account: str, fields: Mapping[str, str]) -> dict[str, Any]:
        operation = self.partner.calls["balance"]
        found = {"accountNumber": account, **fields}
        return {
            "name": f"{operation} {account} (arranged)", "priority": 1,
            "request": self._request("balance", operation, f"@.variables.accountNumber == '{account}'"),
            "response": {"status": 200, "jsonBody": {"data": {"account": found}},
                         "headers": {"Content-Type": "application/json"}},
        }

    def fault_request(self, role: str) -> tuple[str, dict[str, Any]]:
        operation = self.partner.calls.get(role) or self.partner.change_log[role.removesuffix("_change")].call
        return operation, self._role_request(role)

    def posted_answer(self, call: str, again: bool) -> dict[str, Any]:
        return _templated(call, DUPLICATE if again else POSTED)

    def failure(self, name: str, role: str | None = None, *, token: str = "") -> list[dict[str, Any]]:
        kind, _, licence = name.partition(":")
        if name == "workspace_not_for_online_payments":
            # cr0 answers 200 with its generic error: nothing in it names the workspace setting.
            error = {"message": GENERIC_ERROR, "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
            return [_answer(f"{name}: generic cr0 error", self._role_request(role or "payment"), 200,
                            {"errors": [error]})]
        if name == "token_expired":
            if not token:
                raise ValueError("token_expired needs the OAuth token the platform holds (credentials.token_env)")
            # The issued token is refused; a token fetched with the client credentials goes on to the pack.
            body = {"error": "invalid_token", "error_description": "The access token expired"}
            return [_answer(f"{name}: {path} refuses the issued token", {
                "method": "POST", "urlPath": path, "headers": {"Authorization": {"equalTo": f"Bearer {token}"}}},
                401, body, {"WWW-Authenticate": 'Bearer error="invalid_token"'}) for path in self._paths(role)]
        if kind == "licence_missing" and licence in LICENCES:
            what, licensed = LICENCES[licence]
            # The message names no licence (the hard case): only the extension says which one is missing.
            error = {"message": f"A security license for the {what} is required for this request",
                     "extensions": {"code": "LICENSE_REQUIRED", "license": licence}}
            return [_answer(f"{name}: {path} refused", {
                "method": "POST", "urlPath": path, "headers": {"Authorization": {"matches": "Bearer .+"}}},
                200, {"errors": [error]}) for path in self._paths(role or licensed)]
        return super().failure(name, role, token=token)

    def _paths(self, role: str | None) -> list[str]:
        """The endpoint of ``role``'s call; every GraphQL endpoint when None."""
        if role is not None:
            return [self.partner.endpoints.get(role, self.partner.endpoint_path)]
        return sorted({self.partner.endpoint_path, *self.partner.endpoints.values()})


def _pattern(path: str, operation: str, condition: str = "") -> dict[str, Any]:
    test = f"@.operationName == '{operation}'" + (f" && {condition}" if condition else "")
    return {"method": "POST", "urlPath": path, "headers": {"Authorization": {"matches": "Bearer .+"}},
            "bodyPatterns": [{"matchesJsonPath": f"$[?({test})]"}]}


def _places(body: str) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
    """A GraphQL request's operation and where its fields are: ``variables`` and ``variables.input``
    (("", []) for a body that is not a GraphQL request)."""
    try:
        request = json.loads(body) if body else None
    except ValueError:
        return "", []
    if not isinstance(request, dict) or not isinstance(request.get("operationName"), str):
        return "", []
    variables = request.get("variables")
    variables = variables if isinstance(variables, dict) else {}
    places = [("variables", variables), ("variables.input", variables.get("input"))]
    return request["operationName"], [(where, holder) for where, holder in places if isinstance(holder, dict)]


def _literal(value: str | float) -> str:
    """A JSONPath filter literal: numbers as they are, text quoted (its quotes escaped)."""
    if not isinstance(value, str):
        return json.dumps(value)
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def _answer(name: str, request: dict[str, Any], status: int, body: dict[str, Any],
            headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {"name": name, "priority": 1, "request": request,
            "response": {"status": status, "jsonBody": body,
                         "headers": {"Content-Type": "application/json", **(headers or {})}}}


def _text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, bool) else "" if value is None else str(value)


def _templated(operation: str, status: str) -> dict[str, Any]:
    receipt = "R-{{jsonPath request.body '$.variables.input.reference'}}"
    body = {"data": {operation_field(operation): {"status": status, "receiptNumber": receipt, "message": None}}}
    return {"status": 200, "headers": {"Content-Type": "application/json"}, "transformers": ["response-template"],
            "body": json.dumps(body)}


ADAPTER = Adapter(client=CaselleClient, stubs=CaselleStubs)
