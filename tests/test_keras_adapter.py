"""The Keras internals this package uses: each exists in this Keras, and only
`layer_rotation_tools/keras_adapter.py` names them."""

import pathlib
import re

import keras
import pytest

from layer_rotation_tools import keras_adapter

ROOT = pathlib.Path(__file__).resolve().parent.parent
#: Where a hook's name may appear outside the adapter: Layca's overrides of Keras' step.
OVERRIDES = {("layer_rotation_tools/layca.py", "_backend_apply_gradients"), ("layer_rotation_tools/layca.py", "_backend_update_step")}


@pytest.mark.parametrize("owner, name, backend", keras_adapter.HOOKS, ids=[f"{o}.{n}" for o, n, _ in keras_adapter.HOOKS])
def test_each_keras_internal_used_exists_in_this_keras(owner, name, backend):
    if backend not in (None, keras.backend.backend()):
        pytest.skip(f"used on {backend} only")
    assert f"{owner}.{name}" not in keras_adapter.missing_hooks(), f"Keras has no {owner}.{name}: update keras_adapter.py."


def test_only_the_adapter_names_keras_internals():
    names = {name for _, name, _ in keras_adapter.HOOKS}
    found = []
    for path in sorted([*ROOT.glob("layer_rotation_tools/*.py"), *ROOT.glob("experiments/*.py")]):
        relative = path.relative_to(ROOT).as_posix()
        if relative == "layer_rotation_tools/keras_adapter.py":
            continue
        for name in names:
            if (relative, name) not in OVERRIDES and re.search(rf"\.{name}\b", path.read_text()):
                found.append(f"{relative}: {name}")
    assert found == []


def test_a_missing_hook_is_named():
    hooks = keras_adapter.HOOKS
    try:
        keras_adapter.HOOKS = (*hooks, ("Model", "_no_such_hook", None))
        assert keras_adapter.missing_hooks() == ["Model._no_such_hook"]
    finally:
        keras_adapter.HOOKS = hooks


@pytest.mark.parametrize("version", ["3.8.0", "3.9.2"])
def test_an_older_keras_is_refused_naming_the_version_needed(version):
    with pytest.raises(ImportError, match=rf"needs Keras >= 3\.10\.0.*has keras {re.escape(version)}.*pip install"):
        keras_adapter.require_supported_keras(version)


@pytest.mark.parametrize("version", ["3.10.0", "3.15.1", "3.16.0.dev2026112903"])
def test_supported_and_newer_kerases_are_accepted(version):
    keras_adapter.require_supported_keras(version)
