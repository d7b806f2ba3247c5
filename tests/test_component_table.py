"""The component table: one row per library, read by the SConscripts, the
linker script and the size report; a library it lacks is refused."""
import dataclasses
import re
import subprocess
import sys

import pytest

from conftest import ROOT, requires_third_party, run_scons
from teensyml import component_table as table
from teensyml import components, linker_script
from teensyml.build_layout import build_layout
from teensyml.component_table import Built, Library
from teensyml.linker_script import Placement
from teensyml.options import resolve

TEMPLATE = (ROOT / "linker" / "teensy40.ld.in").read_text()


def renamed(row, name):
    """The table with `row` renamed, and the renamed row."""
    new = dataclasses.replace(row, name=name)
    return tuple(new if library is row else library for library in table.LIBRARIES), new


def rows_by_constant():
    return {name: value for name, value in vars(table).items() if isinstance(value, Library)}


def test_every_row_is_in_the_table_once():
    assert set(rows_by_constant().values()) == set(table.LIBRARIES)
    assert table.check() == table.LIBRARIES
    with pytest.raises(ValueError, match="tflm_core twice"):
        table.check(table.LIBRARIES + (table.TFLM_CORE,))
    with pytest.raises(ValueError, match="ITCM role"):
        table.check((dataclasses.replace(table.BOARD, itcm="sometimes"),))


def test_a_rename_in_the_table_reaches_the_linker_script_and_the_size_report():
    libraries, new = renamed(table.TFLM_KERNELS, "tflm_kernels_v2")
    script = linker_script.render(TEMPLATE, Placement.defaults(itcm="kernels"), libraries)
    assert "*libtflm_kernels_v2.a:*(.text .text.*)" in script          # to ITCM
    assert "*libtflm_kernels_v2.a:*(.text.*Register_*" in script       # set-up: flash
    assert "libtflm_kernels.a" not in script
    assert "libtflm_kernels.a" in linker_script.render(TEMPLATE, Placement.defaults(itcm="kernels"))

    rules = components.size_components(libraries)
    member = "build/obj/int8-cmsis_nn/libtflm_kernels_v2.a(conv.o)"
    assert components.classify(member, ".text.Eval", rules) == "tflm-kernels"
    assert components.classify(member, ".text.Eval") == "other"   # the real table's rules
    old = "build/obj/int8-cmsis_nn/libtflm_kernels.a(conv.o)"
    assert components.classify(old, ".text.Eval", rules) == "other"

    assert table.link_order(Built(libraries={new: "archive"}), libraries=libraries) == \
        ["archive"]


def test_the_sconscripts_take_library_names_from_the_table():
    """Each row's SConscript builds it from the row, never by a literal name."""
    for constant, row in rows_by_constant().items():
        text = (ROOT / row.sconscript).read_text()
        assert re.search(rf"\bimport\b.*\b{constant}\b", text), (row.sconscript, constant)
        assert not re.search(rf'StaticLibrary\(\s*f?"[^"]*\b{row.name}"', text), row.sconscript


def test_link_order_is_the_tables_whatever_the_order_given():
    parts = [Built(libraries={table.NXP_SDK: "sdk"}), None,
             Built(libraries={table.TFLM_CORE: "core", table.TFLM_KERNELS: "kernels"}),
             Built(libraries={table.BOARD: "board"}), Built()]
    assert table.link_order(*parts) == ["kernels", "core", "board", "sdk"]


def test_a_library_missing_from_the_table_is_refused():
    stray = Library("extra", "tflm-core", table.STAYS, "third_party/extra.SConscript")
    with pytest.raises(table.UnknownLibrary, match=r"libextra\.a: not in the component table"):
        table.link_order(Built(libraries={table.BOARD: "board", stray: "extra"}))
    with pytest.raises(table.UnknownLibrary, match="new-part"):
        components.size_components(table.LIBRARIES + (
            dataclasses.replace(stray, component="new-part"),))


def test_a_firmware_linking_a_library_outside_the_table_stops_scons(tmp_path):
    (tmp_path / "SConstruct").write_text(f"""
env = Environment(tools=[], toolpath=[{str(ROOT / 'site_scons' / 'site_tools')!r}])
env.Tool("teensy_firmware")
env.Firmware("image", [], [File("teensy40.ld")], libs=[File("libboard.a"), File("libextra.a")])
""")
    result = subprocess.run([sys.executable, "-m", "SCons", "-Q", "--site-dir",
                             str(ROOT / "site_scons"), "-C", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "libextra.a: not in the component table" in result.stderr
    assert "libboard.a" not in result.stderr.split("not in the component table")[0]


@requires_third_party
@pytest.mark.firmware
def test_every_library_the_firmware_links_is_a_row_of_the_table():
    run_scons("USE_CMSIS_NN=1")
    link_map = build_layout(resolve({"USE_CMSIS_NN": "1"})).firmware["map"]
    ours = set(re.findall(r"build/obj/\S*?/(lib\w+\.a)\(", link_map.read_text()))
    built = {row.archive for row in table.LIBRARIES} - {table.TFLM_TESTING.archive}
    assert ours == built
