"""`designspace info NAME_OR_SPEC [--res R] [--classes K] [--json]` and `--list`.

    designspace info RegNetX-400MF
    designspace info my_spec.yaml --res 32 --classes 10 --json
"""
from __future__ import annotations

import json
import os
from dataclasses import replace

from ..complexity import complexity, out_size
from ..errors import DesignspaceError
from ..specfile import load_spec_file
from ..units import format_count


def resolve_spec(name_or_path: str, num_classes=None, in_channels=None):
    """A zoo name or a spec file (JSON/YAML) -> NetSpec."""
    from ..zoo import get_spec

    if os.path.exists(name_or_path) or name_or_path.endswith((".json", ".yaml", ".yml")):
        spec = load_spec_file(name_or_path)
    else:
        spec = get_spec(name_or_path)
    changes = {}
    if num_classes is not None:
        changes["num_classes"] = num_classes
    if in_channels is not None:
        changes["in_channels"] = in_channels
    return replace(spec, **changes) if changes else spec


def describe(spec, resolution: int) -> dict:
    """The JSON view of a spec that `designspace info --json` prints (complexity: docs/design.md, Complexity)."""
    cx = complexity(spec, resolution)
    bs = sorted({s.bottleneck_ratio for s in spec.stages})
    ses = sorted({s.se_ratio for s in spec.stages})
    return {
        "name": spec.name,
        **cx,
        "depths": spec.depths,
        "widths": spec.widths,
        "group_widths": spec.group_widths,
        "bottleneck": bs[0] if len(bs) == 1 else spec.bottleneck_ratios,
        "se_ratio": ses[0] if len(ses) == 1 else [s.se_ratio for s in spec.stages],
        "stem_width": spec.stem_width,
        "resolution": resolution,
        "stem": spec.stem,
        "strides": spec.strides,
        "blocks": [s.block for s in spec.stages],
        "num_classes": spec.num_classes,
        "in_channels": spec.in_channels,
        "spec": spec.to_dict(),
    }


def stage_table(spec, resolution: int) -> str:
    h = out_size(resolution, 3 if spec.stem != "resnet" else 7, 1 if spec.stem == "cifar" else 2)
    if spec.stem == "resnet":
        h = out_size(h, 3, 2)
    rows = [("stage", "block", "depth", "width", "group_w", "groups", "b", "stride", "out_res")]
    rows.append(("stem", spec.stem, "1", str(spec.stem_width), "-", "-", "-", "1" if spec.stem == "cifar" else "2", f"{h}x{h}"))
    for i, s in enumerate(spec.stages):
        h = out_size(h, 3, s.stride)
        xy = s.block in ("X", "Y")
        rows.append((str(i + 1), s.block + (f"+SE{s.se_ratio:g}" if s.se_ratio else ""), str(s.depth), str(s.width),
                     str(s.group_width) if xy else "-", str(s.groups) if xy else "-",
                     f"{s.bottleneck_ratio:g}" if xy else "-", str(s.stride), f"{h}x{h}"))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    return "\n".join("  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in rows)


def run(args) -> int:
    from ..zoo import MODELS, get_spec

    if args.list:
        for name in MODELS:
            spec = get_spec(name)
            cx = complexity(spec, 32 if spec.stem == "cifar" else 224)
            print(f"{name:20s} flops {format_count(cx['flops']):>7s}  params {format_count(cx['params']):>7s}  acts {format_count(cx['acts']):>7s}")
        return 0
    if not args.model:
        raise DesignspaceError("give a model name or a spec file (or --list)")
    if args.res is not None and args.res < 1:
        raise DesignspaceError(f"--res must be >= 1, got {args.res}")
    if args.classes is not None and args.classes < 1:
        raise DesignspaceError(f"--classes must be >= 1, got {args.classes}")
    spec = resolve_spec(args.model, args.classes, args.in_channels)
    res = args.res or (32 if spec.stem == "cifar" else 224)
    info = describe(spec, res)
    if args.json:
        print(json.dumps(info))
        return 0
    print(f"{spec.name or args.model}  ({res}x{res} input, {spec.num_classes} classes, {spec.in_channels} input channels)")
    print(stage_table(spec, res))
    print(f"flops {info['flops']:,} ({format_count(info['flops'])})   params {info['params']:,} ({format_count(info['params'])})"
          f"   acts {info['acts']:,} ({format_count(info['acts'])})")
    return 0


def register(sub) -> None:
    p = sub.add_parser("info", help="a model's stages and exact complexity",
                       description="Show a zoo model's or spec file's stages and exact flops/params/acts.")
    p.add_argument("model", nargs="?", help="zoo name (RegNetX-400MF, regnetx_400mf) or a JSON/YAML spec file")
    p.add_argument("--res", type=int, help="input resolution (default 224; 32 for cifar stems)")
    p.add_argument("--classes", type=int, help="number of classes (default: the spec's)")
    p.add_argument("--in-channels", type=int, help="input channels (default: the spec's)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--list", action="store_true", help="list the zoo")
    p.set_defaults(func=run)
