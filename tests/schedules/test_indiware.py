"""Indiware VpMobil class plans: changed entries, cancellations, merging, safety, real sample."""

import codecs
import re
from datetime import date, datetime, time
from pathlib import Path

import pytest

from schedules import indiware
from schedules.import_data import (
    CANCELLATION,
    ROOM_CHANGE,
    SUBSTITUTION,
    DayMessage,
    ImportBatch,
    ImportFormatError,
    Period,
)

SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "samples" / "indiware"
DAY = date(2024, 9, 4)

PLAN = """<?xml version="1.0" encoding="utf-8"?>
<VpMobil>
  <Kopf><planart>K</planart><zeitstempel>03.09.2024, 16:45</zeitstempel>
    <DatumPlan>Mittwoch, 4. September 2024</DatumPlan><datei>PlanKl20240904.xml</datei></Kopf>
  <FreieTage><ft>241003</ft><ft>241004</ft></FreieTage>
  <Klassen>
    <Kl><Kurz>5a</Kurz>
      <KlStunden><KlSt ZeitVon="07:55" ZeitBis="08:40">1</KlSt>
        <KlSt ZeitVon="08:45" ZeitBis="09:30">2</KlSt></KlStunden>
      <Unterricht><Ue><UeNr UeLe="Mül" UeFa="Mat">100</UeNr></Ue>
        <Ue><UeNr UeLe="Kön" UeFa="Deu">101</UeNr></Ue>
        <Ue><UeNr UeLe="Alt" UeFa="EvR" UeGr="evr1">300</UeNr></Ue></Unterricht>
      <Pl>
        <Std><St>1</St><Fa>Mat</Fa><Le LeAe="LeGeaendert">Sch</Le><Ra>A101</Ra><Nr>100</Nr>
          <If>für Mat Frau Müller</If></Std>
        <Std><St>2</St><Fa FaAe="FaGeaendert">---</Fa><Le LeAe="LeGeaendert">&amp;nbsp;</Le>
          <Ra RaAe="RaGeaendert">&amp;nbsp;</Ra><Nr>101</Nr><If>Deu Herr König fällt aus</If></Std>
        <Std><St>3</St><Fa>Eng</Fa><Le>Wei</Le><Ra RaAe="RaGeaendert">B202</Ra><Nr>102</Nr>
          <If></If></Std>
        <Std><St>4</St><Fa>Spo</Fa><Le>Lek</Le><Ra>TH1</Ra><Nr>103</Nr>
          <If>Turnbeutel mitbringen</If></Std>
        <Std><St>5</St><Fa>evr1</Fa><Ku2>evr1</Ku2><Le>Alt</Le><Ra>R1</Ra><Nr>300</Nr><If></If></Std>
        <Std><St>6</St><Fa>Kun</Fa><Le>Maa</Le><Ra>KU1</Ra><Nr>104</Nr><If>Kunst entfällt</If></Std>
      </Pl></Kl>
    <Kl><Kurz>5b</Kurz><Unterricht/>
      <Pl><Std><St>5</St><Fa>evr1</Fa><Ku2>evr1</Ku2><Le>Alt</Le><Ra>R1</Ra><Nr>300</Nr>
        <If></If></Std></Pl></Kl>
  </Klassen>
  <ZusatzInfo><ZiZeile>Heute Wandertag der 7. Klassen.</ZiZeile><ZiZeile></ZiZeile>
    <ZiZeile>Sprechtag   ab 15 Uhr</ZiZeile></ZusatzInfo>
</VpMobil>
"""


def parse(text: str = PLAN) -> ImportBatch:
    return indiware.parse_indiware(text.encode("utf-8"), "PlanKl20240904.xml")


def test_head_free_days_and_messages() -> None:
    batch = parse()
    assert batch.source == "indiware"
    assert batch.covered_dates == {DAY}
    assert batch.generated_at == datetime(2024, 9, 3, 16, 45)
    assert batch.holidays == {date(2024, 10, 3), date(2024, 10, 4)}
    assert batch.periods == [
        Period(1, time(7, 55), time(8, 40)),
        Period(2, time(8, 45), time(9, 30)),
    ]
    assert batch.day_messages == [
        DayMessage(DAY, "Heute Wandertag der 7. Klassen."),
        DayMessage(DAY, "Sprechtag ab 15 Uhr"),
    ]
    assert batch.warnings == []


