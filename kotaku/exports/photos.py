"""The zip that carries an export with its photo files: `foto/<file name of the Foto sheet>` beside the
workbook (or the CSV files). Photos are added while the Foto rows are written, stored as they are (JPEGs
do not shrink), so the archive is streamed to disk and never held in memory."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from kotaku.config import Settings
from kotaku.exports.data import FotoRow

PHOTO_FOLDER = "foto"


class PhotoZip:
    """A zip being written next to its final path (`<name>.zip.part`), moved in place by `finish()`."""

    def __init__(self, settings: Settings, path: Path) -> None:
        self.media_dir = Path(settings.media.dir)
        self.path = Path(path)
        self.part = self.path.with_name(f".{self.path.name}.part")
        self.zip = zipfile.ZipFile(self.part, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True)
        self.photos = 0
        self.missing: list[str] = []

    def add(self, row: FotoRow) -> bool:
        """Add the photo file of a Foto row under foto/; False when its file is not on disk."""
        if add_photo(self.zip, self.media_dir, row):
            self.photos += 1
            return True
        self.missing.append(row.file_name)
        return False

    def finish(self, workbook: Path | None = None, arcname: str | None = None) -> int:
        """Add the workbook (when given), close the archive and move it to its path; the photos added."""
        if workbook is not None:
            self.zip.write(workbook, arcname or workbook.name)
        self.zip.close()
        os.replace(self.part, self.path)
        return self.photos

    def abort(self) -> None:
        self.zip.close()
        self.part.unlink(missing_ok=True)


def add_photo(zf: zipfile.ZipFile, media_dir: Path, row: FotoRow) -> bool:
    """Store a Foto row's file in `zf` as foto/<file name>; False when the file is not on disk."""
    source = media_dir / row.stored_path if row.stored_path else None
    if source is None or not source.is_file():
        return False
    zf.write(source, f"{PHOTO_FOLDER}/{row.file_name}", compress_type=zipfile.ZIP_STORED)
    return True
