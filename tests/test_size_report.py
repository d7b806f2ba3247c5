"""The size report on the CI fixture firmware, checked against binutils:
region totals against `size -A`, symbols against `nm -S`, components adding
up exactly, diffs, formats, the per-build json and the stack warning."""
import csv
import io
import json
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, clean_checkout, layout, run_scons
from size_report_helpers import (expected_regions, nm_sizes, nm_value, objdump_sections,
                                 run_tool, size_a)
from teensyml import components, memory_map as mm, size_report
from teensyml.errors import UserError

HOT = "fixture_hot*"


@pytest.fixture(scope="session")
def fixture_report(fixture_firmware):
    return size_report.build(fixture_firmware["elf"], top=0)


@pytest.fixture(scope="session")
def hot_fixture():
    """The fixture with its hot loop in ITCM (ITCM_EXTRA=fixture_hot*)."""
    run_scons("fixture", f"ITCM_EXTRA={HOT}")
    return layout(ITCM_EXTRA=HOT).fixture["elf"]


def test_region_totals_are_what_size_A_lists(fixture_firmware, fixture_report):
    sections, extent = expected_regions(fixture_firmware["elf"])
    for name, region in fixture_report["regions"].items():
        listed = {s["name"]: s["size"] for s in region["sections"]}
        assert listed == sections[name], name
        assert region["section_bytes"] == sum(sections[name].values()), name
        # used adds the alignment between sections: the extent of the region
        assert region["used"] == extent[name] == region["section_bytes"] + region["gap_bytes"]
    assert fixture_report["regions"]["FLASH"]["sections"][0]["address"] == mm.FLASH.origin


@pytest.mark.parametrize("placement", [{"ITCM": "all"},
                                       {"ITCM": "none", "MODEL_MEM": "dtcm",
                                        "ARENA_MEM": "ocram"},
                                       {"MODEL_MEM": "ocram"}])
def test_other_placements_add_up_too(placement):
    run_scons("fixture", *(f"{key}={value}" for key, value in placement.items()))
    elf = layout(**placement).fixture["elf"]
    sections, extent = expected_regions(elf)
    report = size_report.build(elf)
    for name, region in report["regions"].items():
        assert {s["name"]: s["size"] for s in region["sections"]} == sections[name], name
        assert region["used"] == extent[name]
        assert sum(region["components"].values()) == region["used"]
    assert report["teensy"]["RAM1"]["code"] == extent["ITCM"]


def test_symbol_sizes_are_what_nm_S_lists(fixture_firmware, fixture_report):
    nm = nm_sizes(fixture_firmware["elf"])
    # A symbol the reset handler copies is listed in FLASH at its load address.
    moved = {name: lma - vma for name, vma, lma, _ in objdump_sections(fixture_firmware["elf"])}
    listed = set()
    for region in fixture_report["regions"].values():
        for entry in region["symbols"]:
            key = (entry["name"], entry["address"])
            if key not in nm:
                key = (entry["name"], entry["address"] - moved[entry["section"]])
            assert nm[key] == entry["size"], entry
            listed.add(key)
    assert listed == {key for key in nm if mm.region_of(key[1])}
    assert len(listed) > 20


def test_components_add_up_to_the_region_totals(fixture_report):
    for name, region in fixture_report["regions"].items():
        assert sum(region["components"].values()) == region["used"], name
        assert components.OTHER.key not in region["components"]
        assert components.UNLISTED.key not in region["components"]
    assert fixture_report["other_origins"] == []


def test_components_name_who_owns_what(fixture_firmware, fixture_report):
    symbols = {(e["name"], region): e["component"]
               for region, data in fixture_report["regions"].items()
               for e in data["symbols"]}
    assert symbols[("main", "FLASH")] == "app"                  # src/fixture
    assert symbols[("flexspi_nor_config", "FLASH")] == "board"  # src/board/core
    runs_in = mm.region_of(nm_value(fixture_firmware["elf"], "memset")).name
    assert symbols[("memset", runs_in)] == "newlib"             # libc_nano.a (ITCM=kernels)
    assert symbols[("memset", "FLASH")] == "newlib"             # ... and its flash copy
    flash = fixture_report["regions"]["FLASH"]["components"]
    # The copy and zero tables are LONG(...) statements of the linker script.
    assert flash["linker"] >= size_a(fixture_firmware["elf"])[".copy_table"]
    # The boot header spans 8 KB for a few hundred bytes of structures.
    assert flash["padding"] > mm.VECTOR_TABLE_OFFSET // 2


