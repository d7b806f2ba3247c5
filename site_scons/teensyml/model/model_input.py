"""How an 8-bit MNIST image becomes the model's input tensor.

One definition for training, the host reference and every tool that predicts
what the firmware computes. It mirrors the firmware's Inference::SetInput
(src/app/inference.cc) operation for operation, so expected outputs computed
here are the firmware's to the bit:

    value = pixel / 255.0f                                  (float32)
    int8  = clamp(lroundf(value / scale) + zero_point, -128, 127)
"""
import numpy as np


def to_float(pixels):
    """uint8 pixels -> float32 in [0, 1], as the float32 model takes them."""
    return np.asarray(pixels, dtype=np.float32) / np.float32(255.0)


def quantize(pixels, scale, zero_point):
    """uint8 pixels -> int8 input values for a tensor of `scale`/`zero_point`.

    The division is float32, as on the device; the rounding is lroundf's
    (halves away from zero), done in float64 where it is exact."""
    ratio = (to_float(pixels) / np.float32(scale)).astype(np.float64)
    rounded = np.trunc(ratio + np.copysign(0.5, ratio))
    return np.clip(rounded + int(zero_point), -128, 127).astype(np.int8)


def model_input(pixels, dtype, scale=0.0, zero_point=0):
    """The input tensor values for `pixels` and a tensor of numpy `dtype`
    (np.float32 or np.int8)."""
    if np.dtype(dtype) == np.int8:
        return quantize(pixels, scale, zero_point)
    return to_float(pixels)
