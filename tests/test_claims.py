"""The papers' claims as data (`experiments/claims.py`) and the table of scales that
judges them at each scale (`experiments/scale_table.py`), from results files written here."""

import numpy as np

from experiments import claims, scale_table
from experiments.claims import CLAIMS, NOT_TESTABLE, Row
from experiments.recipes import RunConfig
from tests.run_results import made_curves, write_made_result


def _row(optimizer, power, test, rotation, alpha=0.0, training=1.0):
    return Row(RunConfig("C10-CNN1", optimizer, learning_rate=3.0**power, alpha=alpha), test, test, training, rotation, 20)


def test_claims_are_numbered_once_and_each_report_line_starts_with_its_number_and_statement():
    assert [claim.number for claim in CLAIMS] == list(range(1, len(CLAIMS) + 1))
    table_rows = [_row("layca", -3, 0.45, (0.5, 0.6, 0.55)), _row("layca", -4, 0.40, (0.2, 0.2, 0.2)),
                  _row("sgd", -1, 0.38, (0.6, 0.1, 0.05)), _row("lars", -3, 0.448, (0.5, 0.5, 0.5))]
    found = claims.findings(claims.Runs.of(table_rows))
    assert set(found) == {1, 2, 3, 6, 7, 8}
    lines = claims.report(table_rows).split("\n")
    assert lines == [claims.BY_NUMBER[number].line(finding) for number, finding in found.items()]
    assert lines[0].startswith(f"1. *{CLAIMS[0].statement}*: holds: ")
    assert found[1].verdict == "holds" and found[6].verdict == "holds"  # 0.2 point from Layca: as well
    assert found[2].verdict == NOT_TESTABLE and found[7].verdict == NOT_TESTABLE and found[8].verdict == NOT_TESTABLE
    assert found[3].verdict == "worse: holds; rotates less in 2 of 3 layers"  # SGD's first layer turns further


def _scale_runs(results_dir, scale, task, layca_test, sgd_test, sgd_rotation):
    """SGD+Layca at 3^-3 and SGD at 3^-1 of `task` at `scale`, both fitted."""
    for config, test, rotation in ((RunConfig(task, "layca"), layca_test, (0.5, 0.95, 0.9)),
                                   (RunConfig(task, "sgd", learning_rate=3.0**-1), sgd_test, sgd_rotation)):
        write_made_result(results_dir, scale, config, test_accuracy=test, train_accuracy=0.995, layers=3,
                          curves=made_curves([[0.1, 0.2, 0.3], rotation], [1.0, 2.0], [100, 200]),
                          val_accuracy=(test, test))


def test_the_scales_table_reads_each_scale_and_marks_the_verdicts_that_changed(tmp_path):
    _scale_runs(tmp_path, "cpu_fit", "C10-CNN1-fit", 0.40, 0.35, (0.2, 0.3, 0.1))  # SGD rotates less everywhere
    _scale_runs(tmp_path, "cpu_papers", "C10-CNN1", 0.70, 0.59, (0.8, 0.5, 0.2))  # not in its first layer
    text = scale_table.report(str(tmp_path), (("cpu_fit", "C10-CNN1-fit"), ("cpu_papers", "C10-CNN1")))
    assert "| `cpu_fit` | / 8 | 2,000 | 200 | 2 (2) | 99.50% | 40.00% | 0.50 / 0.95 / 0.90 (0.90; 2 of 3 >= 0.9) |" in text
    assert "| `cpu_papers` | / 8 | 45,000 | 200 | 2 (2) | 99.50% | 70.00% |" in text
    assert (f"| 3. {CLAIMS[2].statement} | holds | **worse: holds; rotates less in 2 of 3 layers** (changed) |"
            in text)
    # Not testable at either scale: never marked as changed.
    assert f"| 1. {CLAIMS[0].statement} | {NOT_TESTABLE} | {NOT_TESTABLE} |" in text
    assert f"| 5. {CLAIMS[4].statement} | no run | no run |" in text
