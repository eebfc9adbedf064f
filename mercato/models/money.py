"""Integer money and quantities, and the bounds of DESIGN §2.

Every amount in Mercato is a Python ``int``. The annotated types below are strict: pydantic rejects
floats (``10.0`` included), exponents, NaN, Infinity, numeric strings and booleans for them.
"""

from typing import Annotated, Final

from pydantic import Field, StringConstraints

MIN_PRICE: Final = 1
MAX_PRICE: Final = 999_999_999_999
MIN_QUANTITY: Final = 1
MAX_QUANTITY: Final = 1_000_000_000
MAX_AMOUNT: Final = 10**18
"""The largest single deposit or withdrawal, coins or items."""
MAX_FEE_BPS: Final = 10_000
DEFAULT_FEE_BPS: Final = 200
BPS_DENOMINATOR: Final = 10_000

COINS: Final = "coins"
"""The asset id of the game's currency; every other asset is a material id."""

MATERIAL_PATTERN: Final = r"^[a-z0-9][a-z0-9-]{0,47}$"

Price = Annotated[int, Field(strict=True, ge=MIN_PRICE, le=MAX_PRICE)]
Quantity = Annotated[int, Field(strict=True, ge=MIN_QUANTITY, le=MAX_QUANTITY)]
Amount = Annotated[int, Field(strict=True, ge=1, le=MAX_AMOUNT)]
"""A positive deposit or withdrawal."""
NonNegative = Annotated[int, Field(strict=True, ge=0)]
FeeBps = Annotated[int, Field(strict=True, ge=0, le=MAX_FEE_BPS)]
MaterialId = Annotated[str, StringConstraints(strict=True, pattern=MATERIAL_PATTERN)]
Asset = Annotated[str, StringConstraints(strict=True, pattern=MATERIAL_PATTERN)]
"""``coins`` or a material id (the catalog never lists a material called ``coins``)."""


def fee_for(notional: int, fee_bps: int) -> int:
    """The sales tax on a sale of ``notional`` coins, rounded down."""
    return notional * fee_bps // BPS_DENOMINATOR
