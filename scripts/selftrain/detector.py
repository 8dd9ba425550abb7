"""A machine-text detector: scikit-learn's HashingVectorizer (word unigrams and bigrams) and
LogisticRegression, trained on equally many human and machine texts, with a held-out accuracy."""

from __future__ import annotations

import numpy as np

HELDOUT_FRACTION = 0.2  # of each class, never trained on: the accuracy filter_stats.json reports


class MachineTextDetector:
    """fit(human, machine) -> held-out accuracy; p_human(texts) -> probability of each text being human."""

    def __init__(self, features: int, c: float, seed: int):
        from sklearn.feature_extraction.text import HashingVectorizer
        from sklearn.linear_model import LogisticRegression

        # stateless hashing: the features need no vocabulary pass and a round's corpus is scored sparse
        self.vectorizer = HashingVectorizer(n_features=features, ngram_range=(1, 2), alternate_sign=False)
        # balanced weights keep the prior out of the scores even where a held-out split leaves a class
        # one document larger; liblinear is deterministic given random_state
        self.model = LogisticRegression(C=c, class_weight="balanced", solver="liblinear", random_state=seed)
        self.seed = seed

    def fit(self, human: list[str], machine: list[str]) -> dict:
        from sklearn.model_selection import train_test_split

        texts, labels = human + machine, np.array([1] * len(human) + [0] * len(machine))
        if min(len(human), len(machine)) < 1:
            raise ValueError(f"detector: needs human and machine training texts, got {len(human)} and {len(machine)}")
        n_test = int(HELDOUT_FRACTION * len(texts))
        if n_test < 2 or min(len(human), len(machine)) < 2:
            # too few to hold any out of both classes: train on all, report no held-out accuracy
            train_x, train_y, test_x, test_y = texts, labels, [], labels[:0]
        else:
            train_x, test_x, train_y, test_y = train_test_split(
                texts, labels, test_size=n_test, random_state=self.seed, stratify=labels)
        self.model.fit(self.vectorizer.transform(train_x), train_y)
        heldout = float(self.model.score(self.vectorizer.transform(test_x), test_y)) if test_x else None
        return {"train_accuracy": round(float(self.model.score(self.vectorizer.transform(train_x), train_y)), 6),
                "heldout_accuracy": None if heldout is None else round(heldout, 6),
                "heldout_documents": len(test_x)}

    def p_human(self, texts: list[str]) -> np.ndarray:
        return self.model.predict_proba(self.vectorizer.transform(texts))[:, list(self.model.classes_).index(1)]
