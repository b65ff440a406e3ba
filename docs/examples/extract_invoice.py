"""Typed extraction: a dataclass out of free text, valid by construction.

Run it with ``python docs/examples/extract_invoice.py`` (it uses the embedded default model);
the test suite executes :func:`main` on a real engine.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

import pydantic

import typedgen


@dataclasses.dataclass
class Invoice:
    number: Annotated[str, pydantic.StringConstraints(max_length=20)]
    vendor: Annotated[str, pydantic.StringConstraints(max_length=60)]
    total: float
    currency: Literal["EUR", "USD", "GBP"]


TEXT = """INVOICE No. 2024-117
From: Blue Harbor Supplies Ltd.
3 x paper boxes at 40.00 EUR, 1 x delivery at 15.50 EUR.
Amount due: 135.50 EUR"""


def main(model: typedgen.models.VLLM | None = None) -> Invoice:
    model = model or typedgen.models.default()

    @typedgen.fn(model=model, max_tokens=200)
    def extract(text: str) -> Invoice:
        """Extract the invoice fields from the text."""

    invoice = extract(TEXT)  # an Invoice, or a typed error carrying the raw text
    print(invoice)
    return invoice


if __name__ == "__main__":
    main()
