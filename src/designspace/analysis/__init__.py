"""Analysis of sweep results: EDFs, bootstrap, KS, fits, complexity relations and the HTML report.

    >>> from designspace.analysis import load_results, summarize, write_report
    >>> write_report(["runs/anynetx_a", "runs/anynetx_b"], "report.html", metric="best", normalize="flops")

Heavy parts (matplotlib, the sweep store) are imported only when used.
"""
from .analyze import summarize
from .fit import LinearFit, fit_quantized_linear
from .report import write_report
from .table import load_results, model_metrics

__all__ = ["load_results", "model_metrics", "summarize", "write_report", "fit_quantized_linear", "LinearFit"]
