"""Log-likelihood of token windows in length-sorted batches: the one scoring loop of perplexity evaluation and
lm-eval's loglikelihood requests (selftrain.rolling) and of the perplexity filter (selftrain.filters)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

# positions put through the LM head at a time. CPU: 256 x a 4096-token vocabulary's logits stay in cache; a
# [16, 512] batch of the default's model scored in 0.63 s against 0.90 s with its logits whole (measured
# 2026-12-02, 1 thread, 2-core EPYC VM at 149 GFLOP/s fp32 matmul on 2 threads). GPU: a bound on memory
# (2048 x OLMo-2's 100,352-token vocabulary in fp32 is 0.8 GB), not measured for speed
CPU_HEAD_CHUNK = 256
GPU_HEAD_CHUNK = 2048


def window_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Window indices, longest first, batch_size at a time: neighbours in length share a padded batch."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def split_head(model):
    """(decoder, LM head) of a causal LM whose logits are its head applied to its decoder's last hidden state,
    or None where transformers does not expose the two. Whether the logits really are that (no softcapping or
    scaling after the head) is checked against the whole model on the first batch (window_scores)."""
    try:
        decoder, head = model.get_decoder(), model.get_output_embeddings()
    except (AttributeError, NotImplementedError, ValueError):
        return None
    if decoder is None or decoder is model or not isinstance(head, torch.nn.Linear):
        return None
    return decoder, head


def predicted_positions(windows: list[tuple[list[int], list[int]]], idx: list[int]):
    """The padded [rows, width] input of the windows idx (right padding) and, flattened over the batch, the row,
    position and target of every predicted token: a window's last len(predicted) positions predict it."""
    width = len(windows[idx[0]][0])
    inputs = torch.zeros((len(idx), width), dtype=torch.long)
    rows, cols, targets = [], [], []
    for row, i in enumerate(idx):
        seq, predicted = windows[i]
        inputs[row, :len(seq)] = torch.tensor(seq)
        rows += [row] * len(predicted)
        cols += range(len(seq) - len(predicted), len(seq))
        targets += predicted
    return inputs, torch.tensor(rows), torch.tensor(cols), torch.tensor(targets)


def token_scores(logits, targets, greedy: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """(log-probability of each target, whether it is the argmax; all True unless greedy) of [n, vocab] logits."""
    logits = logits.float()
    hits = logits.argmax(-1) == targets if greedy else torch.ones_like(targets, dtype=torch.bool)
    return -F.cross_entropy(logits, targets, reduction="none"), hits


@torch.no_grad()
def window_scores(model, windows: list[tuple[list[int], list[int]]], batch_size: int,
                  device="cpu", greedy: bool = True) -> list[tuple[float, bool]]:
    """(summed log-probability of each window's predicted tokens, whether every one is the model's argmax;
    True throughout unless greedy), in length-sorted batches. Only predicted positions go through the LM
    head, a chunk of them at a time: lm-eval's loglikelihood requests predict a few tokens after a long
    context, where the head over every position was most of the work. A model whose logits are not
    head(decoder) (split_head, checked on the first batch against the whole model's logits on its first
    row) is scored from its whole logits instead."""
    split = split_head(model)
    checked = False
    out: list[tuple[float, bool]] = [(0.0, True)] * len(windows)
    for idx in window_batches([len(w[0]) for w in windows], batch_size):
        inputs, rows, cols, targets = predicted_positions(windows, idx)
        if len(targets) == 0:
            continue
        inputs, rows, cols, targets = (t.to(device) for t in (inputs, rows, cols, targets))
        # right padding under causal attention: no real position attends to a padded one, so no mask
        if split is not None:
            decoder, head = split
            hidden = decoder(input_ids=inputs).last_hidden_state[rows, cols]
            if not checked:
                first = rows == rows[0]
                whole = model(input_ids=inputs[rows[0]][None]).logits[0, cols[first]]
                if not torch.allclose(head(hidden[first]), whole, rtol=1e-4, atol=1e-4):
                    split = None
                checked = True
        if split is not None:
            chunk = CPU_HEAD_CHUNK if hidden.device.type == "cpu" else GPU_HEAD_CHUNK
            parts = [token_scores(head(hidden[i:i + chunk]), targets[i:i + chunk], greedy)
                     for i in range(0, len(targets), chunk)]
            logp, hits = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
        else:
            logp, hits = token_scores(model(input_ids=inputs).logits[rows, cols], targets, greedy)
        totals = torch.zeros(len(idx), dtype=torch.float64, device=logp.device).index_add_(0, rows, logp.double())
        misses = torch.zeros(len(idx), dtype=torch.long, device=logp.device).index_add_(0, rows, (~hits).long())
        for i, total, miss in zip(idx, totals.tolist(), misses.tolist()):
            out[i] = (total, miss == 0)
    return out


def window_loglikelihoods(model, windows: list[tuple[list[int], list[int]]], batch_size: int,
                          device="cpu") -> list[float]:
    """Summed log-probability of each window's predicted tokens, in length-sorted batches (window_scores)."""
    return [total for total, _ in window_scores(model, windows, batch_size, device, greedy=False)]
