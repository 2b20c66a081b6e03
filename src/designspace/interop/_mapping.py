"""Key mapping with shape checks: one foreign state dict -> ours, all or nothing.

A `Layout` describes how one library names the parts of a network; `rename`
turns a foreign key into ours (or None when the key has no counterpart), and
`remap` checks every key and shape against the target model, collecting every
problem before raising one CheckpointMismatchError that names them and carries
the mismatched keys as data. A state dict is never loaded partially: either each
of our tensors gets a foreign tensor of the same shape, or nothing is loaded.

    >>> layout = Layout("demo", r"s(?P<stage>\\d+)\\.b(?P<block>\\d+)\\.(?P<part>.+)", 1, {"f.a": "conv_a"}, {})
    >>> layout.rename("s1.b2.f.a.weight")
    'stage1.block2.conv_a.weight'
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import CheckpointMismatchError

# Parameter and buffer names of convs, BNs and linears: identical in every library.
PARAM_NAMES = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
_PARAM_RE = re.compile(r"^(?P<module>.+)\.(?P<param>" + "|".join(PARAM_NAMES) + r")$")
# The BN step counter carries no weights and is absent from some old checkpoints.
OPTIONAL_SUFFIX = ".num_batches_tracked"
_MAX_LISTED = 3


@dataclass(frozen=True)
class Layout:
    """One library's module naming for one network family.

    `block_pattern` matches a module path of a block part, with groups `stage`,
    `block` (indices as the library counts them, from `block_base`) and `part`.
    `block_parts` maps the library's part name to ours; `other_parts` maps whole
    module paths outside the stages (stem, head).
    """

    name: str
    block_pattern: str
    block_base: int
    block_parts: dict
    other_parts: dict
    stage_base: int = 1

    def rename(self, key: str) -> str | None:
        """Our key for a foreign `key`, or None when this layout has no counterpart."""
        m = _PARAM_RE.match(key)
        if not m:
            return None
        module, param = m.group("module"), m.group("param")
        if module in self.other_parts:
            return f"{self.other_parts[module]}.{param}"
        b = re.fullmatch(self.block_pattern, module)
        if not b or b.group("part") not in self.block_parts:
            return None
        stage = int(b.group("stage")) - self.stage_base + 1
        block = int(b.group("block")) - self.block_base + 1
        if stage < 1 or block < 1:
            return None
        return f"stage{stage}.block{block}.{self.block_parts[b.group('part')]}.{param}"

    def coverage(self, keys) -> int:
        """How many of `keys` this layout understands (used to tell libraries apart)."""
        return sum(self.rename(k) is not None for k in keys)


def _shape(t) -> tuple:
    return tuple(getattr(t, "shape", ()))


def _fmt_shape(shape) -> str:
    return str(tuple(shape))


def remap(state_dict: dict, target: dict, rename, source: str, model_name: str, keep=()) -> dict:
    """Foreign `state_dict` renamed to the keys of `target` (our state dict), checked.

    `rename(key) -> our key | None`. Raises one CheckpointMismatchError listing the first
    problems (unexpected keys, missing keys, shape mismatches) and how many there are;
    its `keys` are our keys that got no fitting tensor, its `unexpected` the checkpoint
    keys with no counterpart. Missing `num_batches_tracked` buffers are filled from
    `target`. Our keys starting with a prefix in `keep` (asked for explicitly, e.g. a
    new classifier) keep `target`'s values and the checkpoint's counterparts are dropped.
    """
    keep = tuple(keep)
    out, where = {}, {}
    problems, mismatched, unexpected = [], [], []
    named = set()  # keys a problem already names: no second "missing" line for them
    for key, tensor in state_dict.items():
        ours = rename(key)
        if ours is not None and keep and ours.startswith(keep):
            continue
        if ours is None or ours not in target:
            problems.append(f"unexpected key {key!r} (no counterpart in {model_name})")
            unexpected.append(key)
            named.add(key)
            continue
        if ours in out:
            problems.append(f"keys {where[ours]!r} and {key!r} both map to {ours!r}")
            mismatched.append(ours)
            named.update((where[ours], key, ours))
            continue
        want = _shape(target[ours])
        if _shape(tensor) != want:
            problems.append(f"shape of {key!r} is {_fmt_shape(_shape(tensor))}, {model_name} needs "
                            f"{_fmt_shape(want)}" + (f" for {ours!r}" if ours != key else ""))
            mismatched.append(ours)
            named.update((key, ours))
            continue
        out[ours] = tensor
        where[ours] = key
    for key in target:
        if key not in out:
            if key.endswith(OPTIONAL_SUFFIX) or (keep and key.startswith(keep)):
                out[key] = target[key].clone()
            elif key not in named:
                problems.append(f"missing key {key!r} (nothing in the checkpoint maps to it)")
                mismatched.append(key)
    if problems:
        more = f"; and {len(problems) - _MAX_LISTED} more problem(s)" if len(problems) > _MAX_LISTED else ""
        raise CheckpointMismatchError(f"{source} does not fit {model_name}, nothing loaded: "
                                      + "; ".join(problems[:_MAX_LISTED]) + more,
                                      keys=dict.fromkeys(mismatched), unexpected=unexpected)
    return out
