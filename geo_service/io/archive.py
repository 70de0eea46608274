"""Unpacking a zipped Shapefile: only the Shapefile's own parts, only under safe names, and never
more bytes than the limit, counted while unpacking (the sizes a zip declares can lie).

GDAL is never pointed at the zip itself (``/vsizip/`` would let it open any member, of any
format, nested archives included): the parts are unpacked into a fresh folder and the ``.shp``
is opened from there by the Shapefile driver alone.
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path, PurePosixPath

from geo_service.io.formats import ImportError_, ImportTooLarge, broken

#: The files a Shapefile consists of; others in the zip (.xml, .sbn, readme …) are left out.
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
#: Archives inside the archive are refused rather than unpacked in turn.
ARCHIVE_SUFFIXES = (".zip", ".7z", ".rar", ".gz", ".tgz", ".tar", ".bz2", ".xz", ".kmz")
MAX_MEMBERS = 1000
_CHUNK = 1 << 20


def unpack_shapefiles(archive: Path, folder: Path, *, max_unpacked_mb: float | None,
                      shown: str | None = None) -> tuple[list[Path], list[str]]:
    """Unpack the Shapefile parts of ``archive`` into ``folder``.

    Returns
    -------
    The unpacked ``.shp`` files (sorted) and the names of the members that were left out.

    Raises
    ------
    ImportTooLarge
        More than ``max_unpacked_mb`` of Shapefile parts.
    ImportError_
        Not a zip, encrypted, unsafe names (absolute, ``..``), symbolic links, nested archives,
        too many members, or no ``.shp`` at all.
    """
    name = shown or archive.name
    limit = None if max_unpacked_mb is None else int(max_unpacked_mb * 1_000_000)
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            if len(members) > MAX_MEMBERS:
                raise ImportError_(f"Die Zip-Datei {name} enthält {len(members)} Dateien, "
                                   f"erlaubt sind höchstens {MAX_MEMBERS}.")
            wanted, skipped = _select(members, name)
            declared = sum(m.file_size for m in wanted)
            if limit is not None and declared > limit:
                raise _too_large(name, max_unpacked_mb)
            written = 0
            targets: set[str] = set()
            for member in wanted:
                target = _target(member, folder, targets, name)
                written = _copy(zf, member, target, written, limit, name, max_unpacked_mb)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError):
        raise broken(name, "gezipptes Shapefile") from None
    shapefiles = sorted(folder.glob("*.shp"))
    if not shapefiles:
        found = ", ".join(skipped[:8]) or "keine Dateien"
        raise ImportError_(
            f"Die Zip-Datei {name} enthält kein Shapefile (.shp); gefunden: {found}. Laden Sie "
            "GeoJSON, GeoPackage oder CSV ungezippt hoch.")
    return shapefiles, skipped


def _too_large(name: str, max_unpacked_mb: float | None) -> ImportTooLarge:
    return ImportTooLarge(
        f"Die Zip-Datei {name} ist entpackt größer als {max_unpacked_mb:g} MB (Einstellung "
        "GEO_SERVICE_IMPORT_MAX_UNPACKED_MB); nichts wurde gelesen. Teilen Sie die Daten auf.")


def _select(members: list[zipfile.ZipInfo], name: str) -> tuple[list[zipfile.ZipInfo], list[str]]:
    """The Shapefile parts to unpack, after checking every member's name and kind."""
    wanted, skipped = [], []
    for member in members:
        raw = member.filename
        path = PurePosixPath(raw.replace("\\", "/"))
        shown = raw[:80].replace("\x00", "?")
        if ("\x00" in raw or path.is_absolute() or ".." in path.parts
                or (path.parts and ":" in path.parts[0])):
            raise ImportError_(f"Die Zip-Datei {name} enthält einen unsicheren Pfad (»{shown}«) "
                               "und wird abgelehnt; packen Sie nur die Shapefile-Dateien ein.")
        if stat.S_ISLNK(member.external_attr >> 16):
            raise ImportError_(f"Die Zip-Datei {name} enthält einen symbolischen Link (»{shown}«) "
                               "und wird abgelehnt; packen Sie die Dateien selbst ein.")
        if member.is_dir():
            continue
        suffix = path.suffix.lower()
        if suffix in ARCHIVE_SUFFIXES:
            raise ImportError_(
                f"Die Zip-Datei {name} enthält ein weiteres Archiv (»{shown}«); packen Sie die "
                f"Shapefile-Dateien ({', '.join(SHAPEFILE_PARTS)}) direkt in eine Zip-Datei.")
        if suffix not in SHAPEFILE_PARTS:
            skipped.append(path.name)
            continue
        if member.flag_bits & 0x1:
            raise ImportError_(f"Die Zip-Datei {name} ist verschlüsselt (»{shown}«); packen Sie "
                               "sie ohne Passwort.")
        wanted.append(member)
    return wanted, skipped


def _target(member: zipfile.ZipInfo, folder: Path, taken: set[str], name: str) -> Path:
    """Unpacked flat, under the member's own file name with a lower-case suffix."""
    path = PurePosixPath(member.filename.replace("\\", "/"))
    base = path.stem + path.suffix.lower()
    if base.lower() in taken or base.startswith("."):
        raise ImportError_(f"Die Zip-Datei {name} enthält »{base[:80]}« mehrmals (in "
                           "verschiedenen Ordnern); geben Sie jedem Shapefile einen eigenen Namen.")
    taken.add(base.lower())
    return folder / base


def _copy(zf: zipfile.ZipFile, member: zipfile.ZipInfo, target: Path, written: int,
          limit: int | None, name: str, max_unpacked_mb: float | None) -> int:
    """Stream one member to ``target``, stopping as soon as the total passes ``limit``."""
    with zf.open(member) as source, target.open("xb") as out:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            if limit is not None and written > limit:
                raise _too_large(name, max_unpacked_mb)
            out.write(chunk)
    return written
