"""Write the example notebooks, English and Japanese, from one source (outputs empty).

Each notebook is a list of cells; a markdown cell holds both languages, a code cell is the
same in both (only its comments and labels follow the language). Run
``python examples/make_notebooks.py`` after editing, and commit the ``.ipynb`` files.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent

SETUP = """%matplotlib inline
from koubai.datasets import load

LANG = "{lang}"
ITERATIONS = 400  # the course trains 2,000; fewer keep the notebook to a minute on 2 cores
data = load("mnist-5k")  # 5,000 real MNIST digits, offline (full MNIST: load("mnist"))
data"""

VANISHING = [
    (
        "md",
        "# The vanishing gradient, with koubai\n\nThe course's notebook 2_2_2 trains a "
        "784-[40,20]-10 network with sigmoid or ReLU units and three weight initializations "
        '(gauss with std 0.01, "Xavier" and He). Here are the same experiments, and a look '
        "at *why* some of them never learn.",
        "# 勾配消失問題を koubai で\n\n講座のノートブック 2_2_2 は、784-[40,20]-10 のネットワークを"
        "シグモイドまたは ReLU と 3 種類の重みの初期化（標準偏差 0.01 のガウス、「Xavier」、He）で"
        "学習させます。同じ実験を行い、学習できない組み合わせが *なぜ* 学習できないのかを見ます。",
    ),
    ("code", SETUP),
    (
        "md",
        "## One backward pass through ten layers\n\nBefore any training: how much of the "
        "output layer's gradient reaches the first layer?",
        "## 10 層の逆伝播を 1 回\n\n学習の前に、出力層の勾配のうちどれだけが最初の層まで届くかを"
        "調べます。",
    ),
    (
        "code",
        """import numpy as np

import koubai

x, t = data.x_train[:100], data.y_train[:100]
for activation, init in [("sigmoid", "gauss"), ("sigmoid", "xavier"), ("relu", "he")]:
    net = koubai.MLP(784, [100] * 10, 10, activation=activation, init=init, seed=0)
    grads = net.gradient(x, t)
    norms = [np.linalg.norm(grads[name]) for name in net.weight_names()]
    print(f"{activation:8} {init:7} first/last layer gradient norm: {norms[0] / norms[-1]:.1e}")""",
    ),
    (
        "md",
        "## The course's grid\n\n`run_experiment` trains every configuration (in parallel "
        "processes) and writes a results folder with a report; `progress=True` shows the bars "
        "here in the notebook.",
        "## 講座の実験\n\n`run_experiment` はすべての設定を（並列プロセスで）学習させ、"
        "レポート付きの結果フォルダを書き出します。"
        "`progress=True` でノートブック内に進捗バーが表示されます。",
    ),
    (
        "code",
        """from koubai.experiments import run_experiment

experiment = run_experiment(
    "vanishing", dataset=data, overrides={"iterations": ITERATIONS},
    out_dir="koubai-results", lang=LANG, figures=False, progress=True,
)
experiment""",
    ),
    (
        "md",
        "## Test accuracy of each configuration\n\nSigmoid + gauss stays at 0.10, chance: "
        "the network predicts one digit for every image.",
        "## 各設定のテスト正解率\n\nシグモイド + ガウスは 0.10（チャンスレベル）のままです。"
        "ネットワークはどの画像にも同じ数字を予測しています。",
    ),
    (
        "code",
        """from koubai.report.figures import Curves, plot_comparison

shallow = [(spec, res) for spec, res in experiment.runs if spec.group == "shallow"]
plot_comparison([[Curves.from_result(res)] for _, res in shallow], lang=LANG)""",
    ),
    (
        "md",
        "## Why: the gradient per layer at iteration 0\n\nA line that falls toward layer 1 is "
        "the vanishing gradient. With gauss (std 0.01) every weight is tiny, so each layer "
        "shrinks the error signal on its way back.",
        "## なぜか：イテレーション 0 での層ごとの勾配\n\n層 1 に向かって下がる線が勾配消失です。"
        "ガウス（標準偏差 0.01）ではすべての重みが小さいため、各層が逆向きに伝わる誤差信号を"
        "縮めてしまいます。",
    ),
    (
        "code",
        """from koubai.report.diagnostics import plot_gradient_profiles
