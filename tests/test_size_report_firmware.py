"""The size report on the real TFLM firmware (int8 and float32), against
binutils: needs third_party (`scons deps`)."""
import re

import pytest

from conftest import layout, requires_third_party, run_scons
from size_report_helpers import expected_regions, nm_sizes, objdump_sections, size_a
from teensyml import components, memory_map as mm, size_report

pytestmark = [requires_third_party, pytest.mark.firmware]

FIRMWARE_COMPONENTS = ("app", "model", "tflm-core", "tflm-kernels", "nxp-sdk", "board",
                       "newlib", "libgcc")


def build_firmware(**arguments):
    """Build one configuration; its ELF, or a skip saying why it cannot be built."""
    words = [f"{key}={value}" for key, value in arguments.items()]
    result = run_scons(*words, check=False)
    variant = layout(**arguments).link
    found = sorted(variant.rglob("firmware.elf"))
    if result.returncode != 0 or not found:
        lines = (result.stderr + result.stdout).splitlines()
        errors = [line for line in lines if re.match(r"^(\w*Error\b|error:|scons: \*\*\*)",
                                                     line)] or lines[-1:] or ["no output"]
        pytest.skip(f"the firmware ({variant}) cannot be built here: {errors[-1]}")
    return found[0]


@pytest.fixture(scope="session")
def int8_firmware():
    return build_firmware()


@pytest.fixture(scope="session")
def float32_firmware():
    return build_firmware(MODEL="float32")


@pytest.fixture(scope="session", params=["int8", "float32"])
def firmware(request):
    return request.getfixturevalue(f"{request.param}_firmware")


@pytest.fixture(scope="session")
def report_of():
    cache = {}
    return lambda elf: cache.setdefault(elf, size_report.build(elf, top=0))


def test_region_totals_are_what_size_A_lists(firmware, report_of):
    sections, extent = expected_regions(firmware)
    for name, region in report_of(firmware)["regions"].items():
        assert {s["name"]: s["size"] for s in region["sections"]} == sections[name], name
        assert region["section_bytes"] == sum(sections[name].values())
        assert region["used"] == extent[name]


def test_symbol_sizes_are_what_nm_S_lists(firmware, report_of):
    nm = nm_sizes(firmware)
    moved = {name: lma - vma for name, vma, lma, _ in objdump_sections(firmware)}
    listed = set()
    for region in report_of(firmware)["regions"].values():
        for entry in region["symbols"]:
            key = (entry["name"], entry["address"])
            if key not in nm:
                key = (entry["name"], entry["address"] - moved[entry["section"]])
            assert nm[key] == entry["size"], entry
            listed.add(key)
    assert listed == {key for key in nm if mm.region_of(key[1])}


def test_components_add_up_and_every_object_has_one(firmware, report_of):
    report = report_of(firmware)
    for name, region in report["regions"].items():
        assert sum(region["components"].values()) == region["used"], name
        assert components.UNLISTED.key not in region["components"]
    assert report["other_origins"] == []
    flash = report["regions"]["FLASH"]["components"]
    assert set(FIRMWARE_COMPONENTS) <= set(flash), flash
    # ITCM=kernels (the default) runs the kernels from ITCM.
    assert report["regions"]["ITCM"]["components"]["tflm-kernels"] > 0


def test_model_component_is_the_model_section(firmware, report_of):
    model = report_of(firmware)["regions"]["FLASH"]["components"]["model"]
    section = size_a(firmware)[".model_data"]
    assert section - 16 < model <= section       # .model_data ends ALIGN(16)


def test_int8_to_float32_diff_shows_the_model_growing(int8_firmware, float32_firmware,
                                                      report_of):
    change = size_report.diff(report_of(int8_firmware), report_of(float32_firmware))
    flash = next(r for r in change["regions"] if r["region"] == "FLASH")
    grown = size_a(float32_firmware)[".model_data"] - size_a(int8_firmware)[".model_data"]
    model = flash["components"][0]
    assert model["component"] == "model"            # the largest change comes first
    assert abs(model["change"] - grown) < 16 and grown > 200 * mm.KB
