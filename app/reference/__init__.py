"""Reference data (regions, insurers, plans …) and its idempotent loader."""

from .data import CITY_CODES, PROVINCE_CODE  # noqa: F401
from .loader import load_reference_data  # noqa: F401
