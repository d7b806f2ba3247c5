"""`scons size-report`: where every byte of FLASH, ITCM, DTCM and OCRAM goes.

    report = build("build/fixture/fixture/fixture.elf")      # a dict, see report.py
    print(render(report, "text"))                             # or "json", "csv"
    change = diff(read_json("old.size.json"), report)         # per region, component

Regions and FlexRAM come from region_usage, components from components.py
(the map file says where each input section came from), symbols from the ELF.
Every link writes name.size.json next to the ELF and keeps the one before as
name.size.prev.json, so `DIFF=prev` compares with the previous build.
"""
import os
import sys
from dataclasses import dataclass

from ..atomic_file import atomic_write
from ..errors import UserError
from ..option_values import CommandSettings
from . import diff as _diff
from .diff import diff
from .formats import read_json, render, to_json
from .report import (DEFAULT_STACK_MARGIN, DEFAULT_TOP, SCHEMA, attribute, build,
                     from_usage, map_path_of)

__all__ = ["SCHEMA", "DEFAULT_TOP", "DEFAULT_STACK_MARGIN", "attribute", "build",
           "from_usage", "render", "diff", "read_json", "run", "Settings",
           "write_build_json", "json_path_of", "previous_json_path_of", "map_path_of"]

DIFF_PREVIOUS = "prev"


def json_path_of(elf_path):
    return os.path.splitext(str(elf_path))[0] + ".size.json"


def previous_json_path_of(elf_path):
    return os.path.splitext(str(elf_path))[0] + ".size.prev.json"


@dataclass(frozen=True)
class Settings(CommandSettings):
    """What `scons size-report` and tools/size_report.py print, from
    resolved options."""
    format: str                 # text | json | csv
    diff: str                   # an earlier json report, "prev", or "" for none
    top: int                    # symbols per region (0: all)
    component: tuple            # only these components (empty: all)
    symbol: str                 # only symbols matching this glob or text
    stack_margin: int

    def report_filters(self):
        """build()'s keyword arguments."""
        return {"top": self.top, "component": self.component, "symbol": self.symbol,
                "stack_margin": self.stack_margin}


def run(elf_path, settings, map_path=None, stream=None):
    """What `scons size-report` prints: the report, or with DIFF= the change
    from an earlier json report."""
    stream = stream or sys.stdout
    report = build(elf_path, map_path, **settings.report_filters())
    earlier = settings.diff
    if not earlier:
        stream.write(render(report, settings.format))
        return 0
    if earlier == DIFF_PREVIOUS:
        earlier = previous_json_path_of(elf_path)
        if not os.path.exists(earlier):
            raise UserError(f"DIFF=prev compares the image with the report of the link "
                            f"before it, {earlier}, which does not exist yet: it appears "
                            f"once the firmware has been linked twice. Give DIFF=<a json "
                            f"report> instead.")
    stream.write(_diff.render(diff(read_json(earlier), report, earlier), settings.format))
    return 0


def write_build_json(report, elf_path):
    """Write name.size.json next to the ELF, keeping the previous one as
    name.size.prev.json. Written whole or not at all."""
    path = json_path_of(elf_path)
    with atomic_write(path, "w", encoding="utf-8") as stream:
        stream.write(to_json(report))
        stream.flush()
        if os.path.exists(path):
            os.replace(path, previous_json_path_of(elf_path))
    return path
