"""QR codes for enrollment URLs, as self-contained SVG or PNG."""

from __future__ import annotations

import io

import segno

ERROR_CORRECTION = "m"
BORDER = 4
SVG_SCALE = 8


def _make(url: str) -> segno.QRCode:
    if not url:
        raise ValueError("url must not be empty")
    # A fixed level keeps the code's size predictable; boost_error would silently raise it.
    return segno.make(url, error=ERROR_CORRECTION, micro=False, boost_error=False)


def qr_svg(url: str) -> bytes:
    """Render a URL as a standalone SVG QR code (with XML declaration, no external references)."""
    out = io.BytesIO()
    # An explicit white background keeps the code scannable on dark-themed pages.
    _make(url).save(
        out, kind="svg", scale=SVG_SCALE, border=BORDER, xmldecl=True, dark="#000", light="#fff"
    )
    return out.getvalue()


def qr_png(url: str, scale: int = 8) -> bytes:
    """Render a URL as a PNG QR code, `scale` pixels per module."""
    if not 1 <= scale <= 32:
        raise ValueError("scale must be between 1 and 32")
    out = io.BytesIO()
    _make(url).save(out, kind="png", scale=scale, border=BORDER)
    return out.getvalue()
