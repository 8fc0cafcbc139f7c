"""The timetable pages for admins: upload an export (several files or a zip; dropped onto the
page where scripts run), the preview of what it would change, applying it, the history of
imports with each one's report, and undoing the last import. Built on schedules.import_service,
as the API is."""

from typing import Any

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue

from mdm.accounts.models import School
from mdm.accounts.page_auth import admin_page, page_actor
from mdm.extensions import db
from mdm.platform.actors import Actor
from mdm.platform.errors import ValidationFailed
from mdm.platform.pages import (
    admin_language,
    confirm_page,
    confirmed,
    listing,
    page_blueprint,
    paging,
    render_admin,
)
from schedules import import_service, plan_changes
from schedules.import_files import FORMATS, file_hashes

pages = page_blueprint("timetable_pages", __name__, url_prefix="/admin/timetable")
NAV = {"de": "Stundenplan", "en": "Timetable"}
CHANGES_PER_PAGE = 100
TEXTS: dict[str, dict[str, Any]] = {
    "de": {
        "title": "Stundenplan",
        "intro": "Laden Sie den Export aus Untis (GPU-Dateien oder HTML-Monitorseiten) oder "
        "Indiware hoch: mehrere Dateien oder ein Zip. Sie sehen zuerst, was sich ändern würde; "
        "übernommen wird erst, wenn Sie es bestätigen.",
        "choose_school": "Schule wählen",
        "school": "Schule",
        "show": "Anzeigen",
        "upload_heading": "Export hochladen",
        "files": "Dateien des Exports (oder ein Zip)",
        "files_hint": "Mehrere Dateien auf einmal auswählen; hier ablegen geht auch.",
        "format": "Format",
        "format_auto": "an den Dateien erkennen",
        "formats": {"untis-gpu": "Untis GPU", "untis-html": "Untis HTML", "indiware": "Indiware"},
        "preview_button": "Vorschau",
        "drop_here": "Dateien hierher ziehen",
        "preview_title": "Vorschau des Imports",
        "preview_intro": "So würde der Import den Plan ändern. Noch ist nichts geändert.",
        "kind": "Bereich",
        "new": "neu",
        "changed": "geändert",
        "removed": "entfernt",
        "examples": "Beispiele",
        "no_change": "Der Export ändert nichts am Plan.",
        "covered": "Vertretungen für",
        "partial": "Nur teilweise enthalten",
        "missing_pages": "Fehlende Seiten",
        "warnings": "Hinweise beim Lesen",
        "refusal": "Ohne Bestätigung würde der Import abgelehnt:",
        "force": "Trotzdem übernehmen, obwohl so viel entfernt wird",
        "apply": "Übernehmen",
        "cancel": "Verwerfen",
        "applied": "Der Import ist übernommen (Planversion {version}).",
        "applied_unchanged": "Der Import ist übernommen; der Plan hat sich nicht geändert.",
        "refused": "Der Import wurde abgelehnt, nichts wurde geändert: {reason}",
        "history_heading": "Bisherige Importe",
        "when": "Wann",
        "by": "Von",
        "source": "Quelle",
        "status": "Ergebnis",
        "statuses": {"applied": "übernommen", "refused": "abgelehnt"},
        "report": "Bericht",
        "no_imports": "Noch keine Importe.",
        "undo_heading": "Letzten Import rückgängig machen",
        "undo_intro": "Stellt den Plan wieder her, wie er vor dem letzten Import war (nur "
        "der letzte Import, nur einmal).",
        "undo": "Rückgängig machen",
        "undo_question": "Den letzten Import rückgängig machen? Der Plan wird, wie er davor "
        "war, als neue Planversion übernommen.",
        "undone": "Der letzte Import ist rückgängig gemacht (Planversion {version}).",
        "report_title": "Import vom {when}",
        "counts": "Gelesen",
        "reason": "Grund",
        "files_heading": "Dateien",
        "substitution_changes": "Geänderte Vertretungen",
        "date": "Datum",
        "change": "Änderung",
        "key": "Stunde",
        "back": "Zurück zum Stundenplan",
        "kinds": {},
    },
    "en": {
        "title": "Timetable",
        "intro": "Upload the export of Untis (GPU files or HTML monitor pages) or Indiware: "
        "several files or a zip. You first see what would change; nothing is applied until you "
        "confirm it.",
        "choose_school": "Choose a school",
        "school": "School",
        "show": "Show",
        "upload_heading": "Upload an export",
        "files": "The export's files (or a zip)",
        "files_hint": "Choose several files at once; dropping them here works too.",
        "format": "Format",
        "format_auto": "recognise by the files",
        "formats": {"untis-gpu": "Untis GPU", "untis-html": "Untis HTML", "indiware": "Indiware"},
        "preview_button": "Preview",
        "drop_here": "Drop files here",
        "preview_title": "Preview of the import",
        "preview_intro": "This is how the import would change the plan. Nothing is changed yet.",
        "kind": "Part",
        "new": "new",
        "changed": "changed",
        "removed": "removed",
        "examples": "Examples",
        "no_change": "The export changes nothing in the plan.",
        "covered": "Substitutions for",
        "partial": "Only partly included",
        "missing_pages": "Missing pages",
        "warnings": "Notes while reading",
        "refusal": "Without confirming it, the import would be refused:",
        "force": "Apply anyway, although this much is removed",
        "apply": "Apply",
        "cancel": "Discard",
        "applied": "The import is applied (plan version {version}).",
        "applied_unchanged": "The import is applied; the plan did not change.",
        "refused": "The import was refused, nothing changed: {reason}",
        "history_heading": "Imports so far",
        "when": "When",
        "by": "By",
        "source": "Source",
        "status": "Result",
        "statuses": {"applied": "applied", "refused": "refused"},
        "report": "Report",
        "no_imports": "No imports yet.",
        "undo_heading": "Undo the last import",
        "undo_intro": "Puts the plan back as it was before the last import (only the last "
        "import, only once).",
        "undo": "Undo",
        "undo_question": "Undo the last import? The plan as it was before it becomes a new plan "
        "version.",
        "undone": "The last import is undone (plan version {version}).",
        "report_title": "Import of {when}",
        "counts": "Read",
        "reason": "Reason",
        "files_heading": "Files",
        "substitution_changes": "Changed substitutions",
        "date": "Date",
        "change": "Change",
        "key": "Lesson",
        "back": "Back to the timetable",
        "kinds": {},
    },
}


