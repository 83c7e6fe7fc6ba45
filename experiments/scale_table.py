"""The scales of C10-CNN1 on the real CIFAR-10 side by side: what each run length and width
reached, and the verdict of each of the papers' claims at each (issue 42).

The papers' claim is about runs whose kernels reach cosine distances near 1 (extended paper,
abstract and Section 4). `cpu_fit` keeps their regime on 2,000 images and 3,200 steps;
`cpu_papers` and `cpu_papers_w4` keep their 35,200 steps on all 45,000 images at widths / 8
and / 4; `full` is the papers' network on a GPU (`docs/regime.md`). This module reads the
same runs as each scale's report (`experiments/real_cifar10.py`, `report_configs`), judges
them with the same claims (`experiments/claims.py`), and writes `scales_<task>.md`: one
table of the scales (width, images, steps, SGD+Layca at 3^-3's fit, accuracy and rotation,
the best run), and one of the claims' verdicts per scale, each marked where it differs from
the first scale's. Reporting only: it reads results files and never imports training.

    python -m experiments.scale_table --results notebooks/results --out notebooks/figures
"""

import argparse
import os

import numpy as np

from experiments import claims
from experiments.real_cifar10 import report_configs
from experiments.recipes import SCALES, TASKS, RunConfig
from experiments.results import Results

#: The scales compared, in order (the first is the one the others' verdicts are set
#: against), each with its C10-CNN1 task (`real_cifar10.DEFAULT_TASKS`).
COMPARED = (("cpu_fit", "C10-CNN1-fit"), ("cpu_papers", "C10-CNN1"), ("cpu_papers_w4", "C10-CNN1"), ("full", "C10-CNN1"))
#: CIFAR-10's training images less the validation split (`data.prepare`'s 10%).
ALL_TRAINING_IMAGES = 45_000
CLASSES = 10


class ScaleColumn:
    """One scale's runs as the table reads them (`claims.Runs`), the claims' findings, and
    SGD+Layca at 3^-3 (the papers' best configuration) with its results file."""

    def __init__(self, results_dir, scale, task):
        self.scale, self.task = scale, task
        results = Results(results_dir, scale)
        self.runs = claims.Runs.of(claims.rows(results, report_configs(results, task, scale)))
        self.findings = claims.findings(self.runs)
        self.reference = results.get(RunConfig(task, "layca"))

    @property
    def images(self):
        per_class = TASKS[self.task].train_per_class
        return per_class * CLASSES if per_class else ALL_TRAINING_IMAGES

    def summary(self):
        """The row of the scales table."""
        width = SCALES[self.scale].width
        cells = [f"`{self.scale}`", "x 1" if width == 1 else f"/ {1 / width:g}", f"{self.images:,}"]
        reference = self.reference
        if reference is None:
            return cells + ["", f"{len(self.runs.finished)} ({len(self.runs.done)})", "not run", "", "", "", ""]
        final = reference.curves.values[-1]
        first, middle, last = (final[i] for i in claims.first_middle_last(reference.curves.values))
        best = max(self.runs.done, key=lambda row: row.test, default=None)
        return cells + [
            f"{int(reference.curves.steps[-1]):,}",
            f"{len(self.runs.finished)} ({len(self.runs.done)})",
            claims.percent(reference.train_accuracy) or "not measured",
            claims.percent(reference.test_accuracy),
            f"{first:.2f} / {middle:.2f} / {last:.2f} ({np.median(final):.2f}; {np.sum(final >= 0.9)} of {len(final)} >= 0.9)",
            "" if best is None else f"{best.name}, {claims.percent(best.test)}",
        ]


def scales_table(columns):
    lines = ["| scale | width | training images | steps a run (SGD+Layca 3^-3) | runs finished (in the papers' scope) | "
             "SGD+Layca 3^-3: whole training set | test | final rotation first / middle / last (median of the "
             "kernels; kernels at 0.9 or more) | best run in scope |",
             "|---|---|---|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(column.summary()) + " |" for column in columns]
    return "\n".join(lines)


def verdicts_table(columns):
    """Each claim's verdict at each scale; a verdict that differs from the first scale's
    (where both are judged) is in bold."""
    first = columns[0].findings
    lines = ["| claim | " + " | ".join(f"`{column.scale}`" for column in columns) + " |",
             "|---|" + "---|" * len(columns)]
    for claim in claims.CLAIMS:
        cells = []
        for column in columns:
            finding = column.findings.get(claim.number)
            if finding is None:
                cells.append("no run")
                continue
            changed = (column is not columns[0] and claim.number in first and finding.verdict != claims.NOT_TESTABLE
                       and first[claim.number].verdict != claims.NOT_TESTABLE and finding.verdict != first[claim.number].verdict)
            cells.append(f"**{finding.verdict}** (changed)" if changed else finding.verdict)
        lines.append(f"| {claim.number}. {claim.statement} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(results_dir, compared=COMPARED):
    """The text of `scales_<task>.md`."""
    columns = [ScaleColumn(results_dir, scale, task) for scale, task in compared]
    return "\n\n".join([
        "# C10-CNN1 on the real CIFAR-10, scale by scale",
        "Each scale's runs as its report reads them (`experiments/real_cifar10.py`), judged by the same claims "
        "(`experiments/claims.py`) over the runs in the papers' scope (more than "
        f"{100 * claims.SCOPE_TRAIN_ACCURACY:.0f}% on the whole training set). The test accuracies are single runs "
        "from one set of initial weights per scale (the seed spread at `cpu_fit` is in its report).",
        scales_table(columns),
        f"The claims' verdicts; in bold where one differs from `{columns[0].scale}`'s (both judged):",
        verdicts_table(columns),
    ]) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default="results")
    parser.add_argument("--out", default=os.path.join("notebooks", "figures"))
    args = parser.parse_args(argv)
    text = report(args.results)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "scales_C10-CNN1.md")
    with open(path, "w") as f:
        f.write(text)
    print(text)
    print(f"written to {path}")
    return text


if __name__ == "__main__":
    main()
