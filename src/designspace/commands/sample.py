"""`designspace sample SPACE --n N [--flops LO:HI] [--params LO:HI] [--acts LO:HI] ...`

    designspace sample anynetx_a --n 500 --flops 360M:400M --out anynetx_a.jsonl
    designspace sample regnetx --n 100 --flops 0.2G:0.4G --res 28 --classes 10 --in-channels 1 --stem cifar
    designspace sample my_space.yaml --n 20 --params :5M --format parquet --out s.parquet

One JSON object per line (`Sample.to_dict()`: space, index, spec, values, flops, params, acts),
to stdout or written atomically to --out; on any error nothing is written.
"""
from __future__ import annotations

import json
import sys

from ..errors import DesignspaceError
from ..units import parse_band, parse_number

FORMATS = ("jsonl", "parquet")


def _count(text, what: str) -> int:
    value = parse_number(text, what)
    if value != int(value):
        raise DesignspaceError(f"{what} must be a whole number, got {text!r}")
    return int(value)


def samples_to_parquet_bytes(samples) -> bytes:
    """The JSON lines as a table: spec and values as JSON strings, complexity as ints."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise DesignspaceError("--format parquet needs pyarrow (pip install pyarrow)") from None
    import io

    rows = [s.to_dict() for s in samples]
    table = pa.table({
        "space": [r["space"] for r in rows], "index": [r["index"] for r in rows],
        "spec": [json.dumps(r["spec"]) for r in rows], "values": [json.dumps(r["values"]) for r in rows],
        "flops": [r["flops"] for r in rows], "params": [r["params"] for r in rows], "acts": [r["acts"] for r in rows],
    })
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def run(args) -> int:
    from ..io import atomic_write_bytes
    from ..spaces import get_space

    n = _count(args.n, "--n")
    if n < 1:
        raise DesignspaceError(f"--n must be >= 1, got {args.n}")
    bands = {k: parse_band(getattr(args, k), f"--{k}") for k in ("flops", "params", "acts")}
    fmt = args.format or ("parquet" if args.out and args.out.endswith(".parquet") else "jsonl")
    if fmt == "parquet" and not args.out:
        raise DesignspaceError("--format parquet needs --out FILE")
    frame = {}
    for key, what in (("res", "resolution"), ("classes", "num_classes"), ("in_channels", "in_channels")):
        value = getattr(args, key)
        if value is not None:
            if value < 1:
                raise DesignspaceError(f"--{key.replace('_', '-')} must be >= 1, got {value}")
            frame[what] = value
    if args.stem:
        frame["stem"] = args.stem
    space = get_space(args.space, **frame)
    max_draws = None if args.max_draws is None else _count(args.max_draws, "--max-draws")
    samples = space.sample(n, seed=args.seed, max_draws=max_draws, **bands)
    if fmt == "parquet":
        atomic_write_bytes(args.out, samples_to_parquet_bytes(samples))
    else:
        text = "".join(json.dumps(s.to_dict()) + "\n" for s in samples)
        if args.out:
            atomic_write_bytes(args.out, text.encode("utf-8"))
        else:
            sys.stdout.write(text)
    if args.out:
        print(f"wrote {len(samples)} samples of {space.name} to {args.out}", file=sys.stderr)
    return 0


def register(sub) -> None:
    p = sub.add_parser("sample", help="sample models from a design space inside complexity bands",
                       description="Sample N distinct models from a design space (a built-in name or a YAML file) "
                                   "inside flops/params/acts bands. Numbers accept 400e6, 400M, 0.4G; a band is LO:HI "
                                   "with either side open.")
    p.add_argument("space", help="design space name (see `designspace spaces`) or a YAML space file")
    p.add_argument("--n", required=True, help="number of models")
    p.add_argument("--flops", help="flops band LO:HI (multiply-adds), e.g. 360M:400M")
    p.add_argument("--params", help="parameter band LO:HI, e.g. :6M")
    p.add_argument("--acts", help="activation band LO:HI")
    p.add_argument("--res", type=int, help="input resolution (default 224)")
    p.add_argument("--classes", type=int, help="number of classes (default 1000)")
    p.add_argument("--in-channels", type=int, help="input channels (default 3)")
    p.add_argument("--stem", choices=("simple", "resnet", "cifar"), help="stem type (default simple)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--max-draws", help="candidate budget before giving up (default: the space's, 1e6)")
    p.add_argument("--out", help="output file (default: stdout)")
    p.add_argument("--format", choices=FORMATS, help="jsonl (default) or parquet (needs pyarrow and --out)")
    p.set_defaults(func=run)
