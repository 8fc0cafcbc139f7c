"""Indiware VpMobil class plans: changed entries, cancellations, merging, safety, real sample."""

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


@pytest.mark.parametrize(
    "prefix",
    [
        '<!DOCTYPE VpMobil [<!ENTITY a "aaaa">]>',
        '<!doctype VpMobil SYSTEM "http://example.invalid/x.dtd">',
    ],
)
def test_dtds_and_entities_are_refused(prefix: str) -> None:
    text = PLAN.replace("<VpMobil>", prefix + "<VpMobil>", 1)
    with pytest.raises(ImportFormatError, match="DTD"):
        parse(text)


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
