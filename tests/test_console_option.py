"""CONSOLE=: which console the firmware links, and where its image goes."""
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "site_scons"))
from teensyml import kernel_tests, options          # noqa: E402
from teensyml.errors import UserError               # noqa: E402


def test_usb_is_the_default():
    assert options.resolve({})["CONSOLE"] == "usb"
    assert options.resolve({"CONSOLE": "uart"})["CONSOLE"] == "uart"


def test_a_bad_console_names_the_choices():
    with pytest.raises(UserError, match=r"^CONSOLE=serial is not valid; choose one of: usb, "
                                        r"uart\.$"):
        options.resolve({"CONSOLE": "serial"})


def test_the_uart_image_has_its_own_directory():
    usb, uart = options.resolve({}), options.resolve({"CONSOLE": "uart"})
    assert options.variant_name(usb) == "int8-reference"
    assert options.variant_name(uart) == "int8-reference-console_uart"
    # The objects are shared: switching compiles nothing (each console's
    # library has its own name in src/board/teensy40/SConscript).
    assert options.objects_variant_name(usb) == options.objects_variant_name(uart)
    assert options.compile_variant_name(usb) == options.compile_variant_name(uart)


def test_fixture_and_kernel_tests_do_not_depend_on_it():
    """Both stay on the LPUART: their names must not change with CONSOLE=."""
    usb, uart = options.resolve({}), options.resolve({"CONSOLE": "uart"})
    assert options.placement_variant_name("fixture", usb) == \
        options.placement_variant_name("fixture", uart)
    assert kernel_tests.variant_name(usb) == kernel_tests.variant_name(uart)
