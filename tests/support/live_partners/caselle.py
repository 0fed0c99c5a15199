"""Caselle Connect as a live partner: OAuth client credentials, then GraphQL with a bearer token.

A real GraphQL server (graphql-core executes the client's documents against a schema), with
the two APIs the harness's Caselle client calls: AR on ``/tp/api/ar0/graphql`` (the ``account``
query) and cash receipting on ``/tp/api/cr0/graphql`` (the posting mutations). A document the
schema does not admit is refused as GraphQL refuses it. Tokens: the one Caselle issued with
manual authorization (from the environment) and any fetched on ``/tp/oauth/token`` for an hour.
It answers from its own books: its own receipt numbers, its customers' names, its messages;
payment, category and distribution codes must be ones it has set up (its data file's ``codes``).

With ``drift`` the ``account`` query answers ``paymentRestriction: null`` for an account without
a restriction, where it said ``NONE`` before (as a new Connect release might). Nothing is blocked
either way, so every scenario still passes; `sit diff` shows the changed field.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

from graphql import GraphQLError, GraphQLResolveInfo, GraphQLSchema, build_schema, graphql_sync

from tests.support.live_partners.ledger import Account, Item, Ledger
from tests.support.live_partners.server import Request, Response

TOKEN_PATH, AR_PATH, CR_PATH = "/tp/oauth/token", "/tp/api/ar0/graphql", "/tp/api/cr0/graphql"
# Environment variables, as the partner profile names them: client id, client secret, the issued token.
CREDENTIALS = ("SIT_CASELLE_CLIENT_ID", "SIT_CASELLE_CLIENT_SECRET", "SIT_CASELLE_OAUTH_TOKEN")
VERSION = "2021.02.160"
TOKEN_SECONDS = 3600
NO_RESTRICTION = "NONE"
_MONEY = re.compile(r"\d{1,7}\.\d{2}")  # decimal(9,2)
_RETURN_CODE = re.compile(r"R\d{2}")
_JSON = "application/json"

# Amounts are strings with two decimals (decimal(9,2)), as the harness's client sends them; the resolvers check them.
_COMMON = """
enum ReceiptStatus { POSTED DUPLICATE }
type PostingResult { status: ReceiptStatus! receiptNumber: String message: String }
"""
AR_SCHEMA = _COMMON + """
enum PaymentRestriction { NONE NO_CC NO_ACH NO_ONLINE }
type Account {
  accountNumber: String!
  customerName: String
  balance: String!
  pastDue: String!
  paymentRestriction: PaymentRestriction
  budgetAmount: String
  paperlessBilling: Boolean!
  autopay: Boolean!
}
type Query { account(accountNumber: String!): Account }
"""
CR_SCHEMA = _COMMON + """
input PostPaymentInput {
  accountNumber: String! reference: String! amount: String! paymentCode: String!
  categoryCode: String! distributionCode: String! paymentDate: String
}
input ReversePaymentInput {
  accountNumber: String! reference: String! amount: String! originalReference: String! returnCode: String!
}
input VoidPaymentInput { accountNumber: String! reference: String! amount: String originalReference: String! }
input SetPaperlessBillingInput { accountNumber: String! reference: String! enabled: Boolean! }
input SetAutopayInput { accountNumber: String! reference: String! enabled: Boolean! }
type Query { version: String! }
type Mutation {
  postPayment(input: PostPaymentInput!): PostingResult
  reversePayment(input: ReversePaymentInput!): PostingResult
  voidPayment(input: VoidPaymentInput!): PostingResult
  setPaperlessBilling(input: SetPaperlessBillingInput!): PostingResult
  setAutopay(input: SetAutopayInput!): PostingResult
}
"""


def _money(given: dict[str, Any], name: str = "amount") -> Decimal | None:
    """The input's amount (None if it has none); a refusal unless it has two decimals and at most 7 digits before."""
    value = given.get(name)
    if value is None:
        return None
    if not _MONEY.fullmatch(value) or Decimal(value) <= 0:
        raise _refused(f"{name} {value!r} is not a positive amount with two decimals, at most 9999999.99")
    return Decimal(value)


