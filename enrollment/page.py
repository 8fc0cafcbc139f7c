"""What the enrollment page says, in German (the default) and English. Pure: from the token's
facts to headings, paragraphs, lists and links, and only what the service does today.

What the service does today: a device enrolls through the JSON agent protocol
(docs/agent-protocol.md), checks in regularly and reports its inventory (for a personal device
only what mdm/devices/byod.py allows, for a school-owned one what the school's inventory policy
keeps: docs/privacy.md). Through the same protocol it sends the school's policies
(docs/policies.md) and commands (docs/commands.md); to a personal device only what the BYOD rule
allows. A school-owned iPad, iPhone or Mac enrolls instead by installing the school's signed
profile (Apple's MDM protocol, docs/apple.md), once the school has its MDM push certificate;
a personal iPhone or iPad through Apple's account-driven User Enrollment (the owner signs in
with the school account's Apple Account in Settings, enrollment/apple_account.py); personal
Macs are not offered yet.
"""

from dataclasses import dataclass, field

LANGUAGES = ("de", "en")
# Apple's devices are managed through Apple's MDM protocol: school-owned ones by profile.
APPLE_PLATFORMS = ("ios", "ipados", "macos")
PLATFORM_NAMES = {
    "ios": "iPhone (iOS)",
    "ipados": "iPad (iPadOS)",
    "macos": "Mac (macOS)",
    "android": "Android",
    "windows": "Windows",
    "linux": "Linux",
}

