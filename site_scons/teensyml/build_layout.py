"""Where a configuration's outputs go under build/, from the option table's
variant names: SConstruct puts them there, tests and benchmarks find them there.

    layout = build_layout(options.resolve({"USE_CMSIS_NN": "1"}))
    layout.firmware["hex"]     # <checkout>/build/int8-cmsis_nn/firmware.hex
    layout.fixture["elf"]      # <checkout>/build/fixture/fixture/fixture.elf
    build_layout(values, "#build").link    # as SConstruct names it

Each place is computed when asked, so `values` needs only the options it uses.
"""
from pathlib import Path

from . import options
from .paths import ROOT

BUILD_DIR = "build"
IMAGE_KINDS = ("elf", "hex", "map")


def build_layout(values, directory=None):
    """The layout of the configuration `values` (resolved options) under
    `directory` (default: the checkout's build/)."""
    return BuildLayout(values, Path(directory) if directory else Path(ROOT, BUILD_DIR))


def image(base):
    """{'elf', 'hex', 'map'}: the files of an image whose path without suffix is `base`."""
    return {kind: base.with_name(f"{base.name}.{kind}") for kind in IMAGE_KINDS}


class BuildLayout:
    def __init__(self, values, directory):
        self.values = values
        self.directory = directory

    # --- the firmware: objects every model shares, the configuration's, the image
    @property
    def shared_objects(self):
        return self.directory / "obj" / options.objects_variant_name(self.values)

    @property
    def objects(self):
        return self.directory / "obj" / options.compile_variant_name(self.values)

    @property
    def link(self):
        """build/<variant>: the image, its map, size report and linker script."""
        return self.directory / options.variant_name(self.values)

    @property
    def firmware_base(self):
        return self.link / "firmware"

    @property
    def firmware(self):
        return image(self.firmware_base)

    @property
    def size_json(self):
        return self.link / "firmware.size.json"

    # --- the CI fixture ------------------------------------------------------------
    @property
    def fixture_objects(self):
        return self.directory / "obj" / options.placement_variant_name(
            "fixture", self.values, "configuration")

    @property
    def fixture_link(self):
        return self.directory / options.placement_variant_name("fixture", self.values)

    @property
    def fixture_base(self):
        return self.fixture_link / "fixture" / "fixture"

    @property
    def fixture(self):
        return image(self.fixture_base)

    # --- scons kernel-tests ----------------------------------------------------------
    @property
    def kernel_tests(self):
        """build/kernel-tests/<name>: the images, their logs and results."""
        from .kernel_tests import variant_name
        return self.directory / "kernel-tests" / variant_name(self.values)

    @property
    def kernel_tests_objects(self):
        from .kernel_tests import variant_name
        return self.directory / "obj" / f"kernel-tests-{variant_name(self.values)}"

    # --- what every configuration shares -------------------------------------------
    @property
    def tflm_index(self):
        return self.directory / "tflm-index.json"

    @property
    def third_party_verified(self):
        """The stats of third-party files found unchanged by content (deps.check)."""
        return self.directory / "third-party-verified.json"
