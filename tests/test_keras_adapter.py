"""The Keras internals this package uses: each exists in this Keras, and only
`layer_rotation_tools/keras_adapter.py` names them."""

import pathlib
import re

import pytest

from layer_rotation_tools import keras_adapter

ROOT = pathlib.Path(__file__).resolve().parent.parent
#: Where a hook's name may appear outside the adapter: Layca's overrides of Keras' step.
OVERRIDES = {("layer_rotation_tools/layca.py", "_backend_apply_gradients"), ("layer_rotation_tools/layca.py", "_backend_update_step")}


@pytest.mark.parametrize("hook", [f"{owner}.{name}" for owner, name in keras_adapter.HOOKS])
def test_each_keras_internal_used_exists_in_this_keras(hook):
    assert hook not in keras_adapter.missing_hooks(), f"Keras no longer has {hook}: update keras_adapter.py."


def test_only_the_adapter_names_keras_internals():
    names = {name for _, name in keras_adapter.HOOKS}
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
        keras_adapter.HOOKS = (*hooks, ("Model", "_no_such_hook"))
        assert keras_adapter.missing_hooks() == ["Model._no_such_hook"]
    finally:
        keras_adapter.HOOKS = hooks
