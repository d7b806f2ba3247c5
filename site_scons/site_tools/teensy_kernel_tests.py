"""SCons tool: run TFLM's kernel test images in the emulator and report.

    env.Tool("teensy_kernel_tests")
    result = env.KernelTestRun("build/kernel-tests/reference/conv_test", image, "conv")
    env.KernelTestReport("kernel-tests", results, not_built, label)

KernelTestRun runs one image (teensyml.kernel_tests.run_image) and writes
<name>.result.json and <name>.log (the console text) within the limits of
teensyml.kernel_tests.Settings (MAX_SECONDS, MAX_INSTRUCTIONS, from
env['TEENSY_OPTIONS']); it never fails the build, so every file runs. It runs
again when the image or the emulator's code changes. KernelTestReport (an alias, always run) prints a line per test
file and the summary line, and fails (status 1) when any test file failed.
"""
import glob
import os

from SCons.Script import Action

from teensyml import kernel_tests
from teensyml.atomic_file import write_text
from teensyml.errors import build_action
from teensyml.paths import TEENSYML

EMULATOR_SOURCES = os.path.join(TEENSYML, "emulator")


@build_action
def _run(target, source, env):
    result, log = kernel_tests.run_image(
        env["KERNEL_TEST_NAME"], str(source[0]), str(source[1]),
        kernel_tests.Settings.from_options(env["TEENSY_OPTIONS"]))
    write_text(str(target[1]), log)
    write_text(str(target[0]), result.to_json() + "\n")
    if env.get("VERBOSE"):
        print(log, end="")
    print(f"  TEST {kernel_tests.result_line(result).strip()}", flush=True)
    return 0


def kernel_test_run(env, name, image, test_name):
    settings = kernel_tests.Settings.from_options(env["TEENSY_OPTIONS"])
    limits = env.Value(f"{settings.max_seconds} {settings.max_instructions}")
    targets = env.Command([f"{name}.result.json", f"{name}.log"],
                          [image["hex"], image["elf"], limits],
                          Action(_run, None), KERNEL_TEST_NAME=test_name)
    # Run again when the emulator or the reading of the output changes.
    env.Depends(targets, sorted(glob.glob(os.path.join(EMULATOR_SOURCES, "**", "*.py"),
                                          recursive=True)) + [kernel_tests.__file__])
    env.NoCache(targets)
    return targets[0]


@build_action
def _report(target, source, env):
    results = [kernel_tests.FileResult.from_json(node.get_text_contents()) for node in source]
    results += [kernel_tests.FileResult(name, "not built", reason=reason)
                for name, reason in env["KERNEL_TESTS_NOT_BUILT"]]
    results.sort(key=lambda result: result.name)
    lines, status = kernel_tests.report(results, env["KERNEL_TESTS_LABEL"])
    print("\n".join(lines), flush=True)
    return status


def kernel_test_report(env, alias, results, not_built, label):
    node = env.Alias(alias, results, Action(_report, None),
                     KERNEL_TESTS_NOT_BUILT=[(test.name, test.not_built) for test in not_built],
                     KERNEL_TESTS_LABEL=label)
    env.AlwaysBuild(node)
    return node


def generate(env):
    env.AddMethod(kernel_test_run, "KernelTestRun")
    env.AddMethod(kernel_test_report, "KernelTestReport")


def exists(env):
    return True
