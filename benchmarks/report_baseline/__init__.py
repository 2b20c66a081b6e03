"""The report's code path before its speed-up, kept as the baseline of benchmarks/bench_report.py.

    >>> from report_baseline.report import write_report      # with benchmarks/ on sys.path
    >>> write_report(["a.csv", "b.csv"], "baseline.html")

analyze, fit, plots, report, stats and table are copies of src/designspace/analysis/ as they were
before the speed-up (commit 17f7f30 plus the calibration section and the seed-noise finding), with
relative imports made absolute; the rest of the package (errors, regnet, calibration, complexity,
...) is shared. Only loading and showing calibrations, which tables never carry, are the package's
own. Nothing but the benchmark imports this.
"""
