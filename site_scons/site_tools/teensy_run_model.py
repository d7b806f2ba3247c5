"""SCons tool: `scons run-model` runs the model on inputs from a file.

    env.Tool("teensy_run_model")
    env.RunModelCommand(firmware, model_path)                  # alias "run-model"
    env.RunModelCommand(fixture, "", alias="run-model-fixture")

With PORT= it talks to a board running the firmware; without, the emulator
runs the HEX (built first, like `scons emulate`). Its settings
(teensyml.run_model.Settings: INPUT, OUTPUT, COMPARE, PORT, BAUD, TIMEOUT)
come from env['TEENSY_OPTIONS'], as tools/run_model.py builds them; the work
is teensyml.run_model, imported only when the action runs.
"""
from SCons.Script import Action

from teensyml import interrupts
from teensyml.errors import build_action


@build_action
def _run_model(target, source, env):
    from teensyml import run_model
    with interrupts.listening():
        return run_model.run(run_model.Settings.from_options(
            env["TEENSY_OPTIONS"], firmware=str(source[0]), elf=str(source[1]),
            model=env["RUN_MODEL_PATH"]))


def run_model_command(env, firmware, model_path, alias="run-model"):
    node = env.Alias(alias, [firmware["hex"], firmware["elf"]],
                     Action(_run_model, None), RUN_MODEL_PATH=model_path)
    env.AlwaysBuild(node)
    return node


def generate(env):
    interrupts.listen_in_scons()     # the main thread, while SCons reads the build
    env.AddMethod(run_model_command, "RunModelCommand")


def exists(env):
    return True
