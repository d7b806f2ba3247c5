"""Keras model -> .tflite bytes, float32 and full-integer int8, batch fixed at 1.

A fixed batch (the trained weights in a copy of the model whose input is
[1, 28, 28, 1]) lets the converter fold the shape arithmetic of Flatten into
one RESHAPE with a constant shape: the graph is then 9 operators of 5 kernel
types, all of which TFLM has. With a free batch it would add SHAPE,
STRIDED_SLICE and PACK to compute the shape at run time.
"""
import numpy as np
import tensorflow as tf

from .train import as_model_input, build_model

REPRESENTATIVE_IMAGES = 500


def to_float32(model):
    """The float32 .tflite of `model` (bytes)."""
    return _converter(model).convert()


def to_int8(model, train_images, seed=0):
    """The full-integer .tflite of `model` (bytes): int8 weights, activations,
    input and output; per-channel weights, as the converter does by default.
    Activation ranges come from REPRESENTATIVE_IMAGES training images drawn
    with `seed`."""
    rng = np.random.default_rng(seed)
    count = min(REPRESENTATIVE_IMAGES, len(train_images))
    chosen = as_model_input(train_images[rng.choice(len(train_images), count, replace=False)])

    def representative_data():
        for image in chosen:
            yield [image[np.newaxis]]

    converter = _converter(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_data
    # Refuse to fall back to float kernels: TFLM needs every op in int8.
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


def _converter(model):
    single = build_model(batch_size=1)
    single.set_weights(model.get_weights())
    return tf.lite.TFLiteConverter.from_keras_model(single)
