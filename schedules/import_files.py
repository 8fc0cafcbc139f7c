"""Export files into one ImportBatch: format detection, zip and folder reading, parser choice.

Pure functions: bytes and file names in, an ImportBatch out. Uploads, the CLI and the folder job
all read their files through here, so the same limits apply everywhere. Files keep their path
inside a zip or folder (`f1/subst_001.htm`), since some exports repeat file names in folders.
An export may mix formats (Untis GPU files with Untis HTML pages): each file goes to the parser
of its format and the batches are joined.
"""

from __future__ import annotations

import hashlib
import io
import lzma
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from schedules import indiware, untis_gpu, untis_html
from schedules.import_data import ImportBatch, ParseWarning

UNTIS_GPU = untis_gpu.SOURCE
UNTIS_HTML = untis_html.SOURCE
INDIWARE = indiware.SOURCE
FORMATS = (UNTIS_GPU, UNTIS_HTML, INDIWARE)
HTML_SUFFIXES = (".htm", ".html")
DATE_SETS = ("holidays", "covered_dates", "partial_dates", "absence_dates", "message_dates")
XML_SUFFIXES = (".xml",)


@dataclass(frozen=True)
class Limits:
    """How large an export may be: files, bytes unpacked, lines of one file. Checked before
    the files are parsed (TIMETABLE_IMPORT_MAX_FILES, _MAX_BYTES, _MAX_ROWS)."""

    files: int = 200
    total_bytes: int = 64 * 1024 * 1024
    rows_per_file: int = 200_000


class ImportFilesError(ValueError):
    """The files cannot be read as an export (a bad zip, too large, no known format)."""


# What unpacking a corrupt or truncated member raises: BadZipFile (bad header, CRC mismatch),
# zlib.error (broken deflate stream), LZMAError, EOFError (data ends early), OSError (bzip2).
_DAMAGED = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError)


def file_hashes(files: dict[str, bytes]) -> dict[str, str]:
    """The sha256 of each file, by name."""
    return {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())}


def file_format(name: str, data: bytes) -> str | None:
    """The format of one file: a GPU file (by its name or content), an HTML page, Indiware XML."""
    if untis_gpu.gpu_file_type(name, data):
        return UNTIS_GPU
    lower = name.lower()
    if lower.endswith(HTML_SUFFIXES):
        return UNTIS_HTML
    if lower.endswith(XML_SUFFIXES):
        return INDIWARE
    return None


def _is_ignored(name: str) -> bool:
    """Folders, macOS resource forks and hidden files are not part of an export."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    # A name without parts ("", ".", "/") names no file either.
    return not parts or name.endswith("/") or "__MACOSX" in parts or parts[-1].startswith(".")


def _safe_path(name: str) -> str:
    """The member's path inside the export; absolute paths and '..' are refused."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or ":" in path.parts[0]:
        raise ImportFilesError(f"zip member {name!r} has an unsafe path")
    return "/".join(part for part in path.parts if part != ".")


