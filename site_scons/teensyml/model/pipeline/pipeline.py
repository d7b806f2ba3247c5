"""The whole model pipeline, as `scons model` and tools/model.py run it.

    run(PipelineSettings(out_dir="models"))

Everything is computed first and written last (each file atomically), so a
run that fails or is interrupted leaves the previous models/ untouched.
"""
import json
import os
import sys
import time
from dataclasses import dataclass

import numpy as np

from .. import digit_set
from ...atomic_file import write_bytes, write_text
from ...errors import UserError
from ..codegen import check_model
from .mnist_data import WHEEL_REQUIREMENT, load_mnist
from .quiet import quiet_output

MODEL_NAMES = ("mnist_float32", "mnist_int8")


@dataclass(frozen=True)
class PipelineSettings:
    out_dir: str = "models"
    epochs: int = 2
    seed: int = 0
    train_subset: int = 0          # 0: all 60,000 training images
    eval_images: int = 0           # 0: all 10,000 test images
    test_digits: int = 100
    cache_dir: str = None          # MNIST cache (default: the user cache dir)
    workers: int = 0               # TFLM processes (0: one per core)
    verbose: bool = True


@dataclass
class ModelResult:
    name: str
    data: bytes
    report: dict
    tflm_outputs: np.ndarray


def run(settings):
    """Train, export, evaluate and write; returns {model name: report dict}."""
    _check(settings)
    say = (lambda text: print(text, file=sys.stderr)) if settings.verbose \
        else (lambda text: None)
    export, train = _tensorflow_modules()
    data = load_mnist(settings.cache_dir)
    train_images, train_labels = _training_set(data, settings)
    eval_count = settings.eval_images or len(data.test_images)
    test_images = data.test_images[:eval_count]
    test_labels = data.test_labels[:eval_count]

    say(f"training on {len(train_images)} images, {settings.epochs} epoch(s), "
        f"seed {settings.seed}")
    started = time.monotonic()
    model = train.train(train_images, train_labels, settings.epochs, settings.seed,
                        verbose=1 if settings.verbose else 0)
    training_seconds = time.monotonic() - started

    say("converting to .tflite (float32, int8)")
    with quiet_output():
        exported = {"mnist_float32": export.to_float32(model),
                    "mnist_int8": export.to_int8(model, train_images, settings.seed)}

    provenance = _provenance(settings, len(train_images), training_seconds)
    results = []
    for name in MODEL_NAMES:
        say(f"evaluating {name} on {eval_count} test images")
        results.append(_evaluate(name, exported[name], test_images, test_labels, settings,
                                 provenance))

    digits = _digit_set(data, results, settings.test_digits)
    for result in results:
        write_bytes(os.path.join(settings.out_dir, f"{result.name}.tflite"), result.data)
        write_text(os.path.join(settings.out_dir, f"{result.name}.json"),
                   json.dumps(result.report, indent=2) + "\n")
    digit_set.write(settings.out_dir, digits)
    for result in results:
        accuracy = result.report["accuracy"]
        say(f"{result.name}: {result.report['size_bytes']} bytes, accuracy TFLM "
            f"{accuracy['tflm_host']:.4f} / TFLite {accuracy['tflite_builtin_ref']:.4f}, "
            f"TFLM vs TFLite mismatched images "
            f"{result.report['tflm_vs_tflite_builtin_ref']['mismatched_images']}, "
            f"arena {result.report['arena_bytes_host']} bytes")
    say(f"wrote {', '.join(n + '.tflite/.json' for n in MODEL_NAMES)}, "
        f"{digit_set.NPZ_NAME} and {digit_set.INDEX_NAME} to {settings.out_dir}")
    return {result.name: result.report for result in results}


def _tensorflow_modules():
    """The modules that need TensorFlow, imported with its start-up log
    lines (CUDA probing, CPU features) silenced."""
    try:
        with quiet_output(show_on_error=False):
            from . import export, train
            # Used by the evaluation only, but better missed now than after training.
            from tflite_micro.python.tflite_micro import runtime  # noqa: F401
    except ImportError as error:
        raise UserError(f"The model pipeline needs TensorFlow and tflite-micro ({error}); "
                        f"install them with `pip install -r requirements.txt`.") from None
    return export, train