def _school(actor: Actor) -> School | None:
    """The school the pages are about: the admin's, or the one a city IT admin chose."""
    if actor.is_city_admin:
        raw = request.values.get("school_id", "")
        school_id = int(raw) if raw.isdigit() and len(raw) < 10 else None
    else:
        school_id = actor.school_id
    return db.session.get(School, school_id) if school_id is not None else None


def _back(school: School | None) -> str:
    args = {"school_id": school.id} if school is not None and page_actor().is_city_admin else {}
    return url_for("timetable_pages.import_history", **args)


@pages.route("")
@admin_page
def import_history() -> ResponseReturnValue:
    """The upload form, the import history and the undo of the last import."""
    actor = page_actor()
    school = _school(actor)
    if school is None:
        schools = list(db.session.query(School).order_by(School.name))
        return render_admin("schedules/admin_choose_school.html", TEXTS, schools=schools)
    page = paging(25)
    rows, total = import_service.list_imports(
        db.session, actor, school.id, limit=page.limit, offset=page.offset
    )
    args = {"school_id": school.id} if actor.is_city_admin else {}
    return render_admin(
        "schedules/admin_timetable.html",
        TEXTS,
        school=school,
        imports=listing(rows, total, page, **args),
        formats=FORMATS,
    )


@pages.route("/preview", methods=["POST"])
@admin_page
def preview() -> ResponseReturnValue:
    """What the uploaded export would change; it is kept for applying it."""
    actor = page_actor()
    t = TEXTS[admin_language()]
    school = _school(actor)
    if school is None:
        return redirect(_back(None))
    uploads = [(f.filename or "upload", f.read()) for f in request.files.getlist("files") if f]
    uploads = [(name, data) for name, data in uploads if data]
    file_format = request.form.get("format", "")
    file_format = file_format if file_format in FORMATS else ""
    try:
        files = import_service.read_uploads(uploads)
        result = import_service.import_files(
            db.session, actor, school.id, files, file_format or None, dry_run=True
        )
    except ValidationFailed as refused:
        db.session.rollback()
        reasons = [
            " ".join(map(str, value)) if isinstance(value, list) else str(value)
            for value in (refused.errors or {}).values()
        ]
        flash(t["refused"].format(reason="; ".join(reasons) or refused.detail), "error")
        return redirect(_back(school))
    upload = import_service.keep_upload(db.session, actor, school.id, files, file_format)
    batch = result.batch
    assert batch is not None
    scope = plan_changes.scope_of(batch)
    return render_admin(
        "schedules/admin_preview.html",
        TEXTS,
        school=school,
        upload=upload,
        result=result,
        kinds=[(kind, changes) for kind, changes in result.kinds.items() if changes.any],
        counts=import_service.batch_counts(batch),
        covered=sorted(scope.substitution_dates),
        partial=sorted(scope.partial_dates),
        missing_pages=batch.missing_pages,
        files=sorted(files),
        back=_back(school),
    )