TEXTS: dict[str, dict[str, str]] = {
    "de": {
        "title": "Gerät bei {school} einschreiben",
        "kind_school": "Dieser Link schreibt ein schuleigenes Gerät {role} ein.",
        "kind_byod": "Dieser Link schreibt Ihr eigenes Gerät als Gerät {role} ein.",
        "platform": "Plattform: {platform}.",
        "platform_any": "Geräte jeder Plattform können ihn nutzen.",
        "role_student": "für Schülerinnen und Schüler",
        "role_teacher": "für Lehrkräfte",
        "role_shared": "zur gemeinsamen Nutzung",
        "owner_student": "einer Schülerin oder eines Schülers",
        "owner_teacher": "einer Lehrkraft",
        "groups": "Es kommt in die Gruppen: {groups}.",
        "classes": "Geräte dieses Links kommen in die Klasse {classes} (das Gerät einer "
        "Schülerin oder eines Schülers in deren eigene Klasse).",
        "what_heading": "Was die Schule damit tut",
        "school_listed": "Das Gerät steht dann in der Geräteliste von {school}: mit seinem Namen, "
        "Plattform, Modell und Systemversion, wann es eingeschrieben wurde (und von welcher "
        "Netzwerkadresse) und wann es sich zuletzt gemeldet hat.",
        "school_inventory": "Etwa alle {minutes} Minuten meldet sich das Gerät beim Dienst; die "
        "Schule speichert dabei die Geräteangaben (Inventar), die seine Agent-Software sendet, "
        "mit Seriennummer und IMEI.",
        "policy_keeps": "Von den persönlichen Angaben behält die Schule bei diesen Geräten: "
        "{kept}. Nie gespeichert: {dropped}.",
        "policy_keeps_nothing": "Persönliche Angaben behält die Schule bei diesen Geräten nicht: "
        "nie gespeichert werden {dropped}.",
        "policy_keeps_all": "Von den persönlichen Angaben behält die Schule bei diesen Geräten "
        "alle: {kept}.",
        "category_location": "Standort",
        "category_phone_number": "Telefonnummer",
        "category_installed_apps": "Liste aller installierten Apps",
        "category_network": "WLAN-Netz und IP-Adressen",
        "school_manages": "Über die Agent-Software schickt die Schule dem Gerät ihre "
        "Einstellungen (Code-Sperre, Einschränkungen wie Kamera oder App-Installation, WLAN, "
        "Apps, Webfilter, Prüfungsmodus – auch nur zu bestimmten Zeiten, etwa während des "
        "Unterrichts) und Befehle: sperren, neu starten, löschen, Apps installieren und "
        "entfernen, soweit die Plattform des Geräts sie kennt.",
        "byod_stores": "Die Schule speichert über Ihr Gerät nur:",
        "byod_store_device": "seinen Namen, Plattform, Modell und Systemversion und Ihr "
        "Schulkonto als Besitzer;",
        "byod_store_times": "wann es eingeschrieben wurde (und von welcher Netzwerkadresse), wann "
        "es sich zuletzt gemeldet hat, und dass Sie dem Datenschutzhinweis zugestimmt haben;",
        "byod_store_inventory": "aus den Geräteangaben, die die Agent-Software etwa alle "
        "{minutes} Minuten sendet, nur: Betriebssystem, Modell und Hersteller, Akku, Größe und "
        "freien Platz von Speicher und Arbeitsspeicher, Bildschirm, Sprache und Zeitzone, Version "
        "der Agent-Software, letzter Neustart, ob das Gerät verschlüsselt ist und eine "
        "Bildschirmsperre hat, und die Apps, die die Schule selbst installiert hat.",
        "byod_never": "Alles andere wird verworfen, bevor es gespeichert wird. Nie gespeichert "
        "werden: Seriennummer, IMEI und andere Geräte- und SIM-Kennungen, MAC- und "
        "Bluetooth-Adressen, Telefonnummer, Standort und Ihre eigenen Apps.",
        "byod_never_do": "Ein eigenes Gerät kann die Schule nie löschen, sperren, orten oder "
        "seinen Code zurücksetzen. Sie darf dort nur ihre eigenen Einstellungen und Apps "
        "verwalten: eine Code-Sperre verlangen, WLAN-Netze einrichten und die Apps der Schule "
        "installieren und entfernen. Einschränkungen (etwa der Kamera), Webfilter, "
        "Prüfungsmodus und das Sperren von Apps schickt sie nie an ein eigenes Gerät.",
        "byod_you": "Was die Schule über Ihre Geräte speichert, sehen Sie jederzeit mit Ihrem "
        "Schulkonto (GET /api/v1/me/devices), und die Verwaltung beenden Sie selbst (POST "
        "/api/v1/me/devices/<id>/remove-management, oder in der Agent-Software). Danach löscht "
        "die Schule die gespeicherten Geräteangaben.",
        "notice_heading": "Datenschutzhinweis (Version {version})",
        "notice_consent": "Mit der Einschreibung stimmen Sie Version {version} dieses Hinweises "
        "zu; die Schule hält fest, dass und wann Sie zugestimmt haben.",
        "no_notice": "Die Schule hat noch keinen Datenschutzhinweis veröffentlicht. Eigene Geräte "
        "können sich deshalb noch nicht einschreiben.",
        "how_heading": "So schreiben Sie das Gerät ein",
        "agent_needed": "Die Einschreibung braucht auf dem Gerät eine Agent-Software, die das "
        "JSON-Agent-Protokoll (Version 1) dieses Dienstes spricht. Der Dienst bringt selbst noch "
        "keine solche App mit: Fragen Sie die IT Ihrer Schule, welche sie einsetzt.",
        "step_open": "Agent-Software auf dem Gerät installieren und öffnen.",
        "step_login": "In der Agent-Software mit Ihrem Schulkonto anmelden und dem "
        "Datenschutzhinweis (Version {version}) zustimmen.",
        "step_code": "Den QR-Code unten mit der Agent-Software scannen oder den Einschreibecode "
        "eingeben.",
        "agent_does": "Die Agent-Software sendet den Code an POST /api/agent/v1/enroll und meldet "
        "sich danach etwa alle {minutes} Minuten (POST /api/agent/v1/checkin).",
        "apple": "iPhones, iPads und Macs der Schule werden über Apples Geräteverwaltung (MDM) "
        "mit einem Profil eingeschrieben, ohne zusätzliche App:",
        "apple_step_open": "Diese Seite auf dem Gerät in Safari öffnen (oder den QR-Code unten "
        "mit der Kamera des Geräts scannen).",
        "apple_step_load": "„Profil laden“ (Link unten) tippen und das Laden erlauben.",
        "apple_step_install": "In Einstellungen › Allgemein › VPN und Geräteverwaltung das "
        "Profil der Schule öffnen und installieren.",
        "apple_does": "Danach meldet sich das Gerät über Apples Geräteverwaltung beim Dienst; "
        "die Schule schickt ihm ihre Richtlinien (ab iOS/iPadOS 17 als Deklarationen, sonst als "
        "Profil) und ihre Befehle. Jedes Laden des "
        "Profils zählt als eine Einschreibung dieses Links.",
        "apple_not_ready": "Apples Geräteverwaltung (MDM) ist für diese Schule noch nicht "
        "eingerichtet (es fehlt ihr Push-Zertifikat von Apple): Ein Apple-Gerät kann sich mit "
        "diesem Link noch nicht einschreiben.",
        "apple_byod": "Eigene iPhones und iPads schreiben Sie nicht mit diesem Link ein, "
        "sondern mit Apples Benutzerregistrierung, ohne zusätzliche App:",
        "apple_byod_step_settings": "Auf dem Gerät in Einstellungen › Allgemein › VPN und "
        "Geräteverwaltung „Mit Arbeits- oder Schulaccount anmelden …“ tippen.",
        "apple_byod_step_account": "Den Apple-Account Ihres Schulkontos eingeben: die "
        "E-Mail-Adresse Ihres Schulkontos.",
        "apple_byod_step_login": "Auf der Anmeldeseite der Schule mit Benutzername und Passwort "
        "Ihres Schulkontos anmelden und dem Datenschutzhinweis (Version {version}) zustimmen.",
        "apple_byod_step_install": "Danach mit dem Passwort Ihres Apple-Accounts anmelden; das "
        "Gerät installiert die Verwaltung der Schule.",
        "apple_byod_does": "Die Schule verwaltet dann nur einen getrennten Bereich für ihre "
        "Apps und Daten; Ihre eigenen Apps und Daten sieht sie nicht.",
        "apple_byod_other": "Eigene iPhones und iPads: in Einstellungen › Allgemein › VPN und "
        "Geräteverwaltung „Mit Arbeits- oder Schulaccount anmelden …“ tippen und die "
        "E-Mail-Adresse Ihres Schulkontos eingeben (Apples Benutzerregistrierung).",
        "apple_byod_mac": "Eigene Macs schreibt dieser Dienst noch nicht ein.",
        "apple_any": "Für iPhones, iPads und Macs der Schule: diese Seite auf dem Gerät öffnen "
        "und das Profil laden (Link unten), dann in den Einstellungen installieren.",
        "profile_link": "Profil laden (iPad, iPhone, Mac)",
        "protocol_link": "Agent-Protokoll: was eine Agent-Software sprechen muss",
        "code_heading": "QR-Code und Einschreibecode",
        "qr_alt": "QR-Code dieses Einschreibelinks",
        "code": "Einschreibecode:",
        "valid_until": "Dieser Link gilt bis {until} ({timezone}), für noch {left} von {uses} "
        "Einschreibungen.",
        "error_title": "Einschreibung nicht möglich",
        "error_enrollment-token-unknown": "Diesen Einschreibelink kennt der Dienst nicht. Prüfen "
        "Sie, ob er vollständig ist.",
        "error_enrollment-token-revoked": "Diesen Einschreibelink hat die Schule zurückgezogen.",
        "error_enrollment-token-expired": "Dieser Einschreibelink ist abgelaufen.",
        "error_enrollment-token-exhausted": "Mit diesem Einschreibelink wurden schon so viele "
        "Geräte eingeschrieben, wie er erlaubt.",
        "error_rate-limited": "Von dieser Netzwerkadresse kamen zu viele unbekannte "
        "Einschreibelinks. Bitte versuchen Sie es später noch einmal.",
        "error_ask": "Bitten Sie die IT Ihrer Schule um einen neuen Einschreibelink.",
    },
    "en": {
        "title": "Enroll a device at {school}",
        "kind_school": "This link enrolls a school-owned device {role}.",
        "kind_byod": "This link enrolls your own device as {role}'s device.",
        "platform": "Platform: {platform}.",
        "platform_any": "Devices of every platform can use it.",
        "role_student": "for students",
        "role_teacher": "for teachers",
        "role_shared": "for shared use",
        "owner_student": "a student",
        "owner_teacher": "a teacher",
        "groups": "It joins the groups: {groups}.",
        "classes": "Devices enrolled with this link join class {classes} (a student's device "
        "joins the student's own class).",
        "what_heading": "What the school does with it",
        "school_listed": "The device is then in the device list of {school}: with its name, "
        "platform, model and system version, when it was enrolled (and from which network "
        "address) and when it last checked in.",
        "school_inventory": "About every {minutes} minutes the device checks in with the service; "
        "the school stores the device details (inventory) its agent software sends, with serial "
        "number and IMEI.",
        "policy_keeps": "Of the personal details, the school keeps for these devices: {kept}. "
        "Never stored: {dropped}.",
        "policy_keeps_nothing": "The school keeps no personal details of these devices: never "
        "stored are {dropped}.",
        "policy_keeps_all": "Of the personal details, the school keeps all for these devices: "
        "{kept}.",
        "category_location": "location",
        "category_phone_number": "phone number",
        "category_installed_apps": "the list of all installed apps",
        "category_network": "Wi-Fi network and IP addresses",
        "school_manages": "Through the agent software the school sends the device its settings "
        "(passcode, restrictions such as the camera or app installation, Wi-Fi, apps, web "
        "filter, exam mode – also only at certain times, such as during lessons) and commands: "
        "lock, restart, erase, install and remove apps, as far as the device's platform has "
        "them.",
        "byod_stores": "About your device the school stores only:",
        "byod_store_device": "its name, platform, model and system version, and your school "
        "account as its owner;",
        "byod_store_times": "when it was enrolled (and from which network address), when it last "
        "checked in, and that you agreed to the privacy notice;",
        "byod_store_inventory": "of the device details the agent software sends about every "
        "{minutes} minutes, only: operating system, model and manufacturer, battery, size and "
        "free space of storage and memory, screen, language and time zone, the agent software's "
        "version, the last restart, whether the device is encrypted and has a screen lock, "
        "and the apps the school installed itself.",
        "byod_never": "Everything else is dropped before it is stored. Never stored: serial "
        "number, IMEI and other device and SIM identifiers, MAC and Bluetooth addresses, phone "
        "number, location, and your own apps.",
        "byod_never_do": "The school can never erase, lock or locate your own device or reset its "
        "passcode. It may only manage its own settings and apps there: require a passcode, set "
        "up Wi-Fi networks, and install and remove the school's apps. Restrictions (such as of "
        "the camera), web filters, exam mode and blocking apps are never sent to your own "
        "device.",
        "byod_you": "You can see at any time what the school stores about your devices with your "
        "school account (GET /api/v1/me/devices), and end the management yourself (POST "
        "/api/v1/me/devices/<id>/remove-management, or in the agent software). The school then "
        "deletes the stored device details.",
        "notice_heading": "Privacy notice (version {version})",
        "notice_consent": "Enrolling means you agree to version {version} of this notice; the "
        "school records that and when you did.",
        "no_notice": "The school has not published a privacy notice yet, so personal devices "
        "cannot enroll yet.",
        "how_heading": "How to enroll",
        "agent_needed": "Enrolling needs agent software on the device that speaks this service's "
        "JSON agent protocol (version 1). The service does not come with such an app yet: ask "
        "your school's IT which one it uses.",
        "step_open": "Install and open the agent software on the device.",
        "step_login": "Log in with your school account in the agent software and agree to the "
        "privacy notice (version {version}).",
        "step_code": "Scan the QR code below with the agent software, or enter the enrollment "
        "code.",
        "agent_does": "The agent software sends the code to POST /api/agent/v1/enroll and then "
        "checks in about every {minutes} minutes (POST /api/agent/v1/checkin).",
        "apple": "The school's iPhones, iPads and Macs are enrolled through Apple's device "
        "management (MDM) with a profile, no extra app needed:",
        "apple_step_open": "Open this page on the device in Safari (or scan the QR code below "
        "with the device's camera).",
        "apple_step_load": "Tap “Load profile” (link below) and allow the download.",
        "apple_step_install": "In Settings › General › VPN & Device Management, open the "
        "school's profile and install it.",
        "apple_does": "The device then checks in through Apple's device management; the school "
        "sends it its policies (as declarations from iOS/iPadOS 17 on, else as a profile) and "
        "its commands. Each download of the profile "
        "counts as one enrollment of this link.",
        "apple_not_ready": "Apple's device management (MDM) is not set up for this school yet "
        "(its push certificate from Apple is missing): an Apple device cannot enroll with this "
        "link yet.",
        "apple_byod": "You do not enroll your own iPhone or iPad with this link but with Apple's "
        "User Enrollment, no extra app needed:",
        "apple_byod_step_settings": "On the device, in Settings › General › VPN & Device "
        "Management, tap “Sign In to Work or School Account…”.",
        "apple_byod_step_account": "Enter your school account's Apple Account: your school "
        "account's email address.",
        "apple_byod_step_login": "On the school's login page, log in with your school account's "
        "username and password and agree to the privacy notice (version {version}).",
        "apple_byod_step_install": "Then sign in with your Apple Account's password; the device "
        "installs the school's management.",
        "apple_byod_does": "The school then manages only a separate area for its apps and data; "
        "it does not see your own apps and data.",
        "apple_byod_other": "Your own iPhone or iPad: in Settings › General › VPN & Device "
        "Management, tap “Sign In to Work or School Account…” and enter your school account's "
        "email address (Apple's User Enrollment).",
        "apple_byod_mac": "This service does not enroll personal Macs yet.",
        "apple_any": "For the school's iPhones, iPads and Macs: open this page on the device, "
        "load the profile (link below), then install it in Settings.",
        "profile_link": "Load profile (iPad, iPhone, Mac)",
        "protocol_link": "Agent protocol: what agent software must speak",
        "code_heading": "QR code and enrollment code",
        "qr_alt": "QR code of this enrollment link",
        "code": "Enrollment code:",
        "valid_until": "This link works until {until} ({timezone}), for {left} more of {uses} "
        "enrollments.",
        "error_title": "Enrollment not possible",
        "error_enrollment-token-unknown": "The service does not know this enrollment link. Check "
        "that it is complete.",
        "error_enrollment-token-revoked": "The school has revoked this enrollment link.",
        "error_enrollment-token-expired": "This enrollment link has expired.",
        "error_enrollment-token-exhausted": "This enrollment link has enrolled as many devices as "
        "it allows.",
        "error_rate-limited": "Too many unknown enrollment links came from this network address. "
        "Please try again later.",
        "error_ask": "Ask your school's IT for a new enrollment link.",
    },
}
DATE_FORMATS = {"de": "%d.%m.%Y, %H:%M", "en": "%d %b %Y, %H:%M"}


