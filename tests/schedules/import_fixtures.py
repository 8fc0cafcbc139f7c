"""Small hand-written exports for the import tests: GPU files, an Indiware plan, zips."""

import io
import struct
import zipfile
from datetime import date

MONDAY = date(2026, 11, 23)
TUESDAY = date(2026, 11, 24)

CLASSES = '"5a","Klasse 5a",,"A101"\r\n"5b","Klasse 5b",,"A102"\r\n'
TEACHERS = (
    '"MUE","Müller"' + "," * 27 + '"Sabine",,,,"s.mueller@schule.example"\r\n'
    '"SCH","Schneider"' + "," * 27 + '"Thomas"\r\n'
)
ROOMS = '"A101","Klassenraum 5a"\r\n"A102","Klassenraum 5b"\r\n"AULA","Aula"\r\n'
SUBJECTS = '"M","Mathematik"\r\n"D","Deutsch"\r\n'
TIMETABLE = (
    '1,"5a","MUE","M","A101",1,1\r\n1,"5a","MUE","M","A101",2,1\r\n2,"5b","SCH","D","A102",1,2\r\n'
)


def substitution(
    number: int,
    day: date,
    period: int,
    *,
    absent: str = "MUE",
    substitute: str = "SCH",
    subject: str = "M",
    room: str = "A101",
    new_room: str = "",
    classes: str = "5a",
    art: int = 0,
    letter: str = "",
    text: str = "",
) -> str:
    """One GPU014 line (22 fields)."""
    fields = [
        str(number),
        f'"{day:%Y%m%d}"',
        str(period),
        "",
        "1",
        f'"{absent}"',
        f'"{substitute}"',
        f'"{subject}"',
        "",
        "",
        "",
        f'"{room}"',
        f'"{new_room}"',
        "",
        f'"{classes}"',
        "",
        f'"{text}"',
        str(art),
        "",
        f'"{letter}"',
        "202611201530",
        "",
    ]
    return ",".join(fields) + "\r\n"


def gpu_files(*substitutions: str, master_data: bool = True) -> dict[str, bytes]:
    """A GPU export: master data and timetable (unless master_data=False) and GPU014."""
    files = {"GPU014.TXT": "".join(substitutions).encode("cp1252")}
    if master_data:
        files |= {
            "GPU001.TXT": TIMETABLE.encode("cp1252"),
            "GPU003.TXT": CLASSES.encode("cp1252"),
            "GPU004.TXT": TEACHERS.encode("cp1252"),
            "GPU005.TXT": ROOMS.encode("cp1252"),
            "GPU006.TXT": SUBJECTS.encode("cp1252"),
        }
    return files


def base_files() -> dict[str, bytes]:
    """Master data and three substitutions on Monday and Tuesday."""
    return gpu_files(
        substitution(1, MONDAY, 1),
        substitution(2, MONDAY, 2, art=1, letter="C", substitute=""),
        substitution(3, TUESDAY, 1, classes="5b", subject="D", absent="SCH", substitute="MUE"),
    )


def zipped(files: dict[str, bytes], folder: str = "") -> bytes:
    """The files in a zip, optionally inside a folder."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(folder + name, data)
    return buffer.getvalue()


def _member_data_span(raw: bytearray) -> tuple[int, int]:
    """Where the first member's compressed data starts in a zip, and its compressed size."""
    name_length, extra_length = struct.unpack_from("<HH", raw, 26)
    return 30 + name_length + extra_length, struct.unpack_from("<I", raw, 18)[0]


def damaged_zip(kind: str) -> bytes:
    """A zip of one GPU014.TXT whose member cannot be unpacked.

    deflate: a broken deflate stream (zlib.error); lzma: a broken LZMA stream (LZMAError);
    bzip2: a broken bzip2 stream (OSError); truncated: the member's sizes claim more data than
    the file holds (EOFError)."""
    method = {"lzma": zipfile.ZIP_LZMA, "bzip2": zipfile.ZIP_BZIP2}.get(kind, zipfile.ZIP_DEFLATED)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        archive.writestr("GPU014.TXT", b'7,"20240902",3\r\n' * 200)
    raw = bytearray(buffer.getvalue())
    start, size = _member_data_span(raw)
    if kind == "truncated":
        # A stored deflate block announcing 65535 bytes, and sizes far beyond the file's end.
        raw[start : start + 5] = b"\x00\xff\xff\x00\x00"
        central = raw.index(b"PK\x01\x02")
        struct.pack_into("<I", raw, 18, size + 100_000)
        struct.pack_into("<I", raw, central + 20, size + 100_000)
        return bytes(raw)
    keep = 9 if kind == "lzma" else 0  # zip's LZMA header: version and properties
    raw[start + keep : start + size] = b"\xff" * (size - keep)
    return bytes(raw)


