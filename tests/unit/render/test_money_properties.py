"""Money properties over generated invoices: totals are the sum of rows, VAT per rate, net + VAT + rounding =
gross, and no float anywhere in the money path. 3,500 + 3,000 + 1,500 (+ 1,000 on number formats) examples here
and 4,000 in test_identifiers.py: 13,000 in total."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_decimal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from invoice_bridge.mapping import to_invoice
from invoice_bridge.models.invoice import Invoice
from invoice_bridge.render.fidelity import reconcile
from invoice_bridge.render.numbers import format_amount
from invoice_bridge.render.pdf import format_quantity
from render_fixtures import CUSTOMER, ISSUER, row, source, text_row

D = Decimal
RATES = ["0.25", "0.12", "0.06", "0"]

rows_strategy = st.lists(
    st.one_of(
        st.tuples(
            st.decimals(min_value=D("0.01"), max_value=D("500"), places=2, allow_nan=False, allow_infinity=False),
            st.decimals(min_value=D("0.00"), max_value=D("99999"), places=2, allow_nan=False, allow_infinity=False),
            st.sampled_from(RATES),
            st.sampled_from(["0", "0.1", "0.05", "0.125"]),
        ),
        st.just(None),  # a text row
    ),
    min_size=1,
    max_size=10,
)


def _build(rows_spec: list, credit: bool, rounding: bool) -> tuple[Invoice, object]:
    rows = []
    for line, spec in enumerate(rows_spec):
        if spec is None:
            rows.append(text_row(line, f"Text {line}"))
        else:
            qty, price, rate, discount = spec
            rows.append(row(line, f"Rad {line}", str(qty), str(price), vat=rate, discount=discount))
    src = source(5000 + len(rows_spec), rows, credit=credit, rounding=rounding)
    return to_invoice(src, CUSTOMER, ISSUER, "int-1", office=None), src


def _walk_no_float(value: object) -> None:
    assert not isinstance(value, float), value
    if isinstance(value, dict):
        for item in value.values():
            _walk_no_float(item)
    elif isinstance(value, list):
        for item in value:
            _walk_no_float(item)


def _settings(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                    database=None)


@_settings(3500)
@given(rows_spec=rows_strategy, credit=st.booleans(), rounding=st.booleans())
def test_totals_are_sums_and_reconcile(rows_spec: list, credit: bool, rounding: bool) -> None:
    invoice, src = _build(rows_spec, credit, rounding)
    item_rows = [r for r in invoice.rows if not r.is_text_row]
    assert invoice.net_total == sum((r.amount for r in item_rows), D(0))
    assert invoice.vat_total == sum((v.vat_amount for v in invoice.vat_breakdown), D(0))
    assert invoice.net_total + invoice.vat_total + invoice.rounding == invoice.gross_total
    assert len(invoice.rows) == len(rows_spec)
    for amount in [invoice.net_total, invoice.vat_total, invoice.gross_total, invoice.rounding]:
        assert isinstance(amount, Decimal) and amount == amount.quantize(D("0.01"))
    assert abs(invoice.rounding) < 1
    assert reconcile(invoice, src) == []  # type: ignore[arg-type]


@_settings(3000)
@given(rows_spec=rows_strategy)
def test_vat_per_rate(rows_spec: list) -> None:
    invoice, _ = _build(rows_spec, False, False)
    by_rate: dict[Decimal, Decimal] = {}
    for r in invoice.rows:
        if not r.is_text_row:
            by_rate[r.vat_rate] = by_rate.get(r.vat_rate, D(0)) + r.amount
    assert {v.rate: v.taxable_amount for v in invoice.vat_breakdown} == by_rate
    for v in invoice.vat_breakdown:
        expected = (v.taxable_amount * v.rate / 100).quantize(D("0.01"))
        assert abs(v.vat_amount - expected) <= D("0.01")
        assert v.category == ("S" if v.rate > 0 else "E")
        assert v.rate in (D(25), D(12), D(6), D(0))


@_settings(1500)
@given(rows_spec=rows_strategy, credit=st.booleans())
def test_no_float_in_the_money_path(rows_spec: list, credit: bool) -> None:
    invoice, _ = _build(rows_spec, credit, True)
    _walk_no_float(invoice.model_dump())
    # JSON carries money as strings, so a round trip is exact.
    assert Invoice.model_validate_json(invoice.model_dump_json()) == invoice
    if credit:
        assert invoice.document_type == "credit_note" and invoice.gross_total >= 0


def test_a_changed_source_total_is_a_fidelity_difference() -> None:
    invoice, src = _build([(D("2"), D("100.00"), "0.25", "0")], False, False)
    tampered = src.model_copy(update={"TotalAmountInvoiceCurrency": D("251.00")})  # type: ignore[attr-defined]
    differences = reconcile(invoice, tampered)
    assert [d.field for d in differences] == ["gross_total"]
    fewer_rows = src.model_copy(update={"Rows": src.Rows[:0]})  # type: ignore[attr-defined]
    assert "row_count" in {d.field for d in reconcile(invoice, fewer_rows)}
    later = src.model_copy(update={"DueDate": None})  # type: ignore[attr-defined]
    assert "due_date" in {d.field for d in reconcile(invoice, later)}


@_settings(1000)
@given(
    amount=st.decimals(min_value=D("-99999999.99"), max_value=D("99999999.99"), places=2,
                       allow_nan=False, allow_infinity=False),
    quantity=st.decimals(min_value=D("-9999"), max_value=D("9999"), places=3, allow_nan=False, allow_infinity=False),
)
def test_pdf_numbers_are_written_as_cldr_writes_them(amount: Decimal, quantity: Decimal) -> None:
    """The PDF formats numbers itself (Babel would cost ~20 µs per cell and 33 MB in the layer); Babel's
    CLDR data is the reference it must agree with, in both languages."""
    for language, locale in (("sv", "sv_SE"), ("en", "en_GB")):
        assert format_amount(amount, language) == format_decimal(amount, "#,##0.00", locale=locale)
        places = max(0, -quantity.normalize().as_tuple().exponent)
        pattern = "#,##0" + ("." + "0" * places if places else "")
        assert format_quantity(quantity, language) == format_decimal(quantity.normalize(), pattern, locale=locale)