from koubai.training.probes import decode_meta

profiles = [(res.config.label, decode_meta(res.diagnostics.arrays())) for _, res in shallow]
plot_gradient_profiles(profiles, lang=LANG)""",
    ),
    (
        "md",
        "The report in the results folder says the same in words, computed from these "
        "numbers: open `report.html`.",
        "結果フォルダのレポートは、これらの数値から同じことを文章で説明します。`report.html` を"
        "開いてください。",
    ),
    (
        "code",
        """from koubai.report.draw import draw_figures
from koubai.report.html import write_report

draw_figures(experiment.folder, lang=LANG)
print(write_report(experiment.folder, lang=LANG, data=data))""",
    ),
    (
        "md",
        "## The papers behind the note\n\nEach is one command that reruns the paper's key "
        "figure on real digits and prints the paper's claims beside our measurements:\n\n"
        "- `koubai run nielsen`: Nielsen, *Neural Networks and Deep Learning*, ch. 5 "
        "(the speed of learning per layer);\n"
        "- `koubai run glorot`: Glorot & Bengio 2010 (standard vs normalized initialization; "
        "saturation; ReLU's sparsity);\n"
        "- `koubai run ioffe`: Ioffe & Szegedy 2015, §4.1 (batch normalization);\n"
        '- `koubai run he-deep`: He et al. 2015, "Delving Deep into Rectifiers" (He init '
        "in 22- and 30-layer ReLU nets).",
        "## ノートの背景にある論文\n\nそれぞれ 1 つのコマンドで、論文の主要な図を実際の手書き数字で"
        "再現し、論文の主張と koubai の測定値を並べて表示します：\n\n"
        "- `koubai run nielsen`：Nielsen『Neural Networks and Deep Learning』5 章"
        "（層ごとの学習の速さ）；\n"
        "- `koubai run glorot`：Glorot & Bengio 2010（標準の初期化と正規化された初期化、飽和、"
        "ReLU のスパース性）；\n"
        "- `koubai run ioffe`：Ioffe & Szegedy 2015、4.1 節（バッチ正規化）；\n"
        "- `koubai run he-deep`：He ら 2015「Delving Deep into Rectifiers」（22 層と 30 層の ReLU "
        "ネットワークでの He の初期化）。",
    ),
]

BATCHNORM = [
    (
        "md",
        "# Batch normalization, with koubai\n\nThe course's notebook 2_3 adds batch norm "
        "after each hidden affine layer. Here: its runs, and the note's comparison of "
        "sigmoid + Xavier without and with batch norm.",
        "# バッチ正規化を koubai で\n\n講座のノートブック 2_3 は、各隠れ層のアフィン層の後に"
        "バッチ正規化を入れます。ここではそのランと、ノートにある比較（シグモイド + Xavier の"
        "バッチ正規化なし・あり）を行います。",
    ),
    ("code", SETUP),
    (
        "code",
        """from koubai.experiments import run_experiment

experiment = run_experiment(
    "batchnorm", dataset=data, overrides={"iterations": ITERATIONS},
    out_dir="koubai-results", lang=LANG, figures=False, progress=True,
)
experiment""",
    ),
    (
        "md",
        "## Without vs with batch norm",
        "## バッチ正規化なし・あり",
    ),
    (
        "code",
        """from koubai.report.figures import Curves, plot_comparison

pair = [(spec, res) for spec, res in experiment.runs if spec.group == "comparison"]
plot_comparison([[Curves.from_result(res)] for _, res in pair], lang=LANG)""",
    ),
    (
        "md",
        "## The input to the nonlinearity (Ioffe & Szegedy, figure 1)\n\nThe median (solid) "
        "and the 15th/85th percentiles (dashed) of the last hidden layer's input to its "
        "sigmoid. With batch norm the spread is wider and steady: the inputs stay in the "
        "sigmoid's useful range instead of drifting. Wider is not worse here.",
        "## 活性化関数への入力（Ioffe & Szegedy, 図 1）\n\n最後の隠れ層のシグモイドへの入力の"
        "中央値（実線）と 15/85 パーセンタイル（破線）。バッチ正規化ありでは広がりが大きく安定して"
        "おり、入力がずれずにシグモイドの有効な範囲に留まります。広いことは悪いことではありません。",
    ),
    (
        "code",
        """from koubai.report.diagnostics import plot_nonlinearity_inputs