@dataclass(frozen=True)
class Section:
    """A heading with paragraphs, a list (numbered for steps), closing paragraphs, links."""

    heading: str
    paragraphs: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    numbered: bool = False
    closing: list[str] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (url, text)


@dataclass(frozen=True)
class TokenFacts:
    """What the page needs to know about a token and its school."""

    school: str
    ownership: str
    user_role: str
    platform: str | None
    classes: list[str]
    groups: list[str]  # the other groups
    # Of a school-owned device, the categories of personal data the school's inventory policy
    # keeps (mdm/devices/inventory_rules.py), in INVENTORY_CATEGORIES' order; the rest dropped.
    notice_version: int | None
    check_in_minutes: int
    kept_categories: list[str] = field(default_factory=list)
    dropped_categories: list[str] = field(default_factory=list)
    # Whether the school has its MDM push certificate (an Apple device can enroll by profile).
    apple_ready: bool = False


@dataclass(frozen=True)
class EnrollmentPage:
    """The enrollment page's words: what enrolling means, the privacy notice's heading and
    consent (personal devices), how to enroll, and whether the code is worth showing."""

    title: str
    summary: list[str]
    what: Section
    notice: Section | None
    how: Section
    can_enroll: bool


def describe(
    lang: str, facts: TokenFacts, protocol_url: str, profile_url: str = ""
) -> EnrollmentPage:
    """The enrollment page for a usable token, in `lang` (`profile_url`: its Apple profile)."""
    t = TEXTS[lang]
    byod = facts.ownership == "byod"
    if byod:
        summary = [t["kind_byod"].format(role=t[f"owner_{facts.user_role}"])]
    else:
        summary = [t["kind_school"].format(role=t[f"role_{facts.user_role}"])]
    if facts.platform:
        summary.append(t["platform"].format(platform=PLATFORM_NAMES[facts.platform]))
    else:
        summary.append(t["platform_any"])
    if facts.classes:
        summary.append(t["classes"].format(classes=", ".join(facts.classes)))
    if facts.groups:
        summary.append(t["groups"].format(groups=", ".join(facts.groups)))
    title = t["title"].format(school=facts.school)
    minutes = facts.check_in_minutes
    if not byod:
        what = Section(
            t["what_heading"],
            paragraphs=[
                t["school_listed"].format(school=facts.school),
                t["school_inventory"].format(minutes=minutes),
                policy_text(t, facts),
                t["school_manages"],
            ],
        )
        apple_only = facts.platform in APPLE_PLATFORMS
        return EnrollmentPage(
            title,
            summary,
            what,
            None,
            how_to_enroll(t, facts, protocol_url, profile_url),
            facts.apple_ready or not apple_only,
        )
    what = Section(
        t["what_heading"],
        paragraphs=[t["byod_stores"]],
        items=[
            t["byod_store_device"],
            t["byod_store_times"],
            t["byod_store_inventory"].format(minutes=minutes),
        ],
        closing=[t["byod_never"], t["byod_never_do"], t["byod_you"]],
    )
    if facts.platform in APPLE_PLATFORMS:
        # A personal iPhone or iPad enrolls from Settings (User Enrollment), not with this
        # link's code: the page says how, and shows the notice the owner consents to there.
        how = apple_steps(t, facts, "")
        offered = facts.platform != "macos" and facts.apple_ready and facts.notice_version
        notice = (
            Section(t["notice_heading"].format(version=facts.notice_version)) if offered else None
        )
        return EnrollmentPage(title, summary, what, notice, how, False)
    if facts.notice_version is None:
        how = Section(t["how_heading"], paragraphs=[t["no_notice"]])
        return EnrollmentPage(title, summary, what, None, how, False)
    version = facts.notice_version
    notice = Section(
        t["notice_heading"].format(version=version),
        closing=[t["notice_consent"].format(version=version)],
    )
    return EnrollmentPage(
        title, summary, what, notice, how_to_enroll(t, facts, protocol_url, profile_url), True
    )


