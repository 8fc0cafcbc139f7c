"""The CSV files schools have: school office exports without usernames or roles, in their
encodings, separators and headers; generated usernames; recognising existing accounts."""

import pytest

from mdm.accounts.names import assign_usernames, class_key, name_key, username_base
from mdm.accounts.user_csv import parse_user_csv
from mdm.accounts.user_matching import Account, match_rows


@pytest.mark.parametrize(
    "first, last, username",
    [
        ("Lena", "Schmidt", "lena.schmidt"),
        ("Jürgen", "Müller", "juergen.mueller"),
        ("Sören", "Ørsted", "soeren.oersted"),
        ("Gößmann", "Straße", "goessmann.strasse"),
        ("José", "Núñez", "jose.nunez"),
        ("Łukasz", "Wałęsa", "lukasz.walesa"),
        ("Ayşe", "Yıldız", "ayse.yildiz"),
        ("Anna-Lena", "van der Berg", "anna-lena.van-der-berg"),
        ("Siobhán", "O'Brien", "siobhan.obrien"),
        ("Zoë", "Ærø", "zoe.aeroe"),
        ("", "Schmidt", "schmidt"),
        ("Иван", "Petrov", "petrov"),
    ],
)
def test_usernames_are_made_of_the_names_in_ascii(first: str, last: str, username: str) -> None:
    assert username_base(first, last) == username


def test_the_first_free_username_is_taken() -> None:
    existing = (
        {"lena.schmidt", "lena.schmidt2", "max.muster"}
        | {f"ben.wolf{n}" for n in range(2, 40)}
        | {"ben.wolf"}
    )
    asked: list[set[str]] = []

    def taken(candidates: set[str]) -> set[str]:
        asked.append(candidates)
        return candidates & existing

    names = assign_usernames(
        ["lena.schmidt", "lena.schmidt", "ben.wolf", "paul.richter"], taken, {"lena.schmidt4"}
    )

    assert names == ["lena.schmidt3", "lena.schmidt5", "ben.wolf40", "paul.richter"]
    assert len(asked) <= 5


def test_names_and_classes_compare_loosely() -> None:
    assert name_key("Müller") == name_key("MUELLER") == name_key(" mueller ")
    assert name_key("Anna-Lena") == name_key("Anna Lena")
    assert class_key("5a") == class_key("5 A") and class_key(None) == ""


OFFICE = "Vorname;Nachname;Klasse\nLena;Schmidt;5a\nJürgen;Müller;5b\n"


def test_an_office_export_needs_the_role_for_the_whole_file() -> None:
    without = parse_user_csv(OFFICE.encode("cp1252"))
    assert "role=student" in without.errors["role"][0]

    parsed = parse_user_csv(OFFICE.encode("cp1252"), role="student")

    assert parsed.errors == {}
    assert [(r.username, r.first_name, r.last_name, r.role, r.class_name) for r in parsed.rows] == [
        (None, "Lena", "Schmidt", "student", "5a"),
        (None, "Jürgen", "Müller", "student", "5b"),
    ]
    assert parsed.columns == {
        "first_name": "Vorname",
        "last_name": "Nachname",
        "class_name": "Klasse",
    }


@pytest.mark.parametrize(
    "content",
    [
        "Name;Vorname;Klasse\r\nSchmidt;Lena;5a\r\n".encode("cp1252"),
        "\ufeffNachname,Vorname,Klasse,Geburtsdatum\nSchmidt,Lena,5a,03.04.2015\n".encode(),
        "Nachname\tVorname\tKlasse\r\nSchmidt\tLena\t5a\r\n".encode("utf-16"),
        b"sep=;\nNachname;Vorname;Klasse\nSchmidt;Lena;5a\n",
        "Schülerliste Klasse 5a, Stand 01.08.2026\n\nNachname;Vorname;Klasse\n"
        "Schmidt;Lena;5a\n".encode("cp1252"),
        b'Familienname|Rufname|Klassenbezeichnung\n"Schmidt"|"Lena"|="5a"\n',
        b"NAME;KLASSE\nSchmidt, Lena;5a\n",
        "Schüler-ID;Nachname;Vorname;Klasse;Lehrer\n4711;Schmidt;Lena;5a;MUE\n".encode(),
    ],
)
def test_the_common_variants_of_office_exports(content: bytes) -> None:
    parsed = parse_user_csv(content, role="student")

    assert parsed.errors == {}
    [row] = parsed.rows
    assert (row.first_name, row.last_name, row.class_name) == ("Lena", "Schmidt", "5a")


