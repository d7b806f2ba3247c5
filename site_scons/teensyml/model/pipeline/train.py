"""The seed's Keras CNN, trained on MNIST with a fixed seed.

Conv2D(32, 3x3, relu) -> MaxPool(2) -> Conv2D(64, 3x3, relu) -> MaxPool(2) ->
Conv2D(64, 3x3, relu) -> Flatten -> Dense(64, relu) -> Dense(10, softmax) on
28x28x1 inputs scaled to [0, 1] (see teensyml.model.model_input). 93,322 parameters.
"""
import keras
import numpy as np
import tensorflow as tf

from ..model_input import to_float

BATCH_SIZE = 128


def build_model(batch_size=None):
    """The seed's architecture (uncompiled); `batch_size` fixes the batch
    dimension (export uses 1), None leaves it free (training)."""
    layers = keras.layers
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1), batch_size=batch_size, name="image"),
        layers.Conv2D(32, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"),
        layers.Flatten(),
        layers.Dense(64, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ], name="mnist_cnn")


def seed_everything(seed):
    """Same seed, same weights and batches: Python, numpy and TF generators are
    seeded and TF picks deterministic kernels (on CPU the remaining
    nondeterminism is float summation order across threads, which
    op determinism removes)."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def train(images, labels, epochs=2, seed=0, verbose=1):
    """A trained Keras model. `images` are uint8 (N, 28, 28); `verbose` is
    Keras' fit verbosity (1: a progress bar per epoch, 0: silent)."""
    seed_everything(seed)
    model = build_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(as_model_input(images), labels.astype(np.int64), batch_size=BATCH_SIZE,
              epochs=epochs, shuffle=True, verbose=verbose)
    return model


def as_model_input(images):
    """uint8 (N, 28, 28) -> float32 (N, 28, 28, 1), as the firmware feeds it."""
    return to_float(images)[..., np.newaxis]
