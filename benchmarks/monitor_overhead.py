"""What ``koubai.torch.Monitor`` costs: a plain PyTorch training loop against the same loop
with ``Monitor(every=10)`` and ``Monitor(every=1)``.

Two models on mnist-5k (offline), SGD lr 0.1, batch 100, the same batches in every arm: the seed
MLP (784-[40,20]-10, sigmoid) and a LeNet-sized CNN (conv 6@5x5, pool, conv 16@5x5, pool,
120-84-10, ReLU). Arms run interleaved, several times; the medians and the overhead ratios are
printed (one torch thread unless --threads). Target (issue 13): at most 5 % added time at
``every=10``. Also printed: the memory the
monitor keeps (summaries only), in bytes per record.

    python benchmarks/monitor_overhead.py [--quick] [--repeats N] [--threads N]
"""

from __future__ import annotations

import statistics
import sys

from _common import (
    Noise,
    fmt_time,
    interleaved,
    machine_info,
    med,
    parse,
    parser,
    set_threads,
    spread,
    table,
)


def models(torch):
    nn = torch.nn

    def seed_mlp():
        return nn.Sequential(
            nn.Linear(784, 40), nn.Sigmoid(), nn.Linear(40, 20), nn.Sigmoid(), nn.Linear(20, 10)
        )

    class LeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
            )  # fmt: skip
            self.head = nn.Sequential(
                nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                nn.Linear(84, 10),
            )  # fmt: skip

        def forward(self, x):
            return self.head(self.features(x.view(-1, 1, 28, 28)))

    return {"seed MLP 784-[40,20]-10": seed_mlp, "LeNet-sized CNN": LeNet}


def paired(torch, Monitor, make, batches, x, y, rounds: int) -> dict[str, float]:
    """The monitor's cost step by step, robust to other processes: two copies of the model
    (same weights, same batches), one plain and one with ``Monitor(every=10)``, step in
    turns (the order swapped at every step), so that each pair of steps meets the same
    machine. Returns the median plain step; the median extra over the plain twin of a sampled
    step (step % 10 == 0), of the step before one (step % 10 == 9: the activation hooks are
    added in its optimizer step) and of any other step; and the summarizing of waiting
    records (every 16 sampled steps, timed apart) per step."""
    import time

    plain_t, other, before, sampled, summarize = [], [], [], [], [0.0]
    for r in range(rounds):
        torch.manual_seed(r)
        a = make()
        b = make()
        b.load_state_dict(a.state_dict())
        opt_a = torch.optim.SGD(a.parameters(), lr=0.1)
        opt_b = torch.optim.SGD(b.parameters(), lr=0.1)
        mon = Monitor(b, opt_b, every=10)
        inner = getattr(mon, "_summarize", None)  # (koubai before it summarized in batches)

        def timed(inner=inner):
            t = time.perf_counter()
            inner()
            summarize[0] += time.perf_counter() - t

        if inner is not None:
            mon._summarize = timed
        loss_fn = torch.nn.functional.cross_entropy
        for k, i in enumerate(batches):
            times = {}
            for side in "ab" if k % 2 else "ba":
                model, opt = (a, opt_a) if side == "a" else (b, opt_b)
                t = time.perf_counter()
                opt.zero_grad()
                loss_fn(model(x[i]), y[i]).backward()
                opt.step()
                times[side] = time.perf_counter() - t
            if k == 0:
                continue
            plain_t.append(times["a"])
            kind = {0: sampled, 9: before}.get(k % 10, other)
            kind.append(times["b"] - times["a"])
        t = time.perf_counter()
        mon.arrays()  # the records still waiting
        summarize[0] += time.perf_counter() - t
        mon.close()
    n_steps = rounds * len(batches)
    return {
        "plain": statistics.median(plain_t),
        "other": statistics.median(other),
        "before": statistics.median(before),
        "sampled": statistics.median(sampled),
        "summarize": summarize[0] / n_steps,
    }


