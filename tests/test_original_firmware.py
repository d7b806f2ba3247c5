"""bench/original_firmware.py's own logic, with no network and no third_party:
the fixes it applies to its copy of the original's sources, the copy itself,
reading the firmware's report, and the comparison with the published figures."""
import os

import pytest

from conftest import ROOT, load_bench
from teensyml.errors import UserError


original = load_bench("original_firmware")

# What the firmware prints for `2` (shortened numbers, its line endings).
TRANSCRIPT = (
    "Program started: 600000000\r\n"
    "Running inference...\n"
    "DEPTHWISE_CONV_2D: 6.5 msec\n"
    "MAX_POOL_2D: 0.8 msec\n"
    "CONV_2D: 171.0 msec\n"
    "MAX_POOL_2D: 0.25 msec\n"
    "CONV_2D: 26.0 msec\n"
    "FULLY_CONNECTED: 3.0 msec\n"
    "FULLY_CONNECTED: 0.066 msec\n"
    "SOFTMAX: 0.035 msec\n"
    "Done in 207.651 msec...\n"
    + "".join(f"Out[{i}]: 0.{i}00000\n" for i in range(10))
)

LINKER_SCRIPT = """  } > m_flash_config

  ivt_begin= ORIGIN(m_flash_config) + LENGTH(m_flash_config);

  .ivt : AT(ivt_begin)
"""

DSP_LIST = """    ${DSP_LIB_DIR}/Source/CommonTables/arm_const_structs.c
    ${DSP_LIB_DIR}/Source/CommonTables/arm_mve_tables.c
    ${DSP_LIB_DIR}/Source/CommonTables/CommonTables.c
    ${DSP_LIB_DIR}/Source/CommonTables/arm_common_tables.c
    
"""

CXX_FLAGS = """        -fomit-frame-pointer \\
        -s \\
        ")
"""


def test_parse_report_reads_clock_layers_total_and_outputs():
    report = original.parse_report(TRANSCRIPT)
    assert report.core_clock_hz == 600_000_000
    assert [name for name, _ in report.layers] == list(original.PUBLISHED_LAYERS)
    assert report.layers[2] == ("CONV_2D", 171.0)
    assert report.total_ms == 207.651
    assert report.outputs == [i / 10 for i in range(10)]


def test_parse_report_names_what_is_missing():
    truncated = TRANSCRIPT.split("Done in")[0]
    with pytest.raises(UserError, match="'Done in ... msec'.*10 outputs"):
        original.parse_report(truncated)


def test_linker_script_fix_spaces_the_assignment_only():
    fixed = original.space_linker_script_assignment(LINKER_SCRIPT)
    assert "  ivt_begin = ORIGIN(m_flash_config)" in fixed
    assert "AT(ivt_begin)" in fixed
    assert fixed.replace("ivt_begin = ", "ivt_begin= ") == LINKER_SCRIPT


def test_dsp_fix_drops_both_table_sources_and_keeps_the_others():
    fixed = original.drop_excluded_dsp_tables(DSP_LIST)
    assert "arm_common_tables.c" not in fixed and "CommonTables.c" not in fixed
    assert "arm_const_structs.c" in fixed and "arm_mve_tables.c" in fixed


def test_symbols_fix_removes_only_the_strip_flag():
    fixed = original.keep_symbols(CXX_FLAGS)
    assert fixed == '        -fomit-frame-pointer \\\n        ")\n'


def test_a_fix_that_no_longer_matches_is_an_error():
    with pytest.raises(UserError, match="review FIXES"):
        original.space_linker_script_assignment("ivt_begin = 0;\n")


def test_sync_copies_applies_fixes_and_then_writes_nothing(tmp_path):
    source, copy = tmp_path / "source", tmp_path / "copy"
    (source / "cmake").mkdir(parents=True)
    (source / "MIMXRT1062xxxxx_flexspi_nor.ld").write_text(LINKER_SCRIPT)
    (source / "cmake" / "cmsis_dsp_lib.cmake").write_text(DSP_LIST)
    (source / "CMakeLists.txt").write_text(CXX_FLAGS)
    (source / "main.c").write_text("int main(void) { return 0; }\n")

    assert original.sync_fixed_copy(source, copy) == 4
    assert "ivt_begin = " in (copy / "MIMXRT1062xxxxx_flexspi_nor.ld").read_text()
    assert (copy / "main.c").read_text() == (source / "main.c").read_text()
    times = {path: os.stat(path).st_mtime_ns for path in copy.rglob("*") if path.is_file()}

    assert original.sync_fixed_copy(source, copy) == 0
    assert times == {path: os.stat(path).st_mtime_ns for path in times}

    (source / "main.c").write_text("int main(void) { return 1; }\n")
    assert original.sync_fixed_copy(source, copy) == 1
    assert "return 1" in (copy / "main.c").read_text()


def test_sync_refuses_sources_without_a_fixed_file(tmp_path):
    (tmp_path / "source").mkdir()
    with pytest.raises(UserError, match="MIMXRT1062xxxxx_flexspi_nor.ld"):
        original.sync_fixed_copy(tmp_path / "source", tmp_path / "copy")


def test_published_layers_add_up_to_the_published_totals():
    for config in original.CONFIGS:
        layers = original.published_layers(config)
        assert len(layers) == len(original.PUBLISHED_LAYERS)
        assert sum(ms for _, ms in layers) == pytest.approx(
            original.PUBLISHED_TOTAL_MS[config], rel=2e-3)


def test_calibration_rows_pair_emulated_with_published_figures():
    rows = original.calibration_rows("uncompressed", original.parse_report(TRANSCRIPT))
    assert [row[0] for row in rows] == [f"{i} {name}" for i, name in
                                        enumerate(original.PUBLISHED_LAYERS)] + ["total"]
    assert rows[2] == ("2 CONV_2D", 171.0, 171.40, pytest.approx(171.0 / 171.40))
    assert rows[-1] == ("total", 207.651, 208.4, pytest.approx(207.651 / 208.4))


def test_calibration_rows_refuse_another_layer_list():
    report = original.parse_report(TRANSCRIPT.replace("SOFTMAX", "LOGISTIC"))
    with pytest.raises(UserError, match="LOGISTIC"):
        original.calibration_rows("compressed", report)
