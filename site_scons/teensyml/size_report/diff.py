"""What changed between two size reports: per region and per component,
largest change first."""
from .. import memory_map as mm
from . import formats

DIFF_SCHEMA = "teensyml-size-diff/1"
CSV_FIELDS = ("region", "component", "before", "after", "change")


def diff(before, after, before_name=None):
    """The change from report `before` to report `after`, as a dict:
    {schema, before, after, regions: [{region, before, after, change,
    components: [{component, before, after, change}]}]}, regions and
    components ordered by the size of their change (unchanged components left
    out)."""
    order = [region.name for region in mm.REGIONS]
    names = order + sorted((set(before["regions"]) | set(after["regions"])) - set(order))
    regions = []
    for name in names:
        old, new = before["regions"].get(name), after["regions"].get(name)
        if old is None and new is None:
            continue
        old_parts, new_parts = (old or {}).get("components", {}), (new or {}).get(
            "components", {})
        parts = [_change(key, old_parts.get(key, 0), new_parts.get(key, 0))
                 for key in set(old_parts) | set(new_parts)]
        parts = sorted((p for p in parts if p["change"]),
                       key=lambda p: (-abs(p["change"]), p["component"]))
        entry = _change(None, (old or {}).get("used", 0), (new or {}).get("used", 0))
        del entry["component"]
        regions.append({"region": name, **entry, "components": parts})
    regions.sort(key=lambda r: (-abs(r["change"]), -len(r["components"]),
                                names.index(r["region"])))
    return {"schema": DIFF_SCHEMA, "before": before_name or before.get("elf", ""),
            "after": after.get("elf", ""), "regions": regions}


def _change(key, old, new):
    return {"component": key, "before": old, "after": new, "change": new - old}


def text(change):
    lines = [f"Change from {change['before']} to {change['after']} (bytes)",
             f"  {'region / component':<34}{'before':>11}{'after':>11}{'change':>10}"]
    unchanged = []
    for region in change["regions"]:
        if not region["change"] and not region["components"]:
            unchanged.append(region["region"])
            continue
        lines.append(f"  {region['region']:<34}{region['before']:>11,}{region['after']:>11,}"
                     f"{region['change']:>+10,}")
        for part in region["components"]:
            lines.append(f"    {part['component']:<32}{part['before']:>11,}"
                         f"{part['after']:>11,}{part['change']:>+10,}")
    if unchanged:
        lines.append(f"  unchanged: {', '.join(unchanged)}")
    return "\n".join(lines) + "\n"


def csv_rows(change):
    for region in change["regions"]:
        yield {"region": region["region"], "component": "", "before": region["before"],
               "after": region["after"], "change": region["change"]}
        for part in region["components"]:
            yield {"region": region["region"], **part}


def render(change, fmt):
    if fmt == "json":
        return formats.to_json(change)
    if fmt == "csv":
        return formats.to_csv(csv_rows(change), CSV_FIELDS)
    return text(change)