@pages.route("/uploads/<int:upload_id>/apply", methods=["POST"])
@admin_page
def apply(upload_id: int) -> ResponseReturnValue:
    """Apply a previewed export; a refusal is recorded in the history, and nothing changes."""
    actor = page_actor()
    t = TEXTS[admin_language()]
    school = _school(actor)
    if school is None:
        return redirect(_back(None))
    files, file_format = import_service.take_upload(db.session, actor, school.id, upload_id)
    try:
        result = import_service.import_files(
            db.session,
            actor,
            school.id,
            files,
            file_format or None,
            force=request.form.get("force") == "yes",
        )
    except import_service.ImportRefused as refused:
        # As the API does: the import rolls back (the upload stays for another try), and the
        # refusal is recorded in a transaction of its own.
        db.session.rollback()
        import_service.record_refusal(
            db.session, actor, school.id, file_hashes(files), refused.detail, file_format
        )
        db.session.commit()
        flash(t["refused"].format(reason=refused.detail), "error")
        return redirect(_back(school))
    message = t["applied"] if result.plan_changed else t["applied_unchanged"]
    flash(message.format(version=result.plan_version), "ok")
    return redirect(_back(school))


@pages.route("/restore", methods=["POST"])
@admin_page
def restore() -> ResponseReturnValue:
    """Undo the last import, after the admin confirmed it."""
    actor = page_actor()
    t = TEXTS[admin_language()]
    school = _school(actor)
    back = _back(school)
    if school is None:
        return redirect(back)
    if not confirmed():
        return confirm_page(t["undo_question"], t["undo"], back)
    result = import_service.restore_before_last_import(db.session, actor, school.id)
    flash(t["undone"].format(version=result.plan_version), "ok")
    return redirect(back)


@pages.route("/imports/<int:import_id>")
@admin_page
def report(import_id: int) -> ResponseReturnValue:
    """One import's report: what it read, changed and warned about, and its substitutions."""
    actor = page_actor()
    school = _school(actor)
    if school is None:
        return redirect(_back(None))
    page = paging(CHANGES_PER_PAGE)
    record, changes, total = import_service.get_import(
        db.session, actor, school.id, import_id, limit=page.limit, offset=page.offset
    )
    args = {"school_id": school.id} if actor.is_city_admin else {}
    return render_admin(
        "schedules/admin_report.html",
        TEXTS,
        school=school,
        record=record,
        changes=listing(changes, total, page, **args),
        back=_back(school),
    )
