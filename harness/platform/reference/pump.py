"""The data pump: every open transaction to the partner, on the channel its capability travels by.

On the API channel each transaction is posted by a call, with retries and idempotency keys; on a
file channel it joins the day's batch, which batch close writes as the payment file
(``harness.platform.reference.files``). On the API channel a transient fault is retried with
exponential backoff; when the attempts run out the transaction is parked (never dropped) and
retried at the next pump run. Every attempt carries the same key, so a partner that took a
posting whose answer was lost says "already posted" instead of posting it twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from harness.partners import Outcome, PartnerClient, PartnerRejected, PartnerUnavailable, Posting, PostingKind
from harness.platform.port import Transaction
from harness.profiles import Biller, PartnerProfile, out_of_scope

Emit = Callable[..., None]

CAPABILITY_OF = {
    PostingKind.PAYMENT: "payment_posting",
    PostingKind.CREDIT: "credit_posting",
    PostingKind.ACH_RETURN: "ach_reject_posting",
    PostingKind.VOID: "void_posting",
}


def capability_of(tx: Transaction) -> str:
    """The capability a transaction's posting belongs to (payment_posting, paperless_change...)."""
    kind = PostingKind(tx.kind)
    return f"{tx.program}_change" if kind is PostingKind.CHANGE else CAPABILITY_OF[kind]


def exclusion(biller: Biller, tx: Transaction) -> str | None:
    """Why ``tx`` must never reach the partner, or None when it should be pumped."""
    if tx.channel and (reason := biller.pump.excluded_channels.get(tx.channel)):
        return f"{tx.channel} payments are not pumped: {reason}"
    return out_of_scope(biller, capability_of(tx))


def diagnosis(partner: PartnerProfile, error: str) -> str | None:
    """The likely cause the partner profile gives for an error whose text says which (a hint
    for a hard-to-read partner error), or None."""
    text = error.casefold()
    return next((d.hint for d in partner.diagnostics if d.match.casefold() in text), None)


def explained(partner: PartnerProfile, reason: str) -> dict[str, str]:
    """An event's ``reason`` (and ``hint``) for a partner error: the hint, when the profile has
    one, is part of the reason the platform shows."""
    hint = diagnosis(partner, reason)
    return {"reason": f"{reason.rstrip('.')}. Likely cause: {hint}", "hint": hint} if hint else {"reason": reason}


def posting(tx: Transaction, posted_on: str) -> Posting:
    return Posting(
        key=tx.key, kind=PostingKind(tx.kind), account=tx.account, amount=tx.amount, method=tx.method,
        original_key=tx.original, return_code=tx.code, program=tx.program, value=tx.value, posted_on=posted_on,
        channel=tx.channel,
    )


class DataPump:
    def __init__(self, biller: Biller, client: PartnerClient | None, emit: Emit,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._biller, self._client, self._emit, self._sleep = biller, client, emit, sleep

    def send(self, tx: Transaction, posted_on: str) -> str:
        """Send one transaction on its channel; returns the status it ends in."""
        if reason := exclusion(self._biller, tx):
            self._emit("pump_excluded", key=tx.key, reason=reason)
            return "excluded"
        if (spec := self._biller.file_for(capability_of(tx))) is not None:
            self._emit("tx_batched", key=tx.key, reason=f"in the day's payment file, written {spec.schedule}")
            return "batched"
        return self._post(tx, posted_on)

    def _post(self, tx: Transaction, posted_on: str) -> str:
        """The API channel: one call, retried on transient faults, parked when they persist."""
        assert self._client is not None, "a partner without an API has every posting on a file channel"
        policy = self._biller.pump
        attempts = tx.attempts
        for attempt in range(1, policy.attempts + 1):
            attempts += 1
            try:
                result = self._client.post(posting(tx, posted_on))
            except PartnerUnavailable as exc:
                retry_in = policy.backoff_seconds * 2 ** (attempt - 1) if attempt < policy.attempts else None
                again = {} if retry_in is None else {"retry_in_s": retry_in}
                self._emit("pump_attempt_failed", key=tx.key, attempt=attempts, error=str(exc), **again)
                if retry_in is not None:
                    self._sleep(retry_in)
                    continue
                parked = f"{exc}; parked after {policy.attempts} attempts, retried at the next pump run"
                self._emit("pump_parked", key=tx.key, attempts=attempts, **explained(self._biller.partner, parked))
                return "parked"
            except PartnerRejected as exc:
                self._emit("pump_failed", key=tx.key, attempts=attempts, code=exc.code,
                           **explained(self._biller.partner, str(exc)))
                return "failed"
            already = result.outcome is Outcome.ALREADY_POSTED
            self._emit("pump_posted", key=tx.key, attempts=attempts, partner_ref=result.partner_ref,
                       already_posted=already, reason="the partner already had it" if already else "")
            return "posted"
        raise AssertionError("unreachable: the loop returns on its last attempt")
