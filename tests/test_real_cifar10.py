"""The real CIFAR-10 script runs end to end (at smoke scale, on a generated archive in the
class-folder layout) and reports every run and every claim."""

import os

import pytest

from experiments import fake_data
from experiments.real_cifar10 import main

pytestmark = pytest.mark.slow  # trains models or runs studies; `pytest -m "not slow"` skips it


def test_real_cifar10_script_writes_table_claims_and_figure(tmp_path):
    fake_data.write_class_folders(
        tmp_path / "data", [f"c{i}" for i in range(10)], 20, 7, image_format="JPEG", archive_name="cifar10-jpeg.tar.gz"
    )
    args = ["--data-dir", str(tmp_path / "data"), "--results", str(tmp_path / "results"),
            "--out", str(tmp_path / "out"), "--scale", "smoke"]
    text = main(args)
    assert "real CIFAR-10 (JPEG re-encoded)" in text and "500 training images per class" in text
    runs = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| run ")]
    assert len(runs) == 13 and not any("not run" in line for line in runs)
    for name in ("SGD+Layca rho(0)=3^-3 |", "SGD+Layca rho(0)=3^-3 alpha=-0.6", "SGD lr=3^0 |",
                 "RMSprop (3^-6)", "RMSprop+Layca (3^-3)"):
        assert f"| {name}" in text, name
    for claim in ("1. *Layca at rho(0) = 3^-3", "2. *Higher and more uniform", "3. *SGD rotates little",
                  "4. *The adaptive method with Layca"):
        assert claim in text, claim
    assert sorted(os.listdir(tmp_path / "out")) == ["real_cifar10.md", "real_cifar10_curves.png"]
    assert (tmp_path / "out" / "real_cifar10.md").read_text().strip() == text
    assert main([*args, "--report-only"]) == text
