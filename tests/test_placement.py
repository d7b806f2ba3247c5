"""Placement is a switch that changes where code and data live, never what the
firmware computes: every placement of the int8 firmware prints the outputs of
ITCM=none, and the emulator's counters show code leaving flash (issue 5)."""
import pytest

from conftest import ROOT, requires_third_party, run_scons
from teensyml import console_protocol, options
from teensyml.emulator import Machine, ScriptedConsole, load_firmware

INVOKE = "tflite::MicroInterpreter::Invoke"
PLACEMENTS = [{"ITCM": "none"}, {"ITCM": "kernels"}, {"ITCM": "all"},
              {"ITCM": "kernels", "MODEL_MEM": "dtcm"}, {"ITCM": "kernels", "MODEL_MEM": "ocram"},
              {"ITCM": "kernels", "ARENA_MEM": "ocram"}]


def run_builtin_digit(settings):
    """(parsed answer to `2`, counts inside Invoke) of a freshly built firmware."""
    run_scons(*(f"{key}={value}" for key, value in settings.items()))
    variant = options.variant_name(options.resolve(settings))
    image, symbols = load_firmware(str(ROOT / "build" / variant / "firmware.hex"))
    machine = Machine(image, symbols, ScriptedConsole(b"2", until=rb"predicted: \d"))
    invoke = machine.add_marker(INVOKE)
    stop = machine.run(max_seconds=120)
    assert stop.reason == "until", (stop, machine.console.text())
    return console_protocol.parse_result(machine.console.text()), invoke.counts()


@pytest.fixture(scope="module")
def unplaced():
    return run_builtin_digit({"MODEL": "int8", "ITCM": "none"})


@requires_third_party
@pytest.mark.parametrize("placement", PLACEMENTS[1:], ids=lambda p: ",".join(
    f"{k}={v}" for k, v in p.items()))
def test_placement_never_changes_results(unplaced, placement):
    result, counts = run_builtin_digit({"MODEL": "int8", **placement})
    assert result.outputs == unplaced[0].outputs
    assert result.predicted == unplaced[0].predicted == 8
    if placement["ITCM"] != "none":
        # Kernels in ITCM: under 1% of Invoke's instructions come from flash.
        assert counts.share("FLASH") < 0.01


@requires_third_party
def test_itcm_none_runs_from_flash(unplaced):
    _, counts = unplaced
    assert counts.share("FLASH") > 0.99
