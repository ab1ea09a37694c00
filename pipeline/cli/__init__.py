"""The `scrutiny` command line: one thin function per command (see ../shared/cli-contract.md).

Stage commands write JSON Lines to standard output and messages to standard error (through logging: `-v`
for more, `-q` for errors only). They never start Prefect; only `ingest` runs the flow. One module per stage
holds its commands and their options: extract (statements, documents), ingest (ingest, fetch, schedule),
classify (train, classify, evaluate, label), recur, review (review-links), publish (serve, publish).
"""

from __future__ import annotations

import argparse
import sys

from pipeline import __version__
from pipeline.cli import classify, extract, ingest, publish, recur, review
from pipeline.cli.common import setup_logging
from pipeline.run.heap import limit_arenas


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scrutiny",
        description="Scrutiny: inspection reports, council papers and news as a statement-level evidence base.",
    )
    parser.add_argument("--version", action="version", version=f"scrutiny {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more messages on standard error")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors on standard error")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (extract, ingest, classify, recur, review, publish):
        module.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    limit_arenas()  # before any thread (Prefect's, the pool's): fewer arenas, less memory held between batches
    args = build_parser().parse_args(argv)
    setup_logging(-1 if args.quiet else args.verbose)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