def policy_text(t: dict[str, str], facts: TokenFacts) -> str:
    """What the school's inventory policy keeps of these devices' personal details."""
    kept = ", ".join(t[f"category_{name}"] for name in facts.kept_categories)
    dropped = ", ".join(t[f"category_{name}"] for name in facts.dropped_categories)
    if not facts.kept_categories:
        return t["policy_keeps_nothing"].format(dropped=dropped)
    if not facts.dropped_categories:
        return t["policy_keeps_all"].format(kept=kept)
    return t["policy_keeps"].format(kept=kept, dropped=dropped)


def error_text(lang: str, problem_type: str) -> tuple[str, list[str]]:
    """The title and paragraphs of the page for a token that cannot be used (by the type of
    the problem: unknown, revoked, expired, used up, too many guesses)."""
    t = TEXTS[lang]
    reason = t.get(f"error_{problem_type}", t["error_enrollment-token-unknown"])
    return t["error_title"], [reason, t["error_ask"]]


def apple_steps(t: dict[str, str], facts: TokenFacts, profile_url: str) -> Section:
    """How an Apple device enrolls: by the school's profile, or a personal iPhone or iPad by
    User Enrollment, when the school can reach it."""
    if facts.ownership == "byod":
        return apple_byod_steps(t, facts)
    if not facts.apple_ready:
        return Section(t["how_heading"], paragraphs=[t["apple_not_ready"]])
    return Section(
        t["how_heading"],
        paragraphs=[t["apple"]],
        items=[t["apple_step_open"], t["apple_step_load"], t["apple_step_install"]],
        numbered=True,
        closing=[t["apple_does"]],
        links=[(profile_url, t["profile_link"])],
    )


