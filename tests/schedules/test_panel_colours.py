"""The panel's colours meet WCAG 2.1 AA (4.5:1 for text) in light and dark mode: computed from
the page's own CSS variables, for every kind's badge and the texts on every kind's tinted card.
(The browser tests run axe-core on the rendered pages as well.)"""

import re
from pathlib import Path

import pytest

TEMPLATE = Path(__file__).resolve().parents[2] / "schedules/templates/schedules/panel.html"
KINDS = ("red", "blue", "green", "yellow", "orange", "grey", "purple", "teal")
AA = 4.5
# The tint of a kind's card: color-mix(in srgb, var(--c) 9%, var(--card)).
TINT = 0.09
YELLOW_BADGE_TEXT = "#1b1b1b"  # .k-yellow .badge


def palettes() -> dict[str, dict[str, str]]:
    """The light and the dark palette of the page, by variable name."""
    css = TEMPLATE.read_text()
    light, dark = re.findall(r":root \{(.*?)\}", css, re.S)[:2]

    def variables(block: str) -> dict[str, str]:
        return dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-f]{6})", block))

    return {"light": variables(light), "dark": {**variables(light), **variables(dark)}}


def rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def mix(colour: str, share: float, base: str) -> str:
    """color-mix in srgb: `share` of `colour`, the rest `base`."""
    mixed = (
        round(c * share + b * (1 - share)) for c, b in zip(rgb(colour), rgb(base), strict=True)
    )
    return "#" + "".join(f"{channel:02x}" for channel in mixed)


def contrast(one: str, other: str) -> float:
    """WCAG 2.1 contrast ratio."""

    def luminance(colour: str) -> float:
        def linear(channel: int) -> float:
            c = channel / 255
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

        r, g, b = (linear(channel) for channel in rgb(colour))
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(one), luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_text_colour_meets_aa_on_its_background(scheme: str) -> None:
    p = palettes()[scheme]
    pairs = {
        "text on page": (p["fg"], p["bg"]),
        "muted on page": (p["muted"], p["bg"]),
        "muted on card": (p["muted"], p["card"]),
        "accent on card": (p["accent"], p["card"]),
        "accent on page": (p["accent"], p["bg"]),
        "primary button": (p["on-accent"], p["accent"]),
        "error on card": (p["red"], p["card"]),
        "day message": (p["fg"], p["msg-bg"]),
    }
    for kind in KINDS:
        text = YELLOW_BADGE_TEXT if kind == "yellow" else p["badge-fg"]
        pairs[f"{kind} badge"] = (text, p[kind])
        card = mix(p[kind], TINT, p["card"])
        pairs[f"text on {kind} card"] = (p["fg"], card)
        pairs[f"muted on {kind} card"] = (p["muted"], card)
        pairs[f"new-mark on {kind} card"] = (p["accent"], card)
    low = {
        name: round(contrast(*colours), 2)
        for name, colours in pairs.items()
        if contrast(*colours) < AA
    }
    assert low == {}


def test_no_text_is_faded_below_its_colours() -> None:
    """Opacity on text lowers its contrast below what the palette promises."""
    assert "opacity" not in TEMPLATE.read_text()