def paired_table(results: dict[str, dict[str, float]]) -> str:
    rows = []
    for name, r in results.items():
        p = r["plain"]
        added = (8 * r["other"] + r["before"] + r["sampled"]) / 10 + r["summarize"]
        rows.append(
            [
                name,
                fmt_time(p),
                f"{r['other'] * 1e6:+.1f} µs",
                f"{r['before'] * 1e6:+.1f} µs",
                f"{r['sampled'] * 1e6:+.1f} µs",
                f"{r['summarize'] * 1e6:+.1f} µs",
                f"{100 * added / p:+.1f} %",
            ]
        )
    headers = [
        "model",
        "plain step",
        "other step",
        "step before a sampled one",
        "sampled step",
        "summarizing, per step",
        "added at every=10",
    ]
    return (
        "Paired steps (a plain twin and a monitored one, in turns; medians of the extra):\n"
        + table(headers, rows)
    )


def main(argv=None) -> None:
    p = parser(__doc__.splitlines()[0], default_repeats=5, quick_repeats=3)
    p.add_argument("--iterations", type=int, default=None, help="steps per run")
    # One torch thread by default: these nets are too small for two, and on a shared machine
    # two OpenMP threads wait on each other (the per-step times then vary 3x).
    p.set_defaults(threads=1)
    p.add_argument(
        "--cpu-time",
        action="store_true",
        help="time this process's CPU time instead of the wall clock (on a shared machine, "
        "other processes then slow both arms less unevenly)",
    )
    args = parse(p, argv)
    import torch

    from koubai.datasets import load
    from koubai.torch import Monitor

    set_threads(args.threads)
    data = load("mnist-5k")
    x = torch.tensor(data.x_train)
    y = torch.tensor(data.y_train).long()
    noise = Noise()
    print("\n".join(machine_info(torch)))
    rows, per_record = [], []
    paired_results: dict[str, dict[str, float]] = {}
    for name, make in models(torch).items():
        steps = args.iterations or (
            (300 if args.quick else 1000) if "MLP" in name else (60 if args.quick else 200)
        )
        g = torch.Generator().manual_seed(0)
        batches = [torch.randint(0, len(x), (100,), generator=g) for _ in range(steps)]

        def run(every: int | None, make=make, batches=batches, name=name):
            def once(r: int) -> float:
                import time

                torch.manual_seed(r)
                model = make()
                opt = torch.optim.SGD(model.parameters(), lr=0.1)
                mon = Monitor(model, opt, every=every) if every else None
                loss_fn = torch.nn.functional.cross_entropy
                clock = time.process_time if args.cpu_time else time.perf_counter
                start = clock()
                for i in batches:
                    opt.zero_grad()
                    loss_fn(model(x[i]), y[i]).backward()
                    opt.step()
                seconds = clock() - start
                if mon is not None:
                    mon.close()
                    if every == 10 and r == 0:
                        size = sum(a.nbytes for a in mon.arrays().values())
                        per_record.append((name, size / max(len(mon), 1), len(mon)))
                return seconds

            return once

        arms = {"plain": run(None), "every=10": run(10), "every=1": run(1)}
        arms["plain"](0)  # warm-up
        paired_results[name] = paired(
            torch, Monitor, make, batches, x, y, rounds=max(1, args.repeats // 2)
        )
        res = interleaved(arms, args.repeats, label=name)
        plain = med(res["plain"])
        for arm in ("plain", "every=10", "every=1"):
            t = med(res[arm])
            rows.append(
                [
                    name,
                    arm,
                    f"{steps}",
                    fmt_time(t),
                    fmt_time(t / steps),
                    f"{100 * (t / plain - 1):+.1f} %" if arm != "plain" else "—",
                    spread(res[arm]),
                ]
            )
    print()
    headers = ["model", "arm", "steps", "median", "per step", "added time", "spread"]
    print(f"clock: {'process CPU time' if args.cpu_time else 'wall'}")
    print(table(headers, rows))
    print()
    print(paired_table(paired_results))
    for name, size, n in per_record:
        print(f"{name}: the monitor keeps {size / 1024:.1f} KiB per record ({n} records)")
    print(noise.line())


if __name__ == "__main__":
    sys.exit(main())
