"""The "What this shows" paragraphs of a report, computed from a results folder's numbers.

Every sentence is built from the data — final accuracy against chance, whether the network
predicts one class for everything, how much of the output layer's gradient reaches the first
layer at iteration 0 and at the end, saturated and dead units, with against without batch
norm — and its wording comes from :mod:`koubai.i18n`, in English or Japanese.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from koubai.diagnose.rules import Thresholds
from koubai.i18n import t
from koubai.results import ResultsFolder

#: The rules of :mod:`koubai.diagnose` ("the gradient vanishes" means what it means there).
RULES = Thresholds()
#: Within this much of 1/classes, an accuracy is "chance".
CHANCE_MARGIN = 0.03
#: One class holding this share of all test predictions: the network has collapsed.
COLLAPSE_SHARE = 0.95
#: Saturated share (max over layers and time) below which saturation explains nothing.
SATURATION_LOW = 0.05
#: Dead ReLU share worth a sentence.
DEAD_SHARE = 0.3
#: An output-layer gradient norm below this at iteration 0 is "tiny everywhere".
TINY_GRADIENT = 1e-2


@dataclass
class RunFacts:
    """What the sentences need to know about one run."""

    run: str
    config: str
    activation: str
    batchnorm: bool
    test_acc: float
    status: str
    stopped_at: int
    diagnostics: dict | None = None
    predicted: np.ndarray | None = None  # the test set's predicted classes, when computed


def fmt_acc(value: float) -> str:
    """An accuracy as every table shows it: three decimals."""
    return "–" if value != value else f"{value:.3f}"


def fmt_ratio(ratio: float, lang: str = "en") -> str:
    """``1/1,000`` for a small ratio, ``2.5×`` (``2.5 倍``) for a large one."""
    if not np.isfinite(ratio) or ratio <= 0:
        return "0"
    if ratio >= 0.5:
        return f"{ratio:.1f} 倍" if lang == "ja" else f"{ratio:.1f}×"
    inverse = 1 / ratio
    digits = max(int(np.floor(np.log10(inverse))) - 1, 0)  # two significant digits
    return f"1/{round(inverse, -digits):,.0f}"


def fmt_share(value: float) -> str:
    return f"{100 * value:.0f} %"


def gradient_ratio(d: dict, row: int) -> float:
    """‖∂L/∂W‖ of the first layer over the output layer's, at diagnostics row ``row``."""
    norms = d["weight_grad_norm"][row]
    return float(norms[0] / norms[-1]) if norms[-1] > 0 else float("nan")


def run_sentences(f: RunFacts, classes: int, lang: str) -> list[str]:
    """The sentences about one run (one configuration's first seed)."""
    out = []
    if f.status == "diverged":
        out.append(t("explain.diverged", lang, config=f.config, it=f.stopped_at))
    chance = 1 / classes
    if abs(f.test_acc - chance) <= CHANCE_MARGIN:
        out.append(t("explain.chance", lang, config=f.config, acc=fmt_acc(f.test_acc), n=classes))
    else:
        times = f"{f.test_acc / chance:.1f}"
        out.append(
            t("explain.learned", lang, config=f.config, acc=fmt_acc(f.test_acc), times=times)
        )
    if f.predicted is not None and len(f.predicted):
        counts = np.bincount(f.predicted, minlength=classes)
        if counts.max() >= COLLAPSE_SHARE * len(f.predicted):
            out.append(t("explain.collapsed", lang, label=int(counts.argmax())))
    d = f.diagnostics
    if d is None or not len(d["iterations"]):
        return out
    start = gradient_ratio(d, 0)
    text = t("explain.ratio_start", lang, ratio=fmt_ratio(start, lang))
    if len(d["iterations"]) > 1:
        text += t(
            "explain.ratio_end",
            lang,
            it=int(d["iterations"][-1]),
            ratio=fmt_ratio(gradient_ratio(d, -1), lang),
        )
    else:
        text += "。" if lang == "ja" else "."
    out.append(text)
    vanishes = bool(RULES.vanishes(start, float(d["weight_grad_norm"][0][0])))
    if vanishes:  # as koubai diagnose judges it (at iteration 0)
        out.append(t("explain.vanishing", lang))
    last = float(d["weight_grad_norm"][0][-1])
    if last < TINY_GRADIENT:
        out.append(t("explain.tiny", lang, norm=f"{last:.1e}"))
    if f.activation in ("sigmoid", "tanh"):
        sat = d["saturated"]
        top = float(np.nanmax(sat)) if np.isfinite(sat).any() else 0.0  # NaN: no finite value
        if top >= SATURATION_LOW:
            out.append(t("explain.saturation_high", lang, share=fmt_share(top)))
        elif vanishes:
            out.append(t("explain.saturation_low", lang, share=fmt_share(SATURATION_LOW)))
    elif f.activation in ("relu", "leaky_relu") and d["dead"].size:
        top = float(np.nanmax(d["dead"]))
        if top >= DEAD_SHARE:
            out.append(t("explain.dead", lang, share=fmt_share(top)))
    return out


