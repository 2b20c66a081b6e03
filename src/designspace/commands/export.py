"""`designspace export NAME_OR_SPEC [--onnx FILE] [--state-dict FILE] [--res R] [--classes K] [--checkpoint FILE]`.

Writes a model as ONNX (batch dimension dynamic) and/or as our checkpoint format
(state dict + embedded spec; `designspace.load_model` reads it back).
NAME_OR_SPEC is a zoo name, a JSON/YAML spec file, or a checkpoint written by
designspace (its spec is embedded). Weights come from --checkpoint (designspace,
pycls, torchvision or timm; detected) or are freshly initialised.

    designspace export RegNetX-400MF --checkpoint regnet_x_400mf.pth --onnx x400.onnx --verify
    designspace export my_spec.yaml --classes 10 --res 32 --state-dict model.pt
"""
from __future__ import annotations

import io
import os
import sys
import warnings

from ..errors import DesignspaceError

ONNX_OPSET = 17


def _is_torch_zip(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(2) == b"PK"
    except OSError:
        return False


def build_for_export(name_or_path: str, num_classes=None, checkpoint=None, pretrained_format="auto",
                     rounding=None, bgr_to_rgb=False, reset_classifier=False):
    """The model to export: from a designspace checkpoint, a spec file or a zoo name."""
    from ..checkpoint import read_checkpoint
    from ..registry import create_model
    from .info import resolve_spec

    if os.path.isfile(name_or_path) and _is_torch_zip(name_or_path):
        name = read_checkpoint(name_or_path)[0]
        checkpoint = checkpoint or name_or_path
    elif os.path.exists(name_or_path) or name_or_path.endswith((".json", ".yaml", ".yml")):
        name = resolve_spec(name_or_path)
    else:
        name = name_or_path
    return create_model(name, num_classes=num_classes, checkpoint=checkpoint, pretrained_format=pretrained_format,
                        rounding=rounding, bgr_to_rgb=bgr_to_rgb, reset_classifier=reset_classifier)


def onnx_bytes(model, resolution: int, opset: int = ONNX_OPSET) -> bytes:
    """The ONNX serialization of `model` (eval mode) for (N, C, R, R) input, N dynamic."""
    import torch

    try:
        import onnx  # noqa: F401  (the exporter needs it)
    except ImportError:
        raise DesignspaceError("ONNX export needs the 'onnx' package (pip install onnx)") from None
    model = model.eval()
    example = torch.randn(1, model.spec.in_channels, resolution, resolution)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated but needs no onnxscript; its output is checked below.
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example,), buf, dynamo=False, opset_version=opset, input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    return buf.getvalue()


def run_onnx(data: bytes, inputs):
    """Outputs of an ONNX graph: onnxruntime if installed, else onnx's reference evaluator."""
    try:
        import onnxruntime as ort
    except ImportError:
        try:
            from onnx.reference import ReferenceEvaluator
        except ImportError:
            raise DesignspaceError("--verify needs onnxruntime or the onnx package") from None
        return ReferenceEvaluator(data).run(None, {"input": inputs})[0], "onnx reference evaluator"
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return session.run(None, {"input": inputs})[0], "onnxruntime"


def verify_onnx(model, data: bytes, resolution: int, batch: int = 2, seed: int = 0) -> tuple[float, str]:
    """Max abs difference between PyTorch and the ONNX graph on one random batch, and the runtime used."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, model.spec.in_channels, resolution, resolution, generator=gen)
    with torch.no_grad():
        expected = model.eval()(x).numpy()
    got, runtime = run_onnx(data, x.numpy())
    return float(abs(got - expected).max()), runtime


def run(args) -> int:
    from ..checkpoint import save_model
    from ..io import atomic_write_bytes

    if not args.onnx and not args.state_dict:
        raise DesignspaceError("nothing to write: give --onnx FILE and/or --state-dict FILE")
    if args.res is not None and args.res < 1:
        raise DesignspaceError(f"--res must be >= 1, got {args.res}")
    if args.classes is not None and args.classes < 1:
        raise DesignspaceError(f"--classes must be >= 1, got {args.classes}")
    model = build_for_export(args.model, args.classes, args.checkpoint, args.format, args.rounding, args.bgr_to_rgb,
                             args.reset_classifier)
    model.eval()
    res = args.res or (32 if model.spec.stem == "cifar" else 224)
    # Everything is built and checked before the first file is written.
    data = onnx_bytes(model, res, args.opset) if args.onnx else None
    if data is not None and args.verify:
        diff, runtime = verify_onnx(model, data, res)
        print(f"{runtime}: max abs difference to PyTorch {diff:.3g}")
        if not diff <= 1e-4:
            print(f"designspace export: ONNX outputs differ from PyTorch by {diff:.3g} (> 1e-4); not written",
                  file=sys.stderr)
            return 1
    if args.state_dict:
        save_model(model, args.state_dict, meta={"source": args.model})
        print(f"wrote {args.state_dict}")
    if data is not None:
        atomic_write_bytes(args.onnx, data)
        print(f"wrote {args.onnx} ({res}x{res} input, opset {args.opset})")
    return 0


def register(sub) -> None:
    p = sub.add_parser("export", help="write a model as ONNX and/or a designspace checkpoint",
                       description="Export a zoo model, spec file or designspace checkpoint to ONNX and/or "
                                   "our checkpoint format (state dict with the spec embedded).")
    p.add_argument("model", help="zoo name (RegNetX-400MF), JSON/YAML spec file, or designspace checkpoint")
    p.add_argument("--onnx", metavar="FILE", help="write an ONNX graph (dynamic batch)")
    p.add_argument("--state-dict", metavar="FILE", help="write a designspace checkpoint (spec embedded)")
    p.add_argument("--res", type=int, help="input resolution of the ONNX graph (default 224; 32 for cifar stems)")
    p.add_argument("--classes", type=int, help="number of classes (default: the spec's)")
    p.add_argument("--checkpoint", metavar="FILE", help="weights to load (designspace, pycls, torchvision or timm)")
    p.add_argument("--format", default="auto", choices=("auto", "designspace", "pycls", "torchvision", "timm"),
                   help="library that wrote --checkpoint (default: detected from its keys)")
    p.add_argument("--rounding", choices=("pycls", "torchvision"),
                   help="width rounding of a zoo model (default: the one --checkpoint fits)")
    p.add_argument("--bgr-to-rgb", action="store_true",
                   help="reverse the stem's input channels (pycls's released weights expect BGR input)")
    p.add_argument("--reset-classifier", action="store_true",
                   help="start a new classifier instead of the checkpoint's (with --classes)")
    p.add_argument("--opset", type=int, default=ONNX_OPSET, help=f"ONNX opset (default {ONNX_OPSET})")
    p.add_argument("--verify", action="store_true",
                   help="run the ONNX graph (onnxruntime, else onnx's reference evaluator) and compare with PyTorch")
    p.set_defaults(func=run)
