"""Project files (the default config, the SQL schema) from a checkout or from the shipped zip.

In cluster deploy mode the driver imports `coldstart` from the zip that
spark-submit.sh ships, where `conf/` beside the package does not exist; the script
puts copies under `coldstart/_conf/` in the zip.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
SHIPPED = "_conf"


def project_text(relative: str) -> str:
    """The text of `relative` (e.g. `conf/coldstart.toml`) from the checkout, else from the package."""
    checkout_file = CHECKOUT / relative
    if checkout_file.is_file():
        return checkout_file.read_text(encoding="utf-8")
    shipped = resources.files("coldstart").joinpath(SHIPPED, *relative.split("/"))
    try:
        return shipped.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError, KeyError):
        raise FileNotFoundError(f"{relative}: neither in the checkout nor shipped with the package") from None
