"""The model a firmware is built with, from the MODEL= option.

    model = firmware_model.resolve("int8", "models")      # or "float32", or a path
    model.path, model.name, model.operators, model.test_digits, model.arena_bytes

MODEL=float32 / int8 name the committed models/mnist_<kind>.tflite; anything
else is the path of a .tflite file (options.py has validated which). The
model is checked here, when SCons reads the build, so a model the firmware
cannot run fails before anything compiles. A report (<stem>.json beside the
file, as tools/model.py writes) is used only if its sha256 matches the file.
"""
import json
import os
from dataclasses import dataclass

from . import options, test_digits
from .model_codegen import read_checked_model
from .tflite_model import ModelInfo


@dataclass(frozen=True)
class FirmwareModel:
    name: str                  # "mnist_int8", or the file's stem
    path: str                  # absolute path of the .tflite
    info: ModelInfo
    report: dict               # the pipeline's json for this exact file, or None
    test_digits: str           # the test-digit set (images are model-independent)

    @property
    def operators(self):
        """The distinct operators: what the build compiles kernels for."""
        return self.info.distinct_operators

    @property
    def arena_bytes(self):
        """The host-measured smallest arena, or None when there is no report."""
        return self.report.get("arena_bytes_host") if self.report else None


def resolve(model_option, models_dir):
    """The FirmwareModel for a MODEL= value (UserError if unusable)."""
    if model_option in options.BUILTIN_MODELS:
        path = os.path.join(models_dir, f"mnist_{model_option}.tflite")
    else:
        path = model_option
    path = os.path.abspath(path)
    info, _ = read_checked_model(path)
    stem = os.path.splitext(os.path.basename(path))[0]
    return FirmwareModel(name=stem, path=path, info=info, report=_report(path, info),
                         test_digits=os.path.join(os.path.abspath(models_dir),
                                                  test_digits.NPZ_NAME))


def _report(path, info):
    try:
        with open(os.path.splitext(path)[0] + ".json", encoding="utf-8") as stream:
            report = json.load(stream)
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) and report.get("sha256") == info.sha256 else None
