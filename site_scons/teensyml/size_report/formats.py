"""A size report as text (people), json (tools, DIFF=) or csv (spreadsheets),
and reading a json report back."""
import csv
import io
import json

from .. import components as comp
from .. import memory_map as mm
from ..errors import UserError
from .report import SCHEMA

BAR_WIDTH = 40
CSV_FIELDS = ("table", "region", "name", "bytes", "address", "component", "detail")
TEENSY_FREE = {"FLASH": "free for files", "RAM1": "free for local variables",
               "RAM2": "free for malloc/new"}


def bar(used, size, width=BAR_WIDTH):
    filled = min(width, round(width * used / size)) if size else width
    filled = max(filled, 1) if used else filled     # a little is not nothing
    return "[" + "#" * filled + "." * (width - filled) + "]"


def percent(used, size):
    return f"{100.0 * used / size:5.1f}%" if size else "  -  "


# --- text ----------------------------------------------------------------------------
def text(report):
    lines = [f"{report['elf']}: memory use on the Teensy 4.0", ""]
    lines += _teensy_lines(report["teensy"])
    lines += ["", "Regions of the memory map (bytes)",
              f"  {'region':<7}{'used':>11}{'capacity':>11}{'free':>11}   use"]
    for name, region in report["regions"].items():
        lines.append(f"  {name:<7}{region['used']:>11,}{region['capacity']:>11,}"
                     f"{region['free']:>11,} {percent(region['used'], region['capacity'])} "
                     f"{bar(region['used'], region['capacity'], 24)}  "
                     f"{_region_note(name, region, report)}".rstrip())
    lines += ["", _stack_line(report["stack"])]
    lines += ["", "By component (bytes; padding includes alignment between sections)"]
    wanted = report["filters"]["component"]
    for name, region in report["regions"].items():
        if not region["used"]:
            continue
        lines.append(f"  {name:<15}{region['used']:>11,}")
        hidden = 0
        for key, size in region["components"].items():
            if wanted and key not in wanted:
                hidden += size
                continue
            lines.append(f"    {key:<13}{size:>11,} {percent(size, region['used'])}  "
                         f"{_label(key)}".rstrip())
        if hidden:
            lines.append(f"    {'...':<13}{hidden:>11,} {percent(hidden, region['used'])}  "
                         f"components COMPONENT= leaves out")
    lines += _symbol_lines(report)
    lines += _notes(report)
    return "\n".join(lines) + "\n"


def _teensy_lines(teensy):
    lines = []
    for name, numbers in teensy.items():
        parts = [f"{key}:{value:,}" for key, value in numbers.items()
                 if key not in ("used", "size", "free")]
        lines.append(f"  {name:>5}: {', '.join(parts):<52} "
                     f"{TEENSY_FREE[name]}:{numbers['free']:,}")
        lines.append(f"         {bar(numbers['used'], numbers['size'])} "
                     f"{percent(numbers['used'], numbers['size'])} of "
                     f"{numbers['size'] // mm.KB:,} KB")
    return lines


def _region_note(name, region, report):
    banks = report["flexram"]
    if name == mm.ITCM.name:
        return f"{banks['itcm_banks']} of {banks['banks']} FlexRAM banks"
    if name == mm.DTCM.name:
        return f"{banks['dtcm_banks']} banks, stack at the top"
    return ""


def _stack_line(stack):
    if stack["warning"]:
        return f"warning: {stack['warning']}"
    return (f"Stack: {stack['room']:,} bytes of DTCM free for it ({stack['reserved']:,} "
            f"reserved, STACK_MARGIN={stack['margin']:,} beyond that): ok.")


def _symbol_lines(report):
    filters = report["filters"]
    how = []
    if filters["component"]:
        how.append(f"component {','.join(filters['component'])}")
    if filters["symbol"]:
        how.append(f"name {filters['symbol']}")
    lines = []
    for name, region in report["regions"].items():
        if not region["symbol_count"]:
            continue
        shown = len(region["symbols"])
        lines += ["", f"Largest symbols in {name} ({shown} of {region['symbol_count']}"
                      f"{' with ' + ', '.join(how) if how else ''}, which cover "
                      f"{region['symbol_bytes']:,} bytes)",
                  f"  {'bytes':>9}  {'component':<13} {'address':<10}  name"]
        for entry in region["symbols"]:
            lines.append(f"  {entry['size']:>9,}  {entry['component']:<13} "
                         f"0x{entry['address']:08X}  {entry['demangled']}")
    if not lines and (filters["component"] or filters["symbol"]):
        lines = ["", "No symbol passes the filters."]
    return lines


