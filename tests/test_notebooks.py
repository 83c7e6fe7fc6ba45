"""The notebooks execute top to bottom (at smoke scale)."""

import os

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.slow  # trains models or runs studies; `pytest -m "not slow"` skips it

NOTEBOOKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "notebooks")


def _execute(name, env, tmp_path, monkeypatch):
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel draws inline, as in Jupyter
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    notebook = nbformat.read(os.path.join(NOTEBOOKS, name), as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    return notebook


def _outputs(notebook):
    return "\n".join(
        output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
        for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    )


def test_quickstart_notebook(tmp_path, monkeypatch):
    notebook = _execute("quickstart.ipynb", {"LRT_EPOCHS": "2"}, tmp_path, monkeypatch)
    text = _outputs(notebook)
    assert "test accuracy" in text and "'conv1'" in text
    images = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) == 2


def test_results_browser_notebook(smoke_results, tmp_path, monkeypatch):
    results_dir, _ = smoke_results
    env = {"LRT_RESULTS": results_dir, "LRT_SCALE": "smoke", "LRT_FIGURES": str(tmp_path / "figures")}
    text = _outputs(_execute("results_browser.ipynb", env, tmp_path, monkeypatch))
    assert "runs" in text and "(88.45)" in text and "test accuracy" in text
    from experiments.figures import FIGURES

    assert sorted(os.listdir(tmp_path / "figures" / "smoke")) == sorted(f"{name}.png" for name in FIGURES)


@pytest.mark.parametrize("name", ["quickstart.ipynb", "results_browser.ipynb"])
def test_notebooks_are_committed_without_outputs(name):
    notebook = nbformat.read(os.path.join(NOTEBOOKS, name), as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")