def _spread(d: dict) -> float:
    pct = list(d["percentiles"])
    last = d["pre_pct"][-1, -1]
    return float(last[pct.index(85)] - last[pct.index(15)])


def group_sentences(facts: list[RunFacts], classes: int, lang: str) -> list[str]:
    """The paragraph of one group: a few sentences per configuration, then comparisons."""
    firsts: dict[str, RunFacts] = {}
    for f in facts:
        firsts.setdefault(f.config, f)
    out = []
    for f in firsts.values():
        sep = "" if lang == "ja" else " "
        out.append(sep.join(run_sentences(f, classes, lang)))
    configs = list(firsts.values())
    if len(configs) > 2:
        best = max(configs, key=lambda f: f.test_acc)
        worst = min(configs, key=lambda f: f.test_acc)
        out.append(
            t(
                "explain.best",
                lang,
                config=best.config,
                acc=fmt_acc(best.test_acc),
                worst=worst.config,
                worst_acc=fmt_acc(worst.test_acc),
            )
        )
    bn = [f for f in configs if f.batchnorm]
    plain = [f for f in configs if not f.batchnorm]
    if len(bn) == 1 and len(plain) == 1:
        b, p = bn[0], plain[0]
        out.append(
            t(
                "explain.bn",
                lang,
                with_=b.config,
                acc_bn=fmt_acc(b.test_acc),
                plain=p.config,
                acc_plain=fmt_acc(p.test_acc),
            )
        )
        if b.diagnostics is not None and p.diagnostics is not None:
            out.append(
                t(
                    "explain.bn_spread",
                    lang,
                    bn_spread=f"{_spread(b.diagnostics):.2f}",
                    plain_spread=f"{_spread(p.diagnostics):.2f}",
                )
            )
    return out


def collect_facts(folder: ResultsFolder, data=None) -> dict[str, list[RunFacts]]:
    """Group name -> the facts of its finished runs, in spec order.

    ``data`` (a loaded dataset with ``x_test``) lets the facts include each run's predictions
    on the test set, for the "one class for everything" sentence.
    """
    from koubai.report.draw import config_key, run_configs

    configs = run_configs(folder)
    out: dict[str, list[RunFacts]] = {}
    for row in folder.read_summary():
        if row["run"] not in configs:
            continue
        group, config = configs[row["run"]]
        facts = RunFacts(
            run=row["run"],
            config=config_key(config),
            activation=config.activation,
            batchnorm=config.batchnorm,
            test_acc=float(row["final_test_acc"]),
            status=row["status"],
            stopped_at=int(row["stopped_at"]),
            diagnostics=folder.read_diagnostics(row["run"]),
            predicted=_predictions(folder, row["run"], data),
        )
        out.setdefault(group, []).append(facts)
    return out


def _predictions(folder: ResultsFolder, run: str, data) -> np.ndarray | None:
    if data is None or getattr(data, "x_test", None) is None:
        return None
    try:
        net = folder.read_model(run)
        return np.argmax(net.infer(np.asarray(data.x_test, dtype=net.dtype)), axis=1)
    except Exception:  # noqa: BLE001 - a model that cannot be read just loses one sentence
        return None
