"""The ``flowscope`` command line.

``run`` / ``validate`` live here; other packages contribute sub-commands through the
``flowscope.commands`` entry-point group, so this module never imports them.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowscope", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for ep in sorted(entry_points(group="flowscope.commands"), key=lambda e: e.name):
        try:
            register = ep.load()
        except ImportError as exc:  # an optional extra is not installed
            logger.debug("flowscope command %s unavailable: %s", ep.name, exc)
            continue
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
