"""The hosted pages the payer sees: the payment form, the printable receipt, a decline, an error.

Plain HTML forms, no JavaScript: any browser, and a screen reader, can pay.
"""

from __future__ import annotations

from jinja2 import DictLoader, Environment, select_autoescape

from harness.cloudpay.config import CloudPayBiller
from harness.cloudpay.ledger import Payment
from harness.cloudpay.postback import money

_LAYOUT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">
<title>{% block title %}{% endblock %} - {{ biller.name }}</title>
<style>
body { font-family: sans-serif; max-width: 40em; margin: 2em auto; }
dt { font-weight: bold; } .error { color: #a00; } label { display: block; margin-top: .6em; }
table.invoices { border-collapse: collapse; margin: .4em 0 1em 0; }
table.invoices th, table.invoices td { border-bottom: 1px solid #ccc; padding: .2em .8em .2em 0; text-align: left; }
table.invoices td.amount, table.invoices th.amount { text-align: right; }
.test { background: #fff2cc; border: 1px solid #bf9000; padding: .4em .6em; font-size: .9em; }
@media print { form, .no-print { display: none; } }
</style></head>
<body><p class="test no-print" id="test-mode">SIT test page: no card is charged. Test cards: 4111111111111111
approves, 4000000000000002 declines.</p>
<header><h1>{{ biller.name }}</h1></header><main>{% block main %}{% endblock %}</main></body></html>
"""

_INVOICES = """<table class="invoices" id="invoices"><thead><tr><th>Invoice</th><th>Type</th>
<th class="amount">Amount</th></tr></thead><tbody>
{% for invoice in payment.request.invoices %}<tr><td>{{ invoice.number }}</td><td>{{ invoice.type_id }}</td>
<td class="amount">${{ "%.2f" | format(invoice.balance_due) }}</td></tr>{% endfor %}
</tbody></table>"""

_SUMMARY = """<dl>
<dt>Biller</dt><dd id="biller">{{ biller.name }}</dd>
<dt>Reference</dt><dd id="reference">{{ reference }}</dd>
<dt>Amount</dt><dd id="amount">${{ amount }}</dd>
</dl>{% include "invoices" %}"""

_PAY = """{% extends "layout" %}{% block title %}Pay{% endblock %}{% block main %}
<h2>Payment</h2>{% include "summary" %}
{% if error %}<p class="error" id="error" role="alert">{{ error }}</p>{% endif %}
<form method="post" action="/cloudpay/pay/{{ payment.guid }}">
<label>Card number <input name="CardNumber" id="CardNumber" autocomplete="cc-number" inputmode="numeric"></label>
<label>Expiry (MM/YY) <input name="Expiry" id="Expiry" autocomplete="cc-exp"></label>
<label>CVV <input name="CVV" id="CVV" autocomplete="cc-csc" inputmode="numeric"></label>
<label>Name on card <input name="NameOnCard" id="NameOnCard" autocomplete="cc-name"></label>
<p><button type="submit" id="pay">Pay ${{ amount }}</button></p>
</form>{% endblock %}"""

_RECEIPT = """{% extends "layout" %}{% block title %}Receipt{% endblock %}{% block main %}
<h2 id="outcome">Payment approved</h2>
<p>Print this page for your records.</p>
<dl>
<dt>Confirmation number</dt><dd id="confirmation">{{ settled.confirmation }}</dd>
<dt>Date</dt><dd id="date">{{ settled.paid_at.strftime("%m/%d/%Y %I:%M %p") }}</dd>
<dt>Biller</dt><dd id="biller">{{ biller.name }}</dd>
<dt>Reference</dt><dd id="reference">{{ reference }}</dd>
<dt>Amount</dt><dd id="amount">${{ amount }}</dd>
<dt>Card</dt><dd id="card">{{ settled.card_type }} ending {{ settled.last4 }}</dd>
</dl>{% include "invoices" %}
<p class="no-print"><a id="return" href="{{ payment.request.return_url }}">Return to {{ biller.vendor }}</a></p>
{% endblock %}"""

_DECLINED = """{% extends "layout" %}{% block title %}Declined{% endblock %}{% block main %}
<h2 id="outcome">Payment declined</h2>
<p id="message">{{ settled.message }}. Your card was not charged.</p>{% include "summary" %}
<p><a id="return" href="{{ payment.request.return_url }}">Return to {{ biller.vendor }}</a></p>
{% endblock %}"""

_ERROR = """{% extends "layout" %}{% block title %}Error{% endblock %}{% block main %}
<h2>The payment cannot be made</h2><p class="error" id="error">{{ message }}</p>{% endblock %}"""

_ENV = Environment(loader=DictLoader({"layout": _LAYOUT, "summary": _SUMMARY, "invoices": _INVOICES, "pay": _PAY,
                                     "receipt": _RECEIPT,
                                     "declined": _DECLINED, "error": _ERROR}),
                   autoescape=select_autoescape(default=True, default_for_string=True))


def _context(payment: Payment, biller: CloudPayBiller) -> dict[str, object]:
    request = payment.request
    numbers = [invoice.number for invoice in request.invoices if invoice.number]
    return {"biller": biller, "payment": payment, "settled": payment.settlement, "amount": money(request.amount),
            "reference": request.biller_reference or ", ".join(numbers) or payment.guid}


def payment_page(payment: Payment, biller: CloudPayBiller, error: str = "") -> str:
    return _ENV.get_template("pay").render(**_context(payment, biller), error=error)


def outcome_page(payment: Payment, biller: CloudPayBiller) -> str:
    """The receipt of an approved payment, or the page saying it was declined."""
    assert payment.settlement is not None
    template = "receipt" if payment.settlement.approved else "declined"
    return _ENV.get_template(template).render(**_context(payment, biller))


def error_page(biller: CloudPayBiller, message: str) -> str:
    return _ENV.get_template("error").render(biller=biller, message=message)