def test_changed_teacher_is_a_substitution_with_the_planned_teacher() -> None:
    sub = next(sub for sub in parse().substitutions if sub.period == 1)
    assert sub.kind == SUBSTITUTION
    assert (sub.original_teachers, sub.new_teachers) == (("Mül",), ("Sch",))
    assert (sub.original_subject, sub.new_subject) == ("Mat", "Mat")
    assert (sub.original_rooms, sub.new_rooms) == (("A101",), ("A101",))
    assert (sub.date, sub.lesson_number, sub.text) == (DAY, 100, "für Mat Frau Müller")
    assert sub.flags == {"teacher_changed"}


def test_dashes_or_cancellation_words_make_a_cancellation() -> None:
    by_period = {sub.period: sub for sub in parse().substitutions}
    dashes = by_period[2]
    assert dashes.kind == CANCELLATION
    assert (dashes.original_subject, dashes.original_teachers) == ("Deu", ("Kön",))
    assert (dashes.new_subject, dashes.new_teachers, dashes.new_rooms) == ("", (), ())
    assert dashes.original_classes == ("5a",)
    unmarked = by_period[6]
    assert (unmarked.kind, unmarked.original_subject, unmarked.text) == (
        CANCELLATION,
        "Kun",
        "Kunst entfällt",
    )


def test_changed_room_only_is_a_room_change() -> None:
    sub = next(sub for sub in parse().substitutions if sub.period == 3)
    assert sub.kind == ROOM_CHANGE
    assert (sub.new_rooms, sub.original_rooms) == (("B202",), ())
    assert sub.new_teachers == sub.original_teachers == ("Wei",)


def test_unchanged_entries_are_lessons_of_the_date_merged_across_classes() -> None:
    lessons = {lesson.period: lesson for lesson in parse().lessons}
    assert sorted(lessons) == [4, 5]
    sport = lessons[4]
    assert (sport.weekday, sport.valid_from, sport.valid_to) == (3, DAY, DAY)
    assert (sport.subject, sport.teachers, sport.rooms) == ("Spo", ("Lek",), ("TH1",))
    assert sport.text == "Turnbeutel mitbringen"
    religion = lessons[5]
    assert (religion.classes, religion.course, religion.lesson_number) == (
        ("5a", "5b"),
        "evr1",
        300,
    )


BOMB = (
    '<!DOCTYPE VpMobil [<!ENTITY a "aaaaaaaaaa">'
    + "".join(f'<!ENTITY {chr(98 + n)} "{("&" + chr(97 + n) + ";") * 10}">' for n in range(9))
    + "]>"
)
DTDS = {
    "entity": '<!DOCTYPE VpMobil [<!ENTITY a "aaaa">]>',
    "external-dtd": '<!DOCTYPE VpMobil SYSTEM "http://example.invalid/x.dtd">',
    "external-entity": '<!DOCTYPE VpMobil [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    "bomb": BOMB,
}


def with_dtd(name: str, encoding: str = "utf-8") -> bytes:
    """PLAN with a DTD whose entities are used in the plan, in the encoding given."""
    entity = {"entity": "&a;", "external-entity": "&x;", "bomb": "&j;"}.get(name, "")
    text = PLAN.replace('encoding="utf-8"', f'encoding="{encoding}"')
    text = text.replace("<VpMobil>", DTDS[name] + "<VpMobil>", 1)
    return text.replace("Sprechtag", f"Sprechtag {entity}").encode(encoding)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-16-be", "iso-8859-1"])
@pytest.mark.parametrize("name", DTDS)
def test_dtds_and_entities_are_refused_in_every_encoding(name: str, encoding: str) -> None:
    data = with_dtd(name, encoding)
    if encoding == "utf-16-be":
        data = codecs.BOM_UTF16_BE + with_dtd(name, "utf-16").decode("utf-16").encode(encoding)
    with pytest.raises(ImportFormatError) as raised:
        indiware.parse_indiware(data, "PlanKl20240904.xml")
    assert raised.value.message == (
        "a DTD (<!DOCTYPE ...>), entity declarations and references to other files are not "
        "accepted: Indiware plans have none; nothing was imported"
    )


def test_a_lower_case_doctype_is_no_xml() -> None:
    text = PLAN.replace("<VpMobil>", '<!doctype VpMobil SYSTEM "x.dtd"><VpMobil>', 1)
    with pytest.raises(ImportFormatError, match="not well-formed"):
        parse(text)


