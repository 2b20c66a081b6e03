"""`designspace fit W1 W2 ...` or `designspace fit --spec FILE`: the quantized linear fit (docs/design.md, Analysis).

    designspace fit 24 56 56 152 152 152 368 368
    designspace fit 32,64,64,160 --json
    designspace fit --spec my_anynet.yaml

Prints w0, wa, wm, e_fit = mean_j |log(w_j / u'_j)| and the fitted stage widths and depths.
"""
from __future__ import annotations

import json


def _parse_widths(tokens) -> list[float]:
    from ..errors import DesignspaceError

    widths = []
    for token in tokens:
        for part in str(token).replace(",", " ").split():
            try:
                widths.append(float(part))
            except ValueError:
                raise DesignspaceError(f"width {part!r} is not a number") from None
    return widths


def run(args) -> int:
    from ..analysis.fit import fit_quantized_linear
    from ..errors import DesignspaceError

    if args.spec and args.widths:
        raise DesignspaceError("give block widths or --spec, not both")
    if args.spec:
        from .info import resolve_spec

        widths = resolve_spec(args.spec).block_widths()
    elif args.widths:
        widths = _parse_widths(args.widths)
    else:
        raise DesignspaceError("give per-block widths (designspace fit 24 56 56 152) or --spec FILE")
    fit = fit_quantized_linear(widths)
    if args.json:
        print(json.dumps({"widths": [int(w) if float(w).is_integer() else w for w in widths], **fit.to_dict()}))
        return 0
    print(f"w0 {fit.w0}  wa {fit.wa:.3f}  wm {fit.wm:.4f}  e_fit {fit.e_fit:.5f}")
    print(f"fitted stage widths {' '.join(map(str, fit.stage_widths))}  depths {' '.join(map(str, fit.stage_depths))}")
    print(f"given  block widths {' '.join(f'{w:g}' for w in widths)}")
    print(f"fitted block widths {' '.join(map(str, fit.block_widths))}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("fit", help="quantized linear fit (w0, wa, wm, e_fit) of per-block widths",
                       description="Grid-search the (w0, wa, wm) whose quantized linear widths best match the given "
                                   "per-block widths; print them with e_fit and the fitted stages.")
    p.add_argument("widths", nargs="*", help="per-block widths, space or comma separated")
    p.add_argument("--spec", help="take the per-block widths of a zoo model or spec file instead")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)
