"""Errors that mean "the user asked for something wrong".

The CLI turns any `DesignspaceError` into one line on stderr and exit status 2;
anything else is a bug and keeps its traceback.
"""


class DesignspaceError(ValueError):
    """A user mistake: bad spec, unknown name, malformed file, missing data."""


class SpecError(DesignspaceError):
    """A network spec that breaks a rule; the message names the field and the rule."""


class UnknownNameError(DesignspaceError):
    """An unknown model, space, data set or runner; the message suggests close names."""

    def __init__(self, kind: str, name: str, known):
        import difflib

        close = difflib.get_close_matches(str(name).lower(), [k.lower() for k in known], n=3, cutoff=0.5)
        lookup = {k.lower(): k for k in known}
        hint = f"; did you mean {', '.join(lookup[c] for c in close)}?" if close else ""
        super().__init__(f"unknown {kind} {name!r}{hint}")
        self.name = name


class CheckpointMismatchError(DesignspaceError):
    """A state dict that does not fit a model; nothing was loaded.

    `keys`: the model's keys the checkpoint gives no fitting tensor (missing, wrong
    shape, or mapped from two checkpoint keys); `unexpected`: checkpoint keys with no
    counterpart in the model. Callers decide on these, not on the message text.
    """

    def __init__(self, message: str, keys=(), unexpected=()):
        super().__init__(message)
        self.keys = tuple(keys)
        self.unexpected = tuple(unexpected)

    def involves(self, prefix: str) -> bool:
        """True when one of the model's mismatched keys starts with `prefix` (e.g. "head.fc.")."""
        return any(k.startswith(prefix) for k in self.keys)

    def with_note(self, note: str) -> "CheckpointMismatchError":
        """The same mismatch, its message followed by " (note)"."""
        return CheckpointMismatchError(f"{self} ({note})", self.keys, self.unexpected)


def check_keys(data, cls, what: str, error=DesignspaceError) -> None:
    """`data` must be a mapping whose keys are fields of the dataclass `cls`; else one line naming them."""
    from dataclasses import fields

    if not isinstance(data, dict):
        raise error(f"{what} must be a mapping, got {type(data).__name__}")
    known = sorted(f.name for f in fields(cls))
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise error(f"{what}: unknown key(s) {', '.join(map(str, unknown))} (known: {', '.join(known)})")
