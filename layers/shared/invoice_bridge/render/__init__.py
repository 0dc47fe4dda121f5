"""Rendering: our invoice as a PDF and a Peppol BIS Billing 3.0 e-invoice, validated with the official rules.

Submodules are imported on use (fpdf2 and saxonche are heavy; only the render function needs them).
"""