@pytest.mark.parametrize(
    ("encoding", "declared"),
    [
        ("utf-16", ""),
        ("utf-16-be", "utf-16"),
        ("iso-8859-1", ""),
        ("windows-1252", ""),
        ("utf-8", ""),
        ("utf-8-sig", "utf-8"),
    ],
)
def test_plans_in_the_encoding_their_declaration_names_are_read(
    encoding: str, declared: str
) -> None:
    text = PLAN.replace('encoding="utf-8"', f'encoding="{declared or encoding}"')
    data = (codecs.BOM_UTF16_BE if encoding == "utf-16-be" else b"") + text.encode(encoding)
    batch = indiware.parse_indiware(data, "PlanKl20240904.xml")
    assert batch.covered_dates == {DAY}
    assert next(sub for sub in batch.substitutions if sub.period == 1).text == "für Mat Frau Müller"
    assert batch.substitutions == parse().substitutions
    assert batch.lessons == parse().lessons


def test_a_plan_covers_its_date_and_its_day_messages_but_no_absences() -> None:
    batch = parse()
    assert (batch.covered_dates, batch.message_dates) == ({DAY}, {DAY})
    assert (batch.absence_dates, batch.partial_dates, batch.weekly_plan) == (set(), set(), False)


@pytest.mark.parametrize(
    "klassen",
    ["<Klassen/>", "<Klassen></Klassen>", ""],
)
def test_a_plan_without_classes_is_refused(klassen: str) -> None:
    start, end = PLAN.index("<Klassen>"), PLAN.index("</Klassen>") + len("</Klassen>")
    with pytest.raises(ImportFormatError) as raised:
        parse(PLAN[:start] + klassen + PLAN[end:])
    assert raised.value.message == (
        "the plan for 2024-09-04 lists no classes: it looks incomplete; nothing was imported"
    )


def test_a_plan_whose_day_has_no_lessons_still_lists_its_classes() -> None:
    text = re.sub("<Pl>.*?</Pl>", "<Pl/>", PLAN, count=1, flags=re.DOTALL)
    batch = parse(text)
    assert batch.covered_dates == {DAY}
    assert [lesson.classes for lesson in batch.lessons] == [("5b",)]


CUT_OFF_MESSAGE = (
    "the XML ends before the plan does: the file looks cut off (a download or copy that stopped "
    "early?); nothing was imported"
)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16-le"])
@pytest.mark.parametrize(
    "marker",
    ["</VpMobil>", "</Klassen>", "</Kl>", "<Std><St>3", 'ZeitBis="08:4', "König", "ü", "Mittwoch"],
)
def test_a_cut_off_plan_is_refused(marker: str, encoding: str) -> None:
    text = PLAN.replace('encoding="utf-8"', f'encoding="{encoding.replace("-le", "")}"')
    data = codecs.BOM_UTF16_LE + text.encode(encoding) if encoding == "utf-16-le" else text.encode()
    # Cut one byte into the marker: in the middle of a tag, a text or a character.
    cut = data[: data.rindex(marker.encode(encoding)) + 1]
    with pytest.raises(ImportFormatError) as raised:
        indiware.parse_indiware(cut, "PlanKl20240904.xml")
    assert raised.value.message == CUT_OFF_MESSAGE
    assert raised.value.line is not None


@pytest.mark.parametrize("encoding", ["utf-16-le", "shift_jis", "no-such-encoding"])
def test_an_encoding_expat_cannot_read_is_refused(encoding: str) -> None:
    text = PLAN.replace('encoding="utf-8"', f'encoding="{encoding}"')
    with pytest.raises(ImportFormatError) as raised:
        indiware.parse_indiware(text.encode("utf-8"), "PlanKl20240904.xml")
    assert raised.value.message.startswith("the encoding its XML declaration names is not readable")


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(ImportFormatError, match="the file is empty; nothing was imported"):
        indiware.parse_indiware(b" \r\n", "PlanKl20240904.xml")


def test_other_xml_and_garbage_are_format_errors() -> None:
    with pytest.raises(ImportFormatError, match="expected VpMobil"):
        indiware.parse_indiware(b"<plan><Kopf/></plan>")
    with pytest.raises(ImportFormatError, match="not well-formed"):
        indiware.parse_indiware(b"\x00\xff garbage <VpMobil>")
    with pytest.raises(ImportFormatError, match="no plan date"):
        indiware.parse_indiware(b"<VpMobil><Kopf><DatumPlan>bald</DatumPlan></Kopf></VpMobil>")


def test_plan_date_falls_back_to_the_file_name_in_the_head() -> None:
    text = PLAN.replace("<DatumPlan>Mittwoch, 4. September 2024</DatumPlan>", "")
    assert parse(text).covered_dates == {DAY}


