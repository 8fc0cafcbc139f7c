"""Export files into one ImportBatch: format detection, zip and folder reading, parser choice.

Pure functions: bytes and file names in, an ImportBatch out. Uploads, the CLI and the folder job
all read their files through here, so the same limits apply everywhere.
"""

from __future__ import annotations

import hashlib
import io
import lzma
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from schedules import indiware, untis_gpu, untis_html
from schedules.import_data import ImportBatch, ImportFormatError, ParseWarning

UNTIS_GPU = untis_gpu.SOURCE
UNTIS_HTML = untis_html.SOURCE
INDIWARE = indiware.SOURCE
FORMATS = (UNTIS_GPU, UNTIS_HTML, INDIWARE)
HTML_SUFFIXES = (".htm", ".html")
XML_SUFFIXES = (".xml",)

# An export is a handful of files of a few MB; anything far beyond that is not one.
MAX_FILES = 200
MAX_TOTAL_BYTES = 64 * 1024 * 1024


class ImportFilesError(ValueError):
    """The files cannot be read as an export (a bad zip, too large, no known format)."""


# What unpacking a corrupt or truncated member raises: BadZipFile (bad header, CRC mismatch),
# zlib.error (broken deflate stream), LZMAError, EOFError (data ends early), OSError (bzip2).
_DAMAGED = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError)


def file_hashes(files: dict[str, bytes]) -> dict[str, str]:
    """The sha256 of each file, by name."""
    return {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())}


def detect_format(names: list[str]) -> str:
    """Tell the format from the file names: GPU files, Untis HTML pages or Indiware XML."""
    if any(untis_gpu.gpu_file_type(name) for name in names):
        return UNTIS_GPU
    if any(name.lower().endswith(HTML_SUFFIXES) for name in names):
        return UNTIS_HTML
    if any(name.lower().endswith(XML_SUFFIXES) for name in names):
        return INDIWARE
    raise ImportFilesError(
        "cannot tell the format from the file names; expected GPU001.TXT ... GPU014.TXT, "
        "subst_NNN.htm or PlanKl*.xml, or give the format"
    )


def _is_ignored(name: str) -> bool:
    """Folders, macOS resource forks and hidden files are not part of an export."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    # A name without parts ("", ".", "/") names no file either.
    return not parts or name.endswith("/") or "__MACOSX" in parts or parts[-1].startswith(".")


def _safe_name(name: str) -> str:
    """The member's file name; absolute paths and '..' are refused."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or ":" in path.parts[0]:
        raise ImportFilesError(f"zip member {name!r} has an unsafe path")
    return path.name