def _notes(report):
    notes = []
    if report["other_origins"]:
        listed = ", ".join(report["other_origins"][:5])
        notes.append(f"note: {len(report['other_origins'])} input file(s) match no rule in "
                     f"site_scons/teensyml/components.py and count as 'other': {listed}")
    unlisted = sum(r["components"].get(comp.UNLISTED.key, 0)
                   for r in report["regions"].values())
    if unlisted:
        notes.append(f"note: {unlisted:,} bytes lie in sections where the map lists no "
                     f"input section or fill; they count as 'unlisted'.")
    if report["unplaced_sections"]:
        notes.append(f"note: outside every region of the memory map: "
                     f"{', '.join(report['unplaced_sections'])}")
    return [""] + notes if notes else []


def _label(key):
    component = comp.BY_KEY.get(key)
    return component.label if component and component.label != key else ""


# --- json and csv ---------------------------------------------------------------------
def to_json(report):
    return json.dumps(report, indent=1) + "\n"


def csv_rows(report):
    """The report as flat rows of CSV_FIELDS."""
    for name, numbers in report["teensy"].items():
        for key, value in numbers.items():
            yield {"table": "teensy", "region": name, "name": key, "bytes": value}
    for key, value in report["stack"].items():
        if key != "warning":
            yield {"table": "stack", "region": mm.DTCM.name, "name": key, "bytes": value}
    for name, region in report["regions"].items():
        for key in ("used", "capacity", "free", "section_bytes", "gap_bytes"):
            yield {"table": "region", "region": name, "name": key, "bytes": region[key]}
        for section in region["sections"]:
            yield {"table": "section", "region": name, "name": section["name"],
                   "bytes": section["size"], "address": f"0x{section['address']:08X}"}
        for key, size in region["components"].items():
            yield {"table": "component", "region": name, "name": key, "bytes": size}
        for entry in region["symbols"]:
            yield {"table": "symbol", "region": name, "name": entry["name"],
                   "bytes": entry["size"], "address": f"0x{entry['address']:08X}",
                   "component": entry["component"], "detail": entry["demangled"]}


def to_csv(rows, fields=CSV_FIELDS):
    out = io.StringIO()
    writer = csv.DictWriter(out, fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def render(report, fmt):
    if fmt == "json":
        return to_json(report)
    if fmt == "csv":
        return to_csv(csv_rows(report))
    return text(report)


def read_json(path):
    """A report written earlier (DIFF=), or a UserError saying why not."""
    hint = ("Give a json report: the one the build writes next to the ELF "
            "(name.size.json, the one before it name.size.prev.json), or the output "
            "of FORMAT=json.")
    try:
        with open(path, encoding="utf-8") as stream:
            report = json.load(stream)
    except FileNotFoundError:
        raise UserError(f"DIFF={path} does not exist. {hint}") from None
    except IsADirectoryError:
        raise UserError(f"DIFF={path} is a directory. {hint}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"DIFF={path} is not a size report: it is not JSON ({error}). "
                        f"{hint}") from None
    schema = report.get("schema") if isinstance(report, dict) else None
    if schema != SCHEMA:
        found = f"schema {schema!r}" if schema else "no size-report schema"
        raise UserError(f"DIFF={path} is JSON but not a size report this version reads "
                        f"({found}; expected {SCHEMA!r}). {hint}")
    if not _well_formed(report):
        raise UserError(f"DIFF={path} says it is a size report but its regions lack "
                        f"byte counts (edited by hand?). {hint}")
    return report


def _well_formed(report):
    regions = report.get("regions")
    return isinstance(regions, dict) and all(
        isinstance(region, dict) and isinstance(region.get("used"), int)
        and isinstance(region.get("components"), dict)
        and all(isinstance(size, int) for size in region["components"].values())
        for region in regions.values())
