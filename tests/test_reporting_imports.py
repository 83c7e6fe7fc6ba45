"""Reporting (figures, tables, the real-data reports, the Table 1 column, the seeds'
aggregates) reads results files and study definitions only: importing it imports none of
the training machinery."""

import subprocess
import sys

REPORTING = ("experiments.figures", "experiments.real_cifar10", "experiments.real_mnist", "experiments.reproduce",
             "experiments.replicates", "experiments.seed_verdicts", "experiments.studies", "experiments.claims",
             "experiments.scale_table", "experiments.table1", "experiments.drawing")
TRAINING = ("experiments.runner", "experiments.sharding", "experiments.parallel", "experiments.data",
            "experiments.models", "experiments.recording")


def test_importing_reporting_imports_no_training():
    code = (f"import sys\nfor name in {REPORTING!r}: __import__(name)\n"
            f"print([name for name in {TRAINING!r} if name in sys.modules])")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert found.returncode == 0, found.stderr[-2000:]
    assert found.stdout.strip().splitlines()[-1] == "[]"
