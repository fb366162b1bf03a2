"""Print the Markdown trade-off table from the JSON files that eval_all.sh writes.

Usage: python experiments/results/adaptive/make_table.py LABEL [LABEL ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

FOLDER = Path(__file__).resolve().parent
ROWS = [
    ("reactive", "reactive", None),
    ("deliberative", "deliberative", None),
    ("adaptive, budget 0.1", "adaptive_0.1", "adaptive"),
    ("adaptive, budget 0.3", "adaptive_0.3", "adaptive"),
    ("adaptive, budget 0.6", "adaptive_0.6", "adaptive"),
]


def table_rows(label: str) -> list[str]:
    """Return one Markdown row per mode of the run evaluated under ``label``."""
    rows = []
    for title, suffix, key in ROWS:
        output = json.loads((FOLDER / f"{label}_{suffix}.json").read_text())
        result = output["eval"][key or suffix]
        if key == "adaptive":
            # ms_per_step counts the configurator's mode choice as well as acting.
            share = f"{result['deliberative_share']:.3f}"
            milliseconds = result["ms_per_step"]
        else:
            share = "1" if suffix == "deliberative" else "0"
            milliseconds = result["ms_per_action"]
        rows.append(
            f"| {label} | {output['step']:,} | {title} | {result['mean_return']:.1f} ± {result['std_return']:.1f} "
            f"| {milliseconds:.2f} | {share} |"
        )
    return rows


def main(labels: list[str]) -> None:
    print("| task | env steps | mode | return (mean ± std) | ms per action | deliberative share |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label in labels:
        print("\n".join(table_rows(label)))


if __name__ == "__main__":
    main(sys.argv[1:])
