"""Every command takes its options as one settings object, built from the
resolved options the same way by `scons <command>` and by its tools/ script."""
import dataclasses

import pytest

from teensyml import flash, kernel_tests, monitor, options, run_model, size_report
from teensyml.emulator import cli as emulator
from teensyml.errors import UserError
from teensyml.linker_script import Placement
from teensyml.option_values import from_assignments

COMMANDS = {
    "flash": (flash.Settings, {}),
    "monitor": (monitor.Settings, {}),
    "emulate": (emulator.Settings, {"firmware": "x.hex"}),
    "size-report": (size_report.Settings, {}),
    "run-model": (run_model.Settings, {"firmware": "x.hex", "elf": "", "model": "m.tflite"}),
    "kernel-tests": (kernel_tests.Settings, {}),
    "placement": (Placement, {}),
}


@pytest.mark.parametrize("command", COMMANDS)
def test_settings_hold_the_resolved_values(command):
    cls, given = COMMANDS[command]
    values = options.resolve({})
    settings = cls.from_options(values, **given)
    for key in cls.option_keys():
        if key.lower() not in given and key != "HEADLESS":   # SEND/EXPECT imply it
            assert getattr(settings, key.lower()) == values[key], key
    # Resolved values are taken as they are (SEND='s escapes are made real once).
    assert cls.from_options({}, **given) == settings


def test_every_command_option_belongs_to_a_command_settings():
    taken = {key for cls, _ in COMMANDS.values() for key in cls.option_keys()}
    steering = {option.key for option in options.OPTIONS
                if option.group not in ("configuration", "build")}
    assert steering <= taken, steering - taken


def test_the_tools_and_scons_build_the_same_settings():
    words = ["TIMEOUT=2.5", "FLASHER=halfkay", "SERIAL= 123 "]
    from_tool = flash.Settings.from_options(from_assignments(words, flash.Settings.option_keys()))
    from_scons = flash.Settings.from_options(options.resolve(dict(w.split("=", 1) for w in words)))
    assert from_tool == from_scons == flash.Settings("halfkay", "auto", "123", 2.5)


def test_size_report_settings_are_the_report_filters():
    settings = size_report.Settings.from_options(options.resolve(
        {"TOP": "0x20", "COMPONENT": "app,model", "SYMBOL": " *Conv* "}))
    assert settings.report_filters() == {"top": 32, "component": ("app", "model"),
                                         "symbol": "*Conv*", "stack_margin": 4096}


# --- the emulator: settings, not a command line ------------------------------------------

def test_scons_emulate_settings_imply_headless_for_a_script():
    values = options.resolve({"SEND": r"2\n\\n", "EXPECT": "predicted", "BETWEEN": "f;g"})
    settings = emulator.Settings.from_options(values, firmware="x.hex", elf="x.elf")
    assert settings.headless and settings.send == "2\n\\n" and settings.expect == "predicted"
    assert settings.between == ("f", "g") and settings.elf == "x.elf"
    assert not emulator.Settings.from_options(options.resolve({}), firmware="x").headless


def test_the_emulate_tools_flags_and_words_make_the_same_settings():
    flags = emulator.settings_from_argv(["x.hex", "--headless", "--send", r"2\n\\n", "--until",
                                        "predicted", "--max-seconds", "1.5", "--stats",
                                        "--between", "f", "--timing", "simple"])
    words = emulator.settings_from_argv(["x.hex", r"SEND=2\n\\n", "EXPECT=predicted",
                                        "MAX_SECONDS=1.5", "STATS=1", "BETWEEN=f",
                                        "TIMING=simple"])
    scons = emulator.Settings.from_options(options.resolve(
        {"SEND": r"2\n\\n", "EXPECT": "predicted", "MAX_SECONDS": "1.5", "STATS": "1",
         "BETWEEN": "f", "TIMING": "simple"}), firmware="x.hex")
    assert flags == words == scons
    assert scons.send == "2\n\\n"            # escapes made real once
    # A flag's --send still reads the terminal afterwards; SEND= is a script.
    assert not emulator.settings_from_argv(["x.hex", "--send", "2"]).headless
    mixed = emulator.settings_from_argv(["x.hex", "--between", "f", "BETWEEN=g;h",
                                        "--stats-json", "s.json"])
    assert mixed.between == ("f", "g", "h") and mixed.stats_json == "s.json"


def test_the_emulate_tool_refuses_a_zero_limit_flag():
    with pytest.raises(UserError, match="--max-seconds 0 is not valid"):
        emulator.settings_from_argv(["x.hex", "--max-seconds", "0"])
    assert emulator.settings_from_argv(["x.hex", "MAX_SECONDS=0"]).max_seconds == 0


def test_settings_are_frozen():
    settings = kernel_tests.Settings.from_options(options.resolve({"OPS": " conv "}))
    assert settings.ops == "conv"
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.ops = "all"
