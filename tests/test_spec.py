import pytest

from koubai.errors import ConfigError
from koubai.experiments import builtin_names, builtin_text, load_spec, parse_spec


def test_builtins_resolve_to_the_course_notebooks():
    assert {"batchnorm", "vanishing"} <= set(builtin_names())  # and the papers (test_papers.py)
    runs = load_spec("vanishing").resolve()
    assert len(runs) == 12
    shallow = [r for r in runs if r.group == "shallow"]
    deep = [r for r in runs if r.group == "deep"]
    assert {(r.config.activation, r.config.init) for r in shallow} == {
        (a, i) for a in ("sigmoid", "relu") for i in ("gauss", "xavier", "he")
    }
    assert all(r.config.hidden_sizes == (40, 20) and r.config.iterations == 2000 for r in shallow)
    assert all(r.config.hidden_sizes == (40, 30, 20) and r.config.iterations == 4000 for r in deep)
    assert all(r.config.lr == 0.1 and r.config.batch_size == 100 for r in runs)
    assert all(r.config.init_std == 0.01 and r.config.eval_every == 10 for r in runs)


def test_batchnorm_builtin_has_the_notes_comparison():
    runs = load_spec("batchnorm").resolve()
    assert len(runs) == 7
    comparison = [r for r in runs if r.group == "comparison"]
    assert [r.config.batchnorm for r in comparison] == [False, True]
    assert all(r.config.activation == "sigmoid" and r.config.init == "xavier" for r in comparison)
    assert all(r.config.lr == 0.01 and r.config.iterations == 1000 for r in runs)
    assert all(r.config.bn_convention == "course" for r in runs)


def test_protocols_change_what_they_say():
    course = load_spec("batchnorm").resolve(protocol="course")
    careful = load_spec("batchnorm").resolve(protocol="careful")
    assert all(r.config.train_accuracy == "batch" for r in course)
    assert all(r.config.sampling == "replacement" for r in course)
    assert not any(r.config.bn_affine_trainable for r in course)  # as the notebook
    assert all(r.config.train_accuracy == "subset" for r in careful)
    assert all(r.config.bn_affine_trainable for r in careful)
    assert len(careful) == 3 * len(course)  # three seeds by default
    assert {r.config.seed for r in careful} == {0, 1, 2}
    assert len(load_spec("batchnorm").resolve(protocol="careful", seeds=2)) == 14


def test_overrides_are_strongest_and_diagnostics_default_on():
    runs = load_spec("vanishing").resolve(overrides={"iterations": 50, "hidden_sizes": [8]})
    assert all(r.config.iterations == 50 and r.config.hidden_sizes == (8,) for r in runs)
    assert all(r.config.diagnostics_every == 10 for r in runs)


def test_the_printed_builtin_parses_back():
    text = builtin_text("vanishing")
    assert parse_spec(text, source="copy.toml").resolve() == load_spec("vanishing").resolve()


def test_a_spec_file_from_disk(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        'name = "mine"\n[base]\nlr = 0.05\n[[group]]\nname = "g"\n'
        'runs = [{activation = "tanh"}, {activation = "relu", init = "he"}]\n'
        "[group.grid]\nbatchnorm = [false, true]\n"
    )
    runs = load_spec(path).resolve()
    assert [(r.config.activation, r.config.batchnorm) for r in runs] == [
        ("tanh", False),
        ("tanh", True),
        ("relu", False),
        ("relu", True),
    ]
    assert all(r.config.lr == 0.05 for r in runs)


@pytest.mark.parametrize(
    "text,match",
    [
        ("name = \n", "not valid TOML"),
        ("nmae = 'x'\n", "unknown key 'nmae'"),
        ("[base]\nlrr = 0.1\n", r"unknown key 'lrr' in s.toml \[base\]"),
        ("[base]\nlr = -0.1\n", r"lr \(learning rate\) must be a finite number > 0, got -0.1"),
        ("[base]\niterations = 0\n", "iterations must be a positive integer, got 0"),
        ("[base]\niterations = 'many'\n", "iterations in .* must be an integer, got 'many'"),
        ("[[group]]\nname = 'g'\n[group.grid]\ninit = []\n", "grid.init must be a non-empty list"),
        ("[[group]]\nname = 'g'\nfoo = 1\n", "unknown key 'foo' in s.toml group 1"),
        ("[[group]]\nname = 'g'\n[group.grid]\ninit = ['nope']\n", "unknown init 'nope'"),
        ("seeds = 0\n", "seeds must be a positive integer"),
        ("protocol = 'sloppy'\n", "unknown protocol 'sloppy'"),
    ],
)
def test_bad_specs_are_one_line_errors(text, match):
    with pytest.raises(ConfigError, match=match) as info:
        parse_spec(text, source="s.toml").resolve()
    assert "\n" not in str(info.value)


def test_unknown_experiment_lists_the_builtins(tmp_path):
    with pytest.raises(
        ConfigError, match=r"unknown experiment 'vanish'.*\['batchnorm', .*'vanishing'\]"
    ):
        load_spec("vanish")
    with pytest.raises(ConfigError, match="no such spec file"):
        load_spec(tmp_path / "missing.toml")


def test_every_builtin_speaks_japanese_too():
    """A Japanese report of a built-in experiment shows no English title or description."""
    import re

    from koubai.experiments import builtin_names

    for name in builtin_names():
        spec = load_spec(name)
        assert re.search(r"[ぁ-んァ-ン一-龥]", spec.title_in("ja")), name
        assert spec.description_ja and spec.description_ja != spec.description, name
        assert "\n" not in spec.description_ja and "  " not in spec.description_ja, name
        for g in spec.groups:
            assert g.title_ja and g.title_in("ja") != g.title_in("en"), (name, g.name)
