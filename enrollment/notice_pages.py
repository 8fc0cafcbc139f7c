"""The admin pages of a school's privacy notice: its versions, and publishing a new one (BYOD
owners consent to the newest before they enroll)."""

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue

from enrollment import service
from mdm.accounts import service as accounts
from mdm.accounts.page_auth import admin_page, page_actor
from mdm.extensions import db
from mdm.platform.errors import ValidationFailed
from mdm.platform.pages import admin_language, page_blueprint, render_admin

pages = page_blueprint("notice_pages", __name__)
TEXTS = {
    "de": {
        "title": "Datenschutzhinweise: {school}",
        "intro": "Wer ein privates Gerät (BYOD) einschreibt, sieht die neueste Fassung und "
        "stimmt ihr zu. Eine neue Fassung gilt für die nächsten Einschreibungen; frühere "
        "Zustimmungen bleiben bei ihrer Fassung.",
        "version": "Fassung {version} vom {at}",
        "none": "Die Schule hat noch keine Datenschutzhinweise.",
        "new": "Neue Fassung veröffentlichen",
        "text": "Text",
        "publish": "Veröffentlichen",
        "published": "Fassung {version} ist veröffentlicht.",
        "required": "Bitte geben Sie den Text ein.",
    },
    "en": {
        "title": "Privacy notices: {school}",
        "intro": "Who enrolls a personal device (BYOD) sees the newest version and consents to "
        "it. A new version applies to the next enrollments; earlier consents stay with their "
        "version.",
        "version": "Version {version} of {at}",
        "none": "The school has no privacy notice yet.",
        "new": "Publish a new version",
        "text": "Text",
        "publish": "Publish",
        "published": "Version {version} is published.",
        "required": "Please enter the text.",
    },
}


@pages.route("/admin/schools/<int:school_id>/privacy-notices", methods=["GET", "POST"])
@admin_page
def notices(school_id: int) -> ResponseReturnValue:
    """A school's privacy notice versions, newest first, and a form for a new one."""
    actor = page_actor()
    school = accounts.get_school(db.session, actor, school_id)
    errors: dict[str, list[str]] = {}
    text = request.form.get("text", "")
    if request.method == "POST":
        try:
            notice = service.create_notice(db.session, actor, text, school_id=school.id)
        except ValidationFailed:
            errors = {"text": [TEXTS[admin_language()]["required"]]}
        else:
            flash(TEXTS[admin_language()]["published"].format(version=notice.version), "ok")
            return redirect(url_for("notice_pages.notices", school_id=school.id))
    return render_admin(
        "enrollment/notices.html",
        TEXTS,
        status=400 if errors else 200,
        school=school,
        notices=service.list_notices(db.session, actor, school_id=school.id),
        text=text,
        errors=errors,
    )