def test_ids_and_ignored_columns_are_named() -> None:
    parsed = parse_user_csv(
        "Schüler-ID;Nachname;Vorname;Klasse;Geburtsdatum;Lehrer\n"
        "4711;Schmidt;Lena;5a;03.04.2015;MUE\n".encode(),
        role="student",
    )
    assert parsed.rows[0].external_id == "4711"
    assert parsed.columns["external_id"] == "Schüler-ID"
    assert parsed.ignored_columns == ["Geburtsdatum", "Lehrer"]


def test_role_values_as_schools_write_them() -> None:
    parsed = parse_user_csv(
        "Vorname;Nachname;Typ\nA;Eins;Schüler/in\nB;Zwei;LuL\nC;Drei;S\nD;Vier;\nE;Fünf;Koch\n".encode(),
        role="teacher",
    )
    assert [row.role for row in parsed.rows] == ["student", "teacher", "student", "teacher"]
    assert "'Koch' is not teacher or student" in parsed.errors["line 6"][0]


def test_unusable_lines_are_named_with_the_reason() -> None:
    parsed = parse_user_csv(
        b"Name;Klasse\nSchmidt, Lena;5a\nLena Schmidt;5a\n;5b\n", role="student"
    )
    assert [row.line for row in parsed.rows] == [2]
    assert "does not say which is the last name" in parsed.errors["line 3"][0]
    assert set(parsed.errors) == {"line 3", "line 4"}

    twice = parse_user_csv(
        b"Vorname;Nachname;Klasse\nLena;Schmidt;5a\nLENA;Schmidt;5 A\nLena;Schmidt;5b\n",
        role="student",
    )
    assert twice.errors == {"line 3": ["LENA Schmidt (5 A) repeats line 2"]}


def account(id: int, username: str, first: str, last: str, class_name: str | None = "5a", **kw):  # noqa: A002
    return Account(
        id=id,
        username=username,
        role=kw.get("role", "student"),
        first_name=first,
        last_name=last,
        class_name=class_name,
        external_id=kw.get("external_id"),
    )


def rows(text: str):
    parsed = parse_user_csv(text.encode(), role="student")
    assert parsed.errors == {}
    return parsed.rows


def test_a_person_is_matched_by_name_even_in_another_class() -> None:
    matches = match_rows(
        rows("Vorname;Nachname;Klasse\nLena;Schmidt;6a\nJürgen;Mueller;6b\nNeu;Ling;6a\n"),
        [account(1, "lena.schmidt", "Lena", "Schmidt"), account(2, "j.m", "Jürgen", "Müller")],
    )
    assert matches.errors == {}
    assert {line: a.id for line, a in matches.accounts.items()} == {2: 1, 3: 2}


def test_namesakes_are_told_apart_by_class_or_reported() -> None:
    namesakes = [
        account(1, "lena.schmidt", "Lena", "Schmidt", "5a"),
        account(2, "lena.schmidt2", "Lena", "Schmidt", "7c"),
    ]
    same_class = match_rows(rows("Vorname;Nachname;Klasse\nLena;Schmidt;7c\n"), namesakes)
    assert same_class.accounts[2].id == 2

    moved = match_rows(rows("Vorname;Nachname;Klasse\nLena;Schmidt;6a\n"), namesakes)
    assert moved.accounts == {}
    message = moved.errors["line 2"][0]
    assert "lena.schmidt (5a), lena.schmidt2 (7c)" in message and "username" in message


def test_two_lines_of_one_account_are_reported() -> None:
    matches = match_rows(
        rows("Vorname;Nachname;Klasse\nLena;Schmidt;6a\nLena;Schmidt;6b\n"),
        [account(1, "lena.schmidt", "Lena", "Schmidt")],
    )
    assert matches.accounts == {}
    assert set(matches.errors) == {"line 2", "line 3"}


def test_the_office_softwares_id_wins_over_names() -> None:
    accounts = [
        account(1, "lena.schmidt", "Lena", "Schmidt", external_id="4711"),
        account(2, "lena.schmidt2", "Lena", "Schmidt", external_id="4712"),
    ]
    matches = match_rows(
        rows("ID;Vorname;Nachname;Klasse\n4712;Lena;Meier;6a\n4713;Lena;Schmidt;6a\n"), accounts
    )
    assert matches.errors == {}
    # 4713 is a new person: the namesakes have other ids.
    assert {line: a.id for line, a in matches.accounts.items()} == {2: 2}
