"""Apple's device management: SCEP enrollment of school-owned iPads."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Apple's endpoints."""
    from mdm.apple import scep

    scep.init_app(app)
