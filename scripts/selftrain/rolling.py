"""Perplexity (lm-eval's rolling log-likelihood) with length-sorted batches of windows.

lm-eval's HFLM batches rolling windows in request order, so a short document shares a padded batch with
a 512-token one, and it materialises log-softmax over every padded position: batched evaluation of short
held-out documents ran at 0.48x of one document at a time here. The same windows sorted by length,
batch_size at a time, give the same log-likelihoods (up to float summation order) with almost no
padding. Imports lm-eval: load lazily."""

from __future__ import annotations

from lm_eval import utils
from lm_eval.models.huggingface import HFLM

from .scoring import window_loglikelihoods


def rolling_windows(tokens: list[int], prefix_token: int, max_length: int) -> list[tuple[list[int], list[int]]]:
    """lm-eval's disjoint rolling windows of one document as (model input, tokens its last positions predict)."""
    windows = []
    for context, continuation in map(utils.make_disjoint_window, utils.get_rolling_token_windows(
            token_list=tokens, prefix_token=prefix_token, max_seq_len=max_length, context_len=1)):
        # as lm-eval's _loglikelihood_tokens: context + continuation less its last token, truncated from the
        # left; the last len(continuation) positions predict the continuation
        windows.append(((context + continuation)[-(max_length + 1):][:-1], continuation))
    return windows


class SortedRollingHFLM(HFLM):
    """HFLM whose loglikelihood_rolling scores its windows in length-sorted batches."""

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False) -> list[float]:
        """Per request: the summed log-likelihood of its whole string over lm-eval's rolling windows."""
        if self.world_size > 1 or not isinstance(self.batch_size, int) or self.backend != "causal":
            return super().loglikelihood_rolling(requests, disable_tqdm)
        windows, owner = [], []
        for r, req in enumerate(requests):
            for window in rolling_windows(self.tok_encode(req.args[0]), self.prefix_token_id, self.max_length):
                windows.append(window)
                owner.append(r)
        totals = [0.0] * len(requests)
        for r, ll in zip(owner, window_loglikelihoods(self.model, windows, self.batch_size, self.device)):
            totals[r] += ll
        for req, total in zip(requests, totals):
            self.cache_hook.add_partial("loglikelihood_rolling", req.args, total)
        return totals