def read_zip(data: bytes) -> dict[str, bytes]:
    """The files of a zip (by base name), within MAX_FILES and MAX_TOTAL_BYTES."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ImportFilesError(f"not a readable zip file: {exc}") from exc
    except (*_DAMAGED, ValueError, OverflowError) as exc:
        raise ImportFilesError(f"the zip file is damaged: {exc}") from exc
    members = [info for info in archive.infolist() if not _is_ignored(info.filename)]
    if len(members) > MAX_FILES:
        raise ImportFilesError(f"the zip holds {len(members)} files; at most {MAX_FILES}")
    if sum(info.file_size for info in members) > MAX_TOTAL_BYTES:
        raise ImportFilesError(f"the zip unpacks to more than {MAX_TOTAL_BYTES} bytes")
    files: dict[str, bytes] = {}
    total = 0
    for info in members:
        name = _safe_name(info.filename)
        if name in files:
            raise ImportFilesError(f"the zip holds two files named {name!r}")
        try:
            with archive.open(info) as member:
                content = member.read(MAX_TOTAL_BYTES - total + 1)
        except (NotImplementedError, RuntimeError) as exc:
            raise ImportFilesError(f"zip member {info.filename!r} is unreadable: {exc}") from exc
        except _DAMAGED as exc:
            message = f"the zip file is damaged: member {info.filename!r} cannot be unpacked"
            raise ImportFilesError(f"{message} ({exc or type(exc).__name__})") from exc
        total += len(content)
        if total > MAX_TOTAL_BYTES:
            raise ImportFilesError(f"the zip unpacks to more than {MAX_TOTAL_BYTES} bytes")
        files[name] = content
    if not files:
        raise ImportFilesError("the zip holds no files")
    return files


def expand_uploads(uploads: list[tuple[str, bytes]]) -> dict[str, bytes]:
    """Uploaded files by name; a .zip among them is unpacked in place."""
    files: dict[str, bytes] = {}
    for name, data in uploads:
        base = PurePosixPath(name.replace("\\", "/")).name
        unpacked = read_zip(data) if base.lower().endswith(".zip") else {base: data}
        for member, content in unpacked.items():
            if member in files:
                raise ImportFilesError(f"two files named {member!r}")
            files[member] = content
    if len(files) > MAX_FILES:
        raise ImportFilesError(f"{len(files)} files; at most {MAX_FILES}")
    if sum(len(data) for data in files.values()) > MAX_TOTAL_BYTES:
        raise ImportFilesError(f"the files are larger than {MAX_TOTAL_BYTES} bytes together")
    return files


def read_path(path: Path) -> dict[str, bytes]:
    """The export at path: one file, a zip, or the files of a folder (not its subfolders)."""
    if path.is_dir():
        entries = sorted(
            entry for entry in path.iterdir() if entry.is_file() and not _is_ignored(entry.name)
        )
        return expand_uploads([(entry.name, entry.read_bytes()) for entry in entries])
    if path.is_file():
        return expand_uploads([(path.name, path.read_bytes())])
    raise ImportFilesError(f"{path} is neither a file nor a folder")


def parse_files(files: dict[str, bytes], file_format: str | None = None) -> ImportBatch:
    """Parse an export's files with the format's parser (detected from the names when None)."""
    if not files:
        raise ImportFilesError("no files")
    file_format = file_format or detect_format(list(files))
    if file_format == UNTIS_GPU:
        return untis_gpu.parse_gpu_files(files)
    if file_format == UNTIS_HTML:
        return _parse_each(files, HTML_SUFFIXES, untis_html.parse_untis_html_pages, UNTIS_HTML)
    if file_format == INDIWARE:
        return _parse_each(files, XML_SUFFIXES, _parse_indiware_files, INDIWARE)
    raise ImportFilesError(f"unknown format {file_format!r}; one of {', '.join(FORMATS)}")


def _parse_each(
    files: dict[str, bytes],
    suffixes: tuple[str, ...],
    parse: Callable[[dict[str, bytes]], ImportBatch],
    source: str,
) -> ImportBatch:
    """Parse the files with the suffixes; any other file is a warning, none at all an error."""
    chosen = {name: data for name, data in files.items() if name.lower().endswith(suffixes)}
    if not chosen:
        first = sorted(files)[0]
        raise ImportFormatError(first, None, f"no {' or '.join(suffixes)} file for {source}")
    batch: ImportBatch = parse(chosen)
    batch.warnings[:0] = [
        ParseWarning(name, None, f"not a {source} file; ignored")
        for name in sorted(files)
        if name not in chosen
    ]
    return batch


def _parse_indiware_files(files: dict[str, bytes]) -> ImportBatch:
    """Several Indiware plans (one per date) as one batch."""
    batch = ImportBatch(source=INDIWARE)
    for name, data in sorted(files.items()):
        day = indiware.parse_indiware(data, name)
        batch.lessons.extend(day.lessons)
        batch.substitutions.extend(day.substitutions)
        batch.day_messages.extend(day.day_messages)
        batch.periods.extend(period for period in day.periods if period not in batch.periods)
        batch.holidays |= day.holidays
        batch.covered_dates |= day.covered_dates
        batch.warnings.extend(day.warnings)
        batch.generated_at = max(filter(None, (batch.generated_at, day.generated_at)), default=None)
    return batch
