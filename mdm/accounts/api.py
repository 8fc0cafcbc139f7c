"""Accounts API: login, the current user, schools, users and their CSV import, the audit log."""

from typing import Any

from flask import current_app, request
from flask_jwt_extended import current_user, jwt_required

from mdm.accounts import login as logins
from mdm.accounts import service, user_import
from mdm.accounts.auth import current_actor, login_required, roles_required
from mdm.accounts.schemas import (
    AccessTokenSchema,
    AuditPageSchema,
    AuditQueryArgs,
    ImportResultSchema,
    LoginSchema,
    PasswordChangeSchema,
    SchoolSchema,
    SchoolUpdateSchema,
    TokensSchema,
    UserImportArgs,
    UserPageSchema,
    UserQueryArgs,
    UserSchema,
    UserUpdateSchema,
)
from mdm.extensions import db
from mdm.platform import audit
from mdm.platform.errors import ValidationFailed
from mdm.platform.http import Blueprint, accepts, limit_offset, page
from mdm.platform.openapi import REFRESH_TOKEN, problems, security
from mdm.platform.scoping import ADMINS

blp = Blueprint(
    "platform", __name__, url_prefix="/api/v1", description="Login, schools, users, audit log"
)


@blp.route("/auth/login", methods=["POST"])
@blp.arguments(LoginSchema)
@blp.response(200, TokensSchema)
@problems(401, 429)
@security()
def login(body: dict[str, Any]) -> dict[str, Any]:
    """Log in with username and password; returns an access and a refresh token."""
    _user, tokens = logins.login(db.session, body["username"], body["password"])
    return tokens | {"expires_in": current_app.config["ACCESS_TOKEN_SECONDS"]}


@blp.route("/auth/refresh", methods=["POST"])
@jwt_required(refresh=True)
@blp.response(200, AccessTokenSchema)
@problems(401)
@security({REFRESH_TOKEN: []})
def refresh() -> dict[str, Any]:
    """A new access token for a refresh token (send the refresh token as Bearer)."""
    return {
        "access_token": logins.refresh_access_token(),
        "token_type": "Bearer",
        "expires_in": current_app.config["ACCESS_TOKEN_SECONDS"],
    }


@blp.route("/auth/logout", methods=["POST"])
@login_required
@blp.response(204)
def logout() -> None:
    """Revoke this access token and the refresh token it came from."""
    logins.logout(db.session)


@blp.route("/me", methods=["GET"])
@login_required
@blp.response(200, UserSchema)
def me() -> Any:
    """The logged-in user."""
    return current_user


@blp.route("/me/password", methods=["POST"])
@login_required
@blp.arguments(PasswordChangeSchema)
@blp.response(204)
def change_password(body: dict[str, Any]) -> None:
    """Change one's own password."""
    service.change_own_password(
        db.session, current_actor(), body["current_password"], body["new_password"]
    )


@blp.route("/schools", methods=["GET"])
@login_required
@blp.response(200, SchoolSchema(many=True))
def list_schools() -> Any:
    """Schools: all of them for the city IT admin, one's own for everybody else."""
    return service.list_schools(db.session, current_actor())


@blp.route("/schools", methods=["POST"])
@roles_required("it_admin")
@blp.arguments(SchoolSchema)
@blp.response(201, SchoolSchema)
@problems(409)
def create_school(body: dict[str, Any]) -> Any:
    """Create a school (city IT admin)."""
    return service.create_school(
        db.session, current_actor(), body["slug"], body["name"], body["timezone"]
    )


@blp.route("/schools/<int:school_id>", methods=["GET"])
@login_required
@blp.response(200, SchoolSchema)
def get_school(school_id: int) -> Any:
    """One school."""
    return service.get_school(db.session, current_actor(), school_id)


@blp.route("/schools/<int:school_id>", methods=["PATCH"])
@roles_required("it_admin")
@blp.arguments(SchoolUpdateSchema)
@blp.response(200, SchoolSchema)
def update_school(body: dict[str, Any], school_id: int) -> Any:
    """Rename a school or change its time zone (city IT admin)."""
    return service.update_school(db.session, current_actor(), school_id, body)


