"""The model a firmware is built with, from the MODEL= option.

    model = firmware_model.resolve("int8", "models")      # or "float32", or a path
    model.path, model.name, model.operators, model.test_digits, model.arena_bytes

MODEL=float32 / int8 name the committed models/mnist_<kind>.tflite; anything
else is the path of a .tflite file (options.py has validated which). The
model is checked here, when SCons reads the build, so a model the firmware
cannot run fails before anything compiles. A report (<stem>.json beside the
file, as tools/model.py writes) is used only if its sha256 matches the file.

Checking a model means parsing it (flatbuffers, numpy: a fifth of a second).
With a `cache_dir`, the result for an unchanged file (same size and mtime, and
the same checking code) is read back instead, so a no-op build stays quick.
"""
import hashlib
import json
import os
from dataclasses import dataclass

from . import digit_set
from .. import options
from ..atomic_file import write_text
from ..errors import UserError

# The modules whose rules decide whether a model is usable: editing one
# invalidates the cached checks.
CHECKING_MODULES = ("codegen.py", "tflite_model.py", "tflm_ops.py")


@dataclass(frozen=True)
class FirmwareModel:
    name: str                  # "mnist_int8", or the file's stem
    path: str                  # absolute path of the .tflite
    sha256: str
    operators: tuple           # the distinct operators: what the build compiles kernels for
    report: dict               # the pipeline's json for this exact file, or None
    test_digits: str           # the test-digit set (images are model-independent)

    @property
    def arena_bytes(self):
        """The host-measured smallest arena, or None when there is no report."""
        return self.report.get("arena_bytes_host") if self.report else None


def resolve(model_option, models_dir, cache_dir=None):
    """The FirmwareModel for a MODEL= value (UserError if unusable)."""
    if model_option in options.BUILTIN_MODELS:
        path = os.path.join(models_dir, f"mnist_{model_option}.tflite")
    else:
        path = model_option
    path = os.path.abspath(path)
    sha256, operators = _checked(path, cache_dir)
    stem = os.path.splitext(os.path.basename(path))[0]
    return FirmwareModel(name=stem, path=path, sha256=sha256, operators=operators,
                         report=_report(path, sha256),
                         test_digits=os.path.join(os.path.abspath(models_dir),
                                                  digit_set.NPZ_NAME))


def check_fits(model, model_mem):
    """A UserError when the model alone is larger than the memory MODEL_MEM=
    puts it in (the linker explains a nearer miss, with the whole image)."""
    from .. import memory_map as mm
    from ..linker_script import PLACEMENT_REGIONS
    regions = {name: mm.REGIONS_BY_NAME[region] for name, region in PLACEMENT_REGIONS.items()}
    size = os.path.getsize(model.path)
    region = regions[model_mem]
    if size > region.length:
        others = ", ".join(f"MODEL_MEM={name} ({other.length // mm.KB:,} KB)"
                           for name, other in regions.items()
                           if name != model_mem and other.length >= size)
        raise UserError(f"{os.path.basename(model.path)} is {size:,} bytes, more than "
                        f"{region.name} holds ({region.length:,} bytes), where MODEL_MEM="
                        f"{model_mem} puts the weights: "
                        + (f"give {others}." if others else "no memory of the Teensy 4.0 "
                           "holds it; a smaller (e.g. int8-quantized) model is needed."))


def _checked(path, cache_dir):
    """(sha256, distinct operators) of a model the firmware can run."""
    key = _cache_key(path)
    cache = (os.path.join(cache_dir, f"model-{hashlib.sha1(path.encode()).hexdigest()[:12]}"
                                     f".json") if cache_dir and key else None)
    if cache:
        try:
            with open(cache, encoding="utf-8") as stream:
                cached = json.load(stream)
            if cached.get("key") == key:
                return cached["sha256"], tuple(cached["operators"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    from .codegen import read_checked_model   # flatbuffers and numpy: only now
    info, _ = read_checked_model(path)
    if cache:       # (a place that cannot be written is a UserError: atomic_file)
        write_text(cache, json.dumps({"key": key, "sha256": info.sha256,
                                      "operators": list(info.distinct_operators)}))
    return info.sha256, info.distinct_operators


def _cache_key(path):
    """What a cached check depends on: the file's size and mtime, and the
    checking code's; None if the model cannot be read (the check says why)."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        stats = [os.stat(path)] + [os.stat(os.path.join(here, name))
                                   for name in CHECKING_MODULES]
    except OSError:
        return None
    return [[stat.st_size, stat.st_mtime_ns] for stat in stats]


def _report(path, sha256):
    try:
        with open(os.path.splitext(path)[0] + ".json", encoding="utf-8") as stream:
            report = json.load(stream)
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) and report.get("sha256") == sha256 else None