def _text(amount: Decimal | None) -> str | None:
    return None if amount is None else f"{amount:.2f}"


def _refused(message: str, code: str = "BAD_USER_INPUT") -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


class Caselle:
    server_name = f"Caselle-COWS/{VERSION}"

    def __init__(self, ledger: Ledger, client_id: str, client_secret: str, issued_token: str, *,
                 drift: bool = False) -> None:
        self.ledger, self.drift = ledger, drift
        self._client = (client_id, client_secret)
        self._tokens: dict[str, float] = {issued_token: float("inf")} if issued_token else {}
        self._apis: dict[str, tuple[GraphQLSchema, object]] = {
            AR_PATH: (build_schema(AR_SCHEMA), _Ar(self)), CR_PATH: (build_schema(CR_SCHEMA), _Cr(self))}

    # -- HTTP -------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        if request.path == TOKEN_PATH and request.method == "POST":
            return self._token(request)
        api = self._apis.get(request.path)
        if api is None:
            return Response(404, b"Not Found")
        if request.method != "POST":
            return Response(405, b"Method Not Allowed", headers={"Allow": "POST"})
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return _json(401, {"error": "invalid_token", "error_description": "no access token"},
                         {"WWW-Authenticate": "Bearer"})
        if not self._valid(token):
            return _json(401, {"error": "invalid_token", "error_description": "The access token is invalid or expired"},
                         {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return _json(400, {"errors": [{"message": "The request body is not JSON",
                                           "extensions": {"code": "BAD_REQUEST"}}]})
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return _json(400, {"errors": [{"message": "A GraphQL request needs a query",
                                           "extensions": {"code": "BAD_REQUEST"}}]})
        return _json(200, self._execute(*api, body))

    def _execute(self, schema: GraphQLSchema, root: object, body: dict[str, Any]) -> dict[str, Any]:
        variables = body.get("variables") if isinstance(body.get("variables"), dict) else None
        with self.ledger.lock:
            result = graphql_sync(schema, body["query"], root_value=root, variable_values=variables,
                                  operation_name=body.get("operationName"))
        answer: dict[str, Any] = {"data": result.data}
        if result.errors:
            default = "GRAPHQL_VALIDATION_FAILED" if result.data is None else "INTERNAL_SERVER_ERROR"
            answer["errors"] = [{**error.formatted, "extensions": {"code": default, **(error.extensions or {})}}
                                for error in result.errors]
        return answer

    def _token(self, request: Request) -> Response:
        form = {name: values[0] for name, values in parse_qs(request.body.decode("utf-8", "replace")).items()}
        if form.get("grant_type") != "client_credentials":
            return _json(400, {"error": "unsupported_grant_type"})
        given = (form.get("client_id", ""), form.get("client_secret", ""))
        if not (hmac.compare_digest(given[0], self._client[0]) & hmac.compare_digest(given[1], self._client[1])):
            return _json(401, {"error": "invalid_client", "error_description": "client authentication failed"})
        token = secrets.token_urlsafe(24)
        with self.ledger.lock:
            self._tokens[token] = time.monotonic() + TOKEN_SECONDS
        return _json(200, {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_SECONDS})

    def _valid(self, token: str) -> bool:
        with self.ledger.lock:
            return any(hmac.compare_digest(token, known) and time.monotonic() < until
                       for known, until in self._tokens.items())

    # -- the books ---------------------------------------------------------------------------
    def account(self, number: str) -> Account:
        account = self.ledger.account(number)
        if account is None:
            raise _refused(f"Account {number} was not found", "NOT_FOUND")
        return account

    def posting(self, given: dict[str, Any], kind: str, take: Callable[[Account], Item]) -> dict[str, Any]:
        """A mutation's answer: DUPLICATE for a reference taken before, else what ``take`` books."""
        done = self.ledger.taken(given["reference"])
        if done is not None:
            return {"status": "DUPLICATE", "receiptNumber": done.number,
                    "message": f"Reference {done.reference} was received before as {done.number}"}
        item = take(self.account(given["accountNumber"]))
        return {"status": "POSTED", "receiptNumber": item.number, "message": f"{kind} {item.number} posted"}

    def original(self, given: dict[str, Any], account: Account, kinds: tuple[str, ...]) -> Item:
        original = self.ledger.taken(given["originalReference"])
        if original is None or original.account != account.number or original.kind not in kinds:
            raise _refused(f"No receipt with reference {given['originalReference']} on account {account.number}")
        if original.reversed_by:
            raise _refused(f"Receipt {original.number} was already reversed", "ALREADY_REVERSED")
        amount = _money(given)
        if amount is not None and amount != original.amount:
            raise _refused(f"Amount {amount:.2f} is not the amount of receipt {original.number} "
                           f"({_text(original.amount)})")
        return original

    def code(self, kind: str, value: str) -> None:
        known = self.ledger.codes.get(kind, [])
        if value not in known:
            raise _refused(f"{kind.capitalize()} code '{value}' is not set up for online payments "
                           f"(set up: {', '.join(known) or 'none'})")


class _Ar:
    """Resolvers of the AR API (graphql-core calls a root attribute with ``info`` and the arguments)."""

    def __init__(self, caselle: Caselle) -> None:
        self._c = caselle

    def account(self, _: GraphQLResolveInfo, accountNumber: str) -> dict[str, Any] | None:
        account = self._c.account(accountNumber)
        restriction: str | None = account.block_indicator or NO_RESTRICTION
        if self._c.drift and restriction == NO_RESTRICTION:
            restriction = None
        return {"accountNumber": account.number, "customerName": account.customer_name or None,
                "balance": _text(account.balance), "pastDue": _text(account.past_due),
                "paymentRestriction": restriction, "budgetAmount": _text(account.budget_amount),
                "paperlessBilling": account.paperless,
                "autopay": account.autopay}


class _Cr:
    """Resolvers of the cash receipting API."""

    def __init__(self, caselle: Caselle) -> None:
        self._c = caselle

    def version(self, _: GraphQLResolveInfo) -> str:
        return VERSION

    def postPayment(self, _: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
        def take(account: Account) -> Item:
            amount = _money(input)
            for kind, name in (("payment", "paymentCode"), ("category", "categoryCode"),
                               ("distribution", "distributionCode")):
                self._c.code(kind, input[name])
            return self._c.ledger.take(input["reference"], account, "payment", amount)
        return self._c.posting(input, "Receipt", take)

    def reversePayment(self, _: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
        def take(account: Account) -> Item:
            if not _RETURN_CODE.fullmatch(input["returnCode"]):
                raise _refused(f"Return code {input['returnCode']} is not a NACHA return code (NSF reversal)")
            original = self._c.original(input, account, ("payment",))
            return self._c.ledger.take(input["reference"], account, "return", original.amount, original)
        return self._c.posting(input, "Reversal", take)

    def voidPayment(self, _: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
        def take(account: Account) -> Item:
            original = self._c.original(input, account, ("payment",))
            return self._c.ledger.take(input["reference"], account, "void", original.amount, original)
        return self._c.posting(input, "Void", take)

    def setPaperlessBilling(self, _: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
        return self._change(input, "paperless")

    def setAutopay(self, _: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
        return self._change(input, "autopay")

    def _change(self, given: dict[str, Any], program: str) -> dict[str, Any]:
        def take(account: Account) -> Item:
            setattr(account, program, bool(given["enabled"]))
            return self._c.ledger.take(given["reference"], account, "change")
        return self._c.posting(given, f"{program.capitalize()} change", take)


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(body).encode(), _JSON, headers or {})
