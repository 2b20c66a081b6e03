"""designspace: design network design spaces (after Radosavovic et al., CVPR 2020).

    >>> from designspace import get_spec, complexity, build_model
    >>> complexity(get_spec("RegNetX-400MF"))["flops"]
    397678568
"""
from .checkpoint import load_model, save_model
from .complexity import complexity
from .errors import DesignspaceError, SpecError, UnknownNameError
from .models import build_model
from .regnet import regnet_spec
from .registry import create_model, list_models
from .spec import NetSpec, StageSpec
from .specfile import load_spec_file
from .zoo import get_spec

__version__ = "0.1.0"

__all__ = ["NetSpec", "StageSpec", "load_spec_file", "complexity", "build_model", "regnet_spec", "get_spec",
           "DesignspaceError", "SpecError", "UnknownNameError", "create_model", "list_models", "save_model", "load_model",
           "__version__"]