def _evaluate(name, model_bytes, images, labels, settings, provenance):
    from . import evaluate
    # What the firmware build would refuse, the pipeline must not write.
    info = check_model(model_bytes, f"{name}.tflite")
    inputs = evaluate.input_values(images, info.inputs[0])
    progress = settings.verbose
    reference = evaluate.tflite_outputs(model_bytes, inputs, True, f"{name} TFLite ref",
                                        progress)
    optimized = evaluate.tflite_outputs(model_bytes, inputs, False, f"{name} TFLite opt",
                                        progress)
    tflm = evaluate.tflm_outputs(model_bytes, inputs, f"{name} TFLM",
                                 settings.workers or None, progress)
    arena = evaluate.smallest_arena(model_bytes, inputs[0], tflm[0])
    versus_reference = evaluate.agreement(tflm, reference)
    if not versus_reference["bit_exact"]:
        versus_reference["first_differing_operator"] = evaluate.divergences(
            model_bytes, inputs, tflm, reference)
    report = {
        "name": name,
        "file": f"{name}.tflite",
        "size_bytes": info.size,
        "sha256": info.sha256,
        "schema_version": info.schema_version,
        "operators": list(info.operators),
        "operator_set": list(info.distinct_operators),
        "input": info.inputs[0].as_dict(),
        "output": info.outputs[0].as_dict(),
        "accuracy": {"test_images": int(len(images)),
                     "tflite_builtin_ref": evaluate.accuracy(reference, labels),
                     "tflm_host": evaluate.accuracy(tflm, labels),
                     "tflite_default_kernels": evaluate.accuracy(optimized, labels)},
        # TFLM against TFLite's reference kernels and, for scale, its default
        # (optimized) ones. Where they differ, the first operator whose
        # output differs is recorded (for up to 50 images).
        "tflm_vs_tflite_builtin_ref": versus_reference,
        "tflm_vs_tflite_default_kernels": evaluate.agreement(tflm, optimized),
        "arena_bytes_host": arena,
        "arena_note": "smallest arena in which TFLM's host runtime (64-bit) allocates "
                      "and runs the model, found by binary search in 16-byte steps; "
                      "the 32-bit firmware needs somewhat less (smaller pointers)",
        "test_digits": digit_set.INDEX_NAME,
        "generated_by": provenance,
    }
    return ModelResult(name, model_bytes, report, tflm)


def _digit_set(data, results, count):
    """The first `count` test images (no more than were evaluated: _check)."""
    builtin = digit_set.builtin_index(data.test_labels)
    return digit_set.DigitSet(
        images=data.test_images[:count], labels=data.test_labels[:count],
        test_indices=np.arange(count, dtype=np.int32),
        builtin_image=data.test_images[builtin],
        builtin_label=int(data.test_labels[builtin]), builtin_test_index=builtin,
        outputs={r.name: r.tflm_outputs[:count] for r in results},
        predicted={r.name: r.tflm_outputs[:count].argmax(axis=1) for r in results},
        model_sha256={r.name: r.report["sha256"] for r in results})


def _training_set(data, settings):
    if not settings.train_subset:
        return data.train_images, data.train_labels
    rng = np.random.default_rng(settings.seed)
    chosen = np.sort(rng.choice(len(data.train_images), settings.train_subset, replace=False))
    return data.train_images[chosen], data.train_labels[chosen]


def _check(settings):
    problems = []
    if settings.epochs < 1:
        problems.append(f"--epochs must be at least 1 (got {settings.epochs})")
    if not 0 <= settings.train_subset <= 60000:
        problems.append(f"--train-subset must be 0 (all) to 60000 (got {settings.train_subset})")
    if not 0 <= settings.eval_images <= 10000:
        problems.append(f"--eval-images must be 0 (all) to 10000 (got {settings.eval_images})")
    if not 1 <= settings.test_digits <= (settings.eval_images or 10000):
        problems.append(f"--test-digits must be 1 to the number of evaluated images "
                        f"(got {settings.test_digits})")
    if settings.workers < 0:
        problems.append(f"--workers must be 0 (one per core) or more (got {settings.workers})")
    if problems:
        raise UserError("; ".join(problems) + ".")


def _provenance(settings, train_count, training_seconds):
    import keras
    import tensorflow as tf
    from importlib.metadata import version
    from .train import BATCH_SIZE
    return {"tensorflow": tf.__version__, "keras": keras.__version__,
            "tflite_micro": version("tflite-micro"), "data": WHEEL_REQUIREMENT,
            "seed": settings.seed, "epochs": settings.epochs,
            "train_images": int(train_count), "batch_size": BATCH_SIZE,
            "training_seconds": round(training_seconds, 1)}
