"""lm-eval's log-likelihood requests, rolling (perplexity) and plain (downstream tasks), in length-sorted
batches of windows with the LM head only where a token is predicted (selftrain.scoring.window_scores).

lm-eval's HFLM batches rolling windows in request order, so a short document shares a padded batch with
a 512-token one, and it materialises log-softmax over every padded position: batched evaluation of short
held-out documents ran at 0.48x of one document at a time here. The same windows sorted by length,
batch_size at a time, give the same log-likelihoods (up to float summation order) with almost no
padding. A plain request (a context, then a continuation of a few tokens) needs the head at those few
positions only. Imports lm-eval: load lazily."""

from __future__ import annotations

from lm_eval import utils
from lm_eval.models.huggingface import HFLM

from .scoring import window_loglikelihoods, window_scores


def rolling_windows(tokens: list[int], prefix_token: int, max_length: int) -> list[tuple[list[int], list[int]]]:
    """lm-eval's disjoint rolling windows of one document as (model input, tokens its last positions predict)."""
    windows = []
    for context, continuation in map(utils.make_disjoint_window, utils.get_rolling_token_windows(
            token_list=tokens, prefix_token=prefix_token, max_seq_len=max_length, context_len=1)):
        windows.append(request_window(context, continuation, max_length))
    return windows


def request_window(context: list[int], continuation: list[int], max_length: int) -> tuple[list[int], list[int]]:
    """(model input, tokens its last positions predict) of one request, as lm-eval's _loglikelihood_tokens
    builds it: context + continuation less its last token, truncated from the left to max_length; the last
    len(continuation) positions predict the continuation."""
    return (context + continuation)[-(max_length + 1):][:-1], continuation


class SortedRollingHFLM(HFLM):
    """HFLM whose loglikelihood_rolling and loglikelihood score their windows in length-sorted batches."""

    def _fast(self) -> bool:
        return self.world_size == 1 and isinstance(self.batch_size, int) and self.backend == "causal"

    def _loglikelihood_tokens(self, requests, disable_tqdm: bool = False, override_bs=None):
        """Per (key, context tokens, continuation tokens): (summed log-likelihood of the continuation, whether
        it is the greedy continuation), as lm-eval's HFLM computes them (request_window)."""
        if not self._fast() or override_bs is not None:
            return super()._loglikelihood_tokens(requests, disable_tqdm, override_bs)
        windows = []
        for _, context, continuation in requests:
            if not context or not continuation or len(continuation) > self.max_length:
                return super()._loglikelihood_tokens(requests, disable_tqdm, override_bs)  # lm-eval's own asserts
            windows.append(request_window(context, continuation, self.max_length))
        answers = window_scores(self.model, windows, self.batch_size, self.device)
        for (key, _, _), answer in zip(requests, answers):
            if key is not None:
                self.cache_hook.add_partial("loglikelihood", key, answer)
        return answers

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False) -> list[float]:
        """Per request: the summed log-likelihood of its whole string over lm-eval's rolling windows."""
        if not self._fast():
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