from koubai.training.probes import decode_meta

plot_nonlinearity_inputs(
    [(res.config.label, decode_meta(res.diagnostics.arrays())) for _, res in pair], lang=LANG
)""",
    ),
    (
        "code",
        """for _, res in pair:
    print(f"{res.config.label:28} final test accuracy {res.final_test_acc:.3f}")""",
    ),
]

LOOK_INSIDE = [
    (
        "md",
        "# Look inside one network, step by step\n\nA 784-[40,20]-10 sigmoid network with "
        "gauss (std 0.01) weights: one forward pass, one backward pass, then a few SGD steps "
        "by hand, printing each layer's activations and gradients.",
        "# 1 つのネットワークの中を 1 ステップずつ\n\nシグモイドとガウス（標準偏差 0.01）の重みを"
        "持つ 784-[40,20]-10 のネットワークで、順伝播と逆伝播を 1 回ずつ行い、その後 SGD を"
        "手で数ステップ進めて、各層の活性化と勾配を表示します。",
    ),
    ("code", SETUP),
    (
        "code",
        """import numpy as np

import koubai

net = koubai.MLP(784, [40, 20], 10, activation="sigmoid", init="gauss", seed=0)
x, t = data.x_train[:100], data.y_train[:100]
trace = []
logits = net.predict(x, train=True, trace=trace)
for layer, out in zip(net.layers, trace, strict=True):
    name = type(layer).__name__
    print(f"{name:10} output {out.shape}  mean {out.mean():+.4f}  std {out.std():.4f}")""",
    ),
    (
        "md",
        "The sigmoid outputs all sit at 0.5 with a tiny spread: the weights are so small "
        "that every unit sees almost 0. Now the backward pass:",
        "シグモイドの出力はすべて 0.5 付近で、広がりはごくわずかです。重みが小さすぎて、どの"
        "ユニットにもほぼ 0 しか入りません。次に逆伝播です：",
    ),
    (
        "code",
        """grads = net.gradient(x, t)
for name in net.weight_names():
    print(f"{name:12} |dL/dW| = {np.linalg.norm(grads[name]):.2e}")""",
    ),
    (
        "md",
        "## A few SGD steps by hand",
        "## SGD を手で数ステップ",
    ),
    (
        "code",
        """opt = koubai.SGD(lr=0.1)
rng = np.random.default_rng(0)
for step in range(5):
    batch = rng.choice(len(data.x_train), 100, replace=False)
    grads = net.gradient(data.x_train[batch], data.y_train[batch])
    opt.step(net.params, grads)
    norms = [np.linalg.norm(grads[name]) for name in net.weight_names()]
    print(step, " ".join(f"{n:.2e}" for n in norms), f"loss {net.loss(x, t):.4f}")""",
    ),
    (
        "md",
        "## The same with ReLU and He initialization\n\nThe first layer's gradient is now "
        "as large as the last's.",
        "## ReLU と He の初期化で同じことを\n\n最初の層の勾配が最後の層と同じくらいの大きさに"
        "なります。",
    ),
    (
        "code",
        """relu = koubai.MLP(784, [40, 20], 10, activation="relu", init="he", seed=0)
grads = relu.gradient(x, t)
for name in relu.weight_names():
    print(f"{name:12} |dL/dW| = {np.linalg.norm(grads[name]):.2e}")""",
    ),
    (
        "code",
        """from koubai.engine.layers import ReLU
from koubai.report.figures import colors, new_figure

fig = new_figure((7, 3))
ax = fig.subplots()
trace = []
relu.predict(x, train=True, trace=trace)
relu_outputs = [o for layer, o in zip(relu.layers, trace, strict=True) if isinstance(layer, ReLU)]
for k, out in enumerate(relu_outputs):
    ax.hist(out.ravel(), bins=40, alpha=0.6, color=colors("tab10", 2)[k], label=f"ReLU {k + 1}")