def read_zip(data: bytes, limits: Limits) -> dict[str, bytes]:
    """The files of a zip (by their path in it), within the limits."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ImportFilesError(f"not a readable zip file: {exc}") from exc
    except (*_DAMAGED, ValueError, OverflowError) as exc:
        raise ImportFilesError(f"the zip file is damaged: {exc}") from exc
    members = [info for info in archive.infolist() if not _is_ignored(info.filename)]
    if len(members) > limits.files:
        raise ImportFilesError(f"the zip holds {len(members)} files; at most {limits.files}")
    if sum(info.file_size for info in members) > limits.total_bytes:
        raise ImportFilesError(f"the zip unpacks to more than {limits.total_bytes} bytes")
    files: dict[str, bytes] = {}
    total = 0
    for info in members:
        name = _safe_path(info.filename)
        if name in files:
            raise ImportFilesError(f"the zip holds two files named {name!r}")
        try:
            with archive.open(info) as member:
                content = member.read(limits.total_bytes - total + 1)
        except (NotImplementedError, RuntimeError) as exc:
            raise ImportFilesError(f"zip member {info.filename!r} is unreadable: {exc}") from exc
        except _DAMAGED as exc:
            message = f"the zip file is damaged: member {info.filename!r} cannot be unpacked"
            raise ImportFilesError(f"{message} ({exc or type(exc).__name__})") from exc
        total += len(content)
        if total > limits.total_bytes:
            raise ImportFilesError(f"the zip unpacks to more than {limits.total_bytes} bytes")
        files[name] = content
    if not files:
        raise ImportFilesError("the zip holds no files")
    return files


def expand_uploads(
    uploads: list[tuple[str, bytes]], limits: Limits | None = None
) -> dict[str, bytes]:
    """Uploaded files by path; a .zip among them is unpacked in place."""
    limits = limits or Limits()
    files: dict[str, bytes] = {}
    for name, data in uploads:
        path = _safe_path(name) if not _is_ignored(name) else ""
        if not path:
            continue
        unpacked = read_zip(data, limits) if path.lower().endswith(".zip") else {path: data}
        for member, content in unpacked.items():
            if member in files:
                raise ImportFilesError(f"two files named {member!r}")
            files[member] = content
    if len(files) > limits.files:
        raise ImportFilesError(f"{len(files)} files; at most {limits.files}")
    if sum(len(data) for data in files.values()) > limits.total_bytes:
        raise ImportFilesError(f"the files are larger than {limits.total_bytes} bytes together")
    return files


def read_path(path: Path, limits: Limits | None = None) -> dict[str, bytes]:
    """The export at path: one file, a zip, or the files of a folder and its subfolders (by
    their path in the folder)."""
    limits = limits or Limits()
    if path.is_dir():
        entries = sorted(
            entry
            for entry in path.rglob("*")
            if entry.is_file() and not _is_ignored(entry.relative_to(path).as_posix())
        )
        if len(entries) > limits.files:
            raise ImportFilesError(f"{path} holds {len(entries)} files; at most {limits.files}")
        if sum(entry.stat().st_size for entry in entries) > limits.total_bytes:
            raise ImportFilesError(f"{path} holds more than {limits.total_bytes} bytes")
        uploads = [(entry.relative_to(path).as_posix(), entry.read_bytes()) for entry in entries]
        return expand_uploads(uploads, limits)
    if path.is_file():
        if path.stat().st_size > limits.total_bytes:
            raise ImportFilesError(f"{path} is larger than {limits.total_bytes} bytes")
        return expand_uploads([(path.name, path.read_bytes())], limits)
    raise ImportFilesError(f"{path} is neither a file nor a folder")


def parse_files(
    files: dict[str, bytes],
    wanted: tuple[str, ...] = FORMATS,
    limits: Limits | None = None,
) -> ImportBatch:
    """Parse an export's files, each with the parser of its format (of the `wanted` ones);
    other files are a warning, an export without any an error."""
    limits = limits or Limits()
    if not files:
        raise ImportFilesError("no files")
    unknown = [name for name in wanted if name not in FORMATS]
    if unknown:
        raise ImportFilesError(f"unknown format {unknown[0]!r}; one of {', '.join(FORMATS)}")
    groups: dict[str, dict[str, bytes]] = {}
    ignored: list[str] = []
    for name, data in sorted(files.items()):
        found = file_format(name, data)
        if found is None or found not in wanted:
            ignored.append(name)
        else:
            groups.setdefault(found, {})[name] = data
    if not groups:
        expected = " or ".join(wanted)
        raise ImportFilesError(
            f"no file of {expected}: expected GPU001.TXT ... GPU014.TXT, subst_NNN.htm or "
            "PlanKl*.xml"
        )
    parsers: dict[str, Callable[[dict[str, bytes]], ImportBatch]] = {
        UNTIS_GPU: lambda group: untis_gpu.parse_gpu_files(group, max_rows=limits.rows_per_file),
        UNTIS_HTML: untis_html.parse_untis_html_pages,
        INDIWARE: _parse_indiware_files,
    }
    batches = [parsers[name](group) for name, group in groups.items()]
    batch = join_batches(batches)
    batch.warnings[:0] = [
        ParseWarning(name, None, "not a timetable file this import reads; ignored")
        for name in ignored
    ]
    return batch


def join_batches(batches: list[ImportBatch]) -> ImportBatch:
    """One batch of the batches of an export's formats (each kind of entry from where it is)."""
    if len(batches) == 1:
        return batches[0]
    joined = ImportBatch(source="+".join(sorted(batch.source for batch in batches)))
    for batch in batches:
        for name in (
            "classes",
            "teachers",
            "rooms",
            "subjects",
            "periods",
            "courses",
            "lessons",
            "substitutions",
            "absences",
            "day_messages",
            "missing_pages",
            "warnings",
        ):
            getattr(joined, name).extend(getattr(batch, name))
        for name in (
            "holidays",
            "covered_dates",
            "partial_dates",
            "absence_dates",
            "message_dates",
        ):
            getattr(joined, name).update(getattr(batch, name))
        joined.weekly_plan |= batch.weekly_plan
        joined.generated_at = max(
            filter(None, (joined.generated_at, batch.generated_at)), default=None
        )
    return joined


def _parse_indiware_files(files: dict[str, bytes]) -> ImportBatch:
    """Several Indiware plans (one per date) as one batch."""
    return join_batches(
        [indiware.parse_indiware(data, name) for name, data in sorted(files.items())]
    )
