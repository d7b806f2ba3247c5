"""SCons tool: the model, from MODEL= to the C++ the firmware compiles.

    env.Tool("teensy_model")
    model = env.ModelInfo(values["MODEL"])      # teensyml.model.firmware_model.FirmwareModel
    env.ModelSources(".", model.path)           # model_data.cc/.h, op_resolver.cc/.h
    env.BuiltinDigit("builtin_digit.cc", model.test_digits)   # + builtin_digit.h
    env.KernelExclusions("kernel_variants.c", model.path, "cmsis_nn")   # variants left out
    scons model                                 # retrain: runs tools/model.py

Reading and generating need no TensorFlow; only `scons model` does.
"""
import os
import sys

from SCons.Script import Action, Exit

from teensyml.model import firmware_model, kernel_variants, codegen as model_codegen
from teensyml import quiet
from teensyml.errors import UserError, build_action, report
from teensyml.options import scons_escape
from teensyml.paths import TEENSYML

MODELS_DIR = "#models"
PIPELINE_SCRIPT = "#tools/model.py"
CHECK_CACHE_DIR = "#build"           # firmware_model's cached checks
# The generators' own sources: editing one regenerates the C++.
CODEGEN_MODULES = ("model/codegen.py", "model/tflite_model.py", "model/tflm_ops.py",
                   "model/digit_set.py", "model/kernel_variants.py")


def model_info(env, model_option, model_mem=None):
    """The FirmwareModel for a MODEL= value (that fits MODEL_MEM=, if given);
    a bad model stops SCons at once with its message, before anything compiles."""
    try:
        model = firmware_model.resolve(model_option, env.Dir(MODELS_DIR).abspath,
                                       cache_dir=env.Dir(CHECK_CACHE_DIR).abspath)
        if model_mem:
            firmware_model.check_fits(model, model_mem)
        return model
    except UserError as error:
        report(error)
        Exit(2)


@build_action
def _write_model_sources(target, source, env):
    model_codegen.write_model_sources(source[0].abspath, target[0].dir.abspath)


@build_action
def _write_builtin_digit(target, source, env):
    model_codegen.write_builtin_digit(source[0].abspath, target[0].abspath)


def model_sources(env, target_dir, model_path):
    """model_data.cc/.h and op_resolver.cc/.h in `target_dir` from a .tflite."""
    directory = env.Dir(target_dir)
    # A node of the path as given: SCons would expand a `$` in it.
    nodes = env.Command([directory.File(name) for name in model_codegen.MODEL_SOURCES],
                        env.File(scons_escape(model_path)),
                        Action(_write_model_sources, _quiet(env)))
    env.Depends(nodes, _codegen_files(env))
    return nodes


def builtin_digit(env, target, digits_path):
    """`target` (.cc) and the .h beside it: the built-in digit's pixels."""
    source = env.File(target)
    header = source.dir.File(os.path.splitext(source.name)[0] + ".h")
    nodes = env.Command([source, header], env.File(digits_path),
                        Action(_write_builtin_digit, _quiet(env)))
    env.Depends(nodes, _codegen_files(env))
    return nodes


@build_action
def _write_kernel_exclusions(target, source, env):
    kernel_variants.write_exclusions(source[0].abspath, env["KERNEL_SET"], target[0].abspath)


def kernel_exclusions(env, target, model_path, kernel_set):
    """`target` (.c): the kernel variants no layer of the model reaches, kept
    out of the link (teensyml/kernel_variants.py)."""
    nodes = env.Command(env.File(target), env.File(scons_escape(model_path)),
                        Action(_write_kernel_exclusions, _quiet(env), varlist=["KERNEL_SET"]),
                        KERNEL_SET=kernel_set)
    env.Depends(nodes, _codegen_files(env))
    return nodes


def _codegen_files(env):
    return [env.File(os.path.join(TEENSYML, name)) for name in CODEGEN_MODULES]


def _quiet(env):
    return quiet.line("GEN", env.get("VERBOSE"))


def _add_model_alias(env):
    # The pipeline runs with the user's whole environment: pip's settings
    # (index, certificates) fetch MNIST, and the cache lives in their home.
    pipeline_env = env.Clone(ENV=dict(os.environ))
    command = [sys.executable, pipeline_env.File(PIPELINE_SCRIPT).abspath]
    line = quiet.line("MODEL", env.get("VERBOSE"), "retraining (tools/model.py)")
    alias = pipeline_env.Alias("model", [], Action([command], line))
    pipeline_env.AlwaysBuild(alias)


def generate(env):
    env.AddMethod(model_info, "ModelInfo")
    env.AddMethod(model_sources, "ModelSources")
    env.AddMethod(builtin_digit, "BuiltinDigit")
    env.AddMethod(kernel_exclusions, "KernelExclusions")
    _add_model_alias(env)


def exists(env):
    return True