ax.set_xlabel("output of the layer" if LANG == "en" else "層の出力")
ax.set_ylabel("count" if LANG == "en" else "度数")
ax.legend()
fig""",
    ),
]

DIAGNOSE = [
    (
        "md",
        "# Diagnose your own PyTorch model\n\nDoes *your* network have vanishing gradients, "
        "and what do you do about it? `koubai.torch.Monitor` watches a PyTorch training loop "
        '(`pip install "koubai[torch]"`) and says which layer, from which iteration, with '
        "which fix.",
        "# あなたの PyTorch モデルを診断する\n\nあなたのネットワークで勾配消失は起きているか、"
        "起きているならどうすればよいか。`koubai.torch.Monitor` が PyTorch の学習ループを見守り"
        '（`pip install "koubai[torch]"`）、どの層で、どのイテレーションから、どう直せばよいかを'
        "答えます。",
    ),
    ("code", SETUP),
    (
        "md",
        "## A deep sigmoid net with the course's gauss (0.01) initialization",
        "## 講座のガウス（0.01）初期化をした深いシグモイドのネットワーク",
    ),
    (
        "code",
        """import torch
from torch import nn

from koubai.torch import Monitor

torch.manual_seed(0)
x, y = torch.tensor(data.x_train), torch.tensor(data.y_train).long()


def model_of(activation, init):
    layers, sizes = [], [784, 40, 40, 40, 40]
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(a, b), activation()]
    model = nn.Sequential(*layers, nn.Linear(40, 10))
    for m in model:
        if isinstance(m, nn.Linear):
            init(m.weight)
            nn.init.zeros_(m.bias)
    return model


def train(model, steps=100):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with Monitor(model, opt, every=10) as mon:
        for i in torch.randint(0, len(x), (steps, 100)):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[i]), y[i]).backward()
            opt.step()
    return mon


sick = train(model_of(nn.Sigmoid, lambda w: nn.init.normal_(w, std=0.01)))
for finding in sick.findings:
    print(finding.message(LANG))""",
    ),
    (
        "md",
        "The monitor read every layer's gradient where the optimizer applies it. The figure "
        "shows ‖∂L/∂W‖ per layer over training: the first layers receive almost nothing.",
        "モニターはオプティマイザーが適用する勾配を層ごとに読みました。図は学習中の層ごとの "
        "‖∂L/∂W‖ です。最初の層にはほとんど何も届いていません。",
    ),
    (
        "code",
        """from koubai.report.diagnostics import plot_gradient_flow

plot_gradient_flow(sick.records(), title="sigmoid + gauss(0.01)", lang=LANG)""",
    ),
    (
        "md",
        "## The fix: ReLU and He initialization",
        "## 対策：ReLU と He の初期化",
    ),
    (
        "code",
        """he = lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu")  # noqa: E731
healthy = train(model_of(nn.ReLU, he))
print(healthy.summary(LANG))
plot_gradient_flow(healthy.records(), title="ReLU + He", lang=LANG)""",
    ),
]

NOTEBOOKS = {
    "vanishing_gradient": VANISHING,
    "batch_normalization": BATCHNORM,
    "look_inside": LOOK_INSIDE,
    "diagnose_your_model": DIAGNOSE,
}


def build(cells, lang: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    for kind, *body in cells:
        if kind == "md":
            nb.cells.append(nbformat.v4.new_markdown_cell(body[0] if lang == "en" else body[1]))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(body[0].replace("{lang}", lang)))
    for k, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{k}"
    return nb


def main() -> None:
    import subprocess
    import sys

    paths = []
    for name, cells in NOTEBOOKS.items():
        for lang in ("en", "ja"):
            paths.append(HERE / f"{name}.{lang}.ipynb")
            nbformat.write(build(cells, lang), paths[-1])
    # The project's formatter owns the code cells' layout, as it owns every .py file.
    subprocess.run([sys.executable, "-m", "ruff", "format", *map(str, paths)], check=True)


if __name__ == "__main__":
    main()
