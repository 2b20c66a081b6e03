"""`designspace spaces [--json]`: every design space, its free parameters, constraints and size.

    designspace spaces
    designspace spaces --json | jq '.[] | {name, log10_size, reduction}'

Size is log10 of the number of configurations before complexity limits; the
reduction is how many orders of magnitude a refinement removes from its parent.
"""
from __future__ import annotations

import json


def space_table() -> list:
    from ..spaces import get_space, list_spaces

    rows = [get_space(name).describe() for name in list_spaces()]
    sizes = {r["name"]: r["log10_size"] for r in rows}
    for r in rows:
        parent = r["refines"]
        r["reduction"] = round(sizes[parent] - r["log10_size"], 4) if parent in sizes else None
    return rows


def run(args) -> int:
    rows = space_table()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        red = f", {r['reduction']:.2f} orders below {r['refines']}" if r["reduction"] is not None else ""
        print(f"{r['name']}  (size 10^{r['log10_size']:.2f}{red})")
        print(f"    {r['description']}")
        for p in r["free_parameters"]:
            print(f"    free: {p}")
        for c in r["constraints"]:
            print(f"    constraint: {c}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("spaces", help="list the design spaces with their size",
                       description="List every built-in design space: free parameters, constraints, log10 size and "
                                   "each refinement's reduction of its parent's size.")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=run)