@blp.route("/users", methods=["GET"])
@roles_required(*ADMINS)
@blp.arguments(UserQueryArgs, location="query")
@blp.response(200, UserPageSchema)
def list_users(args: dict[str, Any]) -> dict[str, Any]:
    """Users the admin manages, filtered by school, role, class or a search text."""
    rows, total = service.list_users(
        db.session,
        current_actor(),
        school_id=args.get("school_id"),
        role=args.get("role"),
        class_name=args.get("class_name"),
        search=args.get("q"),
        **limit_offset(args),
    )
    return page(rows, total, args)


@blp.route("/users", methods=["POST"])
@roles_required(*ADMINS)
@blp.arguments(UserSchema)
@blp.response(201, UserSchema)
@problems(409)
def create_user(body: dict[str, Any]) -> Any:
    """Create an account: the city admin any role, a school admin teachers and students."""
    return service.create_user(db.session, current_actor(), **body)


@blp.route("/users/<int:user_id>", methods=["GET"])
@roles_required(*ADMINS)
@blp.response(200, UserSchema)
def get_user(user_id: int) -> Any:
    """One account."""
    return service.get_user(db.session, current_actor(), user_id)


@blp.route("/users/<int:user_id>", methods=["PATCH"])
@roles_required(*ADMINS)
@blp.arguments(UserUpdateSchema)
@blp.response(200, UserSchema)
def update_user(body: dict[str, Any], user_id: int) -> Any:
    """Change an account (names, class, e-mail, active, password)."""
    return service.update_user(db.session, current_actor(), user_id, body)


@blp.route("/users/<int:user_id>", methods=["DELETE"])
@roles_required(*ADMINS)
@blp.response(204)
@problems(409)
def delete_user(user_id: int) -> None:
    """Delete an account."""
    service.delete_user(db.session, current_actor(), user_id)


@blp.route("/schools/<int:school_id>/users/import", methods=["POST"])
@accepts("text/csv", "multipart/form-data", "application/octet-stream")
@roles_required(*ADMINS)
@blp.arguments(UserImportArgs, location="query")
@blp.response(200, ImportResultSchema)
@blp.doc(
    requestBody={
        "description": "CSV with the users' names, e.g. a school office export "
        "(Vorname;Nachname;Klasse, Name;Vorname;Klasse, Nachname,Vorname,Klasse,Geburtsdatum) "
        "or username;first_name;last_name;role;email;class;password. Optional columns: "
        "username (made of the names when missing), role (else the query parameter role), "
        "email, class, password, and the office software's id (Schüler-ID, ID, ...). "
        "UTF-8, UTF-16 or Windows-1252; ';', ',', tab or '|'. Headers and their aliases: "
        "docs/user-import.md. Send it as text/csv, or as the field `file` of a multipart form.",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        },
    }
)
def import_users(args: dict[str, Any], school_id: int) -> Any:
    """Bulk import of teachers and students from CSV: every row is valid, or nothing changes.
    Existing accounts are recognised (by id, username, or name and class); new ones without a
    username get one, unique city-wide, shown with their initial passwords."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise ValidationFailed(errors={"file": ["attach the CSV file as the field 'file'"]})
        content = upload.read()
    else:
        content = request.get_data()
    return user_import.import_users_csv(
        db.session, current_actor(), school_id, content, args.get("role")
    )


@blp.route("/audit", methods=["GET"])
@roles_required(*ADMINS)
@blp.arguments(AuditQueryArgs, location="query")
@blp.response(200, AuditPageSchema)
def list_audit(args: dict[str, Any]) -> dict[str, Any]:
    """The audit log, newest first; a school admin sees their school's events."""
    filters = {
        k: args.get(k)
        for k in ("school_id", "action", "actor_id", "target_type", "target_id", "since", "until")
    }
    rows, total = audit.list_events(db.session, current_actor(), **filters, **limit_offset(args))
    return page(rows, total, args)