def apple_byod_steps(t: dict[str, str], facts: TokenFacts) -> Section:
    """How a personal iPhone or iPad enrolls: from Settings, with the school account's Apple
    Account, the school's login page and its privacy notice (User Enrollment)."""
    if facts.platform == "macos":
        return Section(t["how_heading"], paragraphs=[t["apple_byod_mac"]])
    if facts.notice_version is None:
        return Section(t["how_heading"], paragraphs=[t["no_notice"]])
    if not facts.apple_ready:
        return Section(t["how_heading"], paragraphs=[t["apple_not_ready"]])
    return Section(
        t["how_heading"],
        paragraphs=[t["apple_byod"]],
        items=[
            t["apple_byod_step_settings"],
            t["apple_byod_step_account"],
            t["apple_byod_step_login"].format(version=facts.notice_version),
            t["apple_byod_step_install"],
        ],
        numbered=True,
        closing=[t["apple_byod_does"]],
    )


def how_to_enroll(
    t: dict[str, str], facts: TokenFacts, protocol_url: str, profile_url: str = ""
) -> Section:
    """The steps that fit the token's platform: agent software, or Apple's profile."""
    link = [(protocol_url, t["protocol_link"])]
    if facts.platform in APPLE_PLATFORMS:
        return apple_steps(t, facts, profile_url)
    steps = [t["step_open"]]
    if facts.ownership == "byod":
        steps.append(t["step_login"].format(version=facts.notice_version))
    steps.append(t["step_code"])
    closing = [t["agent_does"].format(minutes=facts.check_in_minutes)]
    if facts.platform is None:
        if facts.ownership == "byod":
            closing.append(t["apple_byod_other"] if facts.apple_ready else t["apple_not_ready"])
        elif facts.apple_ready:
            closing.append(t["apple_any"])
            link.append((profile_url, t["profile_link"]))
        else:
            closing.append(t["apple_not_ready"])
    return Section(
        t["how_heading"],
        paragraphs=[t["agent_needed"]],
        items=steps,
        numbered=True,
        closing=closing,
        links=link,
    )
