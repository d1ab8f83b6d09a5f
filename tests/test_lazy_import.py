"""``import koubai`` is light: the engine (and NumPy with it) is imported when a name of it is
first used, and every public name works as before."""

import json
import subprocess
import sys

import pytest

import koubai

HEAVY = ("numpy", "matplotlib", "koubai.engine", "koubai.io")

IMPORT_STATE = """
import json, sys
import koubai
light = sorted(m for m in {heavy!r} if m in sys.modules)
from koubai import MLP, SGD, load_mlp
names = {{name: type(getattr(koubai, name)).__name__ for name in koubai.__all__}}
print(json.dumps({{"light": light, "names": names, "mlp": MLP.__module__,
                  "numpy": "numpy" in sys.modules}}))
"""


def _state() -> dict:
    code = IMPORT_STATE.format(heavy=HEAVY)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_koubai_imports_neither_numpy_nor_the_engine():
    state = _state()
    assert state["light"] == []
    # The first use of an engine name imports it.
    assert state["mlp"] == "koubai.engine.mlp" and state["numpy"] is True
    assert set(state["names"]) == set(koubai.__all__)
    assert state["names"]["__version__"] == "str"
    assert state["names"]["MLP"] == "type" and state["names"]["load_mlp"] == "function"


def test_every_public_name_is_the_engines_own():
    from koubai.engine import MLP, SGD, check_model
    from koubai.io import load_mlp, save_mlp

    assert koubai.MLP is MLP and koubai.SGD is SGD and koubai.check_model is check_model
    assert koubai.load_mlp is load_mlp and koubai.save_mlp is save_mlp
    assert set(koubai.__all__) <= set(dir(koubai))
    namespace: dict = {}
    exec("from koubai import *", namespace)
    assert set(koubai.__all__) <= set(namespace)


def test_an_unknown_name_is_an_attribute_error_and_subpackages_still_import():
    with pytest.raises(AttributeError, match="module 'koubai' has no attribute 'nope'"):
        koubai.nope  # noqa: B018
    with pytest.raises(ImportError, match="cannot import name 'nope'"):
        exec("from koubai import nope", {})
    from koubai import datasets, limits

    assert datasets.__name__ == "koubai.datasets" and limits.__name__ == "koubai.limits"
