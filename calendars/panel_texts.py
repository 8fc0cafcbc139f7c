"""The texts of the panel's "subscribe in your calendar" section, in German and English."""

SUBSCRIBE_TEXTS: dict[str, dict[str, str]] = {
    "de": {
        "title": "Im Kalender abonnieren",
        "intro": "Dein Plan mit Vertretungen und Schulterminen in deiner Kalender-App.",
        "create": "Kalender-Link erstellen",
        "open": "Im Kalender abonnieren",
        "copy": "Link kopieren",
        "copied": "Kopiert.",
        "qr": "QR-Code für ein zweites Gerät",
        "rotate": "Neuen Link erstellen",
        "rotate_confirm": "Der alte Link hört sofort auf zu funktionieren. Fortfahren?",
        "rotated": "Neuer Link erstellt; der alte funktioniert nicht mehr.",
        "hint": "Google Kalender aktualisiert Abos nur alle 12–24 Stunden, "
        "Apple Kalender und Thunderbird etwa alle 30 Minuten.",
        "secret": "Der Link ist persönlich: Wer ihn hat, sieht deinen Kalender.",
        "error": "Der Kalender-Link konnte nicht geladen werden.",
    },
    "en": {
        "title": "Subscribe in your calendar",
        "intro": "Your plan with substitutions and school events in your calendar app.",
        "create": "Create calendar link",
        "open": "Subscribe in calendar",
        "copy": "Copy link",
        "copied": "Copied.",
        "qr": "QR code for a second device",
        "rotate": "Create a new link",
        "rotate_confirm": "The old link stops working at once. Continue?",
        "rotated": "New link created; the old one no longer works.",
        "hint": "Google Calendar refreshes subscriptions only every 12–24 hours, "
        "Apple Calendar and Thunderbird about every 30 minutes.",
        "secret": "The link is personal: whoever has it sees your calendar.",
        "error": "The calendar link could not be loaded.",
    },
}
