"""Text helpers of the simple baselines: tokeniser, a vectorised BM25 index built with rank_bm25, TF-IDF."""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp
from rank_bm25 import BM25Okapi
from sklearn.feature_extraction.text import TfidfVectorizer

_MARKERS = re.compile(r"\[(?:IMG|EOC|CLS)\]")
_WORD = re.compile(r"\w+")


def tokenize(text: str | None) -> list[str]:
    """Lowercased word tokens of nltk's wordpunct pattern (`\\w+|[^\\w\\s]+`) without the
    punctuation-only tokens and without the flattening markers [IMG] / [EOC] / [CLS]."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return []
    return _WORD.findall(_MARKERS.sub(" ", str(text)).lower())


class BM25Index:
    """BM25Okapi (rank_bm25) over a corpus, scored as one sparse product so a batch of queries costs
    one matrix multiplication. `scores(q)[d]` equals `BM25Okapi.get_scores(q)[d]`."""

    def __init__(self, corpus: Sequence[list[str]], k1: float = 1.5, b: float = 0.75, epsilon: float = 0.25):
        docs = [d if d else [] for d in corpus]
        if not any(docs):  # no token at all (rank_bm25 divides by the vocabulary size): nothing matches
            self.bm25, self.vocab = None, {}
            self.weights = sp.csr_matrix((0, len(docs)))
            return
        self.bm25 = BM25Okapi(docs, k1=k1, b=b, epsilon=epsilon)
        self.vocab = {w: i for i, w in enumerate(sorted(self.bm25.idf))}
        idf = np.array([self.bm25.idf[w] for w in sorted(self.bm25.idf)], dtype=np.float64)
        rows, cols, tf = [], [], []
        for d, freqs in enumerate(self.bm25.doc_freqs):
            for w, f in freqs.items():
                rows.append(self.vocab[w])
                cols.append(d)
                tf.append(f)
        rows_a, cols_a, tf_a = np.array(rows, np.int64), np.array(cols, np.int64), np.array(tf, np.float64)
        doc_len = np.asarray(self.bm25.doc_len, dtype=np.float64)
        norm = k1 * (1 - b + b * doc_len / self.bm25.avgdl)
        weight = idf[rows_a] * tf_a * (k1 + 1) / (tf_a + norm[cols_a])
        # (V, n_docs): the contribution of one query occurrence of term v to document d
        self.weights = sp.csr_matrix((weight, (rows_a, cols_a)), shape=(len(self.vocab), len(docs)))

    @property
    def n_docs(self) -> int:
        return self.weights.shape[1]

    def query_matrix(self, queries: Iterable[list[str]]) -> sp.csr_matrix:
        """(B, V) counts of each query's in-vocabulary tokens (a repeated token counts again, as in
        rank_bm25; unknown tokens contribute nothing)."""
        rows, cols = [], []
        n = 0
        for i, q in enumerate(queries):
            n = i + 1
            for w in q:
                j = self.vocab.get(w)
                if j is not None:
                    rows.append(i)
                    cols.append(j)
        data = np.ones(len(rows), dtype=np.float64)
        return sp.csr_matrix((data, (rows, cols)), shape=(n, len(self.vocab)))

    def scores(self, queries: Sequence[list[str]]) -> np.ndarray:
        """(B, n_docs) float64 BM25 scores of each tokenised query against every document."""
        if len(queries) == 0:
            return np.zeros((0, self.n_docs))
        return (self.query_matrix(queries) @ self.weights).toarray()


def tfidf_matrix(corpus: Sequence[list[str]]) -> sp.csr_matrix:
    """(n_docs, V) L2-normalised TF-IDF rows of tokenised documents, idf = ln((1 + n) / (1 + df)) + 1
    (scikit-learn's smoothed idf)."""
    vectorizer = TfidfVectorizer(analyzer=_pretokenized, smooth_idf=True, sublinear_tf=False, norm="l2")
    return sp.csr_matrix(vectorizer.fit_transform(corpus), dtype=np.float64)


def _pretokenized(doc: list[str]) -> list[str]:
    return doc
