"""python -m teensyml.tflm THIRD_PARTY OP [OP ...] [--kernels cmsis_nn]
prints the source groups as JSON."""
import json
import sys

from ..build_types import BUILD_TYPES
from ..errors import cli
from .layout import KERNEL_SETS
from .tree import TflmTree


def main(argv=None):
    import argparse
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("third_party")
    parser.add_argument("ops", nargs="*")
    parser.add_argument("--kernels", default="reference", choices=KERNEL_SETS)
    parser.add_argument("--build", default="release", choices=tuple(BUILD_TYPES))
    parser.add_argument("--cache")
    parser.add_argument("--list-ops", action="store_true")
    args = parser.parse_args(argv)
    tree = TflmTree.from_third_party(args.third_party, cache_path=args.cache)
    if args.list_ops:
        print("\n".join(tree.ops_supported()))
        return 0
    groups = tree.groups(args.ops, args.kernels, args.build)
    json.dump([group.__dict__ for group in groups], sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(cli(main)())