def test_teensy_vocabulary_adds_up(fixture_firmware, fixture_report):
    teensy, regions = fixture_report["teensy"], fixture_report["regions"]
    flash = teensy["FLASH"]
    assert flash["code"] + flash["data"] + flash["headers"] + flash["padding"] \
        == flash["used"] == regions["FLASH"]["used"]
    assert flash["used"] + flash["free"] == mm.FLASH.length
    assert flash["headers"] == size_a(fixture_firmware["elf"])[".boot_hdr"]
    ram1 = teensy["RAM1"]
    banks = nm_value(fixture_firmware["elf"], "__itcm_bank_count__")
    assert fixture_report["flexram"]["itcm_banks"] == banks
    assert ram1["code"] + ram1["padding"] == banks * mm.FLEXRAM_BANK_SIZE
    assert ram1["code"] + ram1["padding"] + ram1["variables"] + ram1["free"] \
        == mm.FLEXRAM_SIZE
    stack_top = nm_value(fixture_firmware["elf"], "__StackTop")
    assert ram1["free"] == stack_top - mm.DTCM.origin - regions["DTCM"]["used"]
    assert teensy["RAM2"]["variables"] == regions["OCRAM"]["used"]


def test_diff_shows_the_hot_loop_moving_to_itcm(fixture_firmware, hot_fixture):
    before = size_report.build(fixture_firmware["elf"])
    after = size_report.build(hot_fixture)
    change = size_report.diff(before, after)
    itcm = next(r for r in change["regions"] if r["region"] == "ITCM")
    moved = nm_sizes(hot_fixture)[("fixture_hot_loop", nm_value(hot_fixture,
                                                                  "fixture_hot_loop"))]
    assert {"component": "app", "before": 0, "after": moved, "change": moved} \
        in itcm["components"]
    assert itcm["change"] == after["regions"]["ITCM"]["used"] - before["regions"]["ITCM"]["used"]
    changes = [abs(r["change"]) for r in change["regions"]]
    assert changes == sorted(changes, reverse=True)
    for region in change["regions"]:
        parts = [abs(p["change"]) for p in region["components"]]
        assert parts == sorted(parts, reverse=True) and 0 not in parts
        assert sum(p["change"] for p in region["components"]) == region["change"]
    printed = run_tool(hot_fixture, f"DIFF={json_of(fixture_firmware)}")
    assert printed.returncode == 0, printed.stderr
    assert re.search(rf"^ +ITCM +{before['regions']['ITCM']['used']:,} +"
                     rf"{after['regions']['ITCM']['used']:,} +\+{itcm['change']:,}\n"
                     rf" +app +0 +{moved:,} +\+{moved:,}$", printed.stdout, re.M), printed.stdout


def json_of(firmware):
    return size_report.json_path_of(firmware["elf"])


def test_every_link_writes_a_json_report_and_diff_prev_shows_the_last_change(tmp_path):
    """In a fresh clone: the first link writes name.size.json, the next keeps it as
    name.size.prev.json, and DIFF=prev shows what the edit in between cost."""
    project = clean_checkout(tmp_path / "project")
    run_scons("fixture", cwd=project)
    elf = layout(project).fixture["elf"]
    first = json.loads(open(size_report.json_path_of(elf)).read())
    assert first["regions"] == size_report.build(elf)["regions"]
    _, extent_before = expected_regions(elf)
    main = project / "src" / "fixture" / "main.c"
    main.write_text(main.read_text().replace(
        '"fixture: boot ok', '"fixture: boot ok, and a longer greeting to grow the constants'))
    run_scons("fixture", cwd=project)
    assert json.loads(open(size_report.previous_json_path_of(elf)).read()) == first
    _, extent_after = expected_regions(elf)
    result = run_scons("size-report-fixture", "DIFF=prev", "FORMAT=json", cwd=project)
    change = json.loads(result.stdout[result.stdout.index("{\n"):])
    flash = change["regions"][0]
    assert flash["region"] == "FLASH"
    assert flash["change"] == extent_after["FLASH"] - extent_before["FLASH"] > 0
    assert flash["components"][0]["component"] == "app"     # the string grew
    assert flash["components"][0]["change"] > 40


