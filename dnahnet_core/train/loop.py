"""The training loop: one function for CPU, one GPU, or many GPUs and nodes under torchrun."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel

from ..checkpoint import save_model
from ..diagnostics import hierarchy_diagnostics, stage_grad_norms
from ..data import EvalWindows, TokenStore, WindowSampler, ensure_cache, find_fasta_files, split_files
from ..errors import CheckpointError, InputError
from ..losses import total_loss
from ..model.dnahnet import DnaHNet
from ..version import __version__
from .checkpoints import latest_checkpoint, load_checkpoint, save_checkpoint
from .config import TrainConfig
from ..distributed import DistInfo, all_reduce_sum, barrier, cleanup, init_distributed, on_main
from .evaluate import EvalResult, evaluate
from .metrics import MetricsLog
from .init import init_weights
from .optim import make_optimizer, make_scheduler


@dataclass
class TrainResult:
    step: int  # steps completed
    tokens_seen: int  # nucleotides trained on, all ranks
    interrupted: bool
    final_model: Path | None  # OUT/final.safetensors (rank 0), None when interrupted
    last_eval: EvalResult | None
    losses: list[float] = field(default_factory=list)  # training loss of every step run here
    model: DnaHNet | None = None  # the trained model (unwrapped), on its device


class _StopFlag:
    """SIGINT/SIGTERM set a flag; the loop saves a checkpoint at the end of the step and exits."""

    def __init__(self) -> None:
        self.raised = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "_StopFlag":
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: signals cannot be caught here
                pass
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.raised = True

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _load_stores(cfg: TrainConfig, info: DistInfo) -> tuple[TokenStore, TokenStore | None, list[Path], list[Path]]:
    files = find_fasta_files(cfg.fasta)
    if cfg.val_fasta:
        val_files = find_fasta_files(cfg.val_fasta)
        train_files = [f for f in files if f not in set(val_files)]
    else:
        train_files, val_files = split_files(files, cfg.val_fraction, cfg.seed)
    if not train_files:
        raise InputError("no training files left after setting the validation files aside")
    if cfg.cache:
        # Rank 0 writes the cache; the others open it once it is there (or stop if that failed).
        on_main(lambda: ensure_cache(train_files, Path(cfg.cache)), info, "building the token cache")
        train_store = TokenStore.from_cache(Path(cfg.cache))
    else:
        train_store = TokenStore.from_files(train_files)
    val_store = TokenStore.from_files(val_files) if val_files else None
    return train_store, val_store, train_files, val_files


def train(cfg: TrainConfig, *, stop_after: int | None = None, progress: bool | None = None) -> TrainResult:
    """Train (or resume) a dnaHNet as ``cfg`` says. ``stop_after`` ends the run after that many
    steps as if interrupted (a checkpoint is saved), which tests use to exercise resume."""
    cfg.validate()
    info = init_distributed(cfg.device)
    try:
        return _train(cfg, info, stop_after, progress)
    finally:
        cleanup(info)


def _train(cfg: TrainConfig, info: DistInfo, stop_after: int | None, progress: bool | None) -> TrainResult:
    out = Path(cfg.out)
    device = info.device
    model_cfg = cfg.model()
    train_store, val_store, train_files, val_files = _load_stores(cfg, info)

    torch.manual_seed(cfg.seed)  # identical initial weights on every rank
    model = init_weights(DnaHNet(model_cfg), cfg.init).to(device)
    for stage in model.modules():
        if hasattr(stage, "residual_dropout"):
            stage.residual_dropout = cfg.residual_dropout
    multipliers = cfg.stage_multipliers(model_cfg.n_stages)
    optimizer = make_optimizer(model, cfg.lr, cfg.weight_decay, multipliers)
    scheduler = make_scheduler(optimizer, cfg.warmup_steps, cfg.steps, cfg.min_lr_ratio)
    # CUDA: bf16 autocast (routing, dechunk, residuals and loss stay fp32 inside the model).
    # CPU: fp32 throughout; bf16 matmuls are orders of magnitude slower on CPUs.
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()

    start, tokens_seen = 0, 0
    existing = latest_checkpoint(out)
    if existing is not None and not cfg.resume:
        raise InputError("already holds checkpoints of another run; resume it (--resume) or choose a new --out", path=str(out))
    resume_from = existing if cfg.resume else None
    if resume_from is not None:
        restored = load_checkpoint(resume_from, model, optimizer, scheduler)
        start, tokens_seen = restored.step, int(restored.trainer_state.get("tokens_seen", 0))
        # The data stream is a function of these: a resumed run must not silently change them.
        saved = restored.trainer_state.get("train", {})
        changed = [k for k in ("seed", "batch_size", "grad_accum", "seq_len", "rc_augment", "species_power")
                   if saved.get(k, TrainConfig.__dataclass_fields__[k].default) != getattr(cfg, k)]
        if restored.trainer_state.get("world_size", info.world_size) != info.world_size:
            changed.append("world_size")
        if changed:
            raise CheckpointError(f"{resume_from}: cannot resume with a different {', '.join(changed)} (start a new --out instead)")
    ddp = DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None) if info.distributed else None
    forward = ddp if ddp is not None else model

    sampler = WindowSampler(train_store, cfg.seq_len, seed=cfg.seed, rc_augment=cfg.rc_augment, rank=info.rank,
                            world_size=info.world_size, species_power=cfg.species_power)
    eval_batches = (
        EvalWindows(val_store, cfg.seq_len, batch_size=cfg.batch_size, max_windows=cfg.eval_windows, rank=info.rank, world_size=info.world_size)
        if val_store is not None
        else None
    )
    resolved = {"dnahnet_version": __version__, "train": cfg.to_dict(), "model": model_cfg.to_dict(),
                "train_files": [str(f) for f in train_files], "val_files": [str(f) for f in val_files],
                "world_size": info.world_size, "device": str(device), "parameters": model.num_parameters()}
    def prepare_output() -> None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(resolved, indent=2))

    on_main(prepare_output, info, f"creating {out}")
    if info.is_main:
        print(f"dnahnet train: resolved config\n{json.dumps(resolved, indent=2)}", file=sys.stderr)
        print(f"dnahnet train: {len(train_files)} training files ({train_store.total_length:,} nt), "
              f"{len(val_files)} validation files ({val_store.total_length if val_store else 0:,} nt); "
              + (f"resuming from {resume_from} at step {start}" if resume_from else "starting at step 0"), file=sys.stderr)
    log = MetricsLog(out / "metrics.jsonl", cfg.steps, start, enabled=info.is_main, progress=progress)

    def checkpoint(step: int) -> None:
        if info.is_main:
            state = {"tokens_seen": tokens_seen, "data_position": {"next_step": step, "seed": cfg.seed}, **resolved}
            save_checkpoint(out, step, model, optimizer, scheduler, state, cfg.keep_last)
        barrier(info)

    losses: list[float] = []
    last_eval: EvalResult | None = None
    interrupted = False
    window = {"nll": 0.0, "scored": 0.0, "tokens": 0.0, "seconds": 0.0}
    step = start
    with _StopFlag() as stop:
        while step < cfg.steps:
            t0 = time.perf_counter()
            model.train()
            step_loss, ratios, selected, tokens = 0.0, [0.0] * model_cfg.n_stages, [0.0] * model_cfg.n_stages, 0
            for micro in range(cfg.grad_accum):
                batch = sampler.batch(step * cfg.grad_accum + micro, cfg.batch_size).to(device)
                # Gradients are all-reduced once per optimizer step, on the last micro-batch.
                sync = ddp.no_sync() if ddp is not None and micro < cfg.grad_accum - 1 else contextlib.nullcontext()
                with sync:
                    with autocast:
                        result = forward(batch.ids, lengths=batch.lengths)
                    loss = total_loss(result, batch.ids, model_cfg.ratio_targets, cfg.alpha)
                    (loss.total / cfg.grad_accum).backward()
                step_loss += loss.total.item() / cfg.grad_accum
                window["nll"] += float(loss.lm.nll_sum)
                window["scored"] += loss.lm.n_scored
                for s in range(model_cfg.n_stages):
                    ratios[s] += loss.ratio[s].item() / cfg.grad_accum
                    selected[s] += loss.selected[s] / cfg.grad_accum
                tokens += int((batch.lengths - 1).sum())
            log_now = step + 1 == cfg.steps or (step + 1) % cfg.log_every == 0
            stage_norms = stage_grad_norms(model) if log_now else []  # before clipping
            grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip))
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            tokens = int(all_reduce_sum([float(tokens)], info)[0])  # every rank's real (unpadded) tokens
            tokens_seen += tokens
            losses.append(step_loss)
            window["tokens"] += tokens
            window["seconds"] += time.perf_counter() - t0
            log.advance()

            if step % cfg.log_every == 0 or step == cfg.steps:
                nll, scored = all_reduce_sum([window["nll"], window["scored"]], info)
                bpb = nll / max(scored, 1) / 0.6931471805599453
                record = {"step": step, "loss": step_loss, "bpb": bpb, "ratio_loss": ratios, "selected": selected,
                          "lr": scheduler.get_last_lr()[0] / multipliers[0], "grad_norm": grad_norm,
                          "grad_norm_stage": stage_norms,
                          "bp_per_s": window["tokens"] / max(window["seconds"], 1e-9), "tokens_seen": tokens_seen}
                log.write(record, f"step {step}/{cfg.steps} | loss {step_loss:.4f} | bpb {bpb:.4f} | ratio "
                          + ",".join(f"{r:.3f}" for r in ratios) + " | sel " + ",".join(f"{s:.3f}" for s in selected)
                          + f" | lr {record['lr']:.2e} | gnorm {grad_norm:.3f} ("
                          + "/".join(f"{g:.3f}" for g in stage_norms) + f") | {record['bp_per_s']:,.0f} bp/s")
                window = {"nll": 0.0, "scored": 0.0, "tokens": 0.0, "seconds": 0.0}
            if eval_batches is not None and (step % cfg.eval_every == 0 or step == cfg.steps):
                last_eval = evaluate(model, eval_batches, info, autocast)
                targets = [1 / t for t in model_cfg.ratio_targets]
                record = {"step": step, "val_bpb": last_eval.bits_per_base, "val_selected": last_eval.selected, "targets": targets}
                text = (f"eval step {step} | val bpb {last_eval.bits_per_base:.4f} | selected "
                        + ", ".join(f"s{i + 1} {s:.3f} (target {t:.3f})" for i, (s, t) in enumerate(zip(last_eval.selected, targets))))
                if cfg.eval_diagnostics and model_cfg.n_stages > 0:
                    # Every rank runs them on its own share of the validation windows (no collective
                    # inside, and no rank idles in the next collective while another computes);
                    # rank 0 logs its share's figures.
                    diag = hierarchy_diagnostics(model, eval_batches, device, autocast)
                    record["diagnostics"] = diag.to_dict()
                    text += "\n  diagnostics: " + diag.summary()
                log.write(record, text)
            stop_now = all_reduce_sum([float(stop.raised)], info)[0] > 0 or (stop_after is not None and step - start >= stop_after)
            if step % cfg.save_every == 0 or step == cfg.steps or stop_now:
                checkpoint(step)
            if stop_now and step < cfg.steps:
                interrupted = True
                if info.is_main:
                    print(f"dnahnet train: stopped at step {step}; checkpoint saved in {out}; run the same command to resume", file=sys.stderr)
                break
    log.close()

    final = None
    if not interrupted:
        final = out / "final.safetensors"
        if info.is_main:
            meta = {"train_steps": str(step), "tokens_seen": str(tokens_seen),
                    "train_files": json.dumps([f.name for f in train_files])}
            if last_eval is not None:
                meta["val_bits_per_base"] = f"{last_eval.bits_per_base:.6f}"
                meta["val_selected"] = json.dumps(last_eval.selected)
            save_model(model, final, metadata=meta)
        barrier(info)
    return TrainResult(step=step, tokens_seen=tokens_seen, interrupted=interrupted, final_model=final,
                       last_eval=last_eval, losses=losses, model=model)
