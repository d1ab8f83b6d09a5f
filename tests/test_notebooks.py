"""The example notebooks run top to bottom (on mnist-5k) and are stored without outputs."""

import json
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))


def test_every_notebook_comes_in_english_and_japanese():
    stems = {p.name.rsplit(".", 2)[0] for p in NOTEBOOKS}
    assert {
        "vanishing_gradient",
        "batch_normalization",
        "look_inside",
        "diagnose_your_model",
    } <= stems
    for stem in stems:
        en = json.loads((EXAMPLES / f"{stem}.en.ipynb").read_text("utf-8"))
        ja = json.loads((EXAMPLES / f"{stem}.ja.ipynb").read_text("utf-8"))
        assert len(en["cells"]) == len(ja["cells"])
        for a, b in zip(en["cells"], ja["cells"], strict=True):
            assert a["cell_type"] == b["cell_type"]
            if a["cell_type"] == "markdown":
                assert a["source"] != b["source"]  # translated


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_without_outputs(path):
    nb = json.loads(path.read_text("utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(c["outputs"] == [] and c["execution_count"] is None for c in code)


@pytest.mark.parametrize(
    "path",
    [p for p in NOTEBOOKS if p.name.endswith(".en.ipynb") or "look_inside" in p.name],
    ids=lambda p: p.name,
)
def test_notebook_runs_top_to_bottom(path, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    if path.name.startswith("diagnose_your_model"):  # a PyTorch model: the torch extra
        pytest.importorskip("torch", reason='PyTorch is not installed (pip install ".[torch]")')
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # figures show inline
