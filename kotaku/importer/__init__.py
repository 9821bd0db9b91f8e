"""`kotaku import`: load a program's structure and people from an .xlsx workbook or a folder of CSV files.

    report = await import_program(db, Path("program.xlsx"), vault=vault, settings=settings)
    write_template(Path("program.xlsx"))

See docs/import.md for the sheets and columns.
"""

from kotaku.importer.messages import MESSAGES, msg
from kotaku.importer.service import (
    ImportFailed,
    ImportIssue,
    ImportReport,
    SheetCounts,
    SourceUnreadable,
    import_program,
)
from kotaku.importer.spec import SHEET_ORDER, SHEETS
from kotaku.importer.template import write_template

__all__ = [
    "MESSAGES",
    "SHEETS",
    "SHEET_ORDER",
    "ImportFailed",
    "ImportIssue",
    "ImportReport",
    "SheetCounts",
    "SourceUnreadable",
    "import_program",
    "msg",
    "write_template",
]
