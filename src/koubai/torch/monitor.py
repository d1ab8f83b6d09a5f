"""``Monitor(model, optimizer, every=10)``: koubai's per-layer diagnostics of a PyTorch model.

Where each number is read, and why there:

* parameter gradients — in an optimizer *step pre-hook*: the gradients the optimizer is about
  to apply, after AMP's unscaling and after gradient accumulation, never after ``zero_grad``;
* update ratios ‖ΔW‖/‖W‖ — in the step *post-hook*, against a copy taken in the pre-hook;
* activations (output and input of every ``nn.Sigmoid``, ``nn.ReLU``, … module) — in forward
  (pre-)hooks, and their gradients ∂L/∂a in a *tensor hook* on the output. Never full backward
  hooks: those break on ``nn.ReLU(inplace=True)`` and ``x += f(x)``.

Activation hooks exist only on sampled steps (``step % every == 0``): they are added in the
optimizer pre-hook of the step before and removed in the sampled step's; the update-ratio
post-hook is there after sampled steps only. So the other steps pay for one optimizer pre-hook
with one fused check that every gradient is finite, and the model's forward pre-hook that keeps
its inputs. On the first non-finite gradient the monitor names the first module, in forward
order, whose output went non-finite, by running the forward pass of that step once more on its
inputs with checking hooks (random state and buffers put back); when every output was finite,
the gradient went non-finite in the backward pass and it names the layer nearest the loss
whose gradient did.

Only summaries are kept (norms, shares, percentiles, fixed-bin histograms). From a forward pass
to the optimizer step the monitor holds one reference to the batch's inputs, for that replay;
between steps, a copy of the weights (for the update ratio) and the values the activation hooks
copied (at most 1,024 per hidden layer) for the last few sampled steps, until they are
summarized together (at most :data:`WAIT_RECORDS` steps and :data:`WAIT_BYTES` bytes).
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import nn

from koubai.checks import check_int
from koubai.diagnose import Finding, Thresholds, diagnose, format_findings
from koubai.errors import ConfigError
from koubai.i18n import language
from koubai.torch._stats import ACTIVATION_KINDS, act_range, dead_share, sample
from koubai.training.probes import N_BINS, PERCENTILES, PRE_RANGE, SATURATED, summaries

_NOTHING = np.zeros(0, dtype=np.float32)  # a hidden layer not called on a sampled step

#: Records whose hidden-layer values wait to be summarized together (see Monitor._record):
#: at most this many, and at most this many bytes of values (1,024 values per layer at most).
WAIT_RECORDS = 16
WAIT_BYTES = 4 << 20


def _unwrap(model: nn.Module) -> nn.Module:
    """The user's module inside ``DistributedDataParallel`` / ``DataParallel``."""
    wrappers = (nn.parallel.DistributedDataParallel, nn.DataParallel)
    return model.module if isinstance(model, wrappers) else model


def _floats(tensors: list[torch.Tensor]) -> list[float]:
    """0-d tensors (``_foreach_norm``'s results) as Python floats, in one transfer."""
    try:
        return torch.stack(tensors).tolist()
    except RuntimeError:  # several dtypes or devices
        return [t.item() for t in tensors]


def _is_recording_rank() -> bool:
    dist = torch.distributed
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def _tensors(obj):
    """Every tensor inside a module's input or output (tensors, tuples, lists, dicts)."""
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, list | tuple):
        for item in obj:
            yield from _tensors(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from _tensors(item)


def _all_finite(obj) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in _tensors(obj) if t.is_floating_point())


