"""A queue batch's invoices, issuers and integrations in one BatchGetItem (ports.BatchReader).

All three live in the one table, so the keys of a batch (up to 10 invoices, mostly of one issuer and
integration) fit one request where reading the invoices first and then their issuers and integrations took
three or more. The projection asks for each kind's attributes and never an invoice's history (`events`),
which the step does not read; attributes one kind has and another lacks are simply not in the answer.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from ..models.integration import Integration
from ..models.issuer import Issuer
from ..ports import BatchRead
from .aws import TableAdapter
from .dynamo_batch import batch_get
from .dynamo_integrations import integration_key, integration_of
from .dynamo_invoices import INVOICE_READ, invoice_key, invoice_of
from .dynamo_issuers import issuer_key, issuer_of

# Every attribute any of the three kinds is read with (the models' fields are their stored attributes).
_ATTRIBUTES = tuple(dict.fromkeys((*INVOICE_READ, *Issuer.model_fields, *Integration.model_fields)))
_KINDS = {"INVOICE#": invoice_of, "ISSUER#": issuer_of, "INTEGRATION#": integration_of}


class DynamoBatchReader(TableAdapter):
    def read(
        self, invoice_ids: Collection[str], issuer_ids: Collection[str], integration_ids: Collection[str]
    ) -> BatchRead:
        """One consistent BatchGetItem (more only past 100 keys or for keys DynamoDB left unprocessed)."""
        keys = [*map(invoice_key, invoice_ids), *map(issuer_key, issuer_ids), *map(integration_key, integration_ids)]
        found: dict[str, dict[str, Any]] = {prefix: {} for prefix in _KINDS}
        for item in batch_get(self._table_name, keys, attributes=_ATTRIBUTES):
            prefix, _, item_id = str(item["PK"]).partition("#")
            kind = f"{prefix}#"
            found[kind][item_id] = _KINDS[kind](item)
        return BatchRead(invoices=found["INVOICE#"], issuers=found["ISSUER#"], integrations=found["INTEGRATION#"])
