"""Every figure command draws from smoke-scale results; the results table."""

import matplotlib.image
import numpy as np
import pytest

from experiments.__main__ import main
from experiments.figures import FIGURES, draw
from experiments.results import Results
from experiments.table1 import PUBLISHED, PUBLISHED_ROWS, results_table
from experiments.recipes import RunConfig
from experiments.studies import study_configs
from tests.run_results import copy_run

pytestmark = pytest.mark.slow  # trains models or runs studies; `pytest -m "not slow"` skips it


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figure_command_writes_its_file(name, smoke_results, tmp_path, capsys):
    results_dir, _ = smoke_results
    assert main(["figure", name, "--scale", "smoke", "--results", results_dir, "--out", str(tmp_path)]) == 0
    path = tmp_path / "smoke" / f"{name}.png"
    assert f"figure written to {path}" in capsys.readouterr().out
    image = matplotlib.image.imread(path)
    assert image.shape[0] > 100 and image.std() > 0.01  # a drawing, not a blank page


def test_unknown_figure_is_an_error(tmp_path):
    with pytest.raises(ValueError, match=r"Unknown figure 'nope'.*rotation_grid"):
        draw("nope", str(tmp_path), "smoke", str(tmp_path))


def test_table_lists_published_numbers_beside_ours(smoke_results):
    results_dir, _ = smoke_results
    results = Results(results_dir, "smoke")
    table = results_table(results)
    lines = table.splitlines()
    assert len(lines) == 2 + len(PUBLISHED_ROWS) + 1
    for row, name in enumerate(PUBLISHED_ROWS):
        line = lines[2 + row]
        assert line.startswith(f"| {name}")
        for task, values in PUBLISHED.items():
            published = f"({values[row]:.2f})" if row == 0 else f"({values[row]:+.2f})"
            assert published in line
    # The smoke sgd study ran on C10-CNN1: its row has our number; unrun rows are marked "-".
    sgd = [results.accuracy(config) for config in study_configs("sgd", ["C10-CNN1"], "smoke")]
    assert len(sgd) >= 2 and all(a is not None for a in sgd)
    assert "C10-CNN1" in lines[0] and table.count("- (") > 0


def test_table_differences_are_relative_to_layca_best(tmp_path, smoke_data, smoke_results):
    from experiments.runner import run_one

    best = RunConfig("C10-CNN1", "layca")
    sgd = RunConfig("C10-CNN1", "sgd", learning_rate=3.0**-2)  # run by the smoke sgd study
    copy_run(smoke_results[0], str(tmp_path), "smoke", sgd)
    accuracies = [100 * run_one(c, "smoke", smoke_data, str(tmp_path), printer=lambda line: None).test_accuracy
                  for c in (best, sgd)]
    line = results_table(Results(str(tmp_path), "smoke")).splitlines()
    assert f"| {accuracies[0]:.2f} (88.45)" in line[2]
    assert f"{accuracies[1] - accuracies[0]:+.2f} (-8.77)" in line[2 + PUBLISHED_ROWS.index("SGD, best lr")]
    assert np.isfinite(accuracies).all()


def test_every_figure_names_its_number_in_both_papers():
    from experiments.figures import FIGURES

    assert all(figure.extended or figure.iclr for figure in FIGURES.values())
    assert FIGURES["rotation_grid"].numbers == "extended Fig. 1, ICLR Fig. 2"
    assert FIGURES["mnist_layers"].numbers == "ICLR Fig. 1"
    # One figure per number in each paper.
    for paper in ("extended", "iclr"):
        numbers = [getattr(figure, paper) for figure in FIGURES.values() if getattr(figure, paper)]
        assert len(numbers) == len(set(numbers)), paper


def test_a_figure_draws_the_tasks_it_is_given_from_their_own_results(tmp_path):
    from experiments.results import HISTORY_KEYS
    from tests.run_results import write_made_result

    fitted = {key: np.array([0.95]) for key in HISTORY_KEYS}
    results_dir, empty_dir = tmp_path / "results", tmp_path / "empty"
    for alpha, accuracy in ((0.0, 0.6), (0.6, 0.3)):  # a variant of C10-CNN1: the authors' filter keeps both
        write_made_result(str(results_dir), "cpu_fit", RunConfig("C10-CNN1-fit", "layca", alpha=alpha),
                          test_accuracy=accuracy, history=fitted)
    arguments = ["figure", "lars_curves", "accuracy_vs_alpha_rho", "--tasks", "C10-CNN1-fit", "--scale", "cpu_fit"]
    assert main([*arguments, "--results", str(results_dir), "--out", str(tmp_path / "drawn")]) == 0
    assert main([*arguments, "--results", str(empty_dir), "--out", str(tmp_path / "none")]) == 0
    assert main(["figure", "lars_curves", "--scale", "cpu_fit", "--results", str(empty_dir),
                 "--out", str(tmp_path / "default")]) == 0
    image = {folder: {path.stem: matplotlib.image.imread(path) for path in (tmp_path / folder / "cpu_fit").iterdir()}
             for folder in ("drawn", "none", "default")}
    # The variant's results are read (its points drawn, not "not run"); its one panel per task.
    drawn, none = image["drawn"]["accuracy_vs_alpha_rho"], image["none"]["accuracy_vs_alpha_rho"]
    assert drawn.shape == none.shape and not np.array_equal(drawn, none)
    assert image["drawn"]["lars_curves"].shape[1] * 3 == pytest.approx(image["default"]["lars_curves"].shape[1], rel=0.02)


