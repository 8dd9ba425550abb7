"""Log-likelihood of token windows in length-sorted batches: the one scoring loop of perplexity evaluation
(selftrain.rolling) and the perplexity filter (selftrain.filters)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE = -100


def window_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Window indices, longest first, batch_size at a time: neighbours in length share a padded batch."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


@torch.no_grad()
def window_loglikelihoods(model, windows: list[tuple[list[int], list[int]]], batch_size: int,
                          device="cpu") -> list[float]:
    """Summed log-probability of each window's predicted tokens, in length-sorted batches."""
    out = [0.0] * len(windows)
    for idx in window_batches([len(w[0]) for w in windows], batch_size):
        width = len(windows[idx[0]][0])
        inputs = torch.zeros((len(idx), width), dtype=torch.long)
        targets = torch.full((len(idx), width), IGNORE, dtype=torch.long)
        for row, i in enumerate(idx):
            seq, predicted = windows[i]
            inputs[row, :len(seq)] = torch.tensor(seq)
            targets[row, len(seq) - len(predicted):len(seq)] = torch.tensor(predicted)
        # right padding under causal attention: no real position attends to a padded one, so no mask
        logits = model(inputs.to(device)).logits
        nll = F.cross_entropy(logits.float().flatten(0, 1), targets.to(device).flatten(), ignore_index=IGNORE,
                              reduction="none").view(len(idx), width)
        for i, total in zip(idx, (-nll.double().sum(1)).tolist()):
            out[i] = total
    return out