def test_link_guard_keeps_the_previous_report_and_warns_about_the_stack(fixture_firmware,
                                                                         tmp_path):
    elf, map_file = (shutil.copy(fixture_firmware[kind], tmp_path) for kind in ("elf", "map"))
    (tmp_path / "fixture.size.json").write_text('{"earlier": true}')
    # `true` stands in for the link: the guard then checks and reports the ELF.
    result = subprocess.run([sys.executable, "-m", "teensyml.image.link_guard", "--elf", elf,
                             "--stack-margin", str(mm.FLEXRAM_SIZE), "--", "true", "-o", elf,
                             f"-Wl,-Map={map_file}"], capture_output=True, text=True,
                            cwd=ROOT, env={"PYTHONPATH": str(ROOT / "site_scons"),
                                           "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert "fixture.elf: FLASH" in result.stdout
    assert json.loads((tmp_path / "fixture.size.prev.json").read_text()) == {"earlier": True}
    report = json.loads((tmp_path / "fixture.size.json").read_text())
    assert report["stack"]["margin"] == mm.FLEXRAM_SIZE
    assert result.stderr.startswith("warning: The stack has ")
    assert "STACK_MARGIN=524,288" in result.stderr
    # The DTCM variables that compete with the stack, by name, and by component.
    assert re.search(r"Largest there: \w+ \(\d+ B\)", result.stderr), result.stderr
    assert "By component: app" in result.stderr
    assert report["stack"]["warning"] in result.stderr


def test_no_warning_with_room_to_spare(fixture_report):
    assert fixture_report["stack"]["warning"] is None
    assert fixture_report["stack"]["room"] - fixture_report["stack"]["reserved"] \
        >= fixture_report["stack"]["margin"]


def test_json_round_trip(fixture_firmware):
    result = run_tool(fixture_firmware["elf"], "FORMAT=json", "TOP=5")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed == size_report.build(fixture_firmware["elf"], top=5)
    same = size_report.diff(printed, size_report.build(fixture_firmware["elf"]))
    assert all(r["change"] == 0 and not r["components"] for r in same["regions"])


def test_csv_round_trip(fixture_firmware, fixture_report):
    result = run_tool(fixture_firmware["elf"], "FORMAT=csv", "TOP=0")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    table = {}
    for row in rows:
        table.setdefault(row["table"], {}).setdefault(row["region"], {})[row["name"]] = row
    for name, region in fixture_report["regions"].items():
        assert int(table["region"][name]["used"]["bytes"]) == region["used"]
        assert {k: int(v["bytes"]) for k, v in table.get("component", {}).get(name, {})
                .items()} == region["components"]
        symbols = [r for r in rows if r["table"] == "symbol" and r["region"] == name]
        assert [(r["name"], int(r["bytes"]), int(r["address"], 16), r["component"])
                for r in symbols] == [(e["name"], e["size"], e["address"], e["component"])
                                      for e in region["symbols"]]
    assert int(table["teensy"]["RAM1"]["free"]["bytes"]) == fixture_report["teensy"]["RAM1"][
        "free"]


def test_text_report_speaks_both_vocabularies(fixture_firmware, fixture_report):
    result = run_tool(fixture_firmware["elf"], "TOP=3")
    assert result.returncode == 0, result.stderr
    teensy = fixture_report["teensy"]
    assert f"free for local variables:{teensy['RAM1']['free']:,}" in result.stdout
    assert f"headers:{teensy['FLASH']['headers']:,}" in result.stdout
    assert "free for malloc/new" in result.stdout
    for name, region in fixture_report["regions"].items():
        assert f"  {name:<7}{region['used']:>11,}{region['capacity']:>11,}" in result.stdout
    assert "Largest symbols in FLASH (3 of " in result.stdout


def test_filters(fixture_firmware):
    report = size_report.build(fixture_firmware["elf"], top=0, component=("board",),
                               symbol="console_put_*")
    names = {e["name"] for r in report["regions"].values() for e in r["symbols"]}
    assert names == {"console_put_hex32", "console_put_uint"}
    plain = size_report.build(fixture_firmware["elf"], top=0, symbol="HOT_LOOP")
    assert {e["name"] for e in plain["regions"]["FLASH"]["symbols"]} == {"fixture_hot_loop"}
    # Components stay whole: a filtered report still adds up and diffs.
    assert sum(report["regions"]["FLASH"]["components"].values()) == \
        report["regions"]["FLASH"]["used"]
    with pytest.raises(UserError, match="COMPONENT=kernel names no component"):
        size_report.build(fixture_firmware["elf"], component=("kernel",))


@pytest.mark.parametrize("content,words", [
    ("not json at all", "is not a size report: it is not JSON"),
    ('{"schema": "something-else/1"}', "JSON but not a size report"),
    ('[1, 2]', "JSON but not a size report"),
    (f'{{"schema": "{size_report.SCHEMA}", "regions": {{"FLASH": {{"used": "x"}}}}}}',
     "lack byte counts"),
    (None, "does not exist"),
])
def test_a_bad_diff_file_is_one_clear_error(fixture_firmware, tmp_path, content, words):
    earlier = tmp_path / "earlier.json"
    if content is not None:
        earlier.write_text(content)
    result = run_tool(fixture_firmware["elf"], f"DIFF={earlier}")
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: DIFF={earlier} ") and words in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1


def test_bad_option_values_are_clear_errors(fixture_firmware):
    for word, words in (("TOP=many", "TOP=many is not valid"),
                        ("FORMAT=xml", "choose one of: text, json, csv"),
                        ("COMPONENT=tflm", "COMPONENT=tflm names no component")):
        result = run_tool(fixture_firmware["elf"], word)
        assert result.returncode == 2 and words in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_a_stale_map_is_refused(fixture_firmware, hot_fixture):
    with pytest.raises(UserError, match="does not belong to .*stale or from another link"):
        size_report.build(fixture_firmware["elf"], size_report.map_path_of(hot_fixture))


def test_scons_size_report_fixture(fixture_firmware, tmp_path):
    result = run_scons("size-report-fixture", "FORMAT=json", "TOP=2")
    # (a relink, should another session have touched a source, prints first)
    report = json.loads(result.stdout[result.stdout.index("{\n"):])
    assert report["regions"]["FLASH"]["used"] == \
        size_report.build(fixture_firmware["elf"])["regions"]["FLASH"]["used"]
    assert all(len(r["symbols"]) <= 2 for r in report["regions"].values())
    failed = run_scons("size-report-fixture", f"DIFF={tmp_path}/none.json", check=False)
    assert failed.returncode != 0
    assert f"error: DIFF={tmp_path}/none.json does not exist" in failed.stderr + failed.stdout
    assert "Traceback" not in failed.stderr + failed.stdout
    warned = run_scons("size-report-fixture", f"STACK_MARGIN={mm.FLEXRAM_SIZE}")
    assert "warning: The stack has" in warned.stdout


def test_write_build_json_rotates(fixture_report, tmp_path):
    elf = tmp_path / "x.elf"
    first = size_report.write_build_json({"n": 1}, elf)
    size_report.write_build_json(fixture_report, elf)
    assert json.loads(open(size_report.previous_json_path_of(elf)).read()) == {"n": 1}
    assert size_report.read_json(first) == fixture_report
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.size.json", "x.size.prev.json"]


def guarded_link(tmp_path, placement, assembly):
    """Link the fixture's objects and `assembly` through the link guard, with a
    map, as the build does."""
    from teensyml import linker_script
    script = tmp_path / "test.ld"
    script.write_text(linker_script.render((ROOT / "linker" / "teensy40.ld.in").read_text(),
                                           placement))
    (tmp_path / "extra.S").write_text(assembly)
    elf = tmp_path / "test.elf"
    objects = sorted(str(p) for p in layout().fixture_objects.rglob("*.o"))
    command = ["arm-none-eabi-gcc", "-mcpu=cortex-m7", "-mfpu=fpv5-d16", "-mfloat-abi=hard",
               "-mthumb", "--specs=nano.specs", "--specs=nosys.specs", "-nostartfiles",
               "-Wl,--gc-sections", "-Wl,--no-warn-rwx-segments", "-T", str(script),
               f"-Wl,-Map={tmp_path / 'test.map'}", "-o", str(elf), *objects,
               str(tmp_path / "extra.S"), "-lm"]
    return subprocess.run([sys.executable, "-m", "teensyml.image.link_guard",
                           "--elf", str(elf), "--", *command], capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT / "site_scons"), "PATH": "/usr/bin:/bin"})


def test_overflow_names_the_largest_components(tmp_path, fixture_firmware):
    """ITCM plus DTCM over 512 KB: the guard names symbols and components."""
    from teensyml.linker_script import Placement
    assembly = (".section .text.wide_hot,\"ax\",%progbits\n.global wide_hot\n"
                ".type wide_hot, %function\nwide_hot:\n.space 250*1024\n.size wide_hot, 250*1024\n"
                ".section .bss.big_buffer,\"aw\",%nobits\n.global big_buffer\n"
                ".type big_buffer, %object\nbig_buffer:\n.space 300*1024\n"
                ".size big_buffer, 300*1024\n"
                ".section .init_array,\"aw\"\n.word wide_hot\n.word big_buffer\n")
    placement = Placement.defaults(itcm="none", itcm_extra=("wide_hot",))
    result = guarded_link(tmp_path, placement, assembly)
    assert result.returncode == 2
    assert "overflows DTCM by" in result.stderr
    assert "big_buffer (307,200 B)" in result.stderr
    # extra.S lies outside every component rule: it is 'other', and says so
    assert re.search(r"By component: other 307,200 B, app [\d,]+ B[.,]", result.stderr), \
        result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "test.elf").exists()
    assert not (tmp_path / "test.size.json").exists()