@pytest.mark.parametrize("arguments, message", [
    (["second_moments", "--tasks", "C10-CNN1", "C10-CNN1-fit"],
     "Figure 'second_moments' draws one task; received ['C10-CNN1', 'C10-CNN1-fit']: give one, e.g. --tasks C10-CNN1."),
    (["alpha_profile", "--tasks", "C10-CNN1"],
     "Figure 'alpha_profile' draws no task, so it takes none; received ['C10-CNN1']: drop --tasks."),
    (["rotation_grid", "--tasks", "C10-CNN3"], "Unknown tasks ['C10-CNN3']; known: ['C10-CNN1', "),
])
def test_tasks_a_figure_cannot_draw_are_refused_with_the_fix(arguments, message, tmp_path, capsys):
    assert main(["figure", *arguments, "--results", str(tmp_path), "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_held_out_curves_show_a_validation_split_evaluated_every_few_epochs(tmp_path):
    """At a scale that validates every `validation_freq` epochs, the epochs between hold
    nan: the held-out accuracy is drawn at the epochs evaluated."""
    from tests.run_results import write_made_result

    def drawn(val_accuracy):
        folder = tmp_path / str(len(list(tmp_path.iterdir())))
        for config in study_configs("adaptive_equivalent", ["C10-CNN1-fit"], "cpu_fit"):
            write_made_result(str(folder), "cpu_fit", config, val_accuracy=val_accuracy)
        assert main(["figure", "adaptive_equivalent_curves", "--tasks", "C10-CNN1-fit", "--scale", "cpu_fit",
                     "--results", str(folder), "--out", str(folder)]) == 0
        return matplotlib.image.imread(folder / "cpu_fit" / "adaptive_equivalent_curves.png")

    nan = float("nan")
    assert not np.array_equal(drawn((nan, 0.3, nan, 0.6)), drawn((nan, nan, nan, nan)))


def test_the_table_sets_a_variant_task_beside_its_paper_task_and_chooses_sgd_by_the_epochs_validated(tmp_path, capsys):
    from tests.run_results import write_made_result

    nan = float("nan")
    write_made_result(str(tmp_path), "cpu_fit", RunConfig("C10-CNN1-fit", "layca"), test_accuracy=0.40)
    # SGD's grid at a scale validating every few epochs: nan between; one run stopped before any.
    for exponent, test, validation in ((-3, 0.25, (nan, 0.26)), (-2, 0.30, (nan, 0.28)), (-4, 0.35, (nan,))):
        write_made_result(str(tmp_path), "cpu_fit", RunConfig("C10-CNN1-fit", "sgd", learning_rate=3.0**exponent),
                          test_accuracy=test, val_accuracy=validation)
    assert main(["table", "--tasks", "C10-CNN1-fit", "--scale", "cpu_fit", "--results", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split("|")[2].strip() == "C10-CNN1-fit"
    assert lines[2].split("|")[2].strip() == "40.00 (88.45)"  # beside C10-CNN1's published number
    assert lines[2 + PUBLISHED_ROWS.index("SGD, best lr")].split("|")[2].strip() == "-10.00 (-8.77)"  # 3^-2: 28% validated
    assert lines[2 + PUBLISHED_ROWS.index("alpha 0.6")].split("|")[2].strip() == "- (-19.78)"


def test_a_task_at_a_scale_of_its_own_is_read_there_and_labelled(tmp_path, capsys):
    from tests.run_results import write_made_result

    write_made_result(str(tmp_path), "cpu_fit", RunConfig("C10-CNN1-fit", "layca"), test_accuracy=0.40)
    write_made_result(str(tmp_path), "cpu_fit_validated_w2", RunConfig("C100-resnet-fit", "layca"), test_accuracy=0.10)
    write_made_result(str(tmp_path), "cpu_fit", RunConfig("C100-resnet-fit", "layca"), test_accuracy=0.99)  # not read
    assert main(["table", "--tasks", "C10-CNN1-fit", "C100-resnet-fit@cpu_fit_validated_w2", "--scale", "cpu_fit",
                 "--results", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [cell.strip() for cell in lines[2].split("|")[2:4]] == ["40.00 (88.45)", "10.00 (59.81)"]
    assert lines[-1] == "columns at scale cpu_fit, except C100-resnet-fit at scale cpu_fit_validated_w2"
    results = Results(str(tmp_path), "cpu_fit", {"C100-resnet-fit": "cpu_fit_validated_w2"})
    assert (results.label("C10-CNN1-fit"), results.label("C100-resnet-fit")) == \
        ("C10-CNN1-fit", "C100-resnet-fit\n(cpu_fit_validated_w2)")
    assert main(["figure", "accuracy_vs_alpha_rho", "--tasks", "C10-CNN1-fit", "C100-resnet-fit@cpu_fit_validated_w2",
                 "--scale", "cpu_fit", "--results", str(tmp_path), "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "cpu_fit" / "accuracy_vs_alpha_rho.png").exists()
    capsys.readouterr()
    assert main(["table", "--tasks", "C100-resnet-fit@cpu_fitt", "--scale", "cpu_fit", "--results", str(tmp_path)]) == 2
    assert "error: 'C100-resnet-fit@cpu_fitt': unknown scale 'cpu_fitt'; known: [" in capsys.readouterr().err