def zipped_with_nameless_members(files: dict[str, bytes]) -> bytes:
    """The files in a zip that also holds members named "", "." and "./."."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(".", b"dot")
        archive.writestr("./.", b"dot dot")
        with archive.open(zipfile.ZipInfo(""), "w") as member:  # writestr refuses ""
            member.write(b"nameless")
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


INDIWARE_PLAN = """<?xml version="1.0" encoding="utf-8"?>
<VpMobil>
  <Kopf><zeitstempel>22.11.2026, 16:45</zeitstempel>
    <DatumPlan>Montag, 23. November 2026</DatumPlan><datei>PlanKl20261123.xml</datei></Kopf>
  <FreieTage><ft>261221</ft><ft>261222</ft><ft>261223</ft></FreieTage>
  <Klassen>
    <Kl><Kurz>5a</Kurz>
      <KlStunden><KlSt ZeitVon="07:55" ZeitBis="08:40">1</KlSt>
        <KlSt ZeitVon="08:45" ZeitBis="09:30">2</KlSt></KlStunden>
      <Unterricht><Ue><UeNr UeLe="Mül" UeFa="Mat">100</UeNr></Ue></Unterricht>
      <Pl>
        <Std><St>1</St><Fa>Mat</Fa><Le LeAe="LeGeaendert">Sch</Le><Ra>A101</Ra><Nr>100</Nr>
          <If>für Mat Frau Müller</If></Std>
        <Std><St>2</St><Fa>Deu</Fa><Le>Kön</Le><Ra>A101</Ra><Nr>101</Nr><If></If></Std>
      </Pl></Kl>
  </Klassen>
  <ZusatzInfo><ZiZeile>Heute Wandertag der 7. Klassen.</ZiZeile></ZusatzInfo>
</VpMobil>
"""


# What a refused import may write: its line in the history and the audit event of it.
HISTORY_TABLES = ("timetable_imports", "audit_events")


def plan_state() -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table but the import history, to compare before and after."""
    from sqlalchemy import select

    from mdm.extensions import db

    return {
        table.name: sorted(
            (tuple(str(value) for value in row) for row in db.session.execute(select(table))),
        )
        for table in db.metadata.sorted_tables
        if table.name not in HISTORY_TABLES
    }


def history() -> list[tuple[str, str | None]]:
    """The school's import history, oldest first: (status, reason)."""
    from sqlalchemy import select

    from mdm.extensions import db
    from schedules.models import TimetableImport

    rows = db.session.execute(
        select(TimetableImport.status, TimetableImport.reason).order_by(TimetableImport.id)
    )
    return [(status, reason) for status, reason in rows]


# Untis HTML monitor pages (subst_NNN.htm), as Untis 2025 writes them

MONITOR_HEADERS = ("Klasse(n)", "Stunde", "(Lehrer)", "Vertreter", "Fach", "Raum", "Art")


def monitor_page(
    *days: tuple[str, str],
    refresh: str = "",
    charset: str = "iso-8859-1",
    headers: str = "",
    info: str = "",
) -> str:
    """A monitor page (subst_NNN.htm) with (day title, rows) per day, ending as Untis ends it."""
    head = headers or (
        "<tr class='list'>"
        + "".join(f'<th class="list" align="center">{header}</th>' for header in MONITOR_HEADERS)
        + "</tr>"
    )
    refresh_meta = f'<meta http-equiv="refresh" content="8; URL={refresh}">\n' if refresh else ""
    body = "".join(
        f'<center>\n<div class="mon_title">{title}</div>\n'
        '<table class="info" >\n'
        '<tr class="info"><th class="info" align="center" colspan="2">Nachrichten zum Tag</th>'
        f"</tr>\n{info}</table>\n<p>\n"
        f'<table class="mon_list" >\n{head}\n{rows}\n</table>\n<p>\n</center>\n'
        for title, rows in days
    )
    return (
        "<html>\n<head>\n<title>Untis 2025 Vertretungsplan</title>\n"
        f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">\n'
        '<meta http-equiv="expires" content="0">\n'
        '<style type="text/css">\n.mon_title { font-weight: bold; }\n</style>\n'
        '<meta name="generator" content="Untis 2025">\n'
        f"{refresh_meta}</head>\n<body>\n"
        '<table class="mon_head">\n<tr><td valign="bottom"><h1><strong>Untis</strong> 2025 '
        '</h1></td><td align="right" valign="bottom"><p>Beispielschule<br>'
        "Stand: 23.11.2026 07:12</p></td></tr>\n</table>\n\n"
        f"{body}"
        '<p><center><font face="Arial" size="2"><a href="http://www.untis.at" target="_blank">'
        "Untis Stundenplan Software</a></font></center>\n</body>\n</html>\n"
    )


def substitution_row(classes: str, period: str, art: str = "Vertretung") -> str:
    return (
        "<tr class='list odd'>"
        + "".join(
            f'<td class="list" align="center">{cell}</td>'
            for cell in (classes, period, "Mül", "Sch", "M", "A101", art)
        )
        + "</tr>"
    )


def frameset(*frames: str) -> str:
    """The Untis 2025 index page (subst.htm) showing one chain per frame."""
    return (
        "<html>\n<head>\n<title>Untis 2025 Vertretungsplan</title>\n"
        '<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\n</head>\n'
        '<frameset rows="50%,50%" frameborder="0">\n'
        + "".join(
            f'<frame src="{src}" name="f{n}" scrolling="no">\n' for n, src in enumerate(frames)
        )
        + "</frameset>\n</html>\n"
    )


def monday(page: int | None = None, pages: int | None = None) -> str:
    return "23.11.2026 Montag, Woche A" + (f" (Seite {page} / {pages})" if page else "")


def tuesday(page: int | None = None, pages: int | None = None) -> str:
    return "24.11.2026 Dienstag, Woche B" + (f" (Seite {page} / {pages})" if page else "")


def encoded(pages: dict[str, str]) -> dict[str, bytes]:
    return {name: html.encode("cp1252") for name, html in pages.items()}
