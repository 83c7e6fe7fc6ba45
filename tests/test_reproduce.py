"""`python -m experiments reproduce TASK`: a task's Table 1 column run (resumable) and
printed beside the published one with what each run cost; and the GPU check, at the
smoke scale on the CPU."""

import os
import re
import subprocess

import numpy as np
import pytest

from experiments.__main__ import main
from experiments.table1 import PUBLISHED
from experiments.results import read_result, run_paths
from experiments.studies import study_configs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _printed_column(text):
    """{row name: (ours, published)} of the printed table ('-' as None)."""
    rows = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        match = len(cells) == 2 and re.fullmatch(r"(\S+) \(([-+0-9.]+)\)", cells[1])
        if match:
            rows[cells[0]] = (None if match[1] == "-" else float(match[1]), float(match[2]))
    return rows


def test_reproduce_runs_the_column_resumably_and_prints_it_beside_the_published_one(tmp_path, smoke_data, capsys):
    arguments = ["reproduce", "C10-CNN1", "--scale", "smoke", "--data-dir", smoke_data, "--results", str(tmp_path),
                 "--jobs", "1"]
    assert main(arguments) == 0
    configs = study_configs("table1", ["C10-CNN1"], "smoke")
    assert [c.label for c in configs[:2]] == ["SGD+Layca rho(0)=3^-3", "SGD lr=3^-1"]  # the comparison first
    accuracy = [100 * read_result(run_paths(str(tmp_path), "smoke", c)["result"]).test_accuracy for c in configs]
    out = capsys.readouterr().out
    column = _printed_column(out)
    assert list(column.values())[0] == (pytest.approx(accuracy[0], abs=0.005), PUBLISHED["C10-CNN1"][0])
    # Rows in PUBLISHED_ROWS order: alpha -0.6, +0.6, rho 3^-5, 3^-4, SGD, SGD+L2, adaptive, adaptive+Layca.
    run_of_row = [2, 3, 4, 5, 1, 6, 7, 8]
    ours = np.array([value for value, _ in list(column.values())[1:]])
    np.testing.assert_allclose(ours, [accuracy[i] - accuracy[0] for i in run_of_row], atol=0.006)
    costs = [line for line in out.splitlines() if "| finished |" in line]
    assert len(costs) == len(configs) and all("| finished | 3 | 6 |" in line for line in costs)
    assert main(arguments) == 0  # resumed: every run read, none run again
    assert capsys.readouterr().out.count("finished earlier, skipped") == len(configs)


@pytest.mark.slow
def test_the_gpu_check_stops_at_its_time_limit_resumes_and_reports_on_the_cpu_with_jax(tmp_path, smoke_data):
    environment = {**os.environ, "KERAS_BACKEND": "jax", "CUDA_VISIBLE_DEVICES": "-1"}
    command = ["bash", os.path.join(ROOT, "experiments", "gpu_check.sh"), smoke_data]
    options = ["--scale", "smoke", "--results", str(tmp_path)]
    stopped = subprocess.run([*command, "0.05", *options], env=environment, capture_output=True, text=True,
                             timeout=600, cwd=ROOT)
    assert stopped.returncode == 0, stopped.stderr[-2000:]
    assert "time limit reached" in stopped.stdout
    finished = subprocess.run([*command, "10", *options], env=environment, capture_output=True, text=True,
                              timeout=900, cwd=ROOT)
    assert finished.returncode == 0, finished.stderr[-2000:]
    report = (tmp_path / "smoke" / "gpu_check_C10-CNN1.md").read_text()
    assert "- GPUs: none (CPU only)" in report and "Keras backend: jax" in report
    assert report.count("| finished | 3 | 6 |") == len(study_configs("table1", ["C10-CNN1"], "smoke"))
