"""`python -m bench --quick` makes the sizes small, but an option given beside it stays as given: the
reduced bench's `--recovery-invoices 0` skips the fault-window run instead of running 4 invoices."""

from __future__ import annotations

from bench.__main__ import QUICK_SIZES, parse_args


def test_quick_sizes_yield_to_the_options_given() -> None:
    quick = parse_args(["--quick", "--recovery-invoices", "0", "--invoices", "60"])
    assert (quick.recovery_invoices, quick.invoices) == (0, 60)
    assert (quick.issuers, quick.repeat, quick.integrations) == (2, 1, 500)


def test_quick_alone_is_small_and_without_it_the_full_sizes_stay() -> None:
    assert {name: getattr(parse_args(["--quick"]), name) for name in QUICK_SIZES} == QUICK_SIZES
    full = parse_args([])
    assert (full.invoices, full.recovery_invoices, full.repeat) == (60, 30, 5)