class Monitor:
    """Record per-layer gradient norms, activation statistics and update ratios of a PyTorch
    model while it trains; :attr:`findings` judges them with :func:`koubai.diagnose.diagnose`.

    Args:
        model: the ``nn.Module`` being trained (or its ``DistributedDataParallel`` wrapper).
            Layers are named as in ``model.named_modules()``.
        optimizer: the ``torch.optim.Optimizer`` that trains it.
        every: record every this many optimizer steps (and at step 0). Default: 10.

    Example::

        with Monitor(model, optimizer, every=10) as mon:
            for x, y in loader:
                optimizer.zero_grad()
                loss_fn(model(x), y).backward()
                optimizer.step()
        print(mon.summary())
        mon.report("my-run")

    Layers with weights are the modules with a trainable ``weight`` of 2 or more dimensions
    (``nn.Linear``, ``nn.Conv2d``, …), in the order the forward pass first calls them; frozen
    ones are left out. Hidden layers are the activation modules (:data:`ACTIVATION_KINDS`); a
    module called several times in one forward pass is recorded at its first call, and a
    functional call (``F.relu``) is not seen. Under ``DistributedDataParallel`` only rank 0
    records and writes; other ranks add no hooks at all.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, every: int = 10):
        if not isinstance(model, nn.Module):
            raise ConfigError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise ConfigError(
                f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
            )
        self.every = check_int(every, "every", minimum=1)
        self.model = _unwrap(model)
        self.optimizer = optimizer
        self.active = _is_recording_rank()
        self.step = 0
        self._closed = False
        self._handles: list = []
        self._act_handles: list = []
        modules = list(self.model.named_modules())
        self._weights = [
            (name or "model", m)
            for name, m in modules
            if isinstance(getattr(m, "weight", None), nn.Parameter)
            and m.weight.ndim >= 2
            and m.weight.requires_grad
        ]
        self._hidden = [
            (name or "model", m, ACTIVATION_KINDS[type(m)])
            for name, m in modules
            if type(m) in ACTIVATION_KINDS
        ]
        self._act_lo, self._act_hi = act_range([k for _, _, k in self._hidden])
        self._batchnorm = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for _, m in modules)
        self._ordered = False
        self._call_order: dict[int, int] = {}
        self.rows: dict[str, list] = {}
        self.update_rows: dict[str, list] = {"update_iterations": [], "update_ratio": []}
        self._pending: dict[int, dict] = {}
        self._waiting: list[tuple[dict, list[dict]]] = []
        self._waiting_bytes = 0
        self._before: list[torch.Tensor] | None = None  # the weights before a sampled step
        self._update_step = 0
        self._post_handle = None  # the update-ratio hook, there after a sampled step only
        self._before_norm: list[float] = []
        self._found: dict = {}
        self._last_inputs = None
        self.nonfinite: dict | None = None
        if self.active:
            self._handles = [
                optimizer.register_step_pre_hook(self._pre_step),
                self.model.register_forward_pre_hook(self._keep_inputs, with_kwargs=True),
            ]
            self._add_activation_hooks()

    # -- context manager and hooks ------------------------------------------------------------
    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Remove every hook the monitor added (calling it again does nothing)."""
        self._closed = True
        self._remove_activation_hooks()
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._remove_post_hook()
        self._last_inputs = None
        self._before = None

    def _add_activation_hooks(self) -> None:
        self._pending = {}
        if not self._ordered:
            for _, m in self._weights:
                self._act_handles.append(m.register_forward_hook(self._note_order))
        for _, m, kind in self._hidden:
            if getattr(m, "inplace", False):  # its input is overwritten: read it before
                self._act_handles.append(m.register_forward_pre_hook(self._make_pre_hook(id(m))))
            self._act_handles.append(m.register_forward_hook(self._make_act_hook(id(m), kind)))

    def _remove_activation_hooks(self) -> None:
        for handle in self._act_handles:
            handle.remove()
        self._act_handles = []

    def _keep_inputs(self, module, args, kwargs):
        self._last_inputs = (args, kwargs)

    def _note_order(self, module, args, output):
        self._call_order.setdefault(id(module), len(self._call_order))

    def _make_pre_hook(self, i: int):
        def hook(module, args):
            if torch.is_grad_enabled() and "pre" not in self._pending.get(i, {}):
                if args and isinstance(args[0], torch.Tensor):
                    self._pending.setdefault(i, {})["pre"] = sample(args[0])

        return hook

    def _make_act_hook(self, i: int, kind: str):
        def hook(module, args, output):
            slot = self._pending.setdefault(i, {})
            if not torch.is_grad_enabled() or "act" in slot or not isinstance(output, torch.Tensor):
                return
            self._call_order.setdefault(i, len(self._call_order))
            if "pre" not in slot and args and isinstance(args[0], torch.Tensor):
                slot["pre"] = sample(args[0])
            slot["act"] = sample(output)
            if kind in ("relu", "leaky_relu"):
                slot["dead"] = dead_share(output)
            if output.requires_grad:
                output.register_hook(partial(self._grad_hook, slot))

        return hook

    def _grad_hook(self, slot: dict, grad: torch.Tensor) -> None:
        if not self._closed and "grad" not in slot:
            slot["grad"] = torch.linalg.vector_norm(grad.detach().float())

    # -- the optimizer step -------------------------------------------------------------------
    def _pre_step(self, optimizer, args, kwargs) -> None:
        step = self.step
        self.step += 1
        if self.nonfinite is None and not self._finite(optimizer):
            self.nonfinite = self._locate_nonfinite(step)
        self._last_inputs = None  # the replay needs them until this check only
        if step % self.every == 0:
            self._remove_activation_hooks()
            self._sampled_step(step)
        if self.step % self.every == 0 and not self._closed:
            self._add_activation_hooks()  # for the next forward pass

    def _sampled_step(self, step: int) -> None:
        """Record the gradient norms and the hidden layers' statistics of this step, and take
        a copy of the weights for its update ratio (read by a hook after the step)."""
        if not self._ordered:
            order = self._call_order
            self._weights.sort(key=lambda nm: order.get(id(nm[1]), len(order)))
            self._hidden.sort(key=lambda nmk: order.get(id(nmk[1]), len(order)))
            self._ordered = True
        weights = [m.weight.detach() for _, m in self._weights]
        grads = [m.weight.grad for _, m in self._weights]
        biases = [b if isinstance(b := getattr(m, "bias", None), torch.Tensor) else None
                  for _, m in self._weights]  # fmt: skip
        biases = [b.grad if b is not None else None for b in biases]
        got = [g for g in grads + biases if g is not None]
        values = iter(_floats(torch._foreach_norm(got + weights)) if weights else [])
        grad_norm = [next(values) if g is not None else math.nan for g in grads + biases]
        self._before_norm = list(values)
        self._record(step, grad_norm, [g is not None for g in grads])
        if weights:
            self._keep_weights(weights)
            self._update_step = step
            self._post_handle = self.optimizer.register_step_post_hook(self._post_step)

    def _keep_weights(self, weights: list[torch.Tensor]) -> None:
        """Copy the weights before the step into buffers kept from one sampled step to the
        next (allocated again when a weight changed shape or device)."""
        try:
            torch._foreach_copy_(self._before, weights)
        except (RuntimeError, TypeError):  # the first time (None), or a new shape or device
            self._before = torch._foreach_mul(weights, 1.0)

    def _post_step(self, optimizer, args, kwargs) -> None:
        """After a sampled step (the hook is there for that step only): ‖ΔW‖/‖W‖."""
        self._remove_post_hook()
        if self._before is None:
            return
        after = [m.weight.detach() for _, m in self._weights]
        try:
            torch._foreach_sub_(self._before, after)  # -ΔW, in the buffers
        except RuntimeError:  # a weight moved to another device during the step
            self._before = None
            return
        moved = _floats(torch._foreach_norm(self._before))
        ratio = []
        for d, w in zip(moved, self._before_norm, strict=True):
            if not (math.isfinite(d) and math.isfinite(w)):
                ratio.append(math.nan)
            else:
                ratio.append(d / w if w > 0 else math.inf if d > 0 else 0.0)
        self.update_rows["update_iterations"].append(self._update_step)
        self.update_rows["update_ratio"].append(ratio)

    def _remove_post_hook(self) -> None:
        if self._post_handle is not None:
            self._post_handle.remove()
            self._post_handle = None

    def _finite(self, optimizer: torch.optim.Optimizer) -> bool:
        """Whether every gradient the optimizer holds is finite, in one fused call: the check
        that ``GradScaler`` runs (``_amp_foreach_non_finite_check_and_unscale_`` with a scale
        of 1, which leaves the values as they are), ~8 µs for the seed MLP; grouped by device
        and dtype where they differ, one norm per tensor where the call is not available.
        Its flag is never reset: after the first non-finite gradient no check runs again."""
        grads = [p.grad for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
        if not grads:
            return True
        try:
            found, one = self._flags(grads[0].device)
            torch._amp_foreach_non_finite_check_and_unscale_(grads, found, one)
        except RuntimeError:  # several devices or dtypes: one call each
            try:
                groups: dict[tuple, list[torch.Tensor]] = {}
                for g in grads:
                    groups.setdefault((g.device, g.dtype), []).append(g)
                for (device, _), group in groups.items():
                    found, one = self._flags(device)
                    torch._amp_foreach_non_finite_check_and_unscale_(group, found, one)
                    if found.item():
                        return False
                return True
            except (RuntimeError, NotImplementedError):  # sparse gradients, say
                return all(math.isfinite(n) for n in _floats(torch._foreach_norm(grads)))
        return not found.item()

    def _flags(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        if device not in self._found:
            self._found[device] = (torch.zeros(1, device=device), torch.ones(1, device=device))
        return self._found[device]

    def _record(self, step: int, grad_norm: list[float], present: list[bool]) -> None:
        """One record: the gradient norms now; the statistics of the hidden layers' inputs and
        outputs later, from the values the hooks copied, for several records at once
        (:meth:`_summarize`): summarized one step at a time, in the middle of training, the
        same NumPy calls take 2-3x longer, their code and data evicted from the caches by
        the training step."""
        n_w = len(present)
        slots = [self._pending.get(id(m), {}) for _, m, _ in self._hidden]
        row: dict[str, object] = {
            "iterations": step,
            "weight_grad_norm": grad_norm[:n_w],
            "weight_grad_present": present,
            "bias_grad_norm": grad_norm[n_w:],
            "dead": [float(slot.get("dead", math.nan)) for slot in slots],
            "act_grad_norm": [slot.get("grad", math.nan) for slot in slots],
        }
        self._waiting.append((row, slots))
        self._waiting_bytes += sum(v.nbytes for slot in slots for v in slot.values()
                                   if isinstance(v, np.ndarray))  # fmt: skip
        self._pending = {}
        if len(self._waiting) >= WAIT_RECORDS or self._waiting_bytes >= WAIT_BYTES:
            self._summarize()

    def _summarize(self) -> None:
        """Summarize the hidden layers of every waiting record (see :meth:`_record`) and
        append the records to :attr:`rows`; the copied values are dropped."""
        hidden, waiting = self._hidden, self._waiting
        self._waiting, self._waiting_bytes = [], 0
        h = len(hidden)
        arrays, ranges, outside = [], [], []
        for _, slots in waiting:
            arrays += [slot.get("act", _NOTHING) for slot in slots]
            arrays += [slot.get("pre", _NOTHING) for slot in slots]
            ranges += [(self._act_lo, self._act_hi)] * h + [PRE_RANGE] * h
            outside += [SATURATED.get(kind) for _, _, kind in hidden] + [None] * h
        stats = summaries(arrays, ranges, outside)
        for n, (row, _) in enumerate(waiting):
            act, pre = slice(2 * h * n, 2 * h * n + h), slice(2 * h * n + h, 2 * h * (n + 1))
            row["act_grad_norm"] = [float(v) for v in row["act_grad_norm"]]
            row["saturated"] = stats.outside[act]
            for prefix, part in (("act", act), ("pre", pre)):
                row[f"{prefix}_mean"], row[f"{prefix}_std"] = stats.mean[part], stats.std[part]
                row[f"{prefix}_pct"], row[f"{prefix}_hist"] = stats.pct[part], stats.hist[part]
            for key, value in row.items():
                self.rows.setdefault(key, []).append(value)

    # -- non-finite values ----------------------------------------------------------------------
    def _locate_nonfinite(self, step: int) -> dict:
        """Name the first module (forward order) whose output went non-finite at ``step``."""
        event = {"step": step, "layer": "?", "detail": ""}
        culprit = self._replay_forward()
        if culprit is not None:
            event["layer"], event["detail"] = culprit
            return event
        bad = [
            name
            for name, m in self._weights
            if m.weight.grad is not None and not bool(torch.isfinite(m.weight.grad).all())
        ]
        if bad:
            event["layer"] = bad[-1]
            event["detail"] = (
                "every forward output was finite; the gradient went non-finite in the backward "
                "pass, first here (the layer nearest the loss): look at the loss (a log of 0?)"
            )
        else:
            event["detail"] = "a gradient is NaN or inf"
        return event

    def _replay_forward(self) -> tuple[str, str] | None:
        if self._last_inputs is None or any(
            isinstance(m, nn.SyncBatchNorm) for m in self.model.modules()
        ):
            return None
        args, kwargs = self._last_inputs
        names = {id(m): name or "model" for name, m in self.model.named_modules()}
        found: list[tuple[str, str]] = []

        def check(module, inputs, output):
            if found or _all_finite(output):
                return
            where = (
                "its input was already non-finite"
                if not _all_finite(inputs)
                else ("its output is NaN or inf while its input is finite")
            )
            found.append((names[id(module)], where))

        handles = [m.register_forward_hook(check) for m in self.model.modules()]
        buffers = [(b, b.detach().clone()) for b in self.model.buffers()]
        cpu_rng = torch.get_rng_state()
        cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
        try:
            with torch.no_grad():
                self.model(*args, **kwargs)
        except Exception:  # noqa: BLE001 - the replay only helps to name a module
            pass
        finally:
            for handle in handles:
                handle.remove()
            for buffer, saved in buffers:
                buffer.copy_(saved)
            torch.set_rng_state(cpu_rng)
            if cuda_rng is not None:
                torch.cuda.set_rng_state_all(cuda_rng)
        return found[0] if found else None

    # -- results ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.rows.get("iterations", [])) + len(self._waiting)

    def arrays(self) -> dict[str, np.ndarray]:
        """The records in koubai's format (see :mod:`koubai.diagnose`), ready for ``np.savez``."""
        if self._waiting:
            self._summarize()
        n_w, n_h = len(self._weights), len(self._hidden)
        out: dict[str, np.ndarray] = {}
        shapes = {"iterations": (0,), "weight_grad_present": (0, n_w)}
        for key, values in self.rows.items():
            out[key] = np.array(values)
        out.setdefault("iterations", np.zeros(0, dtype=np.int64))
        for key in ("weight_grad_norm", "bias_grad_norm", "weight_grad_present"):
            out.setdefault(key, np.zeros(shapes.get(key, (0, n_w))))
        for key in (
            "saturated",
            "dead",
            "act_grad_norm",
            "act_mean",
            "act_std",
            "pre_mean",
            "pre_std",
        ):
            out[key] = np.asarray(out.get(key, np.zeros((0, n_h))), dtype=float).reshape(-1, n_h)
        for prefix in ("act", "pre"):
            out[f"{prefix}_pct"] = np.asarray(
                out.get(f"{prefix}_pct", np.zeros((0, n_h, len(PERCENTILES))))
            ).reshape(-1, n_h, len(PERCENTILES))
            out[f"{prefix}_hist"] = np.asarray(
                out.get(f"{prefix}_hist", np.zeros((0, n_h, N_BINS)))
            ).reshape(-1, n_h, N_BINS)
        its = self.update_rows["update_iterations"]
        out["update_iterations"] = np.array(its, dtype=np.int64)
        out["update_ratio"] = np.array(self.update_rows["update_ratio"], dtype=float).reshape(
            len(its), n_w
        )
        out["act_edges"] = np.linspace(self._act_lo, self._act_hi, N_BINS + 1)
        out["pre_edges"] = np.linspace(*PRE_RANGE, N_BINS + 1)
        out["percentiles"] = np.array(PERCENTILES)
        out["layer_names"] = np.array([name for name, _ in self._weights], dtype=str)
        out["hidden_names"] = np.array([name for name, _, _ in self._hidden], dtype=str)
        kinds = [kind for _, _, kind in self._hidden]
        out["activations"] = np.array(kinds, dtype=str)
        event = self.nonfinite or {"step": -1, "layer": "", "detail": ""}
        out["nonfinite_iteration"] = np.array(event["step"], dtype=np.int64)
        out["nonfinite_layer"] = np.array(event["layer"])
        out["nonfinite_detail"] = np.array(event["detail"])
        out["meta"] = np.array(
            json.dumps(
                {
                    "activation": Counter(kinds).most_common(1)[0][0] if kinds else "none",
                    "batchnorm": self._batchnorm,
                    "affine_layers": list(range(n_w)),
                    "hidden_layers": list(range(n_h)),
                    "source": "koubai.torch.Monitor",
                    "every": self.every,
                }
            )
        )
        return out

    def records(self) -> dict:
        """:meth:`arrays` with ``meta`` as a dict, as ``load_diagnostics`` returns it."""
        out = self.arrays()
        out["meta"] = json.loads(str(out["meta"]))
        return out

    def diagnose(self, thresholds: Thresholds | None = None) -> list[Finding]:
        """The findings of the records so far, with ``thresholds`` (default: the calibrated)."""
        if not self.active or (len(self) == 0 and self.nonfinite is None):
            return []
        return diagnose(self.arrays(), thresholds=thresholds)

    @property
    def findings(self) -> list[Finding]:
        """The current findings (empty on ranks other than 0)."""
        return self.diagnose()

    def summary(self, lang: str | None = None) -> str:
        """The current findings as text, one line each, in ``lang`` (default: ``KOUBAI_LANG``,
        else the locale's language, else English: as koubai's commands)."""
        return format_findings(self.findings, language(lang))

    def report(self, folder: str | os.PathLike, *, lang: str | None = None) -> Path | None:
        """Write ``diagnostics.npz``, ``findings.json``, the figures and a self-contained
        ``report.html`` (in ``lang``, default as :meth:`summary`) into ``folder``; return the
        report's path (None on ranks other than 0)."""
        if not self.active:
            return None
        from koubai.torch._report import write_monitor_report

        return write_monitor_report(self, Path(folder), lang=language(lang))
