"""`python -m statemachines build|check|render`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from statemachines.build import DEFINITION_FILE, PROJECT_ROOT, build, definition, drift
from statemachines.render import render_svg


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m statemachines", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help=f"write {DEFINITION_FILE.relative_to(PROJECT_ROOT)}")
    sub.add_parser("check", help="exit 1 with a diff when the committed definition is stale")
    render = sub.add_parser("render", help="draw the state machine as SVG")
    render.add_argument("--output", default=str(PROJECT_ROOT / "docs" / "retrain-state-machine.svg"))
    args = parser.parse_args(argv)

    if args.command == "build":
        try:
            path = build()
        except ValueError as error:
            print(f"statemachines build: {error}", file=sys.stderr)
            return 1
        print(f"wrote {path.relative_to(PROJECT_ROOT)}")
        return 0
    if args.command == "check":
        diff = drift()
        if diff:
            sys.stdout.write(diff)
            print(
                f"\n{DEFINITION_FILE.relative_to(PROJECT_ROOT)} is stale: run `python -m statemachines build` "
                "and commit the result.",
                file=sys.stderr,
            )
            return 1
        print(f"{DEFINITION_FILE.relative_to(PROJECT_ROOT)} is up to date")
        return 0
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_svg(definition()), encoding="utf-8")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