def test_sample_plan_2017() -> None:
    path = SAMPLE / "PlanKl20170621.xml"
    if not path.exists():
        pytest.skip("Indiware sample not available")
    batch = indiware.parse_indiware(path.read_bytes(), path.name)
    day = date(2017, 6, 21)
    assert batch.warnings == []
    assert batch.covered_dates == {day}
    assert batch.generated_at == datetime(2017, 6, 20, 10, 28)
    assert len(batch.holidays) == 73
    assert date(2017, 6, 26) in batch.holidays
    assert batch.day_messages == [
        DayMessage(
            day,
            "Die Regelung für den verkürzten Unterricht auf 60 Min. je Block gilt auch für "
            "Mittwoch und Donnerstag!",
        )
    ]
    # 402 entries in 39 classes; courses shared by several classes are kept once.
    assert len(batch.substitutions) == 190
    assert sum(sub.kind == CANCELLATION for sub in batch.substitutions) == 150
    assert len(batch.lessons) == 78
    first = batch.substitutions[0]
    assert (first.original_classes, first.period, first.lesson_number) == (("05a",), 1, 3503)
    assert (first.original_teachers, first.new_teachers, first.new_subject) == (
        ("Her",),
        ("Vog",),
        "Mat",
    )
    assert first.text == "für Mat Frau Herkt"
    cancelled = next(
        sub for sub in batch.substitutions if sub.original_classes == ("05c",) and sub.period == 1
    )
    assert (cancelled.kind, cancelled.original_subject, cancelled.original_teachers) == (
        CANCELLATION,
        "Mat",
        ("Alc",),
    )
    note = next(lesson for lesson in batch.lessons if lesson.text)
    assert (note.classes, note.subject, note.period) == (("08e",), "Spo", 1)
    assert note.text == "Jungen Kl.8b/8e Ausfall oder Aufenthaltsraum"


# Unreadable values: a clear format error for the plan's own date, a warning for the rest


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        (
            "<DatumPlan>Mittwoch, 4. September 2024</DatumPlan>",
            "<DatumPlan>Samstag, 31. Februar 2024</DatumPlan>",
            "31. Februar 2024",
        ),
        (
            "<DatumPlan>Mittwoch, 4. September 2024</DatumPlan><datei>PlanKl20240904.xml</datei>",
            "<datei>PlanKl20241399.xml</datei>",
            "PlanKl20241399",
        ),
        ("<ft>241003</ft>", "<ft>241399</ft>", "241399"),
        ("<ft>241003</ft>", "<ft>２４１００３</ft>", "not YYMMDD"),
    ],
)
def test_impossible_plan_or_free_day_dates_are_format_errors(
    old: str, new: str, match: str
) -> None:
    assert old in PLAN
    with pytest.raises(ImportFormatError, match=match) as raised:
        parse(PLAN.replace(old, new))
    assert raised.value.file == "PlanKl20240904.xml"
    assert "not a valid date" in raised.value.message or "YYMMDD" in raised.value.message


def test_an_impossible_timestamp_is_ignored_with_a_warning() -> None:
    batch = parse(PLAN.replace("03.09.2024, 16:45", "45.13.2024, 07:12"))
    assert batch.generated_at is None
    assert [w.message for w in batch.warnings] == [
        "zeitstempel '45.13.2024, 07:12' is not a valid date and time; ignored"
    ]
    assert batch.covered_dates == {DAY}
    assert len(batch.substitutions) == 4


def test_impossible_clock_times_leave_the_period_out_of_the_grid() -> None:
    text = PLAN.replace('ZeitVon="08:45" ZeitBis="09:30"', 'ZeitVon="08:45" ZeitBis="25:99"')
    batch = parse(text)
    assert [period.number for period in batch.periods] == [1]
    assert "'2' (08:45-25:99) is not readable" in batch.warnings[0].message


@pytest.mark.parametrize("period", ["99999999999999999999", "31", "²", "-1"])
def test_absurd_period_numbers_skip_the_entry(period: str) -> None:
    batch = parse(PLAN.replace("<St>6</St>", f"<St>{period}</St>"))
    assert 6 not in {sub.period for sub in batch.substitutions}
    assert f"period {period!r} is not a number from 0 to 30" in batch.warnings[0].message


def test_absurd_lesson_numbers_are_ignored_with_a_warning() -> None:
    huge = "99999999999999999999"
    text = PLAN.replace("<Nr>104</Nr>", f"<Nr>{huge}</Nr>").replace(">300</UeNr>", ">²</UeNr>")
    batch = parse(text)
    art = next(sub for sub in batch.substitutions if sub.period == 6)
    assert art.lesson_number is None
    messages = [w.message for w in batch.warnings]
    assert "lesson number '²' is not readable; lesson list entry skipped" in messages
    assert f"class 5a: lesson number {huge!r} is not readable; ignored" in messages
