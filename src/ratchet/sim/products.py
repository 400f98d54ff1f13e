"""Products of the simulator: named after the data files, with realistic increments.

``ETH-BTC-5m.csv`` becomes product ``ETH-BTC``. Increments follow what Coinbase lists for
products of that kind: prices of BTC-quoted products move by 1e-8 BTC (the recorded data's own
precision), cheap coins trade in whole units, dear ones in 1e-8; the minimum order is worth
about 0.0001 BTC (or 1 USD) and never less than one base increment.
"""

from __future__ import annotations

from decimal import Decimal

from ratchet.domain.money import Product, ceil_to

SATOSHI = Decimal("0.00000001")
CENT = Decimal("0.01")

_MIN_NOTIONAL = {"BTC": Decimal("0.0001"), "USD": Decimal(1), "USDC": Decimal(1), "EUR": Decimal(1)}


def product_for(product_id: str, reference_price: Decimal) -> Product:
    """A product whose increments suit ``reference_price`` (a typical price of the pair)."""
    base, _, quote = product_id.partition("-")
    fiat = quote in ("USD", "USDC", "EUR")
    price_increment = CENT if fiat and reference_price >= 1 else SATOSHI
    if reference_price < Decimal("0.001"):
        base_increment = Decimal(1)
    elif reference_price < Decimal(1):
        base_increment = Decimal("0.01")
    else:
        base_increment = SATOSHI
    notional = _MIN_NOTIONAL.get(quote, Decimal("0.0001"))
    base_min = max(base_increment, ceil_to(notional / reference_price, base_increment))
    return Product(
        product_id=product_id,
        base_increment=base_increment,
        price_increment=price_increment,
        quote_increment=price_increment,
        base_min_size=base_min,
        base_max_size=None,
        quote_min_size=notional,
        base_currency=base,
        quote_currency=quote,
    )
